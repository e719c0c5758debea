"""The booking lifecycles driven by random commands (hypothesis), checked after every step.

One organizer with two workshops (a deleted one is replaced, so two stay active; each
starts with a session) and three or four participants who bought stars. Random
commands, drawn by weight by one ``step`` rule among those that make sense: plan, move,
re-capacity and cancel sessions, delete workshops; requests for a session or a future
session (1-4 seats, sometimes an invalid count); accept, accept for a future session,
refuse, cancel, unregister, leave the waitlist, join a session, cancel the transaction;
confirm held or not held, declare absence, confirm attendance, evaluate; participants
deactivate and reactivate (15 days later: purge); the clock moves by minutes to ten
days or jumps to a coming start, end or deadline; ``run_due`` applies deadlines (so does
every command and query, first). Commands are sometimes given by the wrong member.

Each command's outcome is predicted from the rules and the stored state whenever no
deadline is waiting to be applied (the command would apply it first): the service must
accept exactly the commands the rules allow. A refused command must raise a
:class:`SkilltrocError` with an ordinary refusal code and change nothing at all in the
store (balances, seats, holds, timers, outbox, everything).

After every step (``booking_is_consistent``): the ledger invariants (deep); no session over
capacity, and a planned session's seats taken are its registered seats; every hold ends
at most once and matches its registration (REFUND-5: open while live, posted to the
organizer iff paid, otherwise voided for the reason of the final state); no deadline is
overdue once a command ran (BOOK-16, BOOK-24, BOOK-30, BOOK-32); one live registration
per member and session, or per member and workshop's future sessions (BOOK-4); each
member's held stars are their live registrations and their total stars only moved by
sessions confirmed held (or went to the platform at a purge); each request's life was
notified once per change to the right member (BOOK-21, the NOTIFY table); the profile
counters follow the registrations.

The state is read straight from the store (a unit of work rolled back), never through a
query, which would apply deadlines and hide the lazy paths the machine exercises. The
machine runs on the memory store and, with a quarter of the examples, on SQLite.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from skilltroc_core.accounts import AccountStatus
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.booking import (
    Attendance,
    MemberStats,
    Registration,
    RegistrationState,
    Session,
    SessionState,
    Workshop,
    WorkshopState,
)
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.events import Notification
from skilltroc_core.ledger import HoldState, Ledger, TransferKind, VoidReason
from skilltroc_core.ports import EntityKind, Store, UnitOfWork
from skilltroc_core.rules import DEFAULT_POLICY
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.service.booking import DEADLINE_OF, REQUEST_DUE, WAITLIST_WINDOW
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

T = TypeVar("T")
E = TypeVar("E")
F = TypeVar("F", bound=Callable[..., None])
R, S = RegistrationState, SessionState

POLICY = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
NAMES = ("ann", "ben", "cat", "dan")
PICK = st.integers(0, 10_000)
MOSTLY = st.sampled_from([True, True, True, False])  # usually the command that can succeed
RARELY = st.sampled_from([False, False, False, True])
SEATS = st.sampled_from([1, 2, 1, 3, 1, 2, 4, 0, 11])
CAPACITIES = st.integers(1, 6)
#: Minutes from now to a session's start: within 1 to 20 days, often within 3, sometimes
#: within the day.
STARTS = st.one_of(st.integers(24 * 60, 20 * 24 * 60), st.integers(24 * 60, 3 * 24 * 60),
                   st.integers(60, 24 * 60))

#: Refusals a command may raise. Anything else (a unique index tripping, a hold ending
#: twice, a broken invariant) means the service let an invalid change through.
REFUSAL_CODES = frozenset({
    "invalid_input", "invalid_amount", "not_found", "not_allowed", "state_conflict",
    "insufficient_stars", "account_deactivated", "account_purged",
})
#: REFUND-1..3: the reason a hold was voided, for each final state that is a refund.
VOID_REASON_OF: dict[RegistrationState, VoidReason] = {
    R.REFUSED: VoidReason.REFUSED,
    R.CANCELLED: VoidReason.CANCELLED_BY_MEMBER,
    R.EXPIRED: VoidReason.EXPIRED,
    R.VOIDED_BY_MOVE: VoidReason.SESSION_MOVED,
    R.SESSION_CANCELLED: VoidReason.SESSION_CANCELLED,
    R.UNREGISTERED: VoidReason.UNREGISTERED,
    R.LEFT_WAITLIST: VoidReason.LEFT_WAITLIST,
    R.WAITLIST_EXPIRED: VoidReason.WAITLIST_EXPIRED,
    R.TRANSACTION_CANCELLED: VoidReason.TRANSACTION_CANCELLED,
    R.WORKSHOP_DELETED: VoidReason.WORKSHOP_DELETED,
    R.ACCOUNT_PURGED: VoidReason.ACCOUNT_PURGED,
    R.REFUNDED_NOT_HELD: VoidReason.NOT_HELD,
    R.REFUNDED_ORGANIZER_SILENT: VoidReason.ORGANIZER_SILENT,
}
#: BOOK-21 and the NOTIFY table: the notice that ends a request, and who receives it ...
REQUEST_ENDINGS: dict[RegistrationState, tuple[str, str]] = {
    R.REFUSED: ("RequestRefused", "member"),
    R.CANCELLED: ("RequestCancelled", "organizer"),
    R.EXPIRED: ("RequestExpired", "member"),
    R.VOIDED_BY_MOVE: ("RequestVoidedBySessionMove", "member"),
    R.UNREGISTERED: ("MemberUnregistered", "organizer"),
    R.LEFT_WAITLIST: ("WaitlistLeft", "organizer"),
    R.WAITLIST_EXPIRED: ("WaitlistExpired", "member"),
    R.TRANSACTION_CANCELLED: ("TransactionCancelled", "member"),
}
#: ... or the session's or workshop's notice that tells the member among others.
SHARED_ENDINGS: dict[RegistrationState, tuple[str, str]] = {
    R.SESSION_CANCELLED: ("SessionCancelled", "session"),
    R.PAID: ("SessionHeld", "session"),
    R.REFUNDED_NOT_HELD: ("SessionNotHeld", "session"),
    R.REFUNDED_ORGANIZER_SILENT: ("SessionLapsed", "session"),
    R.WORKSHOP_DELETED: ("WorkshopDeleted", "workshop"),
}
ENDED_SESSION = frozenset({S.AWAITING_CONFIRMATION, S.HELD, S.NOT_HELD, S.LAPSED})
LIVE = frozenset({R.PENDING, R.REGISTERED, R.WAITLISTED})
HOLD_ENDS = frozenset({TransferKind.HOLD_POSTED, TransferKind.HOLD_VOIDED})


@attrs.frozen
class Command:
    """A command the machine may run: its weight, its arguments, when it makes sense."""

    name: str
    weight: int
    arguments: dict[str, st.SearchStrategy[Any]]
    when: Callable[[Any], bool] | None


COMMANDS: list[Command] = []


def command(weight: int, *, when: Callable[[Any], bool] | None = None,
            **arguments: st.SearchStrategy[Any]) -> Callable[[F], F]:
    """Register a machine method as a command (drawn by ``step`` with this weight)."""

    def register(method: F) -> F:
        COMMANDS.append(Command(name=method.__name__, weight=weight, arguments=arguments,
                                when=when))
        return method

    return register


class BookingMachine(RuleBasedStateMachine):
    """The machine on the in-memory reference store."""

    def new_store(self) -> Store:
        return MemoryStore()

    def __init__(self) -> None:
        super().__init__()
        self.store = self.new_store()
        self.clock = ManualClock(START)
        self.service = Skilltroc(self.store, self.clock, policy=POLICY, secret_key=TEST_SECRET_KEY)
        self.org = ""
        self.participants: list[str] = []
        self.initial: dict[str, int] = {}  # signup bonus + purchase of each member
        self.workshops: list[str] = []
        self.sessions: list[str] = []
        self.registrations: list[str] = []
        self.settled_at = START  # every deadline due by then has been applied

    # ------------------------------------------------------------------ reading
    @contextmanager
    def _raw(self) -> Iterator[UnitOfWork]:
        """The store as it is, deadlines not applied; nothing read is ever written."""
        uow = self.store.begin()
        try:
            yield uow
        finally:
            uow.rollback()

    def _get(self, kind: EntityKind[E], entity_id: str) -> E:
        with self._raw() as uow:
            found = uow.get(kind, entity_id)
        assert found is not None, f"no {kind.name} {entity_id}"
        return found

    def _all(self, kind: EntityKind[E], ids: list[str]) -> list[E]:
        with self._raw() as uow:
            found = [uow.get(kind, i) for i in ids]
        assert all(f is not None for f in found)
        return [f for f in found if f is not None]

    def _settled(self) -> bool:
        """No deadline waits to be applied: a command sees the state as stored."""
        with self._raw() as uow:
            return uow.next_due(self.clock.now()) is None

    def _available(self, member: str) -> int:
        with self._raw() as uow:
            return Ledger(uow.book).available(member)

    def _pick(self, ids: list[str], kind: EntityKind[E], index: int,
              prefer: Callable[[E], bool] | None) -> E:
        """One of ``ids``; one that ``prefer`` likes if there is one."""
        entities = self._all(kind, ids)
        if prefer is not None:
            entities = [e for e in entities if prefer(e)] or entities
        return entities[index % len(entities)]

    def _registration(self, index: int, prefer: Callable[[Registration], bool] | None
                      ) -> Registration:
        return self._pick(self.registrations, kinds.REGISTRATIONS, index, prefer)

    def _session(self, index: int, prefer: Callable[[Session], bool] | None) -> Session:
        return self._pick(self.sessions, kinds.SESSIONS, index, prefer)

    def _workshop(self, index: int, active: bool) -> Workshop:
        return self._pick(self.workshops, kinds.WORKSHOPS, index,
                          (lambda w: w.state is WorkshopState.ACTIVE) if active else None)

    def _member(self, who: int) -> str:
        """Usually a participant; now and then the organizer (who may not register)."""
        return self.org if who % 12 == 11 else self.participants[who % len(self.participants)]

    def _other_than(self, member: str, who: int) -> str:
        others = [m for m in (self.org, *self.participants) if m != member]
        return others[who % len(others)]

    def _open_for_changes(self, session: Session) -> bool:
        return session.state is S.PLANNED and self.clock.now() < session.start

    # What a command can most likely act on now (stored state, deadlines still to apply).
    def _pending(self, r: Registration) -> bool:
        return r.state is R.PENDING and r.due is not None and self.clock.now() < r.due

    def _pending_for_session(self, r: Registration) -> bool:
        return self._pending(r) and r.session is not None

    def _registered_open(self, r: Registration) -> bool:
        return r.state is R.REGISTERED and r.session is not None and self._open_for_changes(
            self._get(kinds.SESSIONS, r.session))

    def _waitlisted(self, r: Registration) -> bool:
        return (r.state is R.WAITLISTED and r.waitlist_until is not None
                and self.clock.now() < r.waitlist_until)

    def _confirmable(self, s: Session) -> bool:
        return s.state is S.AWAITING_CONFIRMATION or (
            s.state is S.PLANNED and s.end <= self.clock.now()
            < POLICY.add_days(s.end, POLICY.confirmation_window_days))

    def _unanswered_paid(self, r: Registration) -> bool:
        return r.state is R.PAID and r.attendance is None

    def _evaluable(self, r: Registration) -> bool:
        return r.state is R.PAID and r.attendance is Attendance.ATTENDED and not r.evaluated

    def _withdrawable(self, r: Registration) -> bool:
        return self._pending(r) or self._registered_open(r) or self._waitlisted(r)

    def _cancellable(self, r: Registration) -> bool:
        return self._registered_open(r) or self._waitlisted(r)

    def _after_held(self, r: Registration) -> bool:
        return self._unanswered_paid(r) or self._evaluable(r)

    def _any_registration(self, test: Callable[[Registration], bool]) -> bool:
        return any(test(r) for r in self._all(kinds.REGISTRATIONS, self.registrations))

    def _any_session(self, test: Callable[[Session], bool]) -> bool:
        return any(test(s) for s in self._all(kinds.SESSIONS, self.sessions))

    # ------------------------------------------------------------------ running
    def _outbox_seq(self) -> int:
        items = self.store.drain_notifications(limit=1_000_000)  # never acknowledged here
        return items[-1].seq if items else 0

    def _run(self, expect: bool | None, call: Callable[[], T]) -> tuple[bool, T | None]:
        """Run a command: refused (changing nothing) or done, as ``expect`` says if given."""
        before = state_of(self.store)  # everything the store keeps
        # The command's name: the method the lambda is defined in.
        name = call.__qualname__.split(".")[1].lstrip("_")
        try:
            result = call()
        except SkilltrocError as error:
            event(f"{name}: refused ({error.code})")
            assert error.code in REFUSAL_CODES, f"not an ordinary refusal: {error!r}"
            assert expect is not True, f"refused although the rules allow it: {error}"
            changed = before.changes(state_of(self.store))
            assert not changed, f"a refusal changed the store: {error}: {changed}"
            return False, None
        event(f"{name}: done")
        assert expect is not False, "done although the rules refuse it"
        self.settled_at = self.clock.now()
        return True, result

    def _expect(self, actor: str, allowed: Callable[[], bool]) -> bool | None:
        """What the rules say, when the stored state is what the command will see.

        The member acting must be active (ACC-1, ACC-7), whatever the command."""
        if not self._settled():
            return None
        return self._status(actor) is AccountStatus.ACTIVE and allowed()

    def _status(self, member: str) -> AccountStatus:
        return self._get(kinds.MEMBERS, member).status

    def _new_events(self, since: int) -> list[str]:
        return [i.notification.event for i in self.store.drain_notifications(limit=1_000_000)
                if i.seq > since]

    # ------------------------------------------------------------------ setup
    @initialize(costs=st.tuples(st.sampled_from([2, 3, 0, 5]), st.sampled_from([1, 4, 2])),
                capacities=st.tuples(st.integers(2, 5), st.integers(1, 4)),
                purchases=st.lists(st.sampled_from([0, 10, 20, 40]), min_size=3, max_size=4),
                starts=st.tuples(STARTS, STARTS))
    def members_and_workshops(self, costs: tuple[int, int], capacities: tuple[int, int],
                              purchases: list[int], starts: tuple[int, int]) -> None:
        """The members, two workshops and a first session of each."""
        service = self.service
        self.org = service.signup("org@example.org", provider="google").member_id
        self.initial[self.org] = POLICY.signup_bonus
        for name, stars in zip(NAMES, purchases, strict=False):
            member = service.signup(f"{name}@example.org", provider="google").member_id
            if stars:
                service.buy_stars(member, stars, f"pay-{name}")
            self.participants.append(member)
            self.initial[member] = POLICY.signup_bonus + stars
        for cost, capacity, minutes in zip(costs, capacities, starts, strict=True):
            self._create_workshop(cost, capacity)
            self.sessions.append(service.plan_session(
                self.org, self.workshops[-1], START + timedelta(minutes=minutes)))
        self.settled_at = self.clock.now()

    def _create_workshop(self, cost: int, capacity: int) -> None:
        self.workshops.append(self.service.create_workshop(
            self.org, title=f"Workshop {len(self.workshops) + 1}", description="Hands on",
            domain="crafts", cost=cost, capacity=capacity, duration=timedelta(hours=2)))

    # ------------------------------------------------------------------ the steps
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One command, drawn by weight among those that make sense now.

        A single rule rather than one per command: hypothesis's swarm testing would
        otherwise switch off whole groups of rules per run, and the booking lifecycles
        need most of them together (request, answer, time, confirmation, evaluation).
        """
        enabled = [c for c in COMMANDS if c.when is None or c.when(self)]
        # Hypothesis favours the ends of a list it samples from: heaviest first, and the
        # harmless run_due last.
        ordered = sorted(enabled, key=lambda c: (c.name == "run_due", -c.weight))
        name = data.draw(st.sampled_from([c.name for c in ordered for _ in range(c.weight)]),
                         label="command")
        chosen = next(c for c in enabled if c.name == name)
        arguments = data.draw(st.fixed_dictionaries(chosen.arguments), label=name)
        getattr(self, name)(**arguments)

    # ------------------------------------------------------------------ sessions
    @command(1, index=PICK, minutes=STARTS, capacity=st.one_of(st.none(), CAPACITIES),
             future=MOSTLY, active=MOSTLY)
    def plan_session(self, index: int, minutes: int, capacity: int | None, future: bool,
                     active: bool) -> None:
        workshop = self._workshop(index, active)
        now = self.clock.now()
        start = now + timedelta(minutes=minutes) if future else now - timedelta(minutes=minutes)
        expect = self._expect(self.org, lambda: future and workshop.state is WorkshopState.ACTIVE)
        done, session_id = self._run(expect, lambda: self.service.plan_session(
            self.org, workshop.id, start, capacity))
        if done:
            assert session_id is not None
            self.sessions.append(session_id)
            session = self._get(kinds.SESSIONS, session_id)
            assert (session.start, session.seats_taken) == (start, 0)
            assert session.capacity == (capacity or workshop.capacity)

    @command(3, when=lambda self: self._any_session(self._open_for_changes),
             what=st.sampled_from(["move", "capacity", "move", "capacity", "cancel"]),
             index=PICK, minutes=STARTS, capacity=st.integers(0, 7), future=MOSTLY,
             right=MOSTLY, open_=MOSTLY)
    def change_session(self, what: str, index: int, minutes: int, capacity: int,
                       future: bool, right: bool, open_: bool) -> None:
        """BOOK-7/8/9: the organizer moves, re-capacities or cancels a session."""
        session = self._session(index, self._open_for_changes if open_ else None)
        actor = self.org if right else self.participants[index % len(self.participants)]
        if what == "move":
            self._move_session(session, actor, right, minutes, future)
        elif what == "capacity":
            self._set_capacity(session, actor, right, capacity)
        else:
            self._cancel_session(session, actor, right)

    def _move_session(self, session: Session, actor: str, right: bool, minutes: int,
                      future: bool) -> None:
        now = self.clock.now()
        start = now + timedelta(minutes=minutes) if future else now
        pending = [r.id for r in self._all(kinds.REGISTRATIONS, self.registrations)
                   if r.session == session.id and r.state is R.PENDING]
        expect = self._expect(actor, lambda: right and future and self._open_for_changes(session))
        done, _ = self._run(expect, lambda: self.service.move_session(actor, session.id, start))
        if done and expect:
            moved = self._get(kinds.SESSIONS, session.id)
            assert moved.start == start
            assert moved.end - moved.start == session.end - session.start
            assert moved.seats_taken == session.seats_taken  # registered members stay
            for registration in self._all(kinds.REGISTRATIONS, pending):  # BOOK-8
                assert registration.state is R.VOIDED_BY_MOVE

    def _set_capacity(self, session: Session, actor: str, right: bool, capacity: int) -> None:
        expect = self._expect(actor, lambda: right and self._open_for_changes(session)
                              and capacity >= max(1, session.seats_taken))
        done, _ = self._run(expect, lambda: self.service.set_capacity(
            actor, session.id, capacity))
        if done and expect:
            assert self._get(kinds.SESSIONS, session.id).capacity == capacity

    def _cancel_session(self, session: Session, actor: str, right: bool) -> None:
        expect = self._expect(actor, lambda: right and self._open_for_changes(session))
        done, _ = self._run(expect, lambda: self.service.cancel_session(actor, session.id))
        if done:
            assert self._get(kinds.SESSIONS, session.id).state is S.CANCELLED
            for registration in self._all(kinds.REGISTRATIONS, self.registrations):
                assert registration.session != session.id or not registration.is_live

    @command(1, index=PICK, right=RARELY, active=MOSTLY)  # rarely done: it ends so much
    def delete_workshop(self, index: int, right: bool, active: bool) -> None:
        workshop = self._workshop(index, active)
        actor = self.org if right else self.participants[index % len(self.participants)]
        expect = self._expect(actor, lambda: right and workshop.state is WorkshopState.ACTIVE)
        done, _ = self._run(expect, lambda: self.service.delete_workshop(actor, workshop.id))
        if not done:
            return
        now = self.clock.now()
        sessions = {s.id: s for s in self._all(kinds.SESSIONS, self.sessions)}
        for registration in self._all(kinds.REGISTRATIONS, self.registrations):
            if registration.workshop != workshop.id or not registration.is_live:
                continue
            # BOOK-5: only registrations in sessions already started live on.
            assert registration.state is R.REGISTERED, registration
            assert registration.session is not None
            session = sessions[registration.session]
            assert session.state is S.AWAITING_CONFIRMATION or session.start <= now
        # The organizer keeps two workshops to work with.
        self._create_workshop(cost=workshop.cost, capacity=workshop.capacity)

    # ------------------------------------------------------------------ requests
    def _live_for_session(self, member: str, session_id: str) -> bool:
        return any(r.member == member and r.session == session_id
                   and r.state in (R.PENDING, R.REGISTERED)
                   for r in self._all(kinds.REGISTRATIONS, self.registrations))

    def _live_future(self, member: str, workshop_id: str) -> bool:
        return any(r.member == member and r.workshop == workshop_id
                   and (r.state is R.WAITLISTED or (r.state is R.PENDING and r.session is None))
                   for r in self._all(kinds.REGISTRATIONS, self.registrations))

    @command(5, when=lambda self: self._any_session(self._open_for_changes),
             who=PICK, index=PICK, seats=SEATS, open_=MOSTLY)
    def request_session(self, who: int, index: int, seats: int, open_: bool) -> None:
        """BOOK-11..13: a request for seats in a planned session."""
        member = self._member(who)
        session = self._session(index, self._open_for_changes if open_ else None)
        workshop = self._get(kinds.WORKSHOPS, session.workshop)
        available, outbox = self._available(member), self._outbox_seq()
        expect = self._expect(member, lambda: (
            workshop.state is WorkshopState.ACTIVE and self._open_for_changes(session)
            and member != self.org and 1 <= seats <= session.capacity
            and not self._live_for_session(member, session.id)
            and available >= workshop.cost * seats))
        done, registration_id = self._run(expect, lambda: self.service.request(
            member, session_id=session.id, seats=seats))
        if done:
            assert registration_id is not None
            self._requested(registration_id, member, workshop.cost * seats,
                            available if expect else None, outbox)
            assert self._get(kinds.REGISTRATIONS, registration_id).due == session.start

    @command(2, who=PICK, index=PICK, seats=SEATS, active=MOSTLY)
    def request_future(self, who: int, index: int, seats: int, active: bool) -> None:
        """BOOK-11..13: a request for seats in a future session of a workshop."""
        member = self._member(who)
        workshop = self._workshop(index, active)
        available, outbox = self._available(member), self._outbox_seq()
        expect = self._expect(member, lambda: (
            workshop.state is WorkshopState.ACTIVE and member != self.org
            and 1 <= seats <= POLICY.max_future_seats
            and not self._live_future(member, workshop.id)
            and available >= workshop.cost * seats))
        done, registration_id = self._run(expect, lambda: self.service.request(
            member, workshop_id=workshop.id, seats=seats))
        if done:
            assert registration_id is not None
            self._requested(registration_id, member, workshop.cost * seats,
                            available if expect else None, outbox)
            due = self._get(kinds.REGISTRATIONS, registration_id).due
            assert due == POLICY.add_days(self.clock.now(), POLICY.future_request_due_days)

    def _requested(self, registration_id: str, member: str, amount: int, before: int | None,
                   outbox: int) -> None:
        registration = self._get(kinds.REGISTRATIONS, registration_id)
        assert (registration.state, registration.member, registration.amount) == (
            R.PENDING, member, amount)
        if before is not None:  # no deadline moved stars first
            assert self._available(member) == before - amount  # BOOK-11: held at once
        assert "RequestReceived" in self._new_events(outbox)
        self.registrations.append(registration_id)

    # ------------------------------------------------------------------ answers
    def _refunded(self, registration: Registration, state: RegistrationState,
                  available: int) -> None:
        """The registration ended in ``state`` and its member got every held star back."""
        ended = self._get(kinds.REGISTRATIONS, registration.id)
        assert ended.state is state
        assert self._available(registration.member) == available + registration.amount

    def _seats_left(self, registration: Registration) -> int:
        if registration.session is None:
            return 0
        return self._get(kinds.SESSIONS, registration.session).seats_left

    @command(6, when=lambda self: self._any_registration(self._pending),
             how=st.sampled_from(["accept", "accept", "accept", "accept_future", "refuse"]),
             index=PICK, right=MOSTLY, fitting=MOSTLY)
    def answer(self, how: str, index: int, right: bool, fitting: bool) -> None:
        """BOOK-14: the organizer accepts, accepts for a future session, or refuses."""
        if how == "accept" and not self._any_registration(self._pending_for_session):
            how = "accept_future"
        if how == "accept":  # a request for a session, one that fits in it if ``fitting``
            registration = self._registration(index, lambda r: self._pending_for_session(r) and (
                not fitting or self._seats_left(r) >= r.seats))
        elif how == "accept_future":  # a future request, or one that does not fit
            registration = self._registration(index, lambda r: self._pending(r) and (
                not fitting or self._seats_left(r) < r.seats))
        else:
            registration = self._registration(index, self._pending)
        actor = registration.organizer if right else registration.member
        {"accept": self._accept, "accept_future": self._accept_future,
         "refuse": self._refuse}[how](registration, actor, right)

    def _accept(self, registration: Registration, actor: str, right: bool) -> None:
        session = (self._get(kinds.SESSIONS, registration.session)
                   if registration.session else None)
        expect = self._expect(actor, lambda: (
            right and registration.state is R.PENDING and session is not None
            and session.seats_left >= registration.seats))
        done, _ = self._run(expect, lambda: self.service.accept(actor, registration.id))
        if done and expect:
            assert session is not None
            assert self._get(kinds.REGISTRATIONS, registration.id).state is R.REGISTERED
            after = self._get(kinds.SESSIONS, session.id)
            assert after.seats_taken == session.seats_taken + registration.seats

    def _accept_future(self, registration: Registration, actor: str, right: bool) -> None:
        session = (self._get(kinds.SESSIONS, registration.session)
                   if registration.session else None)
        expect = self._expect(actor, lambda: (
            right and registration.state is R.PENDING
            and (session is None or (
                session.seats_left < registration.seats
                and not self._live_future(registration.member, registration.workshop)))))
        done, _ = self._run(expect, lambda: self.service.accept_future(actor, registration.id))
        if done and expect:
            waiting = self._get(kinds.REGISTRATIONS, registration.id)
            assert (waiting.state, waiting.session) == (R.WAITLISTED, None)
            assert waiting.waitlist_until == POLICY.add_days(
                self.clock.now(), POLICY.waitlist_window_days)

    def _refuse(self, registration: Registration, actor: str, right: bool) -> None:
        available = self._available(registration.member)
        expect = self._expect(actor, lambda: right and registration.state is R.PENDING)
        done, _ = self._run(expect, lambda: self.service.refuse(actor, registration.id))
        if done and expect:
            self._refunded(registration, R.REFUSED, available)

    @command(3, when=lambda self: self._any_registration(self._withdrawable),
             index=PICK, fitting=MOSTLY, how=st.sampled_from(["cancel", "unregister", "leave"]),
             right=MOSTLY, who=PICK)
    def member_withdraws(self, index: int, fitting: bool, how: str, right: bool,
                         who: int) -> None:
        """BOOK-17/19/25: the member cancels a request, unregisters or leaves the waitlist."""
        registration = self._registration(index, self._withdrawable)
        if fitting:
            how = {R.PENDING: "cancel", R.REGISTERED: "unregister"}.get(
                registration.state, "leave")
        actor = registration.member if right else self._other_than(registration.member, who)
        {"cancel": self._cancel_request, "unregister": self._unregister,
         "leave": self._leave_waitlist}[how](registration, actor, right)

    def _cancel_request(self, registration: Registration, actor: str, right: bool) -> None:
        available = self._available(registration.member)
        expect = self._expect(actor, lambda: right and registration.state is R.PENDING)
        done, _ = self._run(expect, lambda: self.service.cancel_request(actor, registration.id))
        if done and expect:
            self._refunded(registration, R.CANCELLED, available)

    def _unregister(self, registration: Registration, actor: str, right: bool) -> None:
        session = (self._get(kinds.SESSIONS, registration.session)
                   if registration.session else None)
        available = self._available(registration.member)
        expect = self._expect(actor, lambda: (
            right and registration.state is R.REGISTERED and session is not None
            and self._open_for_changes(session)))
        done, _ = self._run(expect, lambda: self.service.unregister(actor, registration.id))
        if done and expect:
            assert session is not None
            self._refunded(registration, R.UNREGISTERED, available)
            after = self._get(kinds.SESSIONS, session.id)
            assert after.seats_taken == session.seats_taken - registration.seats  # BOOK-18

    def _leave_waitlist(self, registration: Registration, actor: str, right: bool) -> None:
        available = self._available(registration.member)
        expect = self._expect(actor, lambda: right and registration.state is R.WAITLISTED)
        done, _ = self._run(expect, lambda: self.service.leave_waitlist(actor, registration.id))
        if done and expect:
            self._refunded(registration, R.LEFT_WAITLIST, available)

    @command(2, when=lambda self: self._any_registration(self._cancellable),
             index=PICK, right=MOSTLY)
    def cancel_transaction(self, index: int, right: bool) -> None:
        """BOOK-20: the organizer cancels with a registered or waitlisted member."""
        registration = self._registration(index, self._cancellable)
        actor = registration.organizer if right else registration.member
        session = (self._get(kinds.SESSIONS, registration.session)
                   if registration.session else None)
        available = self._available(registration.member)
        expect = self._expect(actor, lambda: right and (
            registration.state is R.WAITLISTED
            or (registration.state is R.REGISTERED and session is not None
                and self._open_for_changes(session))))
        done, _ = self._run(expect, lambda: self.service.cancel_transaction(
            actor, registration.id))
        if done and expect:
            self._refunded(registration, R.TRANSACTION_CANCELLED, available)
            if session is not None:
                after = self._get(kinds.SESSIONS, session.id)
                assert after.seats_taken == session.seats_taken - registration.seats

    @command(4, when=lambda self: self._any_registration(self._waitlisted)
             and self._any_session(self._open_for_changes),
             index=PICK, session_index=PICK, right=MOSTLY, same=MOSTLY, who=PICK)
    def join(self, index: int, session_index: int, right: bool, same: bool, who: int) -> None:
        """BOOK-23: a waitlisted member takes their seats in a planned session."""
        registration = self._registration(index, self._waitlisted)
        actor = registration.member if right else self._other_than(registration.member, who)
        session = self._session(session_index, (lambda s: (
            s.workshop == registration.workshop and self._open_for_changes(s)
        )) if same else None)
        expect = self._expect(actor, lambda: (
            right and registration.state is R.WAITLISTED
            and session.workshop == registration.workshop and self._open_for_changes(session)
            and session.seats_left >= registration.seats
            and not self._live_for_session(registration.member, session.id)))
        done, _ = self._run(expect, lambda: self.service.join(
            actor, registration.id, session.id))
        if done and expect:
            joined = self._get(kinds.REGISTRATIONS, registration.id)
            assert (joined.state, joined.session) == (R.REGISTERED, session.id)
            after = self._get(kinds.SESSIONS, session.id)
            assert after.seats_taken == session.seats_taken + registration.seats

    # ------------------------------------------------------------------ aftermath
    @command(6, when=lambda self: self._any_session(self._confirmable),
             index=PICK, right=MOSTLY, held=MOSTLY, awaiting=MOSTLY)
    def confirm(self, index: int, right: bool, held: bool, awaiting: bool) -> None:
        """BOOK-30/31: the organizer says whether a session that ended was held."""
        session = self._session(index, self._confirmable if awaiting else None)
        actor = self.org if right else self.participants[index % len(self.participants)]
        registered = [r for r in self._all(kinds.REGISTRATIONS, self.registrations)
                      if r.session == session.id and r.state is R.REGISTERED]
        before = {m: self._available(m) for m in (self.org, *self.participants)}
        outbox = self._outbox_seq()
        expect = self._expect(actor, lambda: right and session.state is S.AWAITING_CONFIRMATION)
        command = self.service.confirm_held if held else self.service.confirm_not_held
        done, _ = self._run(expect, lambda: command(actor, session.id))
        if not (done and expect):
            return
        after = self._get(kinds.SESSIONS, session.id)
        assert after.state is (S.HELD if held else S.NOT_HELD)
        expected = dict(before)
        for registration in registered:
            ended = self._get(kinds.REGISTRATIONS, registration.id)
            assert ended.state is (R.PAID if held else R.REFUNDED_NOT_HELD)
            if held:  # BOOK-30, REFUND-4: the organizer earns every registered seat
                expected[self.org] += registration.amount
            else:  # BOOK-31: refunded at once
                expected[registration.member] += registration.amount
        assert {m: self._available(m) for m in expected} == expected
        if registered:
            assert ("SessionHeld" if held else "SessionNotHeld") in self._new_events(outbox)

    @command(6, when=lambda self: self._any_registration(self._after_held),
             index=PICK, how=st.sampled_from(["attended", "attended", "absent", "evaluate"]),
             right=MOSTLY, fitting=MOSTLY, score=st.integers(0, 10), recommend=st.booleans(),
             who=PICK)
    def after_the_session(self, index: int, how: str, right: bool, fitting: bool, score: int,
                          recommend: bool, who: int) -> None:
        """BOOK-33/40/41: confirm attendance or declare absence, then evaluate."""
        registration = self._registration(index, self._after_held)
        if fitting:
            how = "evaluate" if self._evaluable(registration) else how.replace(
                "evaluate", "attended")
        actor = registration.member if right else self._other_than(registration.member, who)
        if how == "evaluate":
            self._evaluate(registration, actor, right, score, recommend)
        else:
            self._attendance(registration, actor, right, absent=how == "absent")

    def _attendance(self, registration: Registration, actor: str, right: bool,
                    absent: bool) -> None:
        available = {m: self._available(m) for m in (self.org, *self.participants)}
        expect = self._expect(actor, lambda: (
            right and registration.state is R.PAID and registration.attendance is None))
        command = self.service.declare_absent if absent else self.service.confirm_attendance
        done, _ = self._run(expect, lambda: command(actor, registration.id))
        if done and expect:
            after = self._get(kinds.REGISTRATIONS, registration.id)
            assert after.attendance is (Attendance.ABSENT if absent else Attendance.ATTENDED)
            # BOOK-33: an absence refunds nothing.
            assert {m: self._available(m) for m in available} == available

    def _evaluate(self, registration: Registration, actor: str, right: bool, score: int,
                  recommend: bool) -> None:
        expect = self._expect(actor, lambda: (
            right and registration.state is R.PAID
            and registration.attendance is Attendance.ATTENDED and not registration.evaluated))
        done, _ = self._run(expect, lambda: self.service.evaluate(
            actor, registration.id, satisfaction=score, conformity=10 - score, teaching=score,
            duration=5, recommend=recommend))
        if done and expect:
            assert self._get(kinds.REGISTRATIONS, registration.id).evaluated

    # ------------------------------------------------------------------ accounts
    @command(1, who=PICK, active=MOSTLY)
    def deactivate(self, who: int, active: bool) -> None:
        """ACC-7: a participant leaves; 15 days later the account is purged (refunds)."""
        member = self._participant(who, AccountStatus.ACTIVE if active else None)
        expect = self._expect(member, lambda: True)
        self._run(expect, lambda: self.service.deactivate(member))

    @command(1, who=PICK, deactivated=MOSTLY)
    def reactivate(self, who: int, deactivated: bool) -> None:
        member = self._participant(who, AccountStatus.DEACTIVATED if deactivated else None)
        expect = None if not self._settled() else (
            self._status(member) is AccountStatus.DEACTIVATED)
        self._run(expect, lambda: self.service.reactivate(member))

    def _participant(self, who: int, status: AccountStatus | None) -> str:
        chosen = [m for m in self.participants if status is None or self._status(m) is status]
        pool = chosen or self.participants
        return pool[who % len(pool)]

    # ------------------------------------------------------------------ time
    @command(4, minutes=st.one_of(st.integers(1, 180), st.integers(1, 3 * 24 * 60),
                                  st.integers(1, 10 * 24 * 60)),
             days=st.integers(0, 10), whole_days=st.booleans())
    def advance(self, minutes: int, days: int, whole_days: bool) -> None:
        if whole_days:  # whole calendar days land exactly on deadlines set days ago
            self.clock.advance(days=max(days, 1))
        else:
            self.clock.advance(timedelta(minutes=minutes))

    @command(5, index=PICK, offset=st.sampled_from([0, 0, 1, -1, 60, -60, 24 * 60]))
    def advance_to_a_deadline(self, index: int, offset: int) -> None:
        """Jump to (or a minute or an hour around) a coming start, end or deadline."""
        now = self.clock.now()
        instants: set[datetime] = set()
        for session in self._all(kinds.SESSIONS, self.sessions):
            if session.state is S.PLANNED:
                instants |= {session.start, session.end}
            if session.state in (S.PLANNED, S.AWAITING_CONFIRMATION):
                instants.add(POLICY.add_days(session.end, POLICY.confirmation_window_days))
        for registration in self._all(kinds.REGISTRATIONS, self.registrations):
            if registration.is_live:
                instants |= {i for i in (registration.due, registration.waitlist_until) if i}
        targets = sorted(i + timedelta(minutes=offset) for i in instants
                         if i + timedelta(minutes=offset) > now)
        if targets:
            self.clock.set(targets[index % min(len(targets), 3)])

    @command(1)
    def run_due(self) -> None:
        self.service.run_due()
        self.settled_at = self.clock.now()

    @command(1)
    def agendas(self) -> None:
        """The organizer's agenda shows exactly the stored pending and live registrations."""
        agenda = self.service.organizer_agenda(self.org)  # a query: applies deadlines too
        self.settled_at = self.clock.now()
        registrations = self._all(kinds.REGISTRATIONS, self.registrations)

        def ids(section: str) -> set[str]:
            return {item.registration.id for item in agenda[section]
                    if not isinstance(item, Session)}

        assert ids("to_answer") == {r.id for r in registrations if r.state is R.PENDING}
        assert ids("to_plan") == {r.id for r in registrations if r.state is R.WAITLISTED}
        assert ids("validated") == {r.id for r in registrations if r.state is R.REGISTERED}

    # ------------------------------------------------------------------ the check
    def _check_notices(self, regs: list[Registration], sessions: dict[str, Session],
                       purged: set[str]) -> None:
        """BOOK-21: each request's life is told, once per change, to the right person.

        A purged member's undelivered notices are erased (ACC-7): what was only theirs is
        not checked, but what others were told with them must still be there."""
        notices = [i.notification for i in self.store.drain_notifications(limit=1_000_000)]
        about: dict[str, list[Notification]] = {}
        for notice in notices:
            request = notice.fact("request")
            if isinstance(request, str):
                about.setdefault(request, []).append(notice)
        request_endings = {event for event, _ in REQUEST_ENDINGS.values()}
        for r in regs:
            told = about.get(r.id, [])
            events = Counter(n.event for n in told)
            received = [n for n in told if n.event == "RequestReceived"]
            assert [n.recipients for n in received] == [(r.organizer,)], (r, told)
            ending = REQUEST_ENDINGS.get(r.state)
            if r.member in purged:
                if ending is not None and ending[1] == "organizer":
                    assert events[ending[0]] == 1, (r, told)
                continue
            answered = events["RequestAccepted"] + events["RequestWaitlisted"]
            assert answered == (0 if r.accepted_at is None else 1), (r, told)
            assert sorted(e for e in events.elements() if e in request_endings) == (
                [ending[0]] if ending else []), (r, told)
            if ending is not None:
                (notice,) = [n for n in told if n.event == ending[0]]
                to = r.member if ending[1] == "member" else r.organizer
                assert notice.recipients == (to,), (r, notice)
            shared = SHARED_ENDINGS.get(r.state)
            if shared is not None:
                event, what = shared
                ref = r.session if what == "session" else r.workshop
                matching = [n for n in notices if n.event == event and n.fact(what) == ref
                            and r.member in n.recipients]
                assert len(matching) == 1, (r, matching)
        asked = Counter(n.fact("session") for n in notices
                        if n.event == "SessionConfirmationRequested")
        for session in sessions.values():  # BOOK-30: asked once, when it ended
            assert asked[session.id] == (1 if session.state in ENDED_SESSION else 0), session

    @invariant()
    def booking_is_consistent(self) -> None:
        if not self.org:
            return
        self.service.check_invariants(deep=True)
        settled = self.settled_at
        members = (self.org, *self.participants)
        with self._raw() as uow:
            # Every deadline due when the last command ran was applied by it.
            assert uow.next_due(settled) is None
            ledger = Ledger(uow.book)
            regs = [r for r in (uow.get(kinds.REGISTRATIONS, i) for i in self.registrations)
                    if r is not None]
            sessions = {s.id: s for s in (uow.get(kinds.SESSIONS, i) for i in self.sessions)
                        if s is not None}
            workshops = {w.id: w for w in (uow.get(kinds.WORKSHOPS, i) for i in self.workshops)
                         if w is not None}
            assert (len(regs), len(sessions), len(workshops)) == (
                len(self.registrations), len(self.sessions), len(self.workshops))
            ends = Counter(t.hold_id for t in uow.book.all_transfers() if t.kind in HOLD_ENDS)
            holds = {r.id: uow.book.hold(r.id) for r in regs}
            balances = {m: ledger.balance(m) for m in members}
            stats = {m: uow.get(kinds.MEMBER_STATS, m) or MemberStats(id=m) for m in members}
            statuses = {m: found.status for m in members
                        if (found := uow.get(kinds.MEMBERS, m)) is not None}
            supply = ledger.supply()

        # BOOK-12, BOOK-18: seats.
        for session in sessions.values():
            assert 0 <= session.seats_taken <= session.capacity, session
            if session.state is S.PLANNED:
                assert session.seats_taken == sum(
                    r.seats for r in regs if r.session == session.id and r.state is R.REGISTERED
                ), session
                assert session.end > settled, f"BOOK-30: {session.id} ended unnoticed"
            if session.state is S.AWAITING_CONFIRMATION:
                assert session.end <= settled
                assert POLICY.add_days(session.end, POLICY.confirmation_window_days) > settled, (
                    f"BOOK-32: {session.id} still awaits its organizer past the window")

        # REFUND-5: every hold ends at most once, and as its registration says.
        assert all(count == 1 for count in ends.values()), ends
        for r in regs:
            hold = holds[r.id]
            assert r.is_live == (r.state in LIVE)
            assert (r.ended_at is None) == r.is_live, r
            if r.amount == 0:
                assert hold is None and ends[r.id] == 0
                continue
            assert hold is not None, r
            assert (hold.member, hold.amount) == (r.member, r.amount)
            assert ends[r.id] == (0 if r.is_live else 1), r
            if r.is_live:
                assert hold.state is HoldState.OPEN, (r, hold)
            elif r.state is R.PAID:
                assert (hold.state, hold.payee) == (HoldState.POSTED, r.organizer), (r, hold)
            else:
                assert (hold.state, hold.void_reason) == (
                    HoldState.VOIDED, VOID_REASON_OF[r.state]), (r, hold)
            if not r.is_live:
                assert hold.ended_at == r.ended_at, (r, hold)

        # BOOK-16, BOOK-24: no request or waitlist entry outlives its deadline; BOOK-4.
        live_keys: list[str] = []
        for r in regs:
            of = sessions.get(r.session) if r.session else None
            if r.state is R.PENDING:
                assert r.due is not None and r.due > settled, f"BOOK-16: {r} is overdue"
                if of is not None:
                    assert of.state is S.PLANNED and r.due == of.start, (r, of)
                    live_keys.append(f"{r.member}|{r.session}")
                else:
                    live_keys.append(f"{r.member}|future|{r.workshop}")
            elif r.state is R.WAITLISTED:
                assert r.session is None and r.due is None
                assert r.waitlist_until is not None and r.waitlist_until > settled, (
                    f"BOOK-24: {r} is overdue")
                live_keys.append(f"{r.member}|future|{r.workshop}")
            elif r.state is R.REGISTERED:
                assert of is not None, r
                assert of.state in (S.PLANNED, S.AWAITING_CONFIRMATION), (r, of)
                live_keys.append(f"{r.member}|{r.session}")
            if r.is_live and workshops[r.workshop].state is WorkshopState.DELETED:
                assert r.state is R.REGISTERED and of is not None, r  # BOOK-5
            assert r.member != r.organizer  # BOOK-3
        assert len(live_keys) == len(set(live_keys)), "BOOK-4: two live registrations"
        if isinstance(self.store, MemoryStore):
            # BOOK-16, BOOK-24: each registration waits on the one deadline of its state
            # (the only one its end cancels), and on nothing once accepted or ended.
            for r in regs:
                waiting = {kind for kind in (REQUEST_DUE, WAITLIST_WINDOW)
                           if f"{kind}:{r.id}" in self.store._timers}
                assert waiting == ({DEADLINE_OF[r.state]} if r.state in DEADLINE_OF else set()), (
                    r, waiting)

        purged = {m for m, status in statuses.items() if status is AccountStatus.PURGED}
        self._check_notices(regs, sessions, purged)

        # STAR-4/6: each member's stars; they only change hands when a session is held,
        # or go to the platform when an account is purged (ACC-7).
        for member in members:
            balance = balances[member]
            assert balance.available >= 0
            assert balance.held == sum(r.amount for r in regs if r.member == member and r.is_live)
            if statuses[member] is AccountStatus.PURGED:
                assert balance.available == 0, f"ACC-7: purged {member} keeps {balance}"
                assert not any(r.is_live and r.state is not R.REGISTERED
                               for r in regs if r.member == member)
                continue
            earned = sum(r.amount for r in regs if r.organizer == member and r.state is R.PAID)
            paid = sum(r.amount for r in regs if r.member == member and r.state is R.PAID)
            assert balance.available + balance.held == self.initial[member] + earned - paid
        assert supply.supply == supply.issued - supply.returned - supply.ad_spent
        assert supply.supply == sum(self.initial.values()) - supply.returned
        assert set(supply.returned_by_kind) <= {"account_purged"}
        assert supply.held == sum(r.amount for r in regs if r.is_live)

        # PROF-3/5: the profile counters follow the registrations and sessions.
        assert stats[self.org].organized_held == sum(
            1 for s in sessions.values() if s.state is S.HELD)
        assert stats[self.org].evaluations == sum(1 for r in regs if r.evaluated)
        for member in self.participants:
            assert stats[member].attended_held == sum(
                1 for r in regs if r.member == member and r.state is R.PAID
                and r.attendance is not Attendance.ABSENT)


