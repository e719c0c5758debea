"""Booking commands: workshops, sessions, requests, the waitlist, the aftermath, evaluations.

Rules: BOOK-1..43, REFUND-1..5, PROF-2..5, SOCIAL-3 (new workshops), SPONSOR-3 (first
held session), ACC-7 (purge). Every registration ends through :meth:`_end`, which applies
the registration lifecycle and the refund matrix (:data:`~skilltroc_core.booking.HOLD_OUTCOMES`)
together, so a hold ends exactly once and always for the reason the rules give.
"""

from __future__ import annotations

from bisect import insort
from datetime import datetime, timedelta
from typing import Final

import attrs

from ..accounts import AccountStatus, Member
from ..booking import (
    CRITERIA,
    HOLD_OUTCOMES,
    POST,
    Attendance,
    Evaluation,
    MemberStats,
    Mode,
    Registration,
    RegistrationState,
    Session,
    SessionState,
    Workshop,
    WorkshopState,
    check_score,
)
from ..errors import (
    InvalidAmountError,
    InvalidInputError,
    NotAllowedError,
    StateConflictError,
)
from ..events import FactValue, iso_text
from ..instants import later, require_aware
from ..ledger import ISSUANCE, TransferKind, VoidReason
from ..ports import Timer
from . import kinds
from ._base import Tx, evolve
from .members import MemberCommands
from .social import SocialCommands

__all__ = ["AgendaItem", "BookingCommands", "ProfileStats"]

REQUEST_DUE: Final = "request_due"
WAITLIST_WINDOW: Final = "waitlist_window"
SESSION_END: Final = "session_end"
CONFIRMATION_WINDOW: Final = "confirmation_window"
#: The ``cause`` fact of a WorkshopDeleted notice (BOOK-5): its organizer deleted it, or
#: it went with its organizer's account at the purge (ACC-7).
DELETED_BY_ORGANIZER: Final = "deleted_by_organizer"
ORGANIZER_PURGED: Final = "organizer_purged"

R = RegistrationState
#: The one deadline each registration state waits on (BOOK-16, BOOK-24): accepting a
#: request cancels its due date, joining a session ends the waitlist window.
DEADLINE_OF: Final = {R.PENDING: REQUEST_DUE, R.WAITLISTED: WAITLIST_WINDOW}


@attrs.frozen(kw_only=True)
class AgendaItem:
    """One line of an agenda: a registration with what a page needs to show it."""

    registration: Registration
    workshop_title: str
    session_start: datetime | None
    stars_held: int
    due: datetime | None
    #: the other party's email once the request is accepted (BOOK-15, BOOK-18): the
    #: member's on the organizer's agenda, the organizer's on the member's; None before
    #: acceptance, while that account is deactivated (hidden, ACC-7) or once it is purged
    contact_email: str | None


@attrs.frozen(kw_only=True)
class ProfileStats:
    """Rating, recommendation rate, level (PROF-3..5) and what is attached to the profile
    (PROF-2), each oldest first: the workshops the member created (deleted ones drop
    off), the workshops they recommended (kept even once deleted: the recommendation
    stays), their tutorials (deleted ones drop off) and their ad campaigns."""

    member_id: str
    rating: float | None
    criteria: dict[str, float]
    recommendation_rate: int | None
    evaluations: int
    level: str
    sessions_organized: int
    sessions_attended: int
    workshops: tuple[str, ...]
    recommended_workshops: tuple[str, ...]
    tutorials: tuple[str, ...]
    campaigns: tuple[str, ...]


def _whole(value: object, what: str, low: int, rule: str) -> int:
    if type(value) is not int or value < low:
        raise InvalidAmountError(f"{what} must be a whole number of at least {low}, got {value!r}",
                                 rule=rule)
    return value


def _text(value: object, what: str, limit: int, rule: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} cannot be empty", rule=rule)
    if len(value.strip()) > limit:
        raise InvalidInputError(f"{what} has at most {limit} characters", rule=rule)
    return value.strip()


