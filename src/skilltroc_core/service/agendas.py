"""What pages show of booking: workshops, sessions, requests, agendas, profile numbers.

Rules: BOOK-15, BOOK-18, BOOK-22, BOOK-43, PROF-2..5.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ..booking import (
    CRITERIA,
    Evaluation,
    MemberStats,
    Registration,
    Session,
    Workshop,
    WorkshopState,
)
from ..listings import RosterEntry, SessionRoster, WaitlistEntry
from ..refusals import refusal
from . import kinds
from .ads import attached_campaigns
from .booking_steps import R, organized_workshop, own_session, registration_of
from .context import Area

# Tx, evolve
from .registry import ANYONE, ORGANIZER, REQUESTER, query
from .tutorials import attached_tutorials
from .units import Tx

__all__ = [
    "AgendaItem",
    "BookingReads",
    "OrganizerAgenda",
    "ParticipantAgenda",
    "ProfileStats",
]


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
class ParticipantAgenda:
    """A member's agenda (BOOK-22): requests waiting for an answer, sessions they are
    registered for, waitlist entries, and held sessions they may evaluate."""

    pending: tuple[AgendaItem, ...]
    planned: tuple[AgendaItem, ...]
    waiting: tuple[AgendaItem, ...]
    to_evaluate: tuple[AgendaItem, ...]


@attrs.frozen(kw_only=True)
class OrganizerAgenda:
    """An organizer's agenda (BOOK-18): requests to answer, validated registrations,
    waitlisted members to plan a session for, and ended sessions to confirm."""

    to_answer: tuple[AgendaItem, ...]
    validated: tuple[AgendaItem, ...]
    to_plan: tuple[AgendaItem, ...]
    to_confirm: tuple[Session, ...]


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


def _waitlist(tx: Tx, workshop_id: str) -> tuple[WaitlistEntry, ...]:
    """The members waiting for a session of a workshop, oldest request first (BOOK-22)."""
    waiting = []
    for r in sorted(tx.find(kinds.REGISTRATIONS, "workshop_waitlist", workshop_id),
                    key=lambda r: (r.requested_at, r.id)):
        member = tx.shown_member(r.member)
        waiting.append(WaitlistEntry(registration_id=r.id, member_id=r.member, seats=r.seats,
                                     display_name=member.display if member else "",
                                     requested_at=r.requested_at))
    return tuple(waiting)


class BookingReads(Area):
    """Reads of workshops, sessions and requests, agendas and profile numbers."""

    @query(actor=(REQUESTER, ORGANIZER), rules=("BOOK-15",))
    def contact_email(self, member_id: str, registration_id: str) -> str:
        """BOOK-15: once a request is accepted, organizer and member see each other's email."""
        with self.query() as tx:
            member = tx.actor(member_id)
            registration = registration_of(tx, registration_id, "BOOK-15")
            if member.id not in (registration.member, registration.organizer):
                raise refusal("contacts_parties_only", registration=registration.id)
            if registration.accepted_at is None:
                raise refusal("contacts_before_acceptance", registration=registration.id)
            other = registration.organizer if member.id == registration.member else (
                registration.member)
            found = tx.visible_member(other)  # hidden while deactivated, or purged
            assert found.email is not None
            return found.email

    @query(actor=ANYONE, rules=("BOOK-1",))
    def workshop(self, workshop_id: str) -> Workshop:
        """A workshop as it stands, deleted ones included (BOOK-1, BOOK-5)."""
        with self.query() as tx:
            return tx.require(kinds.WORKSHOPS, workshop_id)

    @query(actor=ANYONE, rules=("BOOK-6", "BOOK-18"))
    def session(self, session_id: str) -> Session:
        """A session, with its capacity and seats taken (seats left: BOOK-18)."""
        with self.query() as tx:
            return tx.require(kinds.SESSIONS, session_id)

    @query(actor=ANYONE, rules=("BOOK-11",))
    def registration(self, registration_id: str) -> Registration:
        """A request as it stands: its state, seats, stars and deadlines (BOOK-11)."""
        with self.query() as tx:
            return tx.require(kinds.REGISTRATIONS, registration_id)

    @query(actor=ANYONE, rules=("BOOK-2",))
    def sessions_of(self, workshop_id: str) -> list[Session]:
        """The sessions of a workshop, oldest first (BOOK-2)."""
        with self.query() as tx:
            tx.require(kinds.WORKSHOPS, workshop_id)
            return tx.find(kinds.SESSIONS, "workshop", workshop_id)

    @query(actor=ANYONE, rules=("BOOK-43",))
    def workshop_evaluations(self, workshop_id: str) -> list[Evaluation]:
        """BOOK-43: published evaluations, visible to everyone viewing the workshop."""
        with self.query() as tx:
            tx.require(kinds.WORKSHOPS, workshop_id)
            return tx.find(kinds.EVALUATIONS, "workshop", workshop_id)

    @query(actor=ANYONE, rules=("PROF-2", "PROF-3", "PROF-4", "PROF-5"))
    def profile_stats(self, member_id: str) -> ProfileStats:
        """PROF-2..5: rating, per-criterion means, recommendation rate, level, activity;
        of an active member only (a deactivated one is hidden, ACC-7)."""
        with self.query() as tx:
            member = tx.visible_member(member_id)
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
                tutorials=attached_tutorials(tx, member.id),
                campaigns=attached_campaigns(tx, member.id),
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

    @query(actor=ANYONE, rules=("BOOK-22",))
    def participant_agenda(self, member_id: str) -> ParticipantAgenda:
        """Pending requests, planned sessions, waiting sessions, sessions to evaluate."""
        with self.query() as tx:
            member = tx.member(member_id)
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
            return ParticipantAgenda(**{name: tuple(items) for name, items in agenda.items()})

    @query(actor=ANYONE, rules=("BOOK-18",))
    def organizer_agenda(self, member_id: str) -> OrganizerAgenda:
        """Requests to answer, validated registrations, workshops to plan, sessions to confirm."""
        with self.query() as tx:
            member = tx.member(member_id)
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
            return OrganizerAgenda(
                to_answer=tuple(to_answer), validated=tuple(validated), to_plan=tuple(to_plan),
                to_confirm=tuple(tx.find(kinds.SESSIONS, "organizer_awaiting", member.id)))

    @query(actor=ORGANIZER, rules=("BOOK-18", "BOOK-22", "ACC-7"))
    def session_roster(self, member_id: str, session_id: str) -> SessionRoster:
        """BOOK-18, BOOK-22: for the session's organizer, the members registered for it,
        with their seats and email ("Inscriptions validées"), and the members waiting
        for a session of its workshop ("Ateliers à planifier"), oldest request first.
        A deactivated member shows no name or email (ACC-7). O(capacity + waitlist)."""
        with self.query() as tx:
            session = own_session(tx, tx.actor(member_id), session_id, "BOOK-18")
            registered = []
            for r in tx.find(kinds.REGISTRATIONS, "session_live", session.id):
                if r.state is R.REGISTERED:
                    member = tx.shown_member(r.member)
                    registered.append(RosterEntry(
                        registration_id=r.id, member_id=r.member, seats=r.seats,
                        display_name=member.display if member else "",
                        email=member.email if member else None))
            return SessionRoster(session_id=session.id, registered=tuple(registered),
                                 waitlist=_waitlist(tx, session.workshop))

    @query(actor=ORGANIZER, rules=("BOOK-22", "ACC-7"))
    def workshop_waitlist(self, member_id: str, workshop_id: str) -> tuple[WaitlistEntry, ...]:
        """BOOK-22: for the workshop's organizer, the members waiting for a session of it
        ("Ateliers à planifier"), oldest request first, with their seats; a deactivated
        member shows no name (ACC-7). O(waitlist)."""
        with self.query() as tx:
            workshop = organized_workshop(tx, tx.actor(member_id), workshop_id, "BOOK-22")
            return _waitlist(tx, workshop.id)

    @query(actor=ANYONE, rules=("BOOK-18",))
    def seats_left(self, session_id: str) -> int:
        """BOOK-18: capacity minus registered seats (requests and waitlist take none)."""
        return self.session(session_id).seats_left
