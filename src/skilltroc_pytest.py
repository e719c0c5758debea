"""The pytest plugin of skilltroc-core's testing kit: it registers the ``rule`` marker.

A module of its own, outside the ``skilltroc_core`` package, so that pytest loads it in
every run of the environment (the ``pytest11`` entry point) without importing the
library: a host's tests using the kit (``StoreContract``, the state machine) may name the
rules they check (``@pytest.mark.rule("BOOK-14")``) under ``--strict-markers``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RULE_MARKER", "pytest_configure"]

#: The marker's line as ``pytest --markers`` shows it.
RULE_MARKER = "rule(*ids): the Skilltroc rule IDs (e.g. BOOK-14) this test checks"


def pytest_configure(config: Any) -> None:
    """Register the ``rule`` marker."""
    config.addinivalue_line("markers", RULE_MARKER)
