"""The refund matrix, observed: every (stage, event) pair run through the real service.

Nothing here is hand-written outcome data. For each pair a fresh world is built on the
in-memory store, the registration is brought to the stage, the event is applied (a
command, or the clock moving past a deadline), and the stars are read back: refunded to
the member, paid to the organizer, still held, or the event was not allowed (with the
error's code). The rule ID is the one the registration's lifecycle gives the move, or the
one the refusal cites.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs

from ..adapters.clocks import ManualClock
from ..adapters.memory import MemoryStore
from ..booking import REGISTRATION_LIFECYCLE, RegistrationState, hold_rule
from ..errors import SkilltrocError
from ..ledger import HoldState
from ..rules import DEFAULT_POLICY
from ..service import Skilltroc

__all__ = ["EVENTS", "STAGES", "Outcome", "observe", "refund_matrix"]

T0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
SESSION_START = T0 + timedelta(days=20)  # later than every other deadline in play
COST, SEATS = 3, 2


@attrs.define
class World:
    app: Skilltroc
    clock: ManualClock
    organizer: str
    member: str
    workshop: str
    session: str
    request: str = ""


def _world() -> World:
    clock = ManualClock(T0)
    app = Skilltroc(MemoryStore(), clock, policy=attrs.evolve(
        DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8))
    organizer = app.signup("olga@example.org", provider="google").member_id
    member = app.signup("alice@example.org", provider="google").member_id
    workshop = app.create_workshop(organizer, title="Bread", description="Sourdough",
                                   domain="cooking", cost=COST, capacity=4)
    session = app.plan_session(organizer, workshop, SESSION_START)
    return World(app, clock, organizer, member, workshop, session)


def _pending(world: World) -> None:
    world.request = world.app.request(world.member, session_id=world.session, seats=SEATS)


def _pending_future(world: World) -> None:
    world.request = world.app.request(world.member, workshop_id=world.workshop, seats=SEATS)


def _registered(world: World) -> None:
    _pending(world)
    world.app.accept(world.organizer, world.request)


def _waitlisted(world: World) -> None:
    _pending_future(world)
    world.app.accept_future(world.organizer, world.request)


def _ended(world: World) -> None:
    _registered(world)
    world.clock.set(SESSION_START + timedelta(hours=3))


def _held(world: World) -> None:
    _ended(world)
    world.app.confirm_held(world.organizer, world.session)


#: stage name -> how to bring a fresh world's registration there
STAGES: dict[str, Callable[[World], None]] = {
    "pending (planned session)": _pending,
    "pending (future session)": _pending_future,
    "registered, before the start": _registered,
    "waitlisted": _waitlisted,
    "registered, session ended": _ended,
    "paid (session confirmed held)": _held,
}


def _advance(days: int) -> Callable[[World], None]:
    def move(world: World) -> None:
        world.clock.set(world.app.policy.add_days(world.clock.now(), days))
        world.app.run_due()
    return move


def _to_start(world: World) -> None:
    world.clock.set(max(world.clock.now(), SESSION_START))
    world.app.run_due()


def _purge(world: World) -> None:
    world.app.deactivate(world.member)
    _advance(world.app.policy.account_retention_days)(world)


#: event name -> what it does to the world
EVENTS: dict[str, Callable[[World], None]] = {
    "member cancels the request": lambda w: w.app.cancel_request(w.member, w.request),
    "organizer refuses": lambda w: w.app.refuse(w.organizer, w.request),
    "organizer accepts": lambda w: w.app.accept(w.organizer, w.request),
    "organizer accepts for a future session": (
        lambda w: w.app.accept_future(w.organizer, w.request)),
    "the session starts": _to_start,
    "7 days pass": _advance(7),
    "15 days pass": _advance(15),
    "organizer moves the session": lambda w: w.app.move_session(
        w.organizer, w.session, SESSION_START + timedelta(days=2)),
    "organizer cancels the session": lambda w: w.app.cancel_session(w.organizer, w.session),
    "organizer deletes the workshop": lambda w: w.app.delete_workshop(w.organizer, w.workshop),
    "member unregisters": lambda w: w.app.unregister(w.member, w.request),
    "organizer cancels the transaction": (
        lambda w: w.app.cancel_transaction(w.organizer, w.request)),
    "member leaves the waitlist": lambda w: w.app.leave_waitlist(w.member, w.request),
    "organizer confirms held": lambda w: w.app.confirm_held(w.organizer, w.session),
    "organizer confirms not held": lambda w: w.app.confirm_not_held(w.organizer, w.session),
    "member declares absence": lambda w: w.app.declare_absent(w.member, w.request),
    "member's account is purged": _purge,
}


@attrs.frozen(kw_only=True)
class Outcome:
    """What an event did to a stage's held stars."""

    result: str  # "refund", "pay organizer", "keep holding", "not allowed"
    rule: str | None
    state: str  # the registration's state after (a refusal leaves it as it was)
    error: str | None = None  # the refusal's error code
    detail: str = ""


#: Why stars stay where they are when an event ends nothing.
_HOLDING_RULE = {
    RegistrationState.PENDING: "BOOK-11",
    RegistrationState.REGISTERED: "BOOK-30",
    RegistrationState.WAITLISTED: "BOOK-22",
    RegistrationState.PAID: "REFUND-4",
}


def observe(stage: str, event: str) -> Outcome:
    """Run ``event`` on a fresh registration at ``stage`` and say what became of its stars.

    The outcome is read from the ledger: the hold posted (paid to the organizer), voided
    (refunded), or still open; the rule is the one the registration lifecycle gives the
    move that ended it, or the one the refusal cites.
    """
    world = _world()
    STAGES[stage](world)
    app = world.app
    before = app.registration(world.request).state
    try:
        EVENTS[event](world)
    except SkilltrocError as exc:
        return Outcome(result="not allowed", rule=exc.rule, state=str(before), error=exc.code,
                       detail=exc.message)
    app.check_invariants(deep=True)
    registration = app.registration(world.request)
    with app.query() as tx:
        hold = tx.ledger.get_hold(world.request)
    moves = [m for m in REGISTRATION_LIFECYCLE
             if m.source is before and m.target is registration.state]
    if hold.state is HoldState.POSTED:
        result = "pay organizer" if before is not RegistrationState.PAID else "already paid"
    elif hold.state is HoldState.VOIDED:
        result = "refund"
    else:
        result = "keep holding"
    if moves and registration.state in REGISTRATION_LIFECYCLE.final:
        rule: str | None = hold_rule(before, moves[0].trigger)
    elif moves:
        rule = moves[0].rule
    else:
        rule = _HOLDING_RULE.get(registration.state)
    return Outcome(result=result, rule=rule, state=str(registration.state),
                   detail=f"void reason: {hold.void_reason}" if hold.void_reason else "")


def refund_matrix() -> dict[tuple[str, str], Outcome]:
    """Every (stage, event) pair with its observed outcome."""
    return {(stage, event): observe(stage, event) for stage in STAGES for event in EVENTS}
