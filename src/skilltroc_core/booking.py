"""Workshops, sessions and registrations: the booking lifecycles (BOOK-1..43, REFUND).

Pure domain: frozen values, the three lifecycles as transition tables, and the refund
matrix as data (:data:`HOLD_OUTCOMES`): which trigger ends a registration's hold how.
The service layer applies them (:mod:`skilltroc_core.service.workshops`,
:mod:`~skilltroc_core.service.requests`, :mod:`~skilltroc_core.service.aftermath`).

A *registration* is the life of one request: pending (stars held), then registered in a
session or waitlisted for a future one, then ended exactly once: refunded for a reason,
or paid to the organizer when the session is confirmed held (REFUND-1..5).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import attrs

from .frozen import evolve
from .ledger import VoidReason
from .refusals import refusal, shown
from .statemachine import Move, TransitionTable, transition

__all__ = [
    "HOLD_OUTCOMES",
    "REFUND_RULES",
    "REGISTRATION_LIFECYCLE",
    "SESSION_LIFECYCLE",
    "WORKSHOP_LIFECYCLE",
    "Attendance",
    "Evaluation",
    "Mode",
    "Registration",
    "RegistrationState",
    "Session",
    "SessionState",
    "Workshop",
    "WorkshopState",
    "hold_rule",
]


class Mode(StrEnum):
    ONLINE = "online"
    FACE_TO_FACE = "face_to_face"


class WorkshopState(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class SessionState(StrEnum):
    PLANNED = "planned"  # before its start; "started" is derived from the clock
    CANCELLED = "cancelled"
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # ended; the organizer is asked
    HELD = "held"
    NOT_HELD = "not_held"
    LAPSED = "lapsed"  # the organizer stayed silent 7 days: counts as not held


class RegistrationState(StrEnum):
    PENDING = "pending"
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    VOIDED_BY_MOVE = "voided_by_move"
    SESSION_CANCELLED = "session_cancelled"
    UNREGISTERED = "unregistered"
    LEFT_WAITLIST = "left_waitlist"
    WAITLIST_EXPIRED = "waitlist_expired"
    TRANSACTION_CANCELLED = "transaction_cancelled"
    WORKSHOP_DELETED = "workshop_deleted"
    ACCOUNT_PURGED = "account_purged"
    PAID = "paid"
    REFUNDED_NOT_HELD = "refunded_not_held"
    REFUNDED_ORGANIZER_SILENT = "refunded_organizer_silent"


class Attendance(StrEnum):
    ATTENDED = "attended"
    ABSENT = "absent"


W, S, R = WorkshopState, SessionState, RegistrationState

WORKSHOP_LIFECYCLE: TransitionTable[WorkshopState] = TransitionTable(
    "workshop", WorkshopState, W.ACTIVE, frozenset({W.DELETED}),
    [Move(source=W.ACTIVE, trigger="delete", target=W.DELETED, rule="BOOK-5")],
)

SESSION_LIFECYCLE: TransitionTable[SessionState] = TransitionTable(
    "session", SessionState, S.PLANNED,
    frozenset({S.CANCELLED, S.HELD, S.NOT_HELD, S.LAPSED}),
    [
        Move(source=S.PLANNED, trigger="move", target=S.PLANNED, rule="BOOK-8"),
        Move(source=S.PLANNED, trigger="set_capacity", target=S.PLANNED, rule="BOOK-7"),
        Move(source=S.PLANNED, trigger="cancel", target=S.CANCELLED, rule="BOOK-9"),
        Move(source=S.PLANNED, trigger="delete_workshop", target=S.CANCELLED, rule="BOOK-5"),
        Move(source=S.PLANNED, trigger="end", target=S.AWAITING_CONFIRMATION, rule="BOOK-30"),
        Move(source=S.AWAITING_CONFIRMATION, trigger="confirm_held", target=S.HELD,
             rule="BOOK-30"),
        Move(source=S.AWAITING_CONFIRMATION, trigger="confirm_not_held", target=S.NOT_HELD,
             rule="BOOK-31"),
        Move(source=S.AWAITING_CONFIRMATION, trigger="lapse", target=S.LAPSED, rule="BOOK-32"),
    ],
)

_LIVE_ENDS = [
    ("workshop_deleted", R.WORKSHOP_DELETED, "BOOK-5"),
    ("account_purged", R.ACCOUNT_PURGED, "ACC-7"),
]
REGISTRATION_LIFECYCLE: TransitionTable[RegistrationState] = TransitionTable(
    "registration", RegistrationState, R.PENDING,
    frozenset(set(RegistrationState) - {R.PENDING, R.REGISTERED, R.WAITLISTED}),
    [
        Move(source=R.PENDING, trigger="refuse", target=R.REFUSED, rule="BOOK-14"),
        Move(source=R.PENDING, trigger="accept", target=R.REGISTERED, rule="BOOK-14"),
        Move(source=R.PENDING, trigger="accept_future", target=R.WAITLISTED, rule="BOOK-14"),
        Move(source=R.PENDING, trigger="cancel", target=R.CANCELLED, rule="BOOK-17"),
        Move(source=R.PENDING, trigger="expire", target=R.EXPIRED, rule="BOOK-16"),
        Move(source=R.PENDING, trigger="session_moved", target=R.VOIDED_BY_MOVE, rule="BOOK-8"),
        Move(source=R.PENDING, trigger="session_cancelled", target=R.SESSION_CANCELLED,
             rule="BOOK-9"),
        Move(source=R.REGISTERED, trigger="unregister", target=R.UNREGISTERED, rule="BOOK-19"),
        Move(source=R.REGISTERED, trigger="cancel_transaction",
             target=R.TRANSACTION_CANCELLED, rule="BOOK-20"),
        Move(source=R.REGISTERED, trigger="session_cancelled", target=R.SESSION_CANCELLED,
             rule="BOOK-9"),
        Move(source=R.REGISTERED, trigger="held", target=R.PAID, rule="BOOK-30"),
        Move(source=R.REGISTERED, trigger="not_held", target=R.REFUNDED_NOT_HELD,
             rule="BOOK-31"),
        Move(source=R.REGISTERED, trigger="organizer_silent",
             target=R.REFUNDED_ORGANIZER_SILENT, rule="BOOK-32"),
        Move(source=R.WAITLISTED, trigger="join", target=R.REGISTERED, rule="BOOK-23"),
        Move(source=R.WAITLISTED, trigger="leave", target=R.LEFT_WAITLIST, rule="BOOK-25"),
        Move(source=R.WAITLISTED, trigger="cancel_transaction",
             target=R.TRANSACTION_CANCELLED, rule="BOOK-20"),
        Move(source=R.WAITLISTED, trigger="waitlist_expire", target=R.WAITLIST_EXPIRED,
             rule="BOOK-24"),
        *[
            Move(source=source, trigger=trigger, target=target, rule=rule)
            for source in (R.PENDING, R.REGISTERED, R.WAITLISTED)
            for trigger, target, rule in _LIVE_ENDS
        ],
    ],
)

#: The refund matrix as data (REFUND-1..5): each trigger that ends a registration ends its
#: hold exactly once, refunded for the reason given, or paid to the organizer ("post").
POST: Final = "post"
HOLD_OUTCOMES: dict[str, VoidReason | str] = {
    "refuse": VoidReason.REFUSED,
    "cancel": VoidReason.CANCELLED_BY_MEMBER,
    "expire": VoidReason.EXPIRED,
    "session_moved": VoidReason.SESSION_MOVED,
    "session_cancelled": VoidReason.SESSION_CANCELLED,
    "workshop_deleted": VoidReason.WORKSHOP_DELETED,
    "unregister": VoidReason.UNREGISTERED,
    "cancel_transaction": VoidReason.TRANSACTION_CANCELLED,
    "not_held": VoidReason.NOT_HELD,
    "organizer_silent": VoidReason.ORGANIZER_SILENT,
    "leave": VoidReason.LEFT_WAITLIST,
    "waitlist_expire": VoidReason.WAITLIST_EXPIRED,
    "account_purged": VoidReason.ACCOUNT_PURGED,
    "held": POST,
}
#: The REFUND rule listing each refund, by the stage the registration was at: the same
#: trigger (a workshop deleted, a transaction cancelled) refunds under REFUND-1, -2 or -3.
REFUND_RULES: Final = {R.PENDING: "REFUND-1", R.REGISTERED: "REFUND-2",
                       R.WAITLISTED: "REFUND-3"}


def hold_rule(stage: RegistrationState, trigger: str) -> str:
    """The rule by which ``trigger`` ends the hold of a registration at ``stage``: the
    organizer paid (REFUND-4), the account purged (ACC-7), or the stage's REFUND rule."""
    if HOLD_OUTCOMES[trigger] == POST:
        return "REFUND-4"
    if trigger == "account_purged":
        return "ACC-7"
    return REFUND_RULES[stage]


