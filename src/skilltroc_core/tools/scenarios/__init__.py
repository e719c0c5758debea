"""Scenario files: the rules as executable examples (docs/scenario-format.md).

A scenario is a TOML file of steps (``do`` a command, ``expect`` values, ``advance`` or
``at`` the clock). :func:`load_scenario` checks the whole file before anything runs: an
unknown key, command or alias, or a value of the wrong TOML type, is a
:class:`ScenarioFormatError` naming the file, the step and the key. :class:`Runner`
then plays it against a fresh service on any store, narrating each step, checking the
ledger invariants after every one, and stopping at the first step that does not hold.
"""

from __future__ import annotations

from ...errors import ScenarioFormatError
from .commands import HANDLERS
from .derived import COMMAND_SUMMARIES, COMMANDS
from .format import (
    EXPECTATION_SUMMARIES,
    EXPECTATIONS,
    TEXT_KEYED,
    CommandSpec,
    Scenario,
    ScenarioResult,
    Step,
    StepFailedError,
)
from .loading import EXAMPLES, example_files, load_scenario
from .running import EXPECTERS, Runner

__all__ = [
    "COMMANDS",
    "COMMAND_SUMMARIES",
    "EXAMPLES",
    "EXPECTATIONS",
    "EXPECTATION_SUMMARIES",
    "EXPECTERS",
    "HANDLERS",
    "TEXT_KEYED",
    "CommandSpec",
    "Runner",
    "Scenario",
    "ScenarioFormatError",
    "ScenarioResult",
    "Step",
    "StepFailedError",
    "example_files",
    "load_scenario",
]
