"""The steps booking commands share: lookups with their refusals, ending a
registration (the lifecycle and the refund matrix together), notices about a request.

Every registration ends through :func:`end_registration`, which applies the registration
lifecycle and the refund matrix (:data:`~skilltroc_core.booking.HOLD_OUTCOMES`) together,
so a hold ends exactly once and always for the reason the rules give.
"""

from __future__ import annotations

from bisect import insort
from datetime import datetime, timedelta
from typing import Final

from ..accounts import AccountStatus, Member
from ..booking import (
    HOLD_OUTCOMES,
    POST,
    MemberStats,
    Registration,
    RegistrationState,
    Session,
    SessionState,
    Workshop,
    WorkshopState,
)
from ..events import FactValue, iso_text
from ..frozen import evolve
from ..instants import later, require_aware
from ..ledger import ISSUANCE, TransferKind, VoidReason
from ..refusals import refusal, shown

# Tx, evolve
from ..rules import Policy
from . import kinds
from .units import Tx

__all__ = ["end_registration", "live_workshop"]

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


def whole(value: object, what: str, low: int, rule: str) -> int:
    if type(value) is not int or value < low:
        raise refusal("whole_number_too_small", rule=rule, field=what, low=low,
                      got=shown(value))
    return value


def stripped_text(value: object, what: str, limit: int, rule: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise refusal("text_required", rule=rule, field=what)
    if len(value.strip()) > limit:
        raise refusal("text_too_long", rule=rule, field=what, limit=limit,
                      length=len(value.strip()))
    return value.strip()


def live_workshop(tx: Tx, workshop_id: object, rule: str) -> Workshop:
    workshop = tx.require(kinds.WORKSHOPS, workshop_id)
    if workshop.state is WorkshopState.DELETED:
        raise refusal("workshop_deleted", workshop=workshop.id)
    return workshop


def own_workshop(tx: Tx, member: Member, workshop_id: object, rule: str) -> Workshop:
    """The workshop ``member`` organizes, not deleted."""
    return _organized_by(member, live_workshop(tx, workshop_id, rule), rule)


def organized_workshop(tx: Tx, member: Member, workshop_id: object, rule: str) -> Workshop:
    """The workshop ``member`` organizes, whatever its state."""
    return _organized_by(member, tx.require(kinds.WORKSHOPS, workshop_id), rule)


def _organized_by(member: Member, workshop: Workshop, rule: str) -> Workshop:
    if workshop.organizer != member.id:
        raise refusal("not_workshop_organizer", rule=rule, workshop=workshop.id)
    return workshop


def open_organizer(tx: Tx, organizer: str, named: str, named_id: str) -> None:
    """ACC-7: nobody starts anything new with a deactivated (hidden) organizer: no
    request for their workshops, no join into their sessions. Refused as if the thing
    the member named (refusal ``named``: ``unknown_session``, ``unknown_workshop``) did
    not exist, so that nobody learns the organizer is hidden. What already exists with
    them stays untouched."""
    if not tx.shown(organizer):
        raise refusal(named, id=named_id)


def own_session(tx: Tx, member: Member, session_id: object, rule: str) -> Session:
    session = tx.require(kinds.SESSIONS, session_id)
    if session.organizer != member.id:
        raise refusal("not_session_organizer", rule=rule, session=session.id)
    return session


def registration_of(tx: Tx, registration_id: object, rule: str) -> Registration:
    return tx.require(kinds.REGISTRATIONS, registration_id)


def as_requester(tx: Tx, member: Member, registration_id: object,
                  rule: str) -> Registration:
    registration = registration_of(tx, registration_id, rule)
    if registration.member != member.id:
        raise refusal("not_requester", rule=rule, registration=registration.id,
                      member=member.id)
    return registration


def as_organizer(tx: Tx, member: Member, registration_id: object,
                  rule: str) -> Registration:
    registration = registration_of(tx, registration_id, rule)
    if registration.organizer != member.id:
        raise refusal("not_request_organizer", rule=rule, registration=registration.id)
    return registration


def future_start(tx: Tx, start: object, rule: str) -> datetime:
    instant = require_aware(start, "start", rule)
    if instant <= tx.now:
        raise refusal("session_start_not_later", rule=rule, now=tx.now, start=instant)
    return instant


def session_end_of(policy: Policy, begins: datetime, length: timedelta, rule: str) -> datetime:
    """When a session starting at ``begins`` ends; refused when that end, or the
    organizer's answer deadline after it (BOOK-32), would fall past year 9999."""
    end = later(begins, length, "session start", rule)
    later(end, timedelta(days=policy.confirmation_window_days + 1), "session start",
          rule)
    return end


def end_registration(tx: Tx, registration: Registration, trigger: str,
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
            sweep_if_purged(tx, registration)
    tx.put(kinds.REGISTRATIONS, ended.id, ended)
    deadline = DEADLINE_OF.get(registration.state)
    if deadline is not None:
        tx.cancel_timer(deadline, ended.id)
    return ended


def sweep_if_purged(tx: Tx, registration: Registration) -> None:
    """ACC-7: a refund reaching an account purged meanwhile (its registration was in a
    session already started at the purge) goes where the rest of its balance went:
    the platform's issuance account, recorded. Nobody can ever use a purged wallet."""
    member = tx.get(kinds.MEMBERS, registration.member)
    if member is not None and member.status is AccountStatus.PURGED:
        tx.ledger.transfer(TransferKind.ACCOUNT_PURGED, member.id, ISSUANCE,
                           registration.amount, reference=f"purge:{member.id}", at=tx.now)


def free_seats(tx: Tx, registration: Registration) -> None:
    """A registered member's seats go back to the session (BOOK-18: seats left at once)."""
    if registration.state is R.REGISTERED and registration.session:
        session = tx.require(kinds.SESSIONS, registration.session)
        tx.put(kinds.SESSIONS, session.id,
               evolve(session, seats_taken=session.seats_taken - registration.seats))


def end_before_start(tx: Tx, registration: Registration, trigger: str, rule: str
                     ) -> Registration:
    """End a registration whose session has not started (BOOK-19, BOOK-20): its seats go
    back to the session, its hold ends as ``trigger`` says."""
    if registration.state is R.REGISTERED and registration.session:
        session = tx.require(kinds.SESSIONS, registration.session)
        session.require_not_started(tx.now, rule)
    free_seats(tx, registration)
    return end_registration(tx, registration, trigger)


def tell_about(tx: Tx, event: str, to: str, registration: Registration,
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


def delete_workshop_now(tx: Tx, workshop: Workshop, cause: str) -> None:
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
        end_registration(tx, registration, "workshop_deleted")
    tx.notify("WorkshopDeleted", recipients=tuple(dict.fromkeys(told)),
              workshop=workshop.id, title=workshop.title, cause=cause)


def registered_in(tx: Tx, session: Session) -> list[Registration]:
    return [r for r in tx.find(kinds.REGISTRATIONS, "session_live", session.id)
            if r.state is R.REGISTERED]


def bump_stats(tx: Tx, member_id: str, *, organized_held: int = 0,
                attended_held: int = 0) -> None:
    stats = tx.get(kinds.MEMBER_STATS, member_id)
    tx.put(kinds.MEMBER_STATS, member_id, MemberStats(
        id=member_id, organized_held=organized_held, attended_held=attended_held,
    ) if stats is None else evolve(
        stats, organized_held=stats.organized_held + organized_held,
        attended_held=stats.attended_held + attended_held))


def paid(tx: Tx, member: Member, registration_id: str, rule: str) -> Registration:
    registration = as_requester(tx, member, registration_id, rule)
    if registration.state is not R.PAID:
        raise refusal("registration_not_paid", rule=rule, registration=registration.id,
                      state=str(registration.state))
    if registration.attendance is not None:
        raise refusal("attendance_given", rule=rule, attendance=str(registration.attendance))
    return registration


def answerable(tx: Tx, member: Member, session_id: str, rule: str) -> Session:
    session = own_session(tx, member, session_id, rule)
    if session.state is SessionState.PLANNED:
        raise refusal("session_not_ended", session=session.id, end=session.end,
                      days=tx.policy.confirmation_window_days)
    return session