class BookingCommands(MemberCommands, SocialCommands):
    """Everything about workshops and their sessions."""

    def _register_timers(self) -> None:
        super()._register_timers()
        self._timer_handlers[REQUEST_DUE] = self._request_due
        self._timer_handlers[WAITLIST_WINDOW] = self._waitlist_window_ended
        self._timer_handlers[SESSION_END] = self._session_ended
        self._timer_handlers[CONFIRMATION_WINDOW] = self._confirmation_window_ended
        self._purge_hooks.append(self._purge_bookings)

    # ------------------------------------------------------------------ lookups
    def _workshop(self, tx: Tx, workshop_id: object, rule: str) -> Workshop:
        workshop = tx.require(kinds.WORKSHOPS, workshop_id, rule)
        if workshop.state is WorkshopState.DELETED:
            raise StateConflictError(f"workshop {workshop.id} was deleted", rule=rule)
        return workshop

    def _own_workshop(self, tx: Tx, member: Member, workshop_id: object, rule: str) -> Workshop:
        workshop = self._workshop(tx, workshop_id, rule)
        if workshop.organizer != member.id:
            raise NotAllowedError(
                f"only the organizer of workshop {workshop.id} may do this", rule=rule
            )
        return workshop

    def _open_organizer(self, tx: Tx, organizer: str) -> None:
        """ACC-7: nobody starts anything new with a deactivated (hidden) organizer: no
        request for their workshops, no join into their sessions; refused as for an
        unknown member. What already exists with them stays untouched."""
        tx.visible_member(organizer, "ACC-7")

    def _own_session(self, tx: Tx, member: Member, session_id: object, rule: str) -> Session:
        session = tx.require(kinds.SESSIONS, session_id, rule)
        if session.organizer != member.id:
            raise NotAllowedError(f"only the organizer of session {session.id} may do this",
                                  rule=rule)
        return session

    def _registration(self, tx: Tx, registration_id: object, rule: str) -> Registration:
        return tx.require(kinds.REGISTRATIONS, registration_id, rule)

    def _as_requester(self, tx: Tx, member: Member, registration_id: object,
                      rule: str) -> Registration:
        registration = self._registration(tx, registration_id, rule)
        if registration.member != member.id:
            raise NotAllowedError(f"request {registration.id} is not {member.display}'s",
                                  rule=rule)
        return registration

    def _as_organizer(self, tx: Tx, member: Member, registration_id: object,
                      rule: str) -> Registration:
        registration = self._registration(tx, registration_id, rule)
        if registration.organizer != member.id:
            raise NotAllowedError(
                f"only the organizer may answer request {registration.id}", rule=rule
            )
        return registration

    def _future_start(self, tx: Tx, start: object, rule: str) -> datetime:
        instant = require_aware(start, "session start", rule)
        if instant <= tx.now:
            raise InvalidInputError(
                f"a session starts later than now ({tx.now.isoformat()}), not "
                f"{instant.isoformat()}", rule=rule,
            )
        return instant

    def _session_end(self, begins: datetime, length: timedelta, rule: str) -> datetime:
        """When a session starting at ``begins`` ends; refused when that end, or the
        organizer's answer deadline after it (BOOK-32), would fall past year 9999."""
        end = later(begins, length, "session start", rule)
        later(end, timedelta(days=self.policy.confirmation_window_days + 1), "session start",
              rule)
        return end

    # ------------------------------------------------------------------ ending
    def _end(self, tx: Tx, registration: Registration, trigger: str,
             **changes: object) -> Registration:
        """Apply ``trigger``: the new state and the hold's one end, from the refund matrix."""
        ended = registration.moved(trigger, tx.now, **changes)
        outcome = HOLD_OUTCOMES[trigger]
        if registration.amount > 0:
            if outcome == POST:
                tx.ledger.post(registration.id, registration.organizer, at=tx.now)
            else:
                assert isinstance(outcome, VoidReason)
                tx.ledger.void(registration.id, outcome, at=tx.now)
                self._sweep_if_purged(tx, registration)
        tx.put(kinds.REGISTRATIONS, ended.id, ended)
        deadline = DEADLINE_OF.get(registration.state)
        if deadline is not None:
            tx.cancel_timer(deadline, ended.id)
        return ended

    def _sweep_if_purged(self, tx: Tx, registration: Registration) -> None:
        """ACC-7: a refund reaching an account purged meanwhile (its registration was in a
        session already started at the purge) goes where the rest of its balance went:
        the platform's issuance account, recorded. Nobody can ever use a purged wallet."""
        member = tx.get(kinds.MEMBERS, registration.member)
        if member is not None and member.status is AccountStatus.PURGED:
            tx.ledger.transfer(TransferKind.ACCOUNT_PURGED, member.id, ISSUANCE,
                               registration.amount, reference=f"purge:{member.id}", at=tx.now)

    def _free_seats(self, tx: Tx, registration: Registration) -> None:
        """A registered member's seats go back to the session (BOOK-18: seats left at once)."""
        if registration.state is R.REGISTERED and registration.session:
            session = tx.require(kinds.SESSIONS, registration.session)
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, seats_taken=session.seats_taken - registration.seats))

    def _tell(self, tx: Tx, event: str, to: str, registration: Registration,
              **extra: FactValue | datetime) -> None:
        """Notify ``to`` about ``registration`` with the facts a mail needs."""
        facts: list[tuple[str, FactValue]] = [
            ("request", registration.id), ("seats", registration.seats),
            ("session", registration.session), ("stars", registration.price * registration.seats),
            ("workshop", registration.workshop),
        ]  # in name order: each extra fact goes in its place
        for name, value in extra.items():
            insort(facts, (name, iso_text(value, name) if isinstance(value, datetime) else value))
        tx.tell(event, to, tuple(facts))

    # ------------------------------------------------------------------ workshops
    def create_workshop(
        self,
        member_id: str,
        *,
        title: str,
        description: str,
        domain: str,
        cost: int,
        capacity: int,
        duration: timedelta = timedelta(hours=2),
        mode: str = "online",
        locality: str | None = None,
        media: tuple[str, ...] = (),
    ) -> str:
        """BOOK-1/2: propose a workshop (no session yet); followers are told (SOCIAL-3)."""
        policy = self.policy
        title = _text(title, "a workshop title", policy.max_name_length * 2, "BOOK-1")
        description = _text(description, "a workshop description", policy.max_bio_length * 5,
                            "BOOK-1")
        domain = _text(domain, "a skill domain", policy.max_name_length, "BOOK-1")
        _whole(cost, "the star cost per seat", policy.min_workshop_cost, "BOOK-1")
        _whole(capacity, "the maximum number of participants", policy.min_capacity, "BOOK-1")
        if not isinstance(duration, timedelta) or duration <= timedelta(0) or (
            duration % timedelta(minutes=1)
        ):
            raise InvalidInputError("a duration is a positive whole number of minutes",
                                    rule="BOOK-1")
        try:
            how = Mode(mode)
        except ValueError as exc:
            raise InvalidInputError(f"mode is 'online' or 'face_to_face', not {mode!r}",
                                    rule="BOOK-1") from exc
        place = None
        if how is Mode.FACE_TO_FACE:
            place = _text(locality, "a face-to-face workshop's locality", 200, "BOOK-1")
        elif locality is not None:
            place = _text(locality, "locality", 200, "BOOK-1")
        if not isinstance(media, tuple) or not all(isinstance(m, str) and m for m in media):
            raise InvalidInputError("media are references (non-empty text)", rule="BOOK-1")
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-1")
            member.require_complete_profile(
                "creating workshops", self.policy.profile_required_fields)
            workshop_id = tx.new_id("ws")
            tx.put(kinds.WORKSHOPS, workshop_id, Workshop(
                id=workshop_id, organizer=member.id, title=title, description=description,
                domain=domain, cost=cost, capacity=capacity,
                duration_minutes=duration // timedelta(minutes=1), mode=how,
                created_at=tx.now, locality=place, media=media,
            ))
            self._notify_followers(tx, member.id, "WorkshopProposed",
                                  {"workshop": workshop_id, "organizer": member.id})
            return workshop_id

    def delete_workshop(self, member_id: str, workshop_id: str) -> None:
        """BOOK-5: every pending, registered and waitlisted member is told and refunded.

        Members registered in a session already started are told too, but their session
        keeps its own lifecycle (BOOK-30..33) and their stars stay held.
        """
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-5")
            workshop = self._own_workshop(tx, member, workshop_id, "BOOK-5")
            self._delete_workshop(tx, workshop, DELETED_BY_ORGANIZER)

    def _delete_workshop(self, tx: Tx, workshop: Workshop, cause: str) -> None:
        """BOOK-5, by its organizer or at their purge (ACC-7): the notice's ``cause`` fact
        says which (:data:`DELETED_BY_ORGANIZER` or :data:`ORGANIZER_PURGED`)."""
        tx.put(kinds.WORKSHOPS, workshop.id, workshop.deleted(tx.now))
        told: list[str] = []
        for session in tx.find(kinds.SESSIONS, "workshop", workshop.id):
            if session.state is SessionState.PLANNED and not session.started(tx.now):
                tx.put(kinds.SESSIONS, session.id,
                       evolve(session, state=session.to("delete_workshop", "BOOK-5")))
                tx.cancel_timer(SESSION_END, session.id)
        for registration in tx.find(kinds.REGISTRATIONS, "workshop_live", workshop.id):
            told.append(registration.member)
            if registration.state is R.REGISTERED and registration.session:
                session = tx.require(kinds.SESSIONS, registration.session)
                if session.state is not SessionState.CANCELLED:
                    continue  # started: told, but it keeps its post-session lifecycle
            self._end(tx, registration, "workshop_deleted")
        tx.notify("WorkshopDeleted", recipients=tuple(dict.fromkeys(told)),
                  workshop=workshop.id, title=workshop.title, cause=cause)

    # ------------------------------------------------------------------ sessions
    def plan_session(self, member_id: str, workshop_id: str, start: datetime,
                     capacity: int | None = None) -> str:
        """BOOK-2/6/10: a new session; the workshop's waitlisted members are told."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-6")
            workshop = self._own_workshop(tx, member, workshop_id, "BOOK-6")
            begins = self._future_start(tx, start, "BOOK-6")
            seats = workshop.capacity if capacity is None else _whole(
                capacity, "a session's capacity", self.policy.min_capacity, "BOOK-6")
            session_id = tx.new_id("ses")
            session = Session(id=session_id, workshop=workshop.id, organizer=member.id,
                              start=begins, capacity=seats,
                              end=self._session_end(begins, workshop.duration, "BOOK-6"))
            tx.put(kinds.SESSIONS, session_id, session)
            tx.schedule(SESSION_END, session_id, session.end)
            waiting = tuple(dict.fromkeys(
                r.member for r in tx.find(kinds.REGISTRATIONS, "workshop_waitlist", workshop.id)
            ))
            tx.notify("SessionPlanned", recipients=waiting, workshop=workshop.id,
                      session=session_id, start=begins, seats=seats)
            return session_id

    def move_session(self, member_id: str, session_id: str, start: datetime) -> None:
        """BOOK-7/8: registered members stay and are told; pending requests are refunded."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-8")
            session = self._own_session(tx, member, session_id, "BOOK-8")
            session.require_not_started(tx.now, "BOOK-8")
            begins = self._future_start(tx, start, "BOOK-8")
            moved = evolve(session, state=session.to("move", "BOOK-8"), start=begins,
                           end=self._session_end(begins, session.end - session.start, "BOOK-8"))
            tx.put(kinds.SESSIONS, session.id, moved)
            tx.schedule(SESSION_END, session.id, moved.end)
            registered: list[str] = []
            for registration in tx.find(kinds.REGISTRATIONS, "session_live", session.id):
                if registration.state is R.REGISTERED:
                    registered.append(registration.member)
                else:
                    self._end(tx, registration, "session_moved")
                    self._tell(tx, "RequestVoidedBySessionMove", registration.member,
                               registration, start=begins)
            tx.notify("SessionMoved", recipients=tuple(dict.fromkeys(registered)),
                      session=session.id, workshop=session.workshop, start=begins)

    def set_capacity(self, member_id: str, session_id: str, capacity: int) -> None:
        """BOOK-7: change the seats before the start, never below the seats taken."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-7")
            session = self._own_session(tx, member, session_id, "BOOK-7")
            session.require_not_started(tx.now, "BOOK-7")
            seats = _whole(capacity, "a session's capacity", self.policy.min_capacity, "BOOK-7")
            if seats < session.seats_taken:
                raise StateConflictError(
                    f"{session.seats_taken} seats are taken: the capacity cannot drop to {seats}",
                    rule="BOOK-7",
                )
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, state=session.to("set_capacity", "BOOK-7"), capacity=seats))

    def cancel_session(self, member_id: str, session_id: str) -> None:
        """BOOK-9: before the start; registered and pending members are told and refunded."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-9")
            session = self._own_session(tx, member, session_id, "BOOK-9")
            session.require_not_started(tx.now, "BOOK-9")
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, state=session.to("cancel", "BOOK-9")))
            tx.cancel_timer(SESSION_END, session.id)
            told = [self._end(tx, r, "session_cancelled").member
                    for r in tx.find(kinds.REGISTRATIONS, "session_live", session.id)]
            tx.notify("SessionCancelled", recipients=tuple(dict.fromkeys(told)),
                      session=session.id, workshop=session.workshop, start=session.start)

    # ------------------------------------------------------------------ requests
    def request(self, member_id: str, *, seats: int, session_id: str | None = None,
                workshop_id: str | None = None) -> str:
        """BOOK-11..13: ask for seats in a planned session, or in a future one of a workshop.

        The stars (cost x seats, the cost locked now) are held at once. Returns the id.
        """
        if (session_id is None) == (workshop_id is None):
            raise InvalidInputError("a request names either a session or a workshop",
                                    rule="BOOK-13")
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-11")
            session: Session | None = None
            if session_id is not None:
                session = tx.require(kinds.SESSIONS, session_id, "BOOK-13")
                workshop = self._workshop(tx, session.workshop, "BOOK-13")
                if session.state is not SessionState.PLANNED or session.started(tx.now):
                    raise StateConflictError(
                        f"session {session.id} has started or is over: requests close at its "
                        "start", rule="BOOK-16",
                    )
            else:
                workshop = self._workshop(tx, workshop_id, "BOOK-13")
            if workshop.organizer == member.id:
                raise NotAllowedError("an organizer cannot register for their own workshop",
                                      rule="BOOK-3")
            self._open_organizer(tx, workshop.organizer)
            limit = session.capacity if session else self.policy.max_future_seats
            if type(seats) is not int or not self.policy.min_seats <= seats <= limit:
                raise InvalidInputError(
                    f"a request for {'this session' if session else 'a future session'} is "
                    f"for {self.policy.min_seats} to {limit} seats, not {seats!r}",
                    rule="BOOK-12",
                )
            duplicate = (
                tx.find(kinds.REGISTRATIONS, "member_session", f"{member.id}|{session.id}")
                if session
                else tx.find(kinds.REGISTRATIONS, "member_future", f"{member.id}|{workshop.id}")
            )
            if duplicate:
                raise StateConflictError(
                    f"{member.display} already has a live request ({duplicate[0].id}) here",
                    rule="BOOK-4",
                )
            amount = workshop.cost * seats
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
            self._tell(tx, "RequestReceived", workshop.organizer, registration,
                       member=member.id, due=due)
            return registration_id

    def cancel_request(self, member_id: str, registration_id: str) -> None:
        """BOOK-17: the member withdraws an unanswered request and is refunded."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-17")
            registration = self._as_requester(tx, member, registration_id, "BOOK-17")
            ended = self._end(tx, registration, "cancel")
            self._tell(tx, "RequestCancelled", ended.organizer, ended)

    def refuse(self, member_id: str, registration_id: str) -> None:
        """BOOK-14: the organizer refuses; the member is refunded at once and told."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-14")
            registration = self._as_organizer(tx, member, registration_id, "BOOK-14")
            ended = self._end(tx, registration, "refuse")
            self._tell(tx, "RequestRefused", ended.member, ended)

    def accept(self, member_id: str, registration_id: str) -> None:
        """BOOK-14/18: accept for the requested session, if enough seats remain."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-14")
            registration = self._as_organizer(tx, member, registration_id, "BOOK-14")
            if registration.state is R.PENDING and registration.session is None:
                raise StateConflictError(
                    "this request is for a future session: accept it for a future session",
                    rule="BOOK-14",
                )
            if registration.state is not R.PENDING or registration.session is None:
                registration.moved("accept", tx.now)  # raises the lifecycle's refusal
                raise AssertionError("unreachable")
            session = tx.require(kinds.SESSIONS, registration.session, "BOOK-14")
            if session.seats_left < registration.seats:
                raise StateConflictError(
                    f"only {session.seats_left} seats are left for {registration.seats} asked: "
                    "accept for a future session instead", rule="BOOK-14",
                )
            accepted = registration.moved("accept", tx.now, accepted_at=tx.now, due=None)
            tx.put(kinds.REGISTRATIONS, accepted.id, accepted)
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, seats_taken=session.seats_taken + registration.seats))
            tx.cancel_timer(REQUEST_DUE, accepted.id)
            self._tell(tx, "RequestAccepted", accepted.member, accepted, start=session.start)

    def accept_future(self, member_id: str, registration_id: str) -> None:
        """BOOK-14/22: accept for a future session (the waitlist), stars still held.

        Allowed when a future session was asked, or when the requested session lacks
        seats. The member has 15 calendar days to join a session (BOOK-24).
        """
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-14")
            registration = self._as_organizer(tx, member, registration_id, "BOOK-14")
            if registration.state is R.PENDING and registration.session is not None:
                session = tx.require(kinds.SESSIONS, registration.session, "BOOK-14")
                if session.seats_left >= registration.seats:
                    raise StateConflictError(
                        f"session {session.id} has {session.seats_left} seats left for the "
                        f"{registration.seats} asked: accept the request for it",
                        rule="BOOK-14",
                    )
                if registration.seats > self.policy.max_future_seats:
                    raise StateConflictError(
                        f"a future session takes at most {self.policy.max_future_seats} "
                        f"seats, and this request is for {registration.seats}: refuse it; "
                        "the member may ask again for fewer", rule="BOOK-12",
                    )
                if tx.find(kinds.REGISTRATIONS, "member_future",
                           f"{registration.member}|{registration.workshop}"):
                    raise StateConflictError(
                        "this member already waits for a future session of this workshop",
                        rule="BOOK-4",
                    )
            until = self.policy.add_days(tx.now, self.policy.waitlist_window_days,
                                         what="acceptance", rule="BOOK-24")
            waiting = registration.moved("accept_future", tx.now, accepted_at=tx.now,
                                         session=None, due=None, waitlist_until=until)
            tx.put(kinds.REGISTRATIONS, waiting.id, waiting)
            tx.cancel_timer(REQUEST_DUE, waiting.id)
            tx.schedule(WAITLIST_WINDOW, waiting.id, until)
            self._tell(tx, "RequestWaitlisted", waiting.member, waiting, until=until)

    def _request_due(self, tx: Tx, timer: Timer) -> None:
        """BOOK-16: unanswered when due (session start, or 7 days for a future session)."""
        registration = tx.get(kinds.REGISTRATIONS, timer.ref)
        if registration is None or registration.state is not R.PENDING:
            return
        ended = self._end(tx, registration, "expire")
        self._tell(tx, "RequestExpired", ended.member, ended)

    # ------------------------------------------------------------------ registrations
    def unregister(self, member_id: str, registration_id: str) -> None:
        """BOOK-19: before the start the member may unregister and is refunded."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-19")
            registration = self._as_requester(tx, member, registration_id, "BOOK-19")
            if registration.state is R.REGISTERED and registration.session:
                session = tx.require(kinds.SESSIONS, registration.session)
                session.require_not_started(tx.now, "BOOK-19")
            self._free_seats(tx, registration)
            ended = self._end(tx, registration, "unregister")
            self._tell(tx, "MemberUnregistered", ended.organizer, ended)

    def cancel_transaction(self, member_id: str, registration_id: str) -> None:
        """BOOK-20: the organizer cancels with a registered or waitlisted member (refund)."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-20")
            registration = self._as_organizer(tx, member, registration_id, "BOOK-20")
            if registration.state is R.REGISTERED and registration.session:
                session = tx.require(kinds.SESSIONS, registration.session)
                session.require_not_started(tx.now, "BOOK-20")
            self._free_seats(tx, registration)
            ended = self._end(tx, registration, "cancel_transaction")
            self._tell(tx, "TransactionCancelled", ended.member, ended)

    def join(self, member_id: str, registration_id: str, session_id: str) -> None:
        """BOOK-23: a waitlisted member takes all their seats in a planned session, or
        none; the member and the organizer are told. Refused, as for a request, while the
        organizer's account is deactivated (ACC-7): the entry itself stays untouched."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-23")
            registration = self._as_requester(tx, member, registration_id, "BOOK-23")
            session = tx.require(kinds.SESSIONS, session_id, "BOOK-23")
            if registration.state is not R.WAITLISTED:
                registration.moved("join", tx.now)  # raises the lifecycle's refusal
            if session.workshop != registration.workshop:
                raise InvalidInputError(
                    f"session {session.id} belongs to another workshop", rule="BOOK-23"
                )
            self._open_organizer(tx, registration.organizer)
            session.require_not_started(tx.now, "BOOK-23")
            if session.seats_left < registration.seats:
                raise StateConflictError(
                    f"session {session.id} has {session.seats_left} seats left; "
                    f"{registration.seats} are needed", rule="BOOK-23",
                )
            if tx.find(kinds.REGISTRATIONS, "member_session", f"{member.id}|{session.id}"):
                raise StateConflictError(
                    f"{member.display} already has a request for this session", rule="BOOK-4"
                )
            joined = registration.moved("join", tx.now, session=session.id, waitlist_until=None)
            tx.put(kinds.REGISTRATIONS, joined.id, joined)
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, seats_taken=session.seats_taken + registration.seats))
            tx.cancel_timer(WAITLIST_WINDOW, joined.id)
            tx.notify("SessionJoined", recipients=(joined.member, joined.organizer),
                      request=joined.id, seats=joined.seats, session=session.id,
                      stars=joined.amount, workshop=joined.workshop, start=session.start)

    def leave_waitlist(self, member_id: str, registration_id: str) -> None:
        """BOOK-25: a waitlisted member leaves at any time and is refunded."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-25")
            registration = self._as_requester(tx, member, registration_id, "BOOK-25")
            ended = self._end(tx, registration, "leave")
            self._tell(tx, "WaitlistLeft", ended.organizer, ended)

    def _waitlist_window_ended(self, tx: Tx, timer: Timer) -> None:
        """BOOK-24: 15 days without joining a session: cancelled, refunded, told."""
        registration = tx.get(kinds.REGISTRATIONS, timer.ref)
        if registration is None or registration.state is not R.WAITLISTED:
            return
        ended = self._end(tx, registration, "waitlist_expire")
        self._tell(tx, "WaitlistExpired", ended.member, ended)

    # ------------------------------------------------------------------ aftermath
    def _session_ended(self, tx: Tx, timer: Timer) -> None:
        """BOOK-30: at its end the organizer is asked whether the session was held."""
        session = tx.get(kinds.SESSIONS, timer.ref)
        if session is None or session.state is not SessionState.PLANNED:
            return
        tx.put(kinds.SESSIONS, session.id, evolve(session, state=session.to("end", "BOOK-30")))
        until = self.policy.add_days(session.end, self.policy.confirmation_window_days,
                                     what="session end", rule="BOOK-32")
        tx.schedule(CONFIRMATION_WINDOW, session.id, until)
        tx.notify("SessionConfirmationRequested", recipients=(session.organizer,),
                  session=session.id, workshop=session.workshop, answer_by=until)

    def _registered_in(self, tx: Tx, session: Session) -> list[Registration]:
        return [r for r in tx.find(kinds.REGISTRATIONS, "session_live", session.id)
                if r.state is R.REGISTERED]

    def confirm_held(self, member_id: str, session_id: str) -> None:
        """BOOK-30: held. The organizer earns every registered seat, absent ones included."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-30")
            session = self._answerable(tx, member, session_id, "BOOK-30")
            tx.put(kinds.SESSIONS, session.id, evolve(
                session, state=session.to("confirm_held", "BOOK-30"), ended_at=tx.now))
            tx.cancel_timer(CONFIRMATION_WINDOW, session.id)
            registered = self._registered_in(tx, session)
            for registration in registered:
                self._end(tx, registration, "held")
                self._bump_stats(tx, registration.member, attended_held=1)
            self._bump_stats(tx, member.id, organized_held=1)
            # SPONSOR-3: the first held session of a referee, organizer or participant.
            for person in (member.id, *dict.fromkeys(r.member for r in registered)):
                found = tx.get(kinds.MEMBERS, person)
                if found is not None:
                    self._reward_sponsor(tx, found)
            tx.notify("SessionHeld", recipients=tuple(dict.fromkeys(
                r.member for r in registered)), session=session.id, workshop=session.workshop)

    def confirm_not_held(self, member_id: str, session_id: str) -> None:
        """BOOK-31: not held: every registered member is refunded at once and told."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-31")
            session = self._answerable(tx, member, session_id, "BOOK-31")
            tx.put(kinds.SESSIONS, session.id, evolve(
                session, state=session.to("confirm_not_held", "BOOK-31"), ended_at=tx.now))
            tx.cancel_timer(CONFIRMATION_WINDOW, session.id)
            told = [self._end(tx, r, "not_held").member for r in self._registered_in(tx, session)]
            tx.notify("SessionNotHeld", recipients=tuple(dict.fromkeys(told)),
                      session=session.id, workshop=session.workshop, start=session.start)

    def _answerable(self, tx: Tx, member: Member, session_id: str, rule: str) -> Session:
        session = self._own_session(tx, member, session_id, rule)
        if session.state is SessionState.PLANNED:
            raise StateConflictError(
                f"session {session.id} ends at {session.end.isoformat()}: the organizer "
                f"answers from its end until {self.policy.confirmation_window_days} days "
                "after", rule="BOOK-30",
            )
        return session

    def _confirmation_window_ended(self, tx: Tx, timer: Timer) -> None:
        """BOOK-32: 7 days of silence count as not held; everyone is refunded and told."""
        session = tx.get(kinds.SESSIONS, timer.ref)
        if session is None or session.state is not SessionState.AWAITING_CONFIRMATION:
            return
        tx.put(kinds.SESSIONS, session.id,
               evolve(session, state=session.to("lapse", "BOOK-32"), ended_at=tx.now))
        told = [self._end(tx, r, "organizer_silent").member
                for r in self._registered_in(tx, session)]
        tx.notify("SessionLapsed", recipients=(*dict.fromkeys(told), session.organizer),
                  session=session.id, workshop=session.workshop, start=session.start)

    def _paid(self, tx: Tx, member: Member, registration_id: str, rule: str) -> Registration:
        registration = self._as_requester(tx, member, registration_id, rule)
        if registration.state is not R.PAID:
            raise StateConflictError(
                f"request {registration.id} is {registration.state}: only a registration in "
                "a session confirmed held can do this", rule=rule,
            )
        if registration.attendance is not None:
            raise StateConflictError(
                f"attendance was already given ({registration.attendance})", rule=rule
            )
        return registration

    def declare_absent(self, member_id: str, registration_id: str) -> None:
        """BOOK-33: could not come; the stars stay with the organizer."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-33")
            registration = self._paid(tx, member, registration_id, "BOOK-33")
            tx.put(kinds.REGISTRATIONS, registration.id,
                   evolve(registration, attendance=Attendance.ABSENT))
            self._bump_stats(tx, member.id, attended_held=-1)

    def confirm_attendance(self, member_id: str, registration_id: str) -> None:
        """BOOK-30/40: the member confirms they attended, which opens the evaluation."""
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-40")
            registration = self._paid(tx, member, registration_id, "BOOK-40")
            tx.put(kinds.REGISTRATIONS, registration.id,
                   evolve(registration, attendance=Attendance.ATTENDED))

    def evaluate(self, member_id: str, registration_id: str, *, satisfaction: int,
                 conformity: int, teaching: int, duration: int, recommend: bool) -> None:
        """BOOK-40..42: four scores out of 10 and a recommendation, once per registration."""
        policy = self.policy
        scores = {name: check_score(name, value, policy.score_min, policy.score_max)
                  for name, value in zip(CRITERIA, (satisfaction, conformity, teaching, duration),
                                         strict=True)}
        if not isinstance(recommend, bool):
            raise InvalidInputError("recommend is yes or no", rule="BOOK-41")
        with self.command() as tx:
            member = tx.actor(member_id, "BOOK-40")
            registration = self._as_requester(tx, member, registration_id, "BOOK-40")
            if registration.state is not R.PAID or (
                registration.attendance is not Attendance.ATTENDED
            ):
                raise StateConflictError(
                    "only a member who confirmed attending a session confirmed held may "
                    "evaluate it", rule="BOOK-40",
                )
            if registration.evaluated:
                raise StateConflictError("this registration was already evaluated",
                                         rule="BOOK-40")
            assert registration.session is not None
            evaluation = Evaluation(
                id=registration.id, workshop=registration.workshop,
                session=registration.session, organizer=registration.organizer,
                member=member.id, recommend=recommend, at=tx.now, **scores,
            )
            tx.put(kinds.EVALUATIONS, evaluation.id, evaluation)
            tx.put(kinds.REGISTRATIONS, registration.id, evolve(registration, evaluated=True))
            stats = tx.get(kinds.MEMBER_STATS, registration.organizer) or MemberStats(
                id=registration.organizer)
            tx.put(kinds.MEMBER_STATS, stats.id, stats.with_evaluation(evaluation))
            if recommend:
                self._notify_followers(tx, member.id, "WorkshopRecommended",
                                      {"workshop": registration.workshop, "member": member.id})

    def _bump_stats(self, tx: Tx, member_id: str, *, organized_held: int = 0,
                    attended_held: int = 0) -> None:
        stats = tx.get(kinds.MEMBER_STATS, member_id)
        tx.put(kinds.MEMBER_STATS, member_id, MemberStats(
            id=member_id, organized_held=organized_held, attended_held=attended_held,
        ) if stats is None else evolve(
            stats, organized_held=stats.organized_held + organized_held,
            attended_held=stats.attended_held + attended_held))

    # ------------------------------------------------------------------ purge
    def _purge_bookings(self, tx: Tx, member: Member) -> None:
        """ACC-7: the member's workshops are deleted (BOOK-5 refunds); their own live
        requests, registrations for sessions not yet started and waitlist entries end
        with a refund. DECISION (as for tutorials and campaigns): the workshops' own
        words (title, description, locality, media) are erased; the records stay for
        the sessions, registrations and evaluations that refer to them."""
        for workshop in tx.find(kinds.WORKSHOPS, "organizer", member.id):
            if workshop.state is WorkshopState.ACTIVE:
                self._delete_workshop(tx, workshop, ORGANIZER_PURGED)
            gone = tx.require(kinds.WORKSHOPS, workshop.id)
            tx.put(kinds.WORKSHOPS, gone.id, evolve(gone, title="", description="",
                                                    locality=None, media=()))
        for registration in tx.find(kinds.REGISTRATIONS, "member_live", member.id):
            if registration.state is R.REGISTERED and registration.session:
                session = tx.require(kinds.SESSIONS, registration.session)
                if session.state is not SessionState.PLANNED or session.started(tx.now):
                    continue  # started: it keeps its post-session lifecycle
            self._free_seats(tx, registration)
            self._end(tx, registration, "account_purged")

    # ------------------------------------------------------------------ queries
    def contact_email(self, member_id: str, registration_id: str) -> str:
        """BOOK-15: once a request is accepted, organizer and member see each other's email."""
        with self.query() as tx:
            member = tx.actor(member_id, "BOOK-15")
            registration = self._registration(tx, registration_id, "BOOK-15")
            if member.id not in (registration.member, registration.organizer):
                raise NotAllowedError("only the two parties of a request see its contacts",
                                      rule="BOOK-15")
            if registration.accepted_at is None:
                raise NotAllowedError(
                    "emails are exchanged only once the request is accepted", rule="BOOK-15"
                )
            other = registration.organizer if member.id == registration.member else (
                registration.member)
            found = tx.visible_member(other, "ACC-7")  # hidden while deactivated, or purged
            assert found.email is not None
            return found.email

    def workshop(self, workshop_id: str) -> Workshop:
        with self.query() as tx:
            return tx.require(kinds.WORKSHOPS, workshop_id, "BOOK-1")

    def session(self, session_id: str) -> Session:
        """A session, with its capacity and seats taken (seats left: BOOK-18)."""
        with self.query() as tx:
            return tx.require(kinds.SESSIONS, session_id, "BOOK-6")

    def registration(self, registration_id: str) -> Registration:
        with self.query() as tx:
            return tx.require(kinds.REGISTRATIONS, registration_id, "BOOK-11")

    def sessions_of(self, workshop_id: str) -> list[Session]:
        with self.query() as tx:
            tx.require(kinds.WORKSHOPS, workshop_id, "BOOK-2")
            return tx.find(kinds.SESSIONS, "workshop", workshop_id)

    def workshop_evaluations(self, workshop_id: str) -> list[Evaluation]:
        """BOOK-43: published evaluations, visible to everyone viewing the workshop."""
        with self.query() as tx:
            tx.require(kinds.WORKSHOPS, workshop_id, "BOOK-43")
            return tx.find(kinds.EVALUATIONS, "workshop", workshop_id)

    def profile_stats(self, member_id: str) -> ProfileStats:
        """PROF-2..5: rating, per-criterion means, recommendation rate, level, activity;
        of an active member only (a deactivated one is hidden, ACC-7)."""
        with self.query() as tx:
            member = tx.visible_member(member_id, "PROF-3")
            stats = tx.get(kinds.MEMBER_STATS, member.id) or MemberStats(id=member.id)
            count = stats.evaluations
            criteria = {name: getattr(stats, name) / count for name in CRITERIA} if count else {}
            rating = sum(criteria.values()) / len(CRITERIA) if count else None
            rate = (200 * stats.recommended + count) // (2 * count) if count else None
            sessions = stats.organized_held + (
                0 if member.is_professional else stats.attended_held)
            return ProfileStats(
                member_id=member.id, rating=rating, criteria=criteria,
                recommendation_rate=rate, evaluations=count,
                level=self.policy.level(sessions),
                sessions_organized=stats.organized_held,
                sessions_attended=stats.attended_held,
                workshops=tuple(w.id for w in tx.find(kinds.WORKSHOPS, "organizer", member.id)
                                if w.state is WorkshopState.ACTIVE),
                recommended_workshops=tuple(dict.fromkeys(
                    e.workshop for e in tx.find(kinds.EVALUATIONS, "recommender", member.id))),
                tutorials=self._attached_tutorials(tx, member.id),
                campaigns=self._attached_campaigns(tx, member.id),
            )

    def _agenda_item(self, tx: Tx, registration: Registration, *, for_organizer: bool
                     ) -> AgendaItem:
        workshop = tx.require(kinds.WORKSHOPS, registration.workshop)
        session = tx.get(kinds.SESSIONS, registration.session) if registration.session else None
        held = registration.amount if registration.is_live else 0
        contact = None
        if registration.accepted_at is not None:
            other = tx.shown_member(registration.member if for_organizer
                                    else registration.organizer)  # ACC-7: not if hidden
            contact = other.email if other is not None else None
        return AgendaItem(registration=registration, workshop_title=workshop.title,
                          session_start=session.start if session else None, stars_held=held,
                          due=registration.due or registration.waitlist_until,
                          contact_email=contact)

    def participant_agenda(self, member_id: str) -> dict[str, list[AgendaItem]]:
        """Pending requests, planned sessions, waiting sessions, sessions to evaluate."""
        with self.query() as tx:
            member = tx.member(member_id, "BOOK-22")
            agenda: dict[str, list[AgendaItem]] = {
                "pending": [], "planned": [], "waiting": [], "to_evaluate": []}
            for registration in tx.find(kinds.REGISTRATIONS, "member_live", member.id):
                section = {R.PENDING: "pending", R.REGISTERED: "planned",
                           R.WAITLISTED: "waiting"}[registration.state]
                agenda[section].append(self._agenda_item(tx, registration,
                                                         for_organizer=False))
            for registration in tx.find(kinds.REGISTRATIONS, "member_to_evaluate", member.id):
                agenda["to_evaluate"].append(self._agenda_item(tx, registration,
                                                               for_organizer=False))
            return agenda

    def organizer_agenda(self, member_id: str) -> dict[str, list[AgendaItem] | list[Session]]:
        """Requests to answer, validated registrations, workshops to plan, sessions to confirm."""
        with self.query() as tx:
            member = tx.member(member_id, "BOOK-18")
            to_answer = [self._agenda_item(tx, r, for_organizer=True)
                         for r in tx.find(kinds.REGISTRATIONS, "organizer_pending", member.id)]
            validated: list[AgendaItem] = []
            to_plan: list[AgendaItem] = []
            for workshop in tx.find(kinds.WORKSHOPS, "organizer", member.id):
                for r in tx.find(kinds.REGISTRATIONS, "workshop_live", workshop.id):
                    if r.state is R.REGISTERED:
                        validated.append(self._agenda_item(tx, r, for_organizer=True))
                    elif r.state is R.WAITLISTED:
                        to_plan.append(self._agenda_item(tx, r, for_organizer=True))
            return {
                "to_answer": to_answer,
                "validated": validated,
                "to_plan": to_plan,
                "to_confirm": tx.find(kinds.SESSIONS, "organizer_awaiting", member.id),
            }

    def seats_left(self, session_id: str) -> int:
        """BOOK-18: capacity minus registered seats (requests and waitlist take none)."""
        return self.session(session_id).seats_left

