"""Shared test configuration: hypothesis profiles, the rule marker, and what a failed
``assert state_of(store) == before`` says (the changes, one a line).

Profiles: ``dev`` (default, quick), ``ci`` (thorough and repeatable: at least 200
examples of 50 steps for the stateful machines, the same examples every run),
``mutation`` (as quick as ``dev``, the same examples every run, failures not shrunk:
``make mutate``) and ``explore`` (1,000 examples of 80 steps, new random ones each run:
for hunting bugs, not for CI). Choose with ``HYPOTHESIS_PROFILE=ci``; ``make check`` sets it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

from skilltroc_core.testing.snapshot import StoreState

settings.register_profile(
    "dev", max_examples=30, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci", max_examples=200, stateful_step_count=50, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(  # `make mutate`: quick, and the same examples every run; a
    # failure is not shrunk (a killed mutant needs no shortest example, and shrinking one
    # took up to a minute of each mutant a property test kills)
    "mutation", max_examples=30, stateful_step_count=30, deadline=None, derandomize=True,
    database=None, suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
settings.register_profile(
    "explore", max_examples=1_000, stateful_step_count=80, deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """Two store states compared: what changed from the right one (the state before, as
    the tests write it) to the left one, instead of two long reprs."""
    if op in ("==", "!=") and isinstance(left, StoreState) and isinstance(right, StoreState):
        return ["the store states differ:", *right.changes(left)]
    return None