LIVE_STATES: Final = frozenset({R.PENDING, R.REGISTERED, R.WAITLISTED})


@attrs.frozen(kw_only=True)
class Workshop:
    """What an organizer proposes (BOOK-1)."""

    id: str
    organizer: str
    title: str
    description: str
    domain: str
    cost: int  # stars per seat, >= 0
    capacity: int  # maximum participants, >= 1
    duration_minutes: int
    mode: Mode
    created_at: datetime
    locality: str | None = None
    media: tuple[str, ...] = ()
    state: WorkshopState = WorkshopState.ACTIVE
    deleted_at: datetime | None = None

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def deleted(self, now: datetime) -> Workshop:
        state = transition(WORKSHOP_LIFECYCLE, self.state, "delete", what=f"workshop {self.id}",
                           rule="BOOK-5")
        return attrs.evolve(self, state=state, deleted_at=now)


@attrs.frozen(kw_only=True)
class Session:
    """One date of a workshop (BOOK-6): its start, end, capacity and seats taken."""

    id: str
    workshop: str
    organizer: str
    start: datetime
    end: datetime
    capacity: int
    seats_taken: int = 0
    state: SessionState = SessionState.PLANNED
    ended_at: datetime | None = None  # when the organizer answered, or silence counted

    @property
    def seats_left(self) -> int:
        return self.capacity - self.seats_taken

    def started(self, now: datetime) -> bool:
        return now >= self.start

    def to(self, trigger: str, rule: str) -> SessionState:
        return transition(SESSION_LIFECYCLE, self.state, trigger, what=f"session {self.id}",
                          rule=rule)

    def require_not_started(self, now: datetime, rule: str) -> None:
        if self.state is not SessionState.PLANNED or self.started(now):
            raise refusal("session_not_changeable", rule=rule, session=self.id,
                          state=str(self.state))


