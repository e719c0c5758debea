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

Each command's outcome is predicted by the reference model of the rules, the
simulator's (:class:`skilltroc_core.simulation.Model`), which the machine tells every
command the service accepts and which, like the service, applies every deadline due
before a command: the service must accept exactly the commands the rules allow (the
machine also picks from the model what a command acts on). A refused command must raise
a :class:`SkilltrocError` with an ordinary refusal code and change nothing at all in the
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
counters follow the registrations; and, whenever no deadline waits to be applied, the
store holds what the model says: every member's stars and status, every session,
workshop and registration as the model has them (seats, instants, states, deadlines,
ends: REFUND-1..4), and the platform's totals.

The state is read straight from the store (a unit of work rolled back), never through a
query, which would apply deadlines and hide the lazy paths the machine exercises. The
machine runs on the memory store and, with a quarter of the examples, on SQLite.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
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
    REGISTRATION_LIFECYCLE,
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
from skilltroc_core.ledger import Balance, HoldState, Ledger, TransferKind, VoidReason
from skilltroc_core.ports import EntityKind, Store, UnitOfWork
from skilltroc_core.rules import DEFAULT_POLICY
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.service.booking_steps import DEADLINE_OF, REQUEST_DUE, WAITLIST_WINDOW
from skilltroc_core.simulation.model import (
    ACTIVE,
    AWAITING,
    DEACTIVATED,
    ENDS,
    Ending,
    Model,
    MReg,
    MSession,
    MWorkshop,
)
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

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
#: How each final state is reached, by the reference model's table (the simulator checks
#: the model's refunds and notices against the service's).
ENDING_OF: dict[RegistrationState, Ending] = {R(e.state): e for e in ENDS.values()}
#: REFUND-1..3: the reason a hold was voided, for each final state that is a refund.
VOID_REASON_OF: dict[RegistrationState, VoidReason] = {
    state: VoidReason(e.outcome) for state, e in ENDING_OF.items() if e.outcome != "posted"}
#: BOOK-21 and the NOTIFY table: the notice that ends a request, and who receives it ...
REQUEST_ENDINGS: dict[RegistrationState, tuple[str, str]] = {
    state: (e.notice, e.told) for state, e in ENDING_OF.items()
    if e.notice is not None and e.told in ("member", "organizer")}
