"""What a simulator run reports: its :class:`Summary`, or the :class:`SimulationFailure`
of the first check that failed."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import attrs

from .workload import Step

__all__ = ["SimulationFailure", "Summary"]


class SimulationFailure(Exception):
    """A check failed at step ``index`` (0-based) of the run."""

    def __init__(self, index: int, step: Step | None, check: str, message: str) -> None:
        super().__init__(f"step {index} ({step.kind if step else '-'}): {check}: {message}")
        self.index = index
        self.step = step
        self.check = check
        self.message = message


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