class SQLiteBookingMachine(BookingMachine):
    """The same machine on SQLite (an in-memory database): the SQL unit of work, its
    indexes and its rollbacks must behave exactly like the reference store."""

    def new_store(self) -> Store:
        return SQLiteStore(":memory:")

    def teardown(self) -> None:
        self.store.close()


RULES = pytest.mark.rule("REFUND-5", "BOOK-12", "BOOK-24", "BOOK-16")
TestBookingMachine = RULES(BookingMachine.TestCase)
TestSQLiteBookingMachine = RULES(SQLiteBookingMachine.TestCase)
# SQLite costs several times more per step: a quarter of the profile's runs, same length.
_PROFILE = settings()  # the loaded profile (dev or ci)
TestSQLiteBookingMachine.settings = settings(
    _PROFILE, max_examples=max(_PROFILE.max_examples // 4, 5))


# ---------------------------------------------------------------------- regressions
@pytest.mark.rule("ACC-7", "BOOK-30")
@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_regression_a_purge_keeps_the_session_notices_it_shared_with_others(
    store_kind: str,
) -> None:
    """Found by the machine: two members registered in a session confirmed held share one
    ``SessionHeld`` notice; when one of them was purged before the host delivered it,
    the erasure deleted the whole notice, so the other member was never told (BOOK-21).
    The purged member is now only taken off its recipients."""
    store: Store = MemoryStore() if store_kind == "memory" else SQLiteStore(":memory:")
    clock = ManualClock(START)
    service = Skilltroc(store, clock, policy=POLICY, secret_key=TEST_SECRET_KEY)
    org, al, bo = (service.signup(f"{name}@example.org", provider="google").member_id
                   for name in ("org", "al", "bo"))
    workshop = service.create_workshop(org, title="Bread", description="Sourdough",
                                       domain="cooking", cost=2, capacity=2)
    session = service.plan_session(org, workshop, START + timedelta(days=1))
    for member in (al, bo):
        service.accept(org, service.request(member, session_id=session, seats=1))
    clock.set(START + timedelta(days=1, hours=2))
    service.confirm_held(org, session)
    service.deactivate(al)
    clock.advance(days=POLICY.account_retention_days)
    assert service.run_due() == 1  # al's purge
    told = [(i.notification.event, i.notification.recipients)
            for i in service.drain_notifications()]
    assert ("SessionHeld", (bo,)) in told
    assert all(al not in recipients for event, recipients in told
               if event != "AccountPurged")
    service.check_invariants(deep=True)
    store.close()
