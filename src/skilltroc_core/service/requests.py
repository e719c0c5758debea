"""Requests and the waitlist: ask, cancel, answer, unregister, join, leave.

Rules: BOOK-3..4, BOOK-11..25, REFUND-1..4.
"""

from __future__ import annotations

from ..booking import (
    Registration,
    Session,
    SessionState,
)
from ..frozen import evolve
from ..ledger import at_most_max_stars
from ..ports import Timer
from ..refusals import refusal, shown
from . import kinds
from .booking_steps import (
    REQUEST_DUE,
    WAITLIST_WINDOW,
    R,
    as_organizer,
    as_requester,
    end_before_start,
    end_registration,
    live_workshop,
    open_organizer,
    tell_about,
)
from .context import Area, ServiceContext

# Tx, evolve
from .registry import MEMBER, ORGANIZER, REQUESTER, command
from .units import Tx

__all__ = ["RequestService"]


class RequestService(Area):
    """What members and organizers do with a request before its session is held."""

    def register(self, context: ServiceContext) -> None:
        context.timer_handlers[REQUEST_DUE] = self._request_due
        context.timer_handlers[WAITLIST_WINDOW] = self._waitlist_window_ended

    @command(actor=MEMBER, rules=("BOOK-3", "BOOK-4", "BOOK-11", "BOOK-12", "BOOK-13", "BOOK-16"))
    def request(self, member_id: str, *, seats: int, session_id: str | None = None,
                workshop_id: str | None = None) -> str:
        """BOOK-11..13: ask for seats in a planned session, or in a future one of a workshop.

        The stars (cost x seats, the cost locked now) are held at once. Returns the id.
        """
        if (session_id is None) == (workshop_id is None):
            raise refusal("request_target")
        with self.command() as tx:
            member = tx.actor(member_id)
            session: Session | None = None
            if session_id is not None:
                session = tx.require(kinds.SESSIONS, session_id)
                workshop = live_workshop(tx, session.workshop, "BOOK-13")
                if session.state is not SessionState.PLANNED or session.started(tx.now):
                    raise refusal("requests_closed", session=session.id, start=session.start)
            else:
                workshop = live_workshop(tx, workshop_id, "BOOK-13")
            if workshop.organizer == member.id:
                raise refusal("own_workshop_request", workshop=workshop.id)
            named = ("unknown_session", session.id) if session else (
                "unknown_workshop", workshop.id)
            open_organizer(tx, workshop.organizer, *named)
            limit = session.capacity if session else self.policy.max_future_seats
            if type(seats) is not int or not self.policy.min_seats <= seats <= limit:
                raise refusal("seats_for_session" if session else "seats_for_future_session",
                              low=self.policy.min_seats, high=limit, got=shown(seats))
            duplicate = (
                tx.find(kinds.REGISTRATIONS, "member_session", f"{member.id}|{session.id}")
                if session
                else tx.find(kinds.REGISTRATIONS, "member_future", f"{member.id}|{workshop.id}")
            )
            if duplicate:
                raise refusal("live_request_exists", member=member.id,
                              registration=duplicate[0].id)
            amount = at_most_max_stars(workshop.cost * seats)
            if amount:
                tx.require_stars(member, amount, rule="BOOK-11")
            registration_id = tx.new_id("req")
            due = session.start if session else self.policy.add_days(
                tx.now, self.policy.future_request_due_days, what="request", rule="BOOK-16")
            registration = Registration(
                id=registration_id, member=member.id, organizer=workshop.organizer,
                workshop=workshop.id, session=session.id if session else None, seats=seats,
                price=workshop.cost, requested_at=tx.now, due=due,
            )
            if amount:
                tx.ledger.hold(registration_id, member.id, amount,
                               reference=f"request:{registration_id}", at=tx.now)
            tx.put(kinds.REGISTRATIONS, registration_id, registration)
            tx.schedule(REQUEST_DUE, registration_id, due)
            tell_about(tx, "RequestReceived", workshop.organizer, registration,
                       member=member.id, due=due)
            return registration_id

    @command(actor=REQUESTER, rules=("BOOK-17",))
    def cancel_request(self, member_id: str, registration_id: str) -> None:
        """BOOK-17: the member withdraws an unanswered request and is refunded."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_requester(tx, member, registration_id, "BOOK-17")
            ended = end_registration(tx, registration, "cancel")
            tell_about(tx, "RequestCancelled", ended.organizer, ended)

    @command(actor=ORGANIZER, rules=("BOOK-14",))
    def refuse(self, member_id: str, registration_id: str) -> None:
        """BOOK-14: the organizer refuses; the member is refunded at once and told."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_organizer(tx, member, registration_id, "BOOK-14")
            ended = end_registration(tx, registration, "refuse")
            tell_about(tx, "RequestRefused", ended.member, ended)

    @command(actor=ORGANIZER, rules=("BOOK-14", "BOOK-18"))
    def accept(self, member_id: str, registration_id: str) -> None:
        """BOOK-14/18: accept for the requested session, if enough seats remain."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_organizer(tx, member, registration_id, "BOOK-14")
            if registration.state is R.PENDING and registration.session is None:
                raise refusal("accept_future_request", registration=registration.id)
            if registration.state is not R.PENDING or registration.session is None:
                registration.moved("accept", tx.now)  # raises the lifecycle's refusal
                raise AssertionError("unreachable")
            session = tx.require(kinds.SESSIONS, registration.session)
            if session.seats_left < registration.seats:
                raise refusal("seats_short_accept_future", left=session.seats_left,
                              asked=registration.seats)
            accepted = registration.moved("accept", tx.now, accepted_at=tx.now, due=None)
            tx.put(kinds.REGISTRATIONS, accepted.id, accepted)
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, seats_taken=session.seats_taken + registration.seats))
            tx.cancel_timer(REQUEST_DUE, accepted.id)
            tell_about(tx, "RequestAccepted", accepted.member, accepted, start=session.start)

    @command(actor=ORGANIZER, rules=("BOOK-14", "BOOK-22", "BOOK-24"))
    def accept_future(self, member_id: str, registration_id: str) -> None:
        """BOOK-14/22: accept for a future session (the waitlist), stars still held.

        Allowed when a future session was asked, or when the requested session lacks
        seats. The member has 15 calendar days to join a session (BOOK-24).
        """
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_organizer(tx, member, registration_id, "BOOK-14")
            if registration.state is R.PENDING and registration.session is not None:
                session = tx.require(kinds.SESSIONS, registration.session)
                if session.seats_left >= registration.seats:
                    raise refusal("seats_enough_accept_session", session=session.id,
                                  left=session.seats_left, asked=registration.seats)
                if registration.seats > self.policy.max_future_seats:
                    raise refusal("future_seats_too_many", limit=self.policy.max_future_seats,
                                  asked=registration.seats)
                waits = tx.find(kinds.REGISTRATIONS, "member_future",
                                f"{registration.member}|{registration.workshop}")
                if waits:
                    raise refusal("already_waiting", workshop=registration.workshop,
                                  registration=waits[0].id)
            until = self.policy.add_days(tx.now, self.policy.waitlist_window_days,
                                         what="acceptance", rule="BOOK-24")
            waiting = registration.moved("accept_future", tx.now, accepted_at=tx.now,
                                         session=None, due=None, waitlist_until=until)
            tx.put(kinds.REGISTRATIONS, waiting.id, waiting)
            tx.cancel_timer(REQUEST_DUE, waiting.id)
            tx.schedule(WAITLIST_WINDOW, waiting.id, until)
            tell_about(tx, "RequestWaitlisted", waiting.member, waiting, until=until)

    def _request_due(self, tx: Tx, timer: Timer) -> None:
        """BOOK-16: unanswered when due (session start, or 7 days for a future session)."""
        registration = tx.get(kinds.REGISTRATIONS, timer.ref)
        if registration is None or registration.state is not R.PENDING:
            return
        ended = end_registration(tx, registration, "expire")
        tell_about(tx, "RequestExpired", ended.member, ended)

    @command(actor=REQUESTER, rules=("BOOK-19",))
    def unregister(self, member_id: str, registration_id: str) -> None:
        """BOOK-19: before the start the member may unregister and is refunded."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_requester(tx, member, registration_id, "BOOK-19")
            ended = end_before_start(tx, registration, "unregister", "BOOK-19")
            tell_about(tx, "MemberUnregistered", ended.organizer, ended)

    @command(actor=ORGANIZER, rules=("BOOK-20",))
    def cancel_transaction(self, member_id: str, registration_id: str) -> None:
        """BOOK-20: the organizer cancels with a registered or waitlisted member (refund)."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_organizer(tx, member, registration_id, "BOOK-20")
            ended = end_before_start(tx, registration, "cancel_transaction", "BOOK-20")
            tell_about(tx, "TransactionCancelled", ended.member, ended)

    @command(actor=REQUESTER, rules=("BOOK-23",))
    def join(self, member_id: str, registration_id: str, session_id: str) -> None:
        """BOOK-23: a waitlisted member takes all their seats in a planned session, or
        none; the member and the organizer are told. Refused, as for a request, while the
        organizer's account is deactivated (ACC-7): the entry itself stays untouched."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_requester(tx, member, registration_id, "BOOK-23")
            session = tx.require(kinds.SESSIONS, session_id)
            if registration.state is not R.WAITLISTED:
                registration.moved("join", tx.now)  # raises the lifecycle's refusal
            if session.workshop != registration.workshop:
                raise refusal("session_of_other_workshop", session=session.id)
            open_organizer(tx, registration.organizer, "unknown_session", session.id)
            session.require_not_started(tx.now, "BOOK-23")
            if session.seats_left < registration.seats:
                raise refusal("join_seats_short", session=session.id, left=session.seats_left,
                              needed=registration.seats)
            existing = tx.find(kinds.REGISTRATIONS, "member_session", f"{member.id}|{session.id}")
            if existing:
                raise refusal("request_for_session_exists", member=member.id,
                              session=session.id, registration=existing[0].id)
            joined = registration.moved("join", tx.now, session=session.id, waitlist_until=None)
            tx.put(kinds.REGISTRATIONS, joined.id, joined)
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, seats_taken=session.seats_taken + registration.seats))
            tx.cancel_timer(WAITLIST_WINDOW, joined.id)
            tx.notify("SessionJoined", recipients=(joined.member, joined.organizer),
                      request=joined.id, seats=joined.seats, session=session.id,
                      stars=joined.amount, workshop=joined.workshop, start=session.start)

    @command(actor=REQUESTER, rules=("BOOK-25",))
    def leave_waitlist(self, member_id: str, registration_id: str) -> None:
        """BOOK-25: a waitlisted member leaves at any time and is refunded."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_requester(tx, member, registration_id, "BOOK-25")
            ended = end_registration(tx, registration, "leave")
            tell_about(tx, "WaitlistLeft", ended.organizer, ended)

    def _waitlist_window_ended(self, tx: Tx, timer: Timer) -> None:
        """BOOK-24: 15 days without joining a session: cancelled, refunded, told."""
        registration = tx.get(kinds.REGISTRATIONS, timer.ref)
        if registration is None or registration.state is not R.WAITLISTED:
            return
        ended = end_registration(tx, registration, "waitlist_expire")
        tell_about(tx, "WaitlistExpired", ended.member, ended)