#: ... or the session's or workshop's notice that tells the member among others.
SHARED_ENDINGS: dict[RegistrationState, tuple[str, str]] = {
    state: (e.notice, e.told) for state, e in ENDING_OF.items()
    if e.notice is not None and e.told in ("session", "workshop")}
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
        #: the simulator's reference model of the rules, told every command done: it says
        #: which commands the rules allow (its schedule and bookings parts) and what the
        #: state must then be
        self.model = Model(POLICY, START)

    # ------------------------------------------------------------------ reading
    @contextmanager
    def _raw(self) -> Iterator[UnitOfWork]:
        """The store as it is, deadlines not applied; nothing read is ever written."""
        uow = self.store.begin()
        try:
            yield uow
        finally:
            uow.rollback()

    def _all(self, kind: EntityKind[E], ids: list[str]) -> list[E]:
        with self._raw() as uow:
            found = [uow.get(kind, i) for i in ids]
        assert all(f is not None for f in found)
        return [f for f in found if f is not None]

    # ------------------------------------------------------------------ picking
    # What a command may act on, as the model has it: at the start of a step it applied
    # every deadline due, as the command will first.
    def _pick(self, ids: list[str], table: Mapping[str, E], index: int,
              prefer: Callable[[E], bool] | None) -> E:
        """One of ``ids``; one that ``prefer`` likes if there is one."""
        entities = [table[i] for i in ids]
        if prefer is not None:
            entities = [e for e in entities if prefer(e)] or entities
        return entities[index % len(entities)]

    def _registration(self, index: int, prefer: Callable[[MReg], bool] | None) -> MReg:
        return self._pick(self.registrations, self.model.regs, index, prefer)

    def _session(self, index: int, prefer: Callable[[MSession], bool] | None) -> MSession:
        return self._pick(self.sessions, self.model.sessions, index, prefer)

    def _workshop(self, index: int, active: bool) -> MWorkshop:
        return self._pick(self.workshops, self.model.workshops, index,
                          (lambda w: not w.deleted) if active else None)

    def _member(self, who: int) -> str:
        """Usually a participant; now and then the organizer (who may not register)."""
        return self.org if who % 12 == 11 else self.participants[who % len(self.participants)]

    def _other_than(self, member: str, who: int) -> str:
        others = [m for m in (self.org, *self.participants) if m != member]
        return others[who % len(others)]

    def _open_for_changes(self, session: MSession) -> bool:
        return self.model.open_for_changes(session)

    def _pending(self, r: MReg) -> bool:
        return r.state == "pending"

    def _pending_for_session(self, r: MReg) -> bool:
        return self._pending(r) and r.session is not None

    def _registered_open(self, r: MReg) -> bool:
        return r.state == "registered" and r.session is not None and self._open_for_changes(
            self.model.sessions[r.session])

    def _waitlisted(self, r: MReg) -> bool:
        return r.state == "waitlisted"

    def _confirmable(self, s: MSession) -> bool:
        return s.state == AWAITING

    def _unanswered_paid(self, r: MReg) -> bool:
        return r.state == "paid" and r.attendance is None

    def _evaluable(self, r: MReg) -> bool:
        return r.state == "paid" and r.attendance == "attended" and not r.evaluated

    def _withdrawable(self, r: MReg) -> bool:
        return self._pending(r) or self._registered_open(r) or self._waitlisted(r)

    def _cancellable(self, r: MReg) -> bool:
        return self._registered_open(r) or self._waitlisted(r)

    def _after_held(self, r: MReg) -> bool:
        return self._unanswered_paid(r) or self._evaluable(r)

    def _any_registration(self, test: Callable[[MReg], bool]) -> bool:
        return any(test(self.model.regs[i]) for i in self.registrations)

    def _any_session(self, test: Callable[[MSession], bool]) -> bool:
        return any(test(self.model.sessions[i]) for i in self.sessions)

    # ------------------------------------------------------------------ running
    def _run(self, expect: bool, name: str, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """Run the service's command ``name``: refused (changing nothing) or done (and its
        result), as ``expect`` says."""
        before = state_of(self.store)  # everything the store keeps
        try:
            result = getattr(self.service, name)(*args, **kwargs)
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

    def _expect(self, allowed: Callable[[], bool]) -> bool:
        """What the rules say of a command now: ``allowed`` asks the model, which has
        applied every deadline due, as the command will first (the member acting must be
        active, ACC-1, ACC-7, whatever the command)."""
        self.model.run_due(self.clock.now())
        return allowed()

    # ------------------------------------------------------------------ setup
    @initialize(costs=st.tuples(st.sampled_from([2, 3, 0, 5]), st.sampled_from([1, 4, 2])),
                capacities=st.tuples(st.integers(2, 5), st.integers(1, 4)),
                purchases=st.lists(st.sampled_from([0, 10, 20, 40]), min_size=3, max_size=4),
                starts=st.tuples(STARTS, STARTS))
    def members_and_workshops(self, costs: tuple[int, int], capacities: tuple[int, int],
                              purchases: list[int], starts: tuple[int, int]) -> None:
        """The members, two workshops and a first session of each."""
        service, model = self.service, self.model
        self.org = self._signup("org")
        self.initial[self.org] = POLICY.signup_bonus
        for name, stars in zip(NAMES, purchases, strict=False):
            member = self._signup(name)
            if stars:
                service.buy_stars(member, stars, f"pay-{name}")
                model.accounts.buy(member, stars, f"pay-{name}")
            self.participants.append(member)
            self.initial[member] = POLICY.signup_bonus + stars
        for cost, capacity, minutes in zip(costs, capacities, starts, strict=True):
            self._create_workshop(cost, capacity)
            start = START + timedelta(minutes=minutes)
            self.sessions.append(service.plan_session(self.org, self.workshops[-1], start))
            model.schedule.plan_session(self.sessions[-1], self.workshops[-1], start, None)
        self.settled_at = self.clock.now()

    def _signup(self, name: str) -> str:
        email = f"{name}@example.org"
        member = self.service.signup(email, provider="google").member_id
        self.model.accounts.signup(member, email, pro=False, provider=True, sponsor=None,
                                   token=None)
        return member

    def _create_workshop(self, cost: int, capacity: int) -> None:
        duration = timedelta(hours=2)
        self.workshops.append(self.service.create_workshop(
            self.org, title=f"Workshop {len(self.workshops) + 1}", description="Hands on",
            domain="crafts", cost=cost, capacity=capacity, duration=duration))
        self.model.schedule.create_workshop(self.workshops[-1], self.org, cost, capacity, duration)

    # ------------------------------------------------------------------ the steps
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One command, drawn by weight among those that make sense now.

        A single rule rather than one per command: hypothesis's swarm testing would
        otherwise switch off whole groups of rules per run, and the booking lifecycles
        need most of them together (request, answer, time, confirmation, evaluation).
        """
        self.model.begin_step()  # the model's record of what one step did
        self.model.run_due(self.clock.now())  # what the commands may act on
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
        """BOOK-6: a session of an active workshop, in the future."""
        workshop = self._workshop(index, active)
        now = self.clock.now()
        start = now + timedelta(minutes=minutes) if future else now - timedelta(minutes=minutes)
        expect = self._expect(
            lambda: self.model.schedule.may_plan_session(self.org, workshop.id, start))
        done, session_id = self._run(expect, "plan_session", self.org, workshop.id, start,
                                     capacity)
        if done:
            assert session_id is not None
            self.sessions.append(session_id)
            self.model.schedule.plan_session(session_id, workshop.id, start, capacity)

    @command(3, when=lambda self: self._any_session(self._open_for_changes),
             what=st.sampled_from(["move", "capacity", "move", "capacity", "cancel"]),
             index=PICK, minutes=STARTS, capacity=st.integers(0, 7), future=MOSTLY,
             right=MOSTLY, open_=MOSTLY)
    def change_session(self, what: str, index: int, minutes: int, capacity: int,
                       future: bool, right: bool, open_: bool) -> None:
        """BOOK-7/8/9: the organizer moves, re-capacities or cancels a session."""
        session = self._session(index, self._open_for_changes if open_ else None)
        actor = self.org if right else self.participants[index % len(self.participants)]
        model = self.model
        if what == "move":  # BOOK-8: registered members stay, pending requests are refunded
            start = self.clock.now() + timedelta(minutes=minutes) if future else self.clock.now()
            expect = self._expect(lambda: model.schedule.may_change_session(actor, session.id,
                                                                    start=start))
            done, _ = self._run(expect, "move_session", actor, session.id, start)
            if done:
                model.schedule.move_session(session.id, start)
        elif what == "capacity":  # BOOK-7: never below the seats taken
            expect = self._expect(lambda: model.schedule.may_change_session(actor, session.id,
                                                                    capacity=capacity))
            done, _ = self._run(expect, "set_capacity", actor, session.id, capacity)
            if done:
                model.schedule.set_capacity(session.id, capacity)
        else:
            expect = self._expect(lambda: model.schedule.may_change_session(actor, session.id))
            done, _ = self._run(expect, "cancel_session", actor, session.id)
            if done:
                model.schedule.cancel_session(session.id)

    @command(1, index=PICK, right=RARELY, active=MOSTLY)  # rarely done: it ends so much
    def delete_workshop(self, index: int, right: bool, active: bool) -> None:
        workshop = self._workshop(index, active)
        actor = self.org if right else self.participants[index % len(self.participants)]
        expect = self._expect(lambda: self.model.schedule.may_delete_workshop(actor, workshop.id))
        done, _ = self._run(expect, "delete_workshop", actor, workshop.id)
        if not done:
            return
        self.model.schedule.delete_workshop(workshop.id)
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
    @command(5, when=lambda self: self._any_session(self._open_for_changes),
             who=PICK, index=PICK, seats=SEATS, open_=MOSTLY)
    def request_session(self, who: int, index: int, seats: int, open_: bool) -> None:
        """BOOK-11..13: a request for seats in a planned session (BOOK-3: not by its
        organizer; BOOK-4: one at a time; STAR-4: the stars held at once)."""
        member = self._member(who)
        session = self._session(index, self._open_for_changes if open_ else None)
        expect = self._expect(lambda: self.model.bookings.may_request(member, seats,
                                                             session_id=session.id))
        done, registration_id = self._run(expect, "request", member, session_id=session.id,
                                          seats=seats)
        if done:
            assert registration_id is not None
            self.registrations.append(registration_id)
            self.model.bookings.request(registration_id, member, seats, session_id=session.id,
                               workshop_id=session.workshop)

    @command(2, who=PICK, index=PICK, seats=SEATS, active=MOSTLY)
    def request_future(self, who: int, index: int, seats: int, active: bool) -> None:
        """BOOK-11..13: a request for seats in a future session of a workshop."""
        member = self._member(who)
        workshop = self._workshop(index, active)
        expect = self._expect(lambda: self.model.bookings.may_request(member, seats,
                                                             workshop_id=workshop.id))
        done, registration_id = self._run(expect, "request", member, workshop_id=workshop.id,
                                          seats=seats)
        if done:
            assert registration_id is not None
            self.registrations.append(registration_id)
            self.model.bookings.request(registration_id, member, seats, session_id=None,
                               workshop_id=workshop.id)

    # ------------------------------------------------------------------ answers
    def _seats_left(self, registration: MReg) -> int:
        if registration.session is None:
            return 0
        return self.model.seats_left(self.model.sessions[registration.session])

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
        model, reg = self.model, registration.id
        if how == "accept":  # BOOK-18: seats taken at once
            expect = self._expect(lambda: model.bookings.may_accept(actor, reg))
            if self._run(expect, how, actor, reg)[0]:
                model.bookings.accept(reg)
        elif how == "accept_future":  # BOOK-24: the waitlist's window starts
            expect = self._expect(lambda: model.bookings.may_accept_future(actor, reg))
            if self._run(expect, how, actor, reg)[0]:
                model.bookings.accept_future(reg)
        else:  # REFUND-1
            self._end(actor, registration, "refuse", "refuse")

    def _end(self, actor: str, registration: MReg, trigger: str, name: str) -> None:
        """The command ``name``, ending a request: its refund and notice are the model's."""
        expect = self._expect(lambda: self.model.bookings.may_end(actor, registration.id, trigger))
        if self._run(expect, name, actor, registration.id)[0]:
            self.model.bookings.end(registration.id, trigger)

    @command(3, when=lambda self: self._any_registration(self._withdrawable),
             index=PICK, fitting=MOSTLY, how=st.sampled_from(["cancel", "unregister", "leave"]),
             right=MOSTLY, who=PICK)
    def member_withdraws(self, index: int, fitting: bool, how: str, right: bool,
                         who: int) -> None:
        """BOOK-17/19/25: the member cancels a request, unregisters or leaves the waitlist
        (BOOK-18: an unregistered member's seats are free at once)."""
        registration = self._registration(index, self._withdrawable)
        if fitting:
            how = {"pending": "cancel", "registered": "unregister"}.get(
                registration.state, "leave")
        actor = registration.member if right else self._other_than(registration.member, who)
        name = {"cancel": "cancel_request", "leave": "leave_waitlist"}.get(how, how)
        self._end(actor, registration, how, name)

    @command(2, when=lambda self: self._any_registration(self._cancellable),
             index=PICK, right=MOSTLY)
    def cancel_transaction(self, index: int, right: bool) -> None:
        """BOOK-20: the organizer cancels with a registered or waitlisted member."""
        registration = self._registration(index, self._cancellable)
        actor = registration.organizer if right else registration.member
        self._end(actor, registration, "cancel_transaction", "cancel_transaction")

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
        expect = self._expect(
            lambda: self.model.bookings.may_join(actor, registration.id, session.id))
        done, _ = self._run(expect, "join", actor, registration.id, session.id)
        if done:
            self.model.bookings.join(registration.id, session.id)

    # ------------------------------------------------------------------ aftermath
    @command(6, when=lambda self: self._any_session(self._confirmable),
             index=PICK, right=MOSTLY, held=MOSTLY, awaiting=MOSTLY)
    def confirm(self, index: int, right: bool, held: bool, awaiting: bool) -> None:
        """BOOK-30/31: the organizer says whether a session that ended was held
        (REFUND-4: the organizer earns every registered seat; BOOK-31: or they are
        refunded at once)."""
        session = self._session(index, self._confirmable if awaiting else None)
        actor = self.org if right else self.participants[index % len(self.participants)]
        expect = self._expect(lambda: self.model.schedule.may_confirm(actor, session.id))
        done, _ = self._run(expect, "confirm_held" if held else "confirm_not_held", actor,
                            session.id)
        if done and held:
            self.model.schedule.confirm_held(session.id)
        elif done:
            self.model.schedule.confirm_not_held(session.id)

    @command(6, when=lambda self: self._any_registration(self._after_held),
             index=PICK, how=st.sampled_from(["attended", "attended", "absent", "evaluate"]),
             right=MOSTLY, fitting=MOSTLY, score=st.integers(0, 10), recommend=st.booleans(),
             who=PICK)
    def after_the_session(self, index: int, how: str, right: bool, fitting: bool, score: int,
                          recommend: bool, who: int) -> None:
        """BOOK-33/40/41: confirm attendance or declare absence (BOOK-33: an absence
        refunds nothing), then evaluate."""
        registration = self._registration(index, self._after_held)
        if fitting:
            how = "evaluate" if self._evaluable(registration) else how.replace(
                "evaluate", "attended")
        actor = registration.member if right else self._other_than(registration.member, who)
        model, reg = self.model, registration.id
        if how == "evaluate":
            expect = self._expect(lambda: model.bookings.may_evaluate(actor, reg))
            done, _ = self._run(expect, "evaluate", actor, reg, satisfaction=score,
                                conformity=10 - score, teaching=score, duration=5,
                                recommend=recommend)
            if done:
                model.bookings.evaluate(reg)
        else:
            expect = self._expect(lambda: model.bookings.may_attend(actor, reg))
            name = "declare_absent" if how == "absent" else "confirm_attendance"
            if self._run(expect, name, actor, reg)[0]:
                model.bookings.attend(reg, how)

    # ------------------------------------------------------------------ accounts
    @command(1, who=PICK, active=MOSTLY)
    def deactivate(self, who: int, active: bool) -> None:
        """ACC-7: a participant leaves; 15 days later the account is purged (refunds)."""
        member = self._participant(who, ACTIVE if active else None)
        expect = self._expect(lambda: self.model.acting(member))
        if self._run(expect, "deactivate", member)[0]:
            self.model.accounts.deactivate(member)

    @command(1, who=PICK, deactivated=MOSTLY)
    def reactivate(self, who: int, deactivated: bool) -> None:
        member = self._participant(who, DEACTIVATED if deactivated else None)
        expect = self._expect(lambda: self.model.members[member].status == DEACTIVATED)
        if self._run(expect, "reactivate", member)[0]:
            self.model.accounts.reactivate(member)

    def _participant(self, who: int, status: str | None) -> str:
        members = self.model.members
        chosen = [m for m in self.participants if status in (None, members[m].status)]
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
        for session in (self.model.sessions[i] for i in self.sessions):
            if session.state == "planned":
                instants |= {session.start, session.end}
            if session.state in ("planned", AWAITING):
                instants.add(POLICY.add_days(session.end, POLICY.confirmation_window_days))
        for registration in (self.model.regs[i] for i in self.registrations):
            if registration.state in ("pending", "waitlisted"):  # BOOK-16, BOOK-24
                instants.add(registration.deadline)
        targets = sorted(i + timedelta(minutes=offset) for i in instants
                         if i + timedelta(minutes=offset) > now)
        if targets:
            self.clock.set(targets[index % min(len(targets), 3)])

    @command(1)
    def run_due(self) -> None:
        self.service.run_due()
        self.settled_at = self.clock.now()
        self.model.run_due(self.settled_at)

    @command(1)
    def agendas(self) -> None:
        """The organizer's agenda shows exactly the stored pending and live registrations."""
        agenda = self.service.organizer_agenda(self.org)  # a query: applies deadlines too
        self.settled_at = self.clock.now()
        self.model.run_due(self.settled_at)
        registrations = self._all(kinds.REGISTRATIONS, self.registrations)

        def ids(section: str) -> set[str]:
            return {item.registration.id for item in getattr(agenda, section)
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

    def _matches_the_model(self, balances: dict[str, Balance],
                           statuses: dict[str, AccountStatus], sessions: dict[str, Session],
                           workshops: dict[str, Workshop], regs: list[Registration]) -> None:
        """The stored state is what the reference model says the rules make of the
        commands done: every member's stars and status, every session's seats, capacity,
        instants and state, every workshop's deletion, and every registration's state,
        session, price, deadline, end, attendance and evaluation."""
        model = self.model
        for member, balance in balances.items():
            expected = model.members[member]
            assert (balance.available, balance.held, statuses[member]) == (
                expected.available, expected.held, expected.status), member
        for session in sessions.values():
            m = model.sessions[session.id]
            assert (session.state, session.start, session.end, session.capacity,
                    session.seats_taken) == (m.state, m.start, m.end, m.capacity,
                                             m.seats_taken), session
        for workshop in workshops.values():
            assert (workshop.state is WorkshopState.DELETED) == model.workshops[workshop.id].deleted
        for r in regs:
            reg = model.regs[r.id]
            assert (r.state, r.session, r.amount, r.ended_at, r.attendance, r.evaluated) == (
                reg.state, reg.session, reg.amount, reg.ended_at, reg.attendance,
                reg.evaluated), (r, reg)
            if r.state in (R.PENDING, R.WAITLISTED):  # BOOK-16, BOOK-24
                deadline = r.due if r.state is R.PENDING else r.waitlist_until
                assert deadline == reg.deadline, (r, reg)

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
            # Nothing waits to be applied up to the model's instant: the store is there too.
            synced = uow.next_due(self.model.at) is None

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

        if synced:
            self._matches_the_model(balances, statuses, sessions, workshops, regs)
            model = self.model
            assert (supply.in_wallets, supply.held, supply.issued, supply.returned) == (
                model.wallets, model.held, model.issued, model.returned)

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


@pytest.mark.rule("REFUND-5", "BOOK-21")
def test_the_reference_model_says_how_every_registration_ends() -> None:
    """The tables the machine checks holds and notices against cover every final state of
    the lifecycle: each refund has its void reason, the one payment has none, and every
    end is told but a purge's (ACC-7: a purged member is told nothing more)."""
    finals = set(REGISTRATION_LIFECYCLE.final)
    assert set(ENDING_OF) == finals
    assert set(VOID_REASON_OF) == finals - {R.PAID}
    assert set(REQUEST_ENDINGS) | set(SHARED_ENDINGS) == finals - {R.ACCOUNT_PURGED}
    assert not set(REQUEST_ENDINGS) & set(SHARED_ENDINGS)


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
