"""Shared test configuration: hypothesis profiles and the rule marker.

Profiles: ``dev`` (default, quick) and ``ci`` (thorough: at least 200 examples of 50
steps for the stateful machines). Choose with ``HYPOTHESIS_PROFILE=ci``; ``make check``
sets it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=30, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci", max_examples=200, stateful_step_count=50, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
