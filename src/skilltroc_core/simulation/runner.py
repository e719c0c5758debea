"""The simulator's loop: run each step against the library and the model, then check.

For every step the runner picks, from what the model knows, the members, sessions,
requests... the step's integers point at, calls the command, and then checks:

- a refused command (a :class:`~skilltroc_core.errors.SkilltrocError`) or a store
  failure changed nothing (a fingerprint of the state it touched, plus the global
  ledger totals, read before and after); nothing but a ``SkilltrocError`` may escape;
- where the model can tell, the command was accepted or refused as the rules say;
- the stars of every member the step touched, and the platform totals, match the
  model; every request the step ended has its hold ended once, for the reason the
  refund matrix gives, no later than its deadline; every session it touched has the
  model's seats and is not over capacity;
- the notices appended are exactly those the step's transitions imply;
- every ``check_every`` steps, and at the end: the ledger invariants (deep every tenth
  time), the ad queues, and every member, open hold and session against the model.

State is read through a unit of work opened on the store and rolled back, so checks
never apply a deadline or change anything.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

import attrs

from ..adapters.clocks import ManualClock
from ..adapters.memory import MemoryStore
from ..booking import Session
from ..errors import SkilltrocError
from ..ledger import Ledger
from ..ports import EntityKind, Store, UnitOfWork
from ..rules import DEFAULT_POLICY, Policy
from ..service import Skilltroc, kinds
from ..service.ads import CAMPAIGNS
from ..service.tutorials import TUTORIALS
from ..testing.snapshot import Scope, StoreState, scoped_state
from .faults import FaultyStore, StoreFault
from .model import ACTIVE, DEACTIVATED, PENDING, Model, MReg, MSession
from .workload import Step

__all__ = ["SIM_POLICY", "SimulationFailure", "Simulator", "Summary"]

T = TypeVar("T")

#: The simulator's policy: cheap password hashing, and small enough tutorial and
#: campaign thresholds that payouts and completed campaigns happen within a run.
SIM_POLICY: Policy = attrs.evolve(
    DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8, views_per_tutorial_star=3,
    impressions_per_ad_star=1
)
START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
#: The secret key of simulated hosts (a store they open again must meet it again).
SIM_SECRET = b"skilltroc simulation secret key!"
DOMAINS = ("cooking", "music", "code", "garden")
_VIDEOS = tuple(f"sim{n:08d}" for n in range(24))
_MAX_JUMP_MINUTES = 3 * 7 * 24 * 60  # clock jumps go from a minute to three weeks

# The session states of the service, by the model's names.
_SESSION_STATES = {"planned": "planned", "cancelled": "cancelled",
                   "awaiting": "awaiting_confirmation", "held": "held",
                   "not_held": "not_held", "lapsed": "lapsed"}


class SimulationFailure(Exception):
    """A check failed at step ``index`` (0-based) of the run."""

    def __init__(self, index: int, step: Step | None, check: str, message: str) -> None:
        super().__init__(f"step {index} ({step.kind if step else '-'}): {check}: {message}")
        self.index = index
        self.step = step
        self.check = check
        self.message = message


class _Refused(Exception):
    """The step's command was refused (or met a store failure): nothing to apply."""


class _Skipped(Exception):
    """The step found nothing to act on."""


@attrs.define
class Summary:
    """What a run did, for its last line."""

    seed: int
    store: str
    faults: bool
    steps: int = 0
    by_kind: Counter[str] = attrs.Factory(Counter)
    refused_by_kind: Counter[str] = attrs.Factory(Counter)
    skipped: int = 0
    checks: int = 0
    faults_injected: int = 0
    duplicates: int = 0
    run_due_calls: int = 0
    simulated: timedelta = timedelta(0)
    seconds: float = 0.0

    @property
    def commands(self) -> int:
        return sum(self.by_kind.values())

    @property
    def refused(self) -> int:
        return sum(self.refused_by_kind.values())

    def line(self) -> str:
        """The one-line summary (deterministic: no wall-clock time in it)."""
        kinds_text = " ".join(
            f"{kind}={self.by_kind[kind]}/{self.refused_by_kind[kind]}"
            for kind in sorted(self.by_kind)
        )
        return (
            f"simulate seed={self.seed} store={self.store} faults={'on' if self.faults else 'off'}"
            f" steps={self.steps} commands={self.commands} refused={self.refused}"
            f" skipped={self.skipped} invariant_checks={self.checks}"
            f" faults_injected={self.faults_injected} duplicates={self.duplicates}"
            f" run_due={self.run_due_calls} simulated_days={self.simulated.days}"
            f" | by kind (commands/refused): {kinds_text}"
        )


def _pick(items: Sequence[T], n: int) -> T | None:
    return items[n % len(items)] if items else None


_WINDOW = 500  # steps pick among the latest entities of a kind (bounded work per step)


def _recent(table: dict[str, T], keep: Callable[[T], bool] = lambda _: True) -> list[T]:
    """The newest :data:`_WINDOW` values of ``table`` that ``keep`` accepts, newest first."""
    return [value for value in itertools.islice(reversed(table.values()), _WINDOW)
            if keep(value)]


