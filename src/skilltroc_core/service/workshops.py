"""Workshops and their sessions: propose, delete, plan, move, resize, cancel.

Rules: BOOK-1..10, SOCIAL-3 (new workshops), ACC-7 (an organizer's purge).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..accounts import Member
from ..booking import (
    Mode,
    Session,
    SessionState,
    Workshop,
    WorkshopState,
)
from ..frozen import evolve
from ..refusals import refusal, shown
from . import kinds
from .booking_steps import (
    DELETED_BY_ORGANIZER,
    ORGANIZER_PURGED,
    SESSION_END,
    R,
    delete_workshop_now,
    end_registration,
    free_seats,
    future_start,
    own_session,
    own_workshop,
    session_end_of,
    stripped_text,
    tell_about,
    whole,
)
from .context import Area, ServiceContext

# Tx, evolve
from .registry import MEMBER, ORGANIZER, command
from .social import notify_followers
from .units import Tx

__all__ = ["WorkshopService"]


class WorkshopService(Area):
    """What an organizer does with workshops and sessions before they are held."""

    def register(self, context: ServiceContext) -> None:
        context.purge_hooks.append(self._purge_bookings)

    @command(actor=MEMBER, rules=("BOOK-1", "BOOK-2", "SOCIAL-3"))
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
        media: Sequence[str] = (),
    ) -> str:
        """BOOK-1/2: propose a workshop (no session yet); followers are told (SOCIAL-3)."""
        policy = self.policy
        title = stripped_text(title, "title", policy.max_name_length * 2, "BOOK-1")
        description = stripped_text(description, "description",
                                    policy.max_bio_length * 5, "BOOK-1")
        domain = stripped_text(domain, "domain", policy.max_name_length, "BOOK-1")
        whole(cost, "cost", policy.min_workshop_cost, "BOOK-1")
        whole(capacity, "capacity", policy.min_capacity, "BOOK-1")
        if not isinstance(duration, timedelta) or duration <= timedelta(0) or (
            duration % timedelta(minutes=1)
        ):
            raise refusal("duration_invalid", got=shown(duration))
        try:
            how = Mode(mode)
        except ValueError as exc:
            raise refusal("mode_invalid", got=shown(mode)) from exc
        place = None
        if how is Mode.FACE_TO_FACE or locality is not None:
            place = stripped_text(locality, "locality", 200, "BOOK-1")
        if isinstance(media, str) or not isinstance(media, Sequence) or not all(
                isinstance(m, str) and m for m in media):
            raise refusal("media_invalid")
        media = tuple(media)
        with self.command() as tx:
            member = tx.actor(member_id)
            member.require_complete_profile(
                "profile_incomplete_for_workshops", self.policy.profile_required_fields)
            workshop_id = tx.new_id("ws")
            tx.put(kinds.WORKSHOPS, workshop_id, Workshop(
                id=workshop_id, organizer=member.id, title=title, description=description,
                domain=domain, cost=cost, capacity=capacity,
                duration_minutes=duration // timedelta(minutes=1), mode=how,
                created_at=tx.now, locality=place, media=media,
            ))
            notify_followers(tx, member.id, "WorkshopProposed",
                                  {"workshop": workshop_id, "organizer": member.id})
            return workshop_id

    @command(actor=ORGANIZER, rules=("BOOK-5",))
    def delete_workshop(self, member_id: str, workshop_id: str) -> None:
        """BOOK-5: every pending, registered and waitlisted member is told and refunded.

        Members registered in a session already started are told too, but their session
        keeps its own lifecycle (BOOK-30..33) and their stars stay held.
        """
        with self.command() as tx:
            member = tx.actor(member_id)
            workshop = own_workshop(tx, member, workshop_id, "BOOK-5")
            delete_workshop_now(tx, workshop, DELETED_BY_ORGANIZER)

    @command(actor=ORGANIZER, rules=("BOOK-2", "BOOK-6", "BOOK-10"))
    def plan_session(self, member_id: str, workshop_id: str, start: datetime,
                     capacity: int | None = None) -> str:
        """BOOK-2/6/10: a new session; the workshop's waitlisted members are told."""
        with self.command() as tx:
            member = tx.actor(member_id)
            workshop = own_workshop(tx, member, workshop_id, "BOOK-6")
            begins = future_start(tx, start, "BOOK-6")
            seats = workshop.capacity if capacity is None else whole(
                capacity, "capacity", self.policy.min_capacity, "BOOK-6")
            session_id = tx.new_id("ses")
            session = Session(id=session_id, workshop=workshop.id, organizer=member.id,
                              start=begins, capacity=seats,
                              end=session_end_of(self.policy, begins, workshop.duration, "BOOK-6"))
            tx.put(kinds.SESSIONS, session_id, session)
            tx.schedule(SESSION_END, session_id, session.end)
            waiting = tuple(dict.fromkeys(
                r.member for r in tx.find(kinds.REGISTRATIONS, "workshop_waitlist", workshop.id)
            ))
            tx.notify("SessionPlanned", recipients=waiting, workshop=workshop.id,
                      session=session_id, start=begins, seats=seats)
            return session_id

    @command(actor=ORGANIZER, rules=("BOOK-7", "BOOK-8"))
    def move_session(self, member_id: str, session_id: str, start: datetime) -> None:
        """BOOK-7/8: registered members stay and are told; pending requests are refunded."""
        with self.command() as tx:
            member = tx.actor(member_id)
            session = own_session(tx, member, session_id, "BOOK-8")
            session.require_not_started(tx.now, "BOOK-8")
            begins = future_start(tx, start, "BOOK-8")
            length = session.end - session.start
            moved = evolve(session, state=session.to("move", "BOOK-8"), start=begins,
                           end=session_end_of(self.policy, begins, length, "BOOK-8"))
            tx.put(kinds.SESSIONS, session.id, moved)
            tx.schedule(SESSION_END, session.id, moved.end)
            registered: list[str] = []
            for registration in tx.find(kinds.REGISTRATIONS, "session_live", session.id):
                if registration.state is R.REGISTERED:
                    registered.append(registration.member)
                else:
                    end_registration(tx, registration, "session_moved")
                    tell_about(tx, "RequestVoidedBySessionMove", registration.member,
                               registration, start=begins)
            tx.notify("SessionMoved", recipients=tuple(dict.fromkeys(registered)),
                      session=session.id, workshop=session.workshop, start=begins)

    @command(actor=ORGANIZER, rules=("BOOK-7",))
    def set_capacity(self, member_id: str, session_id: str, capacity: int) -> None:
        """BOOK-7: change the seats before the start, never below the seats taken."""
        with self.command() as tx:
            member = tx.actor(member_id)
            session = own_session(tx, member, session_id, "BOOK-7")
            session.require_not_started(tx.now, "BOOK-7")
            seats = whole(capacity, "capacity", self.policy.min_capacity, "BOOK-7")
            if seats < session.seats_taken:
                raise refusal("capacity_below_taken", taken=session.seats_taken, capacity=seats)
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, state=session.to("set_capacity", "BOOK-7"), capacity=seats))

    @command(actor=ORGANIZER, rules=("BOOK-9",))
    def cancel_session(self, member_id: str, session_id: str) -> None:
        """BOOK-9: before the start; registered and pending members are told and refunded."""
        with self.command() as tx:
            member = tx.actor(member_id)
            session = own_session(tx, member, session_id, "BOOK-9")
            session.require_not_started(tx.now, "BOOK-9")
            tx.put(kinds.SESSIONS, session.id,
                   evolve(session, state=session.to("cancel", "BOOK-9")))
            tx.cancel_timer(SESSION_END, session.id)
            told = [end_registration(tx, r, "session_cancelled").member
                    for r in tx.find(kinds.REGISTRATIONS, "session_live", session.id)]
            tx.notify("SessionCancelled", recipients=tuple(dict.fromkeys(told)),
                      session=session.id, workshop=session.workshop, start=session.start)

    def _purge_bookings(self, tx: Tx, member: Member) -> None:
        """ACC-7: the member's workshops are deleted (BOOK-5 refunds); their own live
        requests, registrations for sessions not yet started and waitlist entries end
        with a refund. DECISION (as for tutorials and campaigns): the workshops' own
        words (title, description, locality, media) are erased; the records stay for
        the sessions, registrations and evaluations that refer to them."""
        for workshop in tx.find(kinds.WORKSHOPS, "organizer", member.id):
            if workshop.state is WorkshopState.ACTIVE:
                delete_workshop_now(tx, workshop, ORGANIZER_PURGED)
            gone = tx.require(kinds.WORKSHOPS, workshop.id)
            tx.put(kinds.WORKSHOPS, gone.id, evolve(gone, title="", description="",
                                                    locality=None, media=()))
        for registration in tx.find(kinds.REGISTRATIONS, "member_live", member.id):
            if registration.state is R.REGISTERED and registration.session:
                session = tx.require(kinds.SESSIONS, registration.session)
                if session.state is not SessionState.PLANNED or session.started(tx.now):
                    continue  # started: it keeps its post-session lifecycle
            free_seats(tx, registration)
            end_registration(tx, registration, "account_purged")
