"""What the runner and its step handlers share.

One :class:`StepContext` per run holds the library under test (its service, store and
clock), the reference model, the summary and the step being run. Its
:meth:`~StepContext.command` runs one command and checks what the rules say of it: a
refused command (a :class:`~skilltroc_core.errors.SkilltrocError`) or a store failure
changed nothing (a fingerprint of the state it touched, plus the global ledger totals,
read before and after); nothing but a ``SkilltrocError`` may escape; where the model can
tell, the command was accepted or refused as the rules say; a command delivered twice
gives its first answer and changes nothing more.

:class:`AreaSteps` is the base of the step handlers of one area (members, booking,
tutorials and ads, ...): each handler picks, from what the model knows, the members,
sessions, requests... the step's integers point at, and runs its command.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from ..adapters.clocks import ManualClock
from ..errors import SkilltrocError
from ..ports import EntityKind, Store
from ..service import Skilltroc
from ..testing.snapshot import Scope, StoreState, scoped_state
from .faults import FaultyStore, StoreFault
from .model import ACTIVE, Model
from .summary import SimulationFailure, Summary
from .workload import Step

__all__ = ["DOMAINS", "START", "WINDOW", "AreaSteps", "Refused", "Skipped", "StepContext",
           "pick", "recent"]

T = TypeVar("T")

START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
DOMAINS = ("cooking", "music", "code", "garden")
WINDOW = 500  # steps pick among the latest entities of a kind (bounded work per step)


def pick(items: Sequence[T], n: int) -> T | None:
    return items[n % len(items)] if items else None


def recent(table: dict[str, T], keep: Callable[[T], bool] = lambda _: True) -> list[T]:
    """The newest :data:`WINDOW` values of ``table`` that ``keep`` accepts, newest first."""
    return [value for value in itertools.islice(reversed(table.values()), WINDOW)
            if keep(value)]


class Refused(Exception):
    """The step's command was refused (or met a store failure): nothing to apply."""


class Skipped(Exception):
    """The step found nothing to act on."""


class StepContext:
    """The library under test, the model and the step being run, shared by every handler."""

    def __init__(self, app: Skilltroc, inner: Store, store: FaultyStore, clock: ManualClock,
                 model: Model, summary: Summary, *, faults: bool) -> None:
        self.app = app
        self.inner = inner  # the store as it is, read by the checks
        self.store = store  # the same, with store failures on demand
        self.clock = clock
        self.model = model
        self.policy = model.policy
        self.summary = summary
        self.faults = faults
        self.index = 0
        self.step: Step | None = None
        #: what the step's commands touched: their fingerprints are compared
        self.scope_members: list[str] = []
        self.scope_entities: list[tuple[EntityKind[Any], str]] = []
        self.counter = 0

    def fail(self, check: str, message: str) -> SimulationFailure:
        return SimulationFailure(self.index, self.step, check, message)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def skip(self) -> NoReturn:
        self.summary.skipped += 1
        raise Skipped()

    def command(self, kind: str, call: Callable[[], T], *, expect: bool | None,
                members: Iterable[str] = (),
                entities: Iterable[tuple[EntityKind[Any], str]] = (),
                keyed: bool = False) -> T:
        """Run one command; return its result, or raise :class:`Refused` if refused.

        The model applied the deadlines due by now before the step (the service applies
        them at the start of the command). If the command is refused, they roll back
        with it, and the run_due that follows brings the service to the model's point.
        """
        step = self.step
        assert step is not None
        self.scope_members.extend(members)
        self.scope_entities.extend(entities)
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
            raise Refused() from exc
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
        return scoped_state(self.inner, Scope(entities=self.scope_entities,
                                              accounts=self.scope_members))

    def _same(self, what: str, before: StoreState) -> None:
        self.summary.checks += 1
        changed = before.changes(self._fingerprint())
        if changed:
            raise self.fail("changed nothing", f"{what} changed state: " + "; ".join(changed))


class AreaSteps:
    """The step handlers of one area: a method ``do_<kind>`` for each step kind it runs.

    A handler picks what it acts on from the model, runs its command through the
    context's :meth:`~StepContext.command`, then applies it to the model; it calls
    :meth:`StepContext.skip` when it finds nothing to act on.
    """

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.app = ctx.app
        self.model = ctx.model
        self.clock = ctx.clock
        self.policy = ctx.policy

    def handlers(self) -> dict[str, Callable[[Step], None]]:
        """The step kinds this area runs, each with its handler."""
        return {name.removeprefix("do_"): getattr(self, name)
                for name in dir(self) if name.startswith("do_")}

    def _member(self, n: int) -> str | None:
        """An active member among the newest ones."""
        active = self.model.active
        return pick([m.id for m in recent(self.model.members, lambda m: m.id in active)], n)

    def _is_active(self, member_id: str) -> bool:
        return self.model.members[member_id].status == ACTIVE

    def _actor(self, right: str, step: Step) -> str:
        """Mostly the right actor; one time in ten someone else (usually refused)."""
        if step.args[3] % 10 == 0:
            return self._member(step.args[2]) or right
        return right

    def _offset(self, n: int, low: int = 30, high: int = 21 * 24 * 60) -> timedelta:
        """A log-uniform duration from ``low`` to ``high`` minutes, with seconds."""
        fraction = (n % 1_000_000) / 1_000_000
        minutes = low * (high / low) ** fraction
        return timedelta(seconds=int(minutes * 60))