class Simulator:
    """Runs steps against one store and the reference model, checking after each."""

    def __init__(
        self,
        seed: int,
        *,
        store: Store | None = None,
        store_name: str = "memory",
        faults: bool = False,
        check_every: int = 100,
        policy: Policy = SIM_POLICY,
        model_class: type[Model] = Model,
    ) -> None:
        self.inner: Store = store if store is not None else MemoryStore()
        self.store = FaultyStore(self.inner)
        self.clock = ManualClock(START)
        self.policy = policy
        self.app = Skilltroc(self.store, self.clock, policy=policy,
                             secret_key=SIM_SECRET)
        self.model = model_class(policy, START)
        self.faults = faults
        self.check_every = max(1, check_every)
        self.summary = Summary(seed=seed, store=store_name, faults=faults)
        self._emails = 0
        self._outsiders: list[str] = []
        self._counter = 0
        self._index = 0
        self._step: Step | None = None
        self._scope_members: list[str] = []
        self._scope_entities: list[tuple[EntityKind[Any], str]] = []

    # ------------------------------------------------------------------ running
    def run(self, steps: Iterable[Step], *, limit: int | None = None) -> Summary:
        """Run ``steps`` (at most ``limit``); raise :class:`SimulationFailure` on a failure."""
        started = time.perf_counter()
        try:
            for index, step in enumerate(steps):
                if limit is not None and index >= limit:
                    break
                self._index, self._step = index, step
                self._run_step(step)
                self.summary.steps = index + 1
            self._index += 1
            self._step = None
            self._full_check(deep=True)
        except SimulationFailure:
            raise
        except Exception as exc:  # a bug of the simulator or an error the library let out
            raise SimulationFailure(self._index, self._step, "crash",
                                    f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.summary.seconds = time.perf_counter() - started
            self.summary.simulated = self.clock.now() - START
            self.summary.faults_injected = self.store.injected
        return self.summary

    def fail(self, check: str, message: str) -> SimulationFailure:
        return SimulationFailure(self._index, self._step, check, message)

    def _run_step(self, step: Step) -> None:
        model = self.model
        model.begin_step()
        self._scope_members = []
        self._scope_entities = []
        handler: Callable[[Step], None] = getattr(self, f"_do_{step.kind}")
        if step.kind not in ("advance", "run_due"):
            # What the step picks from must be what the command will see: the service
            # applies every deadline due by now before the command.
            model.run_due(self.clock.now())
        try:
            handler(step)
        except _Skipped:
            self.summary.run_due_calls += 1
            self.app.run_due()  # no command ran: bring the service to where the model is
        except _Refused:
            pass
        self._check_step()
        if (self._index + 1) % self.check_every == 0:
            self._full_check(deep=(self._index + 1) % (self.check_every * 10) == 0)

    def _next(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    # ------------------------------------------------------------------ one command
    def _command(self, kind: str, call: Callable[[], T], *, expect: bool | None,
                 members: Iterable[str] = (),
                 entities: Iterable[tuple[EntityKind[Any], str]] = (),
                 keyed: bool = False) -> T:
        """Run one command; return its result, or raise :class:`_Refused` if refused.

        The model applied the deadlines due by now before the step (the service applies
        them at the start of the command). If the command is refused, they roll back
        with it, and the run_due that follows brings the service to the model's point.
        """
        step = self._step
        assert step is not None
        self._scope_members.extend(members)
        self._scope_entities.extend(entities)
        before = self._fingerprint()
        self.summary.by_kind[step.kind] += 1
        if step.fault:
            self.store.arm(step.fault)
        try:
            try:
                result = call()
            except StoreFault:
                self._same("store failure", before)
                result = call()  # the host retries once
        except SkilltrocError as exc:
            self.store.disarm()
            self._same(f"refused {kind} ({exc.code})", before)
            self.summary.refused_by_kind[step.kind] += 1
            if expect is True:
                raise self.fail("model", f"{kind} should be accepted; refused: {exc}") from exc
            self.summary.run_due_calls += 1
            self.app.run_due()
            raise _Refused() from exc
        except Exception as exc:
            raise self.fail("bare exception", f"{kind} raised {type(exc).__name__}: {exc}"
                            ) from exc
        self.store.disarm()
        if expect is False:
            raise self.fail("model", f"{kind} should be refused; it was accepted")
        if keyed and step.twice:
            self.summary.duplicates += 1
            after = self._fingerprint()
            again = call()
            self._same(f"{kind} delivered twice", after)
            if again != result:
                raise self.fail("idempotency", f"{kind} again gave {again!r}, first {result!r}")
        return result

    def _fingerprint(self) -> StoreState:
        """The touched entities and balances, and what the port shows of the whole store
        (platform accounts, supply counters, next transfer, next timer, outbox), read
        raw: O(what the step touched), not O(store), on every store."""
        return scoped_state(self.inner, Scope(entities=self._scope_entities,
                                              accounts=self._scope_members))

    def _same(self, what: str, before: StoreState) -> None:
        self.summary.checks += 1
        changed = before.changes(self._fingerprint())
        if changed:
            raise self.fail("changed nothing", f"{what} changed state: " + "; ".join(changed))

    # ------------------------------------------------------------------ picking
    def _member(self, n: int) -> str | None:
        """An active member among the newest ones."""
        active = self.model.active
        return _pick([m.id for m in _recent(self.model.members, lambda m: m.id in active)], n)

    def _is_active(self, member_id: str) -> bool:
        return self.model.members[member_id].status == ACTIVE

    def _actor(self, right: str, step: Step) -> str:
        """Mostly the right actor; one time in ten someone else (usually refused)."""
        if step.args[3] % 10 == 0:
            return self._member(step.args[2]) or right
        return right

    def _live(self, state: str, with_session: bool | None = None) -> list[MReg]:
        return [r for r in self.model.live.values() if r.state == state and (
            with_session is None or (r.session is not None) == with_session)]

    def _open_sessions(self) -> list[MSession]:
        now = self.clock.now()
        return [s for s in self.model.planned.values()
                if now < s.start and not self.model.workshops[s.workshop].deleted]

    def _offset(self, n: int, low: int = 30, high: int = 21 * 24 * 60) -> timedelta:
        """A log-uniform duration from ``low`` to ``high`` minutes, with seconds."""
        fraction = (n % 1_000_000) / 1_000_000
        minutes = low * (high / low) ** fraction
        return timedelta(seconds=int(minutes * 60))

    def _skip(self) -> NoReturn:
        self.summary.skipped += 1
        raise _Skipped()

    # ------------------------------------------------------------------ members
    def _new_email(self) -> str:
        self._emails += 1
        return f"member{self._emails}@sim.example"

    def _do_signup(self, step: Step, *, pro: bool = False, password: bool = False) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        email = self._new_email()
        if a2 % 10 == 0 and self._outsiders:
            email = self._outsiders[a2 % len(self._outsiders)]  # claims the gifts waiting
        elif a2 % 25 == 1 and model.members:
            taken = _pick(_recent(model.members), a1)  # an address in use, or a purged one
            if taken is not None and taken.email is not None:
                email = taken.email
        sponsor = _pick([m.id for m in _recent(model.members)], a1) if a0 % 4 == 0 else None
        expect = email not in model.by_email and model.sponsor_ok(sponsor)
        result = self._command(
            "signup", lambda: self.app.signup(
                email, password="correct horse battery" if password else None,
                provider=None if password else "google",
                kind="professional" if pro else "individual",
                category="craftsperson" if pro else None, sponsor=sponsor),
            expect=expect, members=[sponsor] if sponsor else [])
        model.signup(result.member_id, email, pro=pro, provider=not password, sponsor=sponsor,
                     token=result.confirmation_token)
        self._scope_members.append(result.member_id)

    def _do_signup_pro(self, step: Step) -> None:
        self._do_signup(step, pro=True)

    def _do_signup_password(self, step: Step) -> None:
        self._do_signup(step, password=True)

    def _do_confirm_email(self, step: Step) -> None:
        pending = _recent(self.model.members, lambda m: m.status == PENDING)
        member = _pick(pending, step.args[0])
        if member is None or member.token is None:
            self._skip()
        right = step.args[1] % 8 != 0
        token = member.token if right else "not-the-token"
        self._command("confirm_email", lambda: self.app.confirm_email(member.id, token),
                      expect=right, members=[member.id])
        self.model.confirm_email(member.id)

    def _do_complete_profile(self, step: Step) -> None:
        model = self.model
        pros = _recent(model.members, lambda m: m.pro and not m.complete and m.status == ACTIVE)
        member_id = (pros[step.args[0] % len(pros)].id if pros
                     else self._member(step.args[1]))
        if member_id is None:
            self._skip()
        self._command("complete_profile", lambda: self.app.update_profile(
            member_id, display_name=f"Member {member_id}", description="Teaches things",
            photo="https://example.org/p.jpg", locality="Lyon"),
            expect=True, entities=[(kinds.MEMBERS, member_id)])
        model.complete_profile(member_id)

    def _do_buy(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        stars = 1 + a1 % 40
        member_id = self._member(a0)
        reference = self._next("pay-")
        expect: bool | None = True
        if a2 % 6 == 0 and model.purchases:
            reference = _pick(list(itertools.islice(reversed(model.purchases), _WINDOW)),
                              a2) or reference
            member_id, first = model.purchases[reference]
            if a1 % 2:
                stars = first
            expect = stars == first  # a retry gets its first answer, whatever the status
        if member_id is None:
            self._skip()
        buyer = member_id
        self._command("buy", lambda: self.app.buy_stars(buyer, stars, reference).seq,
                      expect=expect, members=[buyer], keyed=True)
        model.buy(buyer, stars, reference)

    def _do_deactivate(self, step: Step) -> None:
        member_id = self._member(step.args[0])
        if member_id is None:
            self._skip()
        self._command("deactivate", lambda: self.app.deactivate(member_id), expect=True,
                      entities=[(kinds.MEMBERS, member_id)])
        self.model.deactivate(member_id)

    def _do_reactivate(self, step: Step) -> None:
        gone = [m.id for m in _recent(self.model.members, lambda m: m.status == DEACTIVATED)]
        member_id = _pick(gone, step.args[0])
        if member_id is None:
            self._skip()
        self._command("reactivate", lambda: self.app.reactivate(member_id), expect=True,
                      entities=[(kinds.MEMBERS, member_id)])
        self.model.reactivate(member_id)

    # ------------------------------------------------------------------ workshops
    def _do_create_workshop(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        organizer = self._member(a0)
        if organizer is None:
            self._skip()
        member = self.model.members[organizer]
        cost = (0, 1, 2, 3, 5, 8)[a1 % 6]
        capacity = 1 + a2 % 6
        duration = timedelta(minutes=(60, 90, 120)[a3 % 3])
        workshop_id = self._command("create_workshop", lambda: self.app.create_workshop(
            organizer, title=f"Workshop {self._counter}", description="Learn by doing",
            domain=DOMAINS[a1 % len(DOMAINS)], cost=cost, capacity=capacity,
            duration=duration), expect=not member.pro or member.complete, members=[organizer])
        self.model.create_workshop(workshop_id, organizer, cost, capacity, duration)

    def _workshop(self, n: int) -> str | None:
        return _pick([w.id for w in _recent(self.model.workshops, lambda w: not w.deleted)], n)

    def _do_delete_workshop(self, step: Step) -> None:
        workshop_id = self._workshop(step.args[0])
        if workshop_id is None:
            self._skip()
        organizer = self.model.workshops[workshop_id].organizer
        actor = self._actor(organizer, step)
        self._command("delete_workshop", lambda: self.app.delete_workshop(actor, workshop_id),
                      expect=actor == organizer and self._is_active(actor),
                      entities=[(kinds.WORKSHOPS, workshop_id)])
        self.model.delete_workshop(workshop_id)

    def _do_plan_session(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        workshop_id = self._workshop(a0)
        if workshop_id is None:
            self._skip()
        organizer = self.model.workshops[workshop_id].organizer
        actor = self._actor(organizer, step)
        start = self.clock.now() + self._offset(a1)
        capacity = 1 + a2 % 5 if a3 % 3 == 0 else None
        session_id = self._command(
            "plan_session", lambda: self.app.plan_session(actor, workshop_id, start, capacity),
            expect=actor == organizer and self._is_active(actor),
            entities=[(kinds.WORKSHOPS, workshop_id)])
        self.model.plan_session(session_id, workshop_id, start, capacity)

    def _session_step(self, step: Step) -> tuple[MSession, str] | None:
        session = _pick(self._open_sessions(), step.args[0])
        if session is None:
            return None
        return session, self._actor(session.organizer, step)

    def _do_move_session(self, step: Step) -> None:
        found = self._session_step(step)
        if found is None:
            self._skip()
        session, actor = found
        start = self.clock.now() + self._offset(step.args[1])
        self._command("move_session", lambda: self.app.move_session(actor, session.id, start),
                      expect=actor == session.organizer and self._is_active(actor),
                      entities=[(kinds.SESSIONS, session.id)])
        self.model.move_session(session.id, start)

    def _do_set_capacity(self, step: Step) -> None:
        found = self._session_step(step)
        if found is None:
            self._skip()
        session, actor = found
        capacity = max(1, session.seats_taken + step.args[1] % 4 - 1)
        self._command("set_capacity", lambda: self.app.set_capacity(actor, session.id, capacity),
                      expect=actor == session.organizer and self._is_active(actor)
                      and capacity >= session.seats_taken,
                      entities=[(kinds.SESSIONS, session.id)])
        self.model.set_capacity(session.id, capacity)

    def _do_cancel_session(self, step: Step) -> None:
        found = self._session_step(step)
        if found is None:
            self._skip()
        session, actor = found
        self._command("cancel_session", lambda: self.app.cancel_session(actor, session.id),
                      expect=actor == session.organizer and self._is_active(actor),
                      entities=[(kinds.SESSIONS, session.id)])
        self.model.cancel_session(session.id)

    # ------------------------------------------------------------------ requests
    def _request_expectation(self, member_id: str, organizer: str, seats: int, limit: int,
                             amount: int, duplicate: bool) -> bool:
        model = self.model
        return (self._is_active(member_id) and member_id != organizer
                and model.members[organizer].status == ACTIVE and 1 <= seats <= limit
                and not duplicate and model.members[member_id].available >= amount)

    def _do_request(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        session = _pick(self._open_sessions(), a0)
        member_id = self._member(a1)
        if session is None or member_id is None:
            self._skip()
        workshop = model.workshops[session.workshop]
        seats = 1 + a2 % (session.capacity + 1) if a2 % 5 == 0 else 1 + a2 % 2
        duplicate = any(r.member == member_id and r.session == session.id
                        and r.state in ("pending", "registered") for r in model.live.values())
        expect = self._request_expectation(member_id, workshop.organizer, seats,
                                           session.capacity, workshop.cost * seats, duplicate)
        reg_id = self._command(
            "request", lambda: self.app.request(member_id, seats=seats, session_id=session.id),
            expect=expect, members=[member_id], entities=[(kinds.SESSIONS, session.id)])
        model.request(reg_id, member_id, seats, session_id=session.id, workshop_id=workshop.id)

    def _do_request_future(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        workshop_id = self._workshop(a0)
        member_id = self._member(a1)
        if workshop_id is None or member_id is None:
            self._skip()
        workshop = model.workshops[workshop_id]
        seats = 1 + a2 % 3 if a2 % 7 else 11
        duplicate = any(r.member == member_id and r.workshop == workshop_id and (
            r.state == "waitlisted" or (r.state == "pending" and r.session is None))
            for r in model.live.values())
        expect = self._request_expectation(member_id, workshop.organizer, seats,
                                           self.policy.max_future_seats,
                                           workshop.cost * seats, duplicate)
        reg_id = self._command(
            "request_future",
            lambda: self.app.request(member_id, seats=seats, workshop_id=workshop_id),
            expect=expect, members=[member_id])
        model.request(reg_id, member_id, seats, session_id=None, workshop_id=workshop_id)

    def _answer(self, step: Step, kind: str, regs: list[MReg], call: Callable[[str, str], None],
                extra: Callable[[MReg], bool] = lambda r: True, *, by_organizer: bool = True
                ) -> MReg:
        reg = _pick(regs, step.args[0])
        if reg is None:
            self._skip()
        right = reg.organizer if by_organizer else reg.member
        actor = self._actor(right, step)
        entities: list[tuple[EntityKind[Any], str]] = [(kinds.REGISTRATIONS, reg.id)]
        if reg.session:
            entities.append((kinds.SESSIONS, reg.session))
        self._command(kind, lambda: call(actor, reg.id),
                      expect=actor == right and self._is_active(actor) and extra(reg),
                      members=[reg.member, reg.organizer], entities=entities)
        return reg

    def _seats_left(self, session_id: str | None) -> int:
        assert session_id is not None
        session = self.model.sessions[session_id]
        return session.capacity - session.seats_taken

    def _do_accept(self, step: Step) -> None:
        reg = self._answer(step, "accept", self._live("pending", True), self.app.accept,
                           lambda r: self._seats_left(r.session) >= r.seats)
        self.model.accept(reg.id)

    def _do_accept_future(self, step: Step) -> None:
        model = self.model

        def allowed(reg: MReg) -> bool:
            if reg.session is None:
                return True
            return self._seats_left(reg.session) < reg.seats and (
                reg.seats <= model.policy.max_future_seats) and not any(
                r.member == reg.member and r.workshop == reg.workshop and (
                    r.state == "waitlisted" or (r.state == "pending" and r.session is None))
                for r in model.live.values())

        reg = self._answer(step, "accept_future", self._live("pending"), self.app.accept_future,
                           allowed)
        model.accept_future(reg.id)

    def _do_refuse(self, step: Step) -> None:
        reg = self._answer(step, "refuse", self._live("pending"), self.app.refuse)
        self.model.end(reg.id, "refuse", "RequestRefused", to_organizer=False)

    def _do_cancel_request(self, step: Step) -> None:
        reg = self._answer(step, "cancel_request", self._live("pending"),
                           self.app.cancel_request, by_organizer=False)
        self.model.end(reg.id, "cancel", "RequestCancelled", to_organizer=True)

    def _registered_open(self) -> list[MReg]:
        now = self.clock.now()
        model = self.model
        return [r for r in self._live("registered") if r.session is not None
                and model.sessions[r.session].state == "planned"
                and now < model.sessions[r.session].start]

    def _do_unregister(self, step: Step) -> None:
        reg = self._answer(step, "unregister", self._registered_open(), self.app.unregister,
                           by_organizer=False)
        self.model.end(reg.id, "unregister", "MemberUnregistered", to_organizer=True)

    def _do_cancel_transaction(self, step: Step) -> None:
        regs = self._registered_open() + self._live("waitlisted")
        reg = self._answer(step, "cancel_transaction", regs, self.app.cancel_transaction)
        self.model.end(reg.id, "cancel_transaction", "TransactionCancelled",
                           to_organizer=False)

    def _do_leave_waitlist(self, step: Step) -> None:
        reg = self._answer(step, "leave_waitlist", self._live("waitlisted"),
                           self.app.leave_waitlist, by_organizer=False)
        self.model.end(reg.id, "leave", "WaitlistLeft", to_organizer=True)

    def _do_join(self, step: Step) -> None:
        model = self.model
        open_sessions = self._open_sessions()
        workshops = {s.workshop for s in open_sessions}
        waiting = self._live("waitlisted")
        reg = _pick([r for r in waiting if r.workshop in workshops] or waiting, step.args[0])
        if reg is None:
            self._skip()
        sessions = [s for s in open_sessions if s.workshop == reg.workshop]
        if step.args[1] % 10 == 0:  # another workshop's session: refused
            sessions = open_sessions
        session = _pick(sessions, step.args[1])
        if session is None:
            self._skip()
        actor = self._actor(reg.member, step)
        duplicate = any(r.member == reg.member and r.session == session.id
                        and r.state in ("pending", "registered") for r in model.live.values())
        expect = (actor == reg.member and self._is_active(actor)
                  and session.workshop == reg.workshop and not duplicate
                  and model.members[reg.organizer].status == ACTIVE  # else hidden (ACC-7)
                  and session.capacity - session.seats_taken >= reg.seats)
        self._command("join", lambda: self.app.join(actor, reg.id, session.id), expect=expect,
                      members=[reg.member],
                      entities=[(kinds.REGISTRATIONS, reg.id), (kinds.SESSIONS, session.id)])
        model.join(reg.id, session.id)

    # ------------------------------------------------------------------ after the session
    def _awaiting(self, step: Step) -> tuple[MSession, str] | None:
        model = self.model
        sessions = list(model.awaiting.values())
        if step.args[1] % 12 == 0:  # too early: refused
            sessions = _recent(model.planned)
        session = _pick(sessions, step.args[0])
        if session is None:
            return None
        return session, self._actor(session.organizer, step)

    def _confirm(self, step: Step, kind: str, held: bool) -> None:
        found = self._awaiting(step)
        if found is None:
            self._skip()
        session, actor = found
        members = [session.organizer, *(r.member for r in self.model.registered_in(session))]
        call = self.app.confirm_held if held else self.app.confirm_not_held
        self._command(kind, lambda: call(actor, session.id),
                      expect=actor == session.organizer and self._is_active(actor)
                      and session.state == "awaiting",
                      members=members, entities=[(kinds.SESSIONS, session.id)])
        if held:
            self.model.confirm_held(session.id)
        else:
            self.model.confirm_not_held(session.id)

    def _do_confirm_held(self, step: Step) -> None:
        self._confirm(step, "confirm_held", held=True)

    def _do_confirm_not_held(self, step: Step) -> None:
        self._confirm(step, "confirm_not_held", held=False)

    def _attendance(self, step: Step, kind: str, call: Callable[[str, str], None],
                    mark: str) -> None:
        regs = [r for r in self.model.paid.values()
                if r.attendance is None and self._is_active(r.member)]
        reg = _pick(regs, step.args[0])
        if reg is None:
            self._skip()
        actor = self._actor(reg.member, step)
        self._command(kind, lambda: call(actor, reg.id),
                      expect=actor == reg.member and self._is_active(actor),
                      entities=[(kinds.REGISTRATIONS, reg.id)])
        reg.attendance = mark
        if mark == "absent":
            del self.model.paid[reg.id]

    def _do_confirm_attendance(self, step: Step) -> None:
        self._attendance(step, "confirm_attendance", self.app.confirm_attendance, "attended")

    def _do_declare_absent(self, step: Step) -> None:
        self._attendance(step, "declare_absent", self.app.declare_absent, "absent")

    def _do_evaluate(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        regs = [r for r in self.model.paid.values()
                if r.attendance == "attended" and self._is_active(r.member)]
        reg = _pick(regs, a0)
        if reg is None:
            self._skip()
        actor = self._actor(reg.member, step)
        scores = [(a1 >> (4 * i)) % 11 for i in range(4)]
        self._command("evaluate", lambda: self.app.evaluate(
            actor, reg.id, satisfaction=scores[0], conformity=scores[1], teaching=scores[2],
            duration=scores[3], recommend=bool(a2 % 2)),
            expect=actor == reg.member and self._is_active(actor),
            entities=[(kinds.REGISTRATIONS, reg.id)])
        del self.model.paid[reg.id]

    # ------------------------------------------------------------------ gifts
    def _do_gift(self, step: Step, *, outsider: bool = False) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        rich = [m.id for m in _recent(model.members, lambda m: m.status == ACTIVE
                                      and m.available > self.policy.gift_floor)]
        sender = _pick(rich, a0) if a2 % 8 else self._member(a0)
        if sender is None:
            self._skip()
        member = model.members[sender]
        if outsider:
            email = f"friend{a1 % 40}@elsewhere.example"
            if email not in self._outsiders:
                self._outsiders.append(email)
        else:
            others = [m.email for m in _recent(model.members) if m.email is not None]
            email = _pick(others, a1) or "nobody@elsewhere.example"
        room = member.available - self.policy.gift_floor
        stars = 1 + a2 % max(room, 1) if a2 % 9 else room + 1
        key = self._next("gift-key-")
        expect = (email != member.email and stars <= room)
        recipient = model.by_email.get(email)
        gift_id = self._command(
            "gift", lambda: self.app.gift(sender, email, stars, key=key), expect=expect,
            members=[sender, *([recipient] if recipient else [])], keyed=True)
        model.gift(gift_id, sender, email, stars)

    def _do_gift_outsider(self, step: Step) -> None:
        self._do_gift(step, outsider=True)

    def _do_accept_gift(self, step: Step) -> None:
        model = self.model
        gifts = _recent(model.gifts, lambda g: g.state == "sent" and g.recipient is not None)
        gift = _pick(gifts, step.args[0])
        if gift is None or gift.recipient is None:
            self._skip()
        actor = self._actor(gift.recipient, step)
        self._command("accept_gift", lambda: self.app.accept_gift(actor, gift.id),
                      expect=actor == gift.recipient and self._is_active(actor),
                      members=[gift.recipient, gift.sender], entities=[(kinds.GIFTS, gift.id)])
        model.accept_gift(gift.id)

    # ------------------------------------------------------------------ tutorials
    def _do_publish_tutorial(self, step: Step) -> None:
        model = self.model
        publisher = self._member(step.args[0])
        if publisher is None:
            self._skip()
        video = _VIDEOS[step.args[1] % len(_VIDEOS)]
        member = model.members[publisher]
        taken = (publisher, f"{video[:11]:0<11}") in model.live_videos
        tutorial_id = self._command("publish_tutorial", lambda: self.app.publish_tutorial(
            publisher, title="How to", domain=DOMAINS[step.args[2] % len(DOMAINS)],
            rights_attested=True, youtube_url=f"https://youtu.be/{video[:11]:0<11}"),
            expect=(not member.pro or member.complete) and not taken, members=[publisher])
        model.publish(tutorial_id, publisher, f"{video[:11]:0<11}")

    def _do_delete_tutorial(self, step: Step) -> None:
        tutorial = _pick(_recent(self.model.tutorials, lambda t: t.live), step.args[0])
        if tutorial is None:
            self._skip()
        actor = self._actor(tutorial.publisher, step)
        self._command("delete_tutorial", lambda: self.app.delete_tutorial(actor, tutorial.id),
                      expect=actor == tutorial.publisher and self._is_active(actor),
                      entities=[(TUTORIALS, tutorial.id)])
        self.model.unpublish(tutorial.id)

    def _do_view(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        model = self.model
        tutorials = _recent(model.tutorials)
        if a3 % 10 == 0 and model.view_ids:
            view_id = _pick(list(itertools.islice(reversed(model.view_ids), _WINDOW)), a3) or ""
            tutorial_id, viewer, *_ = model.view_ids[view_id]
            tutorial = model.tutorials[tutorial_id]
        else:
            picked = _pick([t for t in tutorials if t.live] if a0 % 20 else tutorials, a0)
            if picked is None:
                self._skip()
            tutorial = picked
            viewer = (self._member(a1) or "visitor-0") if a2 % 3 else f"visitor-{a1 % 60}"
            view_id = self._next("view-")
        expect = model.remembers_view(view_id) or (  # ACC-7 hides a deactivated publisher's
            tutorial.live and model.members[tutorial.publisher].status != DEACTIVATED)
        verdict = self._command("view", lambda: self.app.record_view(
            tutorial.id, viewer, view_id).value, expect=expect, members=[tutorial.publisher],
            entities=[(TUTORIALS, tutorial.id)], keyed=True)
        expected = model.view(tutorial.id, viewer, view_id)
        if verdict != expected:
            raise self.fail("model", f"view {view_id} of {tutorial.id} by {viewer}: "
                            f"{verdict}, the rules say {expected}")

    # ------------------------------------------------------------------ campaigns
    def _do_create_campaign(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        model = self.model
        pros = [m.id for m in _recent(model.members, lambda m: m.pro and m.complete
                                      and m.status == ACTIVE and m.available >= 10)]
        owner = _pick(pros, a0) if a3 % 6 else self._member(a0)
        if owner is None:
            self._skip()
        member = model.members[owner]
        budget = 10 + a1 % 4 if a1 % 13 else 5
        now = self.clock.now()
        start = now if a2 % 2 else now + self._offset(a2, 5, 3 * 24 * 60)
        domains = tuple(dict.fromkeys((DOMAINS[a2 % 3], DOMAINS[a3 % 3])))
        expect = (member.pro and member.complete and budget >= 10
                  and member.available >= budget)
        campaign_id = self._command("create_campaign", lambda: self.app.create_campaign(
            owner, budget=budget, visual="img-1", visual_rights_free=True, text="Come along",
            start=start, domains=domains, key=f"campaign-{a1}-{a2}-{self._counter}"),
            expect=expect, members=[owner], keyed=True)
        model.create_campaign(campaign_id, owner, budget, start, domains)

    def _do_edit_campaign(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        campaign = _pick(_recent(model.campaigns), a0)
        if campaign is None:
            self._skip()
        actor = self._actor(campaign.owner, step)
        right = actor == campaign.owner and self._is_active(actor)
        entities: list[tuple[EntityKind[Any], str]] = [(CAMPAIGNS, campaign.id)]
        if a1 % 3 == 0:
            budget = 10 + a2 % 6
            difference = budget - campaign.budget
            expect: bool | None = None
            if campaign.state == "scheduled":
                expect = right and model.members[campaign.owner].available >= difference
            elif campaign.state == "running" and difference:
                expect = False
            self._command("edit_campaign", lambda: self.app.edit_campaign(
                actor, campaign.id, budget=budget), expect=expect,
                members=[campaign.owner], entities=entities)
            model.edit_budget(campaign.id, budget)
        else:
            self._command("edit_campaign", lambda: self.app.edit_campaign(
                actor, campaign.id, text=f"New text {a2 % 7}"),
                expect=right if campaign.state in ("scheduled", "running") else None,
                members=[campaign.owner], entities=entities)
            model.edit_text(campaign.id)

    def _do_serve(self, step: Step) -> None:
        a0, _, _, a3 = step.args
        model = self.model
        if a3 % 10 == 0 and model.page_views:
            page_view = _pick(list(itertools.islice(reversed(model.page_views), _WINDOW)),
                              a3) or ""
            domain = model.page_views[page_view][0]
        else:
            domain = DOMAINS[a0 % len(DOMAINS)]
            page_view = self._next("page-")
        shown = self._command("serve", lambda: self.app.serve(domain, page_view),
                              expect=True, keyed=True)
        expected = model.serve(domain, page_view)
        got = shown.id if shown is not None else None
        if got != expected:
            raise self.fail("model", f"page view {page_view} in {domain!r} showed {got}, "
                            f"the rules say {expected}")
        if got is not None:
            self._scope_members.append(model.campaigns[got].owner)

    # ------------------------------------------------------------------ time
    def _do_advance(self, step: Step) -> None:
        minutes = _MAX_JUMP_MINUTES ** ((step.args[0] % 1_000_000) / 1_000_000)
        self.clock.advance(timedelta(seconds=int(minutes * 60)))

    def _do_run_due(self, step: Step) -> None:
        variant = step.args[0] % 4 if self.faults else 0
        if variant == 1:  # late: after a jump of hours to weeks
            self.clock.advance(self._offset(step.args[1], 60))
        self.model.run_due(self.clock.now())
        if step.fault:
            self.store.arm(step.fault)
        self.summary.run_due_calls += 1
        try:
            self.app.run_due()
        except StoreFault:
            # The failed deadline rolled back; those before it stayed applied. Retry.
            self.summary.checks += 1
            self.app.check_invariants()
            self.app.run_due()
        self.store.disarm()
        if variant == 2:  # twice: the second finds nothing left to do
            self.summary.run_due_calls += 1
            again = self.app.run_due()
            if again:
                raise self.fail("run_due", f"a second run_due at once applied {again} more")

    # ------------------------------------------------------------------ refused on purpose
    def _do_invalid(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        app = self.app
        model = self.model
        actor = self._member(a1)
        if actor is None:
            self._skip()
        now = self.clock.now()
        variant = a0 % 16
        any_reg = _pick([r.id for r in _recent(model.regs)], a2) or "req_none"
        session = _pick(_recent(model.sessions), a2)
        workshop = _pick([w.id for w in _recent(model.workshops)], a2) or "ws_none"
        bad: dict[int, Callable[[], object]] = {
            0: lambda: app.buy_stars(actor, -(a2 % 5), "pay-bad"),
            1: lambda: app.request(actor, seats=0, workshop_id=workshop),
            2: lambda: app.gift(actor, model.members[actor].email or "x@y.example", 1),
            3: lambda: app.plan_session(actor, workshop, datetime(2030, 1, 1)),  # noqa: DTZ001
            4: lambda: app.plan_session(actor, workshop, now - timedelta(hours=1)),
            5: lambda: app.accept(actor, "req_does_not_exist"),
            6: lambda: app.evaluate(actor, any_reg, satisfaction=11, conformity=5,
                                    teaching=5, duration=5, recommend=True),
            7: lambda: app.create_workshop(actor, title="T", description="D", domain="code",
                                           cost=1, capacity=0),
            8: lambda: app.create_workshop(actor, title="  ", description="D", domain="code",
                                           cost=1, capacity=2),
            9: lambda: app.create_campaign(actor, budget=5, visual="v", visual_rights_free=True,
                                           text="t", start=now, domains=["code"]),
            10: lambda: app.record_view("tuto_none", "", "view-bad"),
            11: lambda: app.serve("code", ""),
            12: lambda: app.signup("not-an-email", provider="google"),
            13: lambda: app.delete_campaign(actor, "ad_1"),
            14: lambda: app.gift(actor, "friend@elsewhere.example", "5"),  # type: ignore[arg-type]
            15: lambda: app.move_session(actor, session.id if session else "ses_none",
                                         now - timedelta(minutes=5)),
        }
        members = [actor]
        entities: list[tuple[EntityKind[Any], str]] = [(kinds.MEMBERS, actor)]
        if session is not None:
            entities.append((kinds.SESSIONS, session.id))
        self._command("invalid", bad[variant], expect=False, members=members, entities=entities)

    # ------------------------------------------------------------------ checks
    def _check_step(self) -> None:
        model = self.model
        summary = self.summary
        actual: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        while True:
            items = self.inner.drain_notifications(500)
            if not items:
                break
            for item in items:
                n = item.notification
                actual.append((n.event, tuple(sorted(n.recipients)), tuple(sorted(n.emails))))
            self.inner.ack([item.seq for item in items])
        summary.checks += 1
        if sorted(actual) != sorted(model.notes):
            raise self.fail("notices", f"appended {sorted(actual)}, the transitions imply "
                            f"{sorted(model.notes)}")
        uow = self.inner.begin()
        try:
            self._check_members(uow, model.touched)
            self._check_totals(uow)
            self._check_sessions(uow, model.touched_sessions)
            self._check_ended(uow, model.ended)
        finally:
            uow.rollback()

    def _check_members(self, uow: UnitOfWork, members: Iterable[str]) -> None:
        book = uow.book
        model = self.model
        for member_id in members:
            self.summary.checks += 1
            found = book.balance(member_id)
            expected = model.members[member_id]
            got = (found.available, found.held) if found else None
            if got != (expected.available, expected.held):
                raise self.fail("stars", f"{member_id} has {got} (available, held); the model "
                                f"says {(expected.available, expected.held)}")
            if expected.available < 0 or expected.held < 0:
                raise self.fail("stars", f"{member_id} went negative: {got}")
            entity = uow.get(kinds.MEMBERS, member_id)
            status = entity.status.value if entity else None
            if status != expected.status:
                raise self.fail("members", f"{member_id} is {status}, the model says "
                                f"{expected.status}")

    def _check_totals(self, uow: UnitOfWork) -> None:
        self.summary.checks += 1
        model = self.model
        supply = Ledger(uow.book).supply()
        got = (supply.in_wallets, supply.held, supply.in_gift_escrow, supply.ad_spent,
               supply.issued, supply.returned)
        expected = (model.wallets, model.held, model.escrow, model.ad_spend, model.issued,
                    model.returned)
        if got != expected:
            raise self.fail("supply", f"(wallets, held, escrow, ad spend, issued, returned) = "
                            f"{got}; the model says {expected}")

    def _check_sessions(self, uow: UnitOfWork, sessions: Iterable[str]) -> None:
        for session_id in sessions:
            self.summary.checks += 1
            found: Session | None = uow.get(kinds.SESSIONS, session_id)
            expected = self.model.sessions[session_id]
            if found is None:
                raise self.fail("seats", f"session {session_id} is missing")
            if found.seats_taken > found.capacity:
                raise self.fail("seats", f"session {session_id} is over capacity: "
                                f"{found.seats_taken} of {found.capacity}")
            got = (found.seats_taken, found.capacity, found.state.value, found.start)
            want = (expected.seats_taken, expected.capacity, _SESSION_STATES[expected.state],
                    expected.start)
            if got != want:
                raise self.fail("seats", f"session {session_id} is (seats, capacity, state, "
                                f"start) {got}; the model says {want}")

    def _check_ended(self, uow: UnitOfWork, regs: Iterable[MReg]) -> None:
        book = uow.book
        for reg in regs:
            self.summary.checks += 1
            found = uow.get(kinds.REGISTRATIONS, reg.id)
            state = found.state.value if found else None
            if state != reg.state:
                raise self.fail("requests", f"{reg.id} is {state}; the model says {reg.state}")
            if not reg.amount:
                continue
            hold = book.hold(reg.id)
            if hold is None or hold.is_open:
                raise self.fail("holds", f"hold {reg.id} should have ended ({reg.outcome})")
            how = "posted" if hold.void_reason is None else hold.void_reason.value
            if how != reg.outcome or hold.ended_at != reg.ended_at:
                raise self.fail("holds", f"hold {reg.id} ended {how} at {hold.ended_at}; the "
                                f"rules say {reg.outcome} at {reg.ended_at}")
            if hold.ended_at is not None and hold.ended_at > reg.deadline:
                raise self.fail("holds", f"hold {reg.id} ended at {hold.ended_at}, after its "
                                f"deadline {reg.deadline}")

    def _full_check(self, *, deep: bool) -> None:
        """Everything against the model, and the library's own invariant checks."""
        model = self.model
        summary = self.summary
        summary.checks += 2
        self.app.check_invariants(deep=deep)
        self.app.check_ad_queues()
        now = self.clock.now()
        synced = model.next_due() is None or model.next_due() > now  # type: ignore[operator]
        uow = self.inner.begin()
        try:
            self._check_members(uow, model.members)
            self._check_totals(uow)
            self._check_sessions(uow, model.sessions)
            book = uow.book
            for reg in model.live.values():
                summary.checks += 1
                found = uow.get(kinds.REGISTRATIONS, reg.id)
                if found is None or found.state.value != reg.state:
                    raise self.fail("requests", f"{reg.id} is "
                                    f"{found.state if found else None}; model: {reg.state}")
                if reg.amount:
                    hold = book.hold(reg.id)
                    if hold is None or not hold.is_open or hold.amount != reg.amount:
                        raise self.fail("holds", f"hold {reg.id} should be open for "
                                        f"{reg.amount}: {hold}")
                if synced and reg.deadline <= now and self._deadline_binds(reg):
                    raise self.fail("holds", f"{reg.id} is still {reg.state} after its "
                                    f"deadline {reg.deadline}")
        finally:
            uow.rollback()

    def _deadline_binds(self, reg: MReg) -> bool:
        """A registered seat's deadline binds once the session awaits confirmation."""
        if reg.state != "registered" or reg.session is None:
            return True
        return self.model.sessions[reg.session].state != "planned"

