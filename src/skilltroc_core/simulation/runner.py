"""The simulator's loop: run each step against the library and the model, then check.

A :class:`Simulator` owns one :class:`~.context.StepContext` (the service under test,
its store and clock, the reference model, the summary) shared by the step handlers of
each area, each a class of its own module:

- :class:`~.steps_members.MemberSteps`: signups, profiles, purchases, deactivations,
  gifts;
- :class:`~.steps_booking.BookingSteps`: workshops, sessions, requests and answers, the
  waitlist, confirmations, attendance and evaluations;
- :class:`~.steps_tutorials_ads.TutorialAdSteps`: tutorials, views, ad campaigns, serving;
- :class:`~.steps_time.TimeSteps`: the clock and ``run_due``;
- :class:`~.steps_invalid.InvalidSteps`: commands refused on purpose.

A handler runs its command through :meth:`~.context.StepContext.command`, which checks
what the rules say of that one command (refused or accepted, a refusal changes nothing,
a duplicate delivery gives its first answer); after every step, and every
``check_every`` steps more deeply, :class:`~.checks.StateChecks` compares the library's
state with the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import attrs

from ..adapters.clocks import ManualClock
from ..adapters.memory import MemoryStore
from ..ports import Store
from ..rules import DEFAULT_POLICY, Policy
from ..service import Skilltroc
from .checks import StateChecks
from .context import START, Refused, Skipped, StepContext
from .faults import FaultyStore
from .model import Model
from .steps_booking import BookingSteps
from .steps_invalid import InvalidSteps
from .steps_members import MemberSteps
from .steps_time import TimeSteps
from .steps_tutorials_ads import TutorialAdSteps
from .summary import SimulationFailure, Summary
from .workload import KINDS, Step

__all__ = ["SIM_POLICY", "SimulationFailure", "Simulator", "Summary"]

#: The simulator's policy: cheap password hashing, and small enough tutorial and
#: campaign thresholds that payouts and completed campaigns happen within a run.
SIM_POLICY: Policy = attrs.evolve(
    DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8, views_per_tutorial_star=3,
    impressions_per_ad_star=1
)
#: The secret key of simulated hosts (a store they open again must meet it again).
SIM_SECRET = b"skilltroc simulation secret key!"


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
        self.ctx = StepContext(self.app, self.inner, self.store, self.clock, self.model,
                               self.summary, faults=faults)
        self.checks = StateChecks(self.ctx)
        self._handlers: dict[str, Callable[[Step], None]] = {}
        for area in (MemberSteps(self.ctx), BookingSteps(self.ctx),
                     TutorialAdSteps(self.ctx), TimeSteps(self.ctx), InvalidSteps(self.ctx)):
            handlers = area.handlers()
            assert not handlers.keys() & self._handlers.keys(), "a step kind handled twice"
            self._handlers |= handlers
        assert self._handlers.keys() == set(KINDS), "every step kind has its handler"

    def run(self, steps: Iterable[Step], *, limit: int | None = None) -> Summary:
        """Run ``steps`` (at most ``limit``); raise :class:`SimulationFailure` on a failure."""
        ctx = self.ctx
        started = time.perf_counter()
        try:
            for index, step in enumerate(steps):
                if limit is not None and index >= limit:
                    break
                ctx.index, ctx.step = index, step
                self._run_step(step)
                self.summary.steps = index + 1
            ctx.index += 1
            ctx.step = None
            self.checks.full(deep=True)
        except SimulationFailure:
            raise
        except Exception as exc:  # a bug of the simulator or an error the library let out
            raise SimulationFailure(ctx.index, ctx.step, "crash",
                                    f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.summary.seconds = time.perf_counter() - started
            self.summary.simulated = self.clock.now() - START
            self.summary.faults_injected = self.store.injected
        return self.summary

    def _run_step(self, step: Step) -> None:
        ctx = self.ctx
        self.model.begin_step()
        ctx.scope_members = []
        ctx.scope_entities = []
        handler = self._handlers[step.kind]
        if step.kind not in ("advance", "run_due"):
            # What the step picks from must be what the command will see: the service
            # applies every deadline due by now before the command.
            self.model.run_due(self.clock.now())
        try:
            handler(step)
        except Skipped:
            self.summary.run_due_calls += 1
            self.app.run_due()  # no command ran: bring the service to where the model is
        except Refused:
            pass
        self.checks.after_step()
        if (ctx.index + 1) % self.check_every == 0:
            self.checks.full(deep=(ctx.index + 1) % (self.check_every * 10) == 0)