@attrs.frozen(kw_only=True)
class Registration:
    """One request and what became of it (BOOK-11..33)."""

    id: str
    member: str
    organizer: str
    workshop: str
    session: str | None  # None while it is for a future session
    seats: int
    price: int  # stars per seat, locked at request time (BOOK-11)
    requested_at: datetime
    due: datetime | None  # when an unanswered request expires (BOOK-16)
    state: RegistrationState = RegistrationState.PENDING
    accepted_at: datetime | None = None
    waitlist_until: datetime | None = None
    ended_at: datetime | None = None
    attendance: Attendance | None = None
    evaluated: bool = False

    @property
    def amount(self) -> int:
        return self.price * self.seats

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    def moved(self, trigger: str, now: datetime, **changes: Any) -> Registration:
        """The registration after ``trigger`` (its table move must exist)."""
        move = REGISTRATION_LIFECYCLE.move(self.state, trigger)
        if move is None:  # raises the lifecycle's refusal
            transition(REGISTRATION_LIFECYCLE, self.state, trigger, what=f"request {self.id}",
                       rule=_rule_of(trigger, self.state))
        state = move.target if move is not None else self.state
        ended = now if state in REGISTRATION_LIFECYCLE.final else None
        return evolve(self, state=state, ended_at=ended, **changes)


def _rule_of(trigger: str, state: RegistrationState) -> str | None:
    for move in REGISTRATION_LIFECYCLE:
        if move.trigger == trigger:
            return move.rule
    return None


CRITERIA: Final = ("satisfaction", "conformity", "teaching", "duration")


@attrs.frozen(kw_only=True)
class Evaluation:
    """A participant's evaluation of a held session (BOOK-40..43)."""

    id: str  # the registration's id: one evaluation per registration
    workshop: str
    session: str
    organizer: str
    member: str
    satisfaction: int
    conformity: int
    teaching: int
    duration: int
    recommend: bool
    at: datetime

    @property
    def scores(self) -> tuple[int, int, int, int]:
        return (self.satisfaction, self.conformity, self.teaching, self.duration)

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(CRITERIA)


@attrs.frozen(kw_only=True)
class MemberStats:
    """Running totals behind a profile (PROF-3..5), kept incrementally."""

    id: str  # the member id
    evaluations: int = 0
    satisfaction: int = 0
    conformity: int = 0
    teaching: int = 0
    duration: int = 0
    recommended: int = 0
    organized_held: int = 0
    attended_held: int = 0

    def with_evaluation(self, evaluation: Evaluation) -> MemberStats:
        return attrs.evolve(
            self,
            evaluations=self.evaluations + 1,
            satisfaction=self.satisfaction + evaluation.satisfaction,
            conformity=self.conformity + evaluation.conformity,
            teaching=self.teaching + evaluation.teaching,
            duration=self.duration + evaluation.duration,
            recommended=self.recommended + (1 if evaluation.recommend else 0),
        )


def check_score(name: str, value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise refusal("score_invalid", field=name, low=low, high=high, got=shown(value))
    return value
