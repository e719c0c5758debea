"""The simulator's steps that run no command of their own: time passes (``advance``) and
the host applies the deadlines due (``run_due``; late, or twice, with faults on)."""

from __future__ import annotations

from datetime import timedelta

from .context import AreaSteps
from .faults import StoreFault
from .workload import Step

__all__ = ["TimeSteps"]

_MAX_JUMP_MINUTES = 3 * 7 * 24 * 60  # clock jumps go from a minute to three weeks


class TimeSteps(AreaSteps):
    """The clock and the deadlines."""

    def do_advance(self, step: Step) -> None:
        minutes = _MAX_JUMP_MINUTES ** ((step.args[0] % 1_000_000) / 1_000_000)
        self.clock.advance(timedelta(seconds=int(minutes * 60)))

    def do_run_due(self, step: Step) -> None:
        variant = step.args[0] % 4 if self.ctx.faults else 0
        if variant == 1:  # late: after a jump of hours to weeks
            self.clock.advance(self._offset(step.args[1], 60))
        self.model.run_due(self.clock.now())
        if step.fault:
            self.ctx.store.arm(step.fault)
        self.ctx.summary.run_due_calls += 1
        try:
            self.app.run_due()
        except StoreFault:
            # The failed deadline rolled back; those before it stayed applied. Retry.
            self.ctx.summary.checks += 1
            self.app.check_invariants()
            self.app.run_due()
        self.ctx.store.disarm()
        if variant == 2:  # twice: the second finds nothing left to do
            self.ctx.summary.run_due_calls += 1
            again = self.app.run_due()
            if again:
                raise self.ctx.fail("run_due", f"a second run_due at once applied {again} more")

