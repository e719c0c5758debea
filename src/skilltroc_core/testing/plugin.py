"""The pytest plugin of the testing kit: it registers the ``rule`` marker.

Installed with the package (the ``pytest11`` entry point), so that a host's tests using
the kit (``StoreContract``, the state machine) may name the rules they check
(``@pytest.mark.rule("BOOK-14")``), as the kit's own tests do, even under
``--strict-markers``. It imports nothing else of the kit.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RULE_MARKER", "pytest_configure"]

#: The marker's line as ``pytest --markers`` shows it.
RULE_MARKER = "rule(*ids): the Skilltroc rule IDs (e.g. BOOK-14) this test checks"


def pytest_configure(config: Any) -> None:
    """Register the ``rule`` marker."""
    config.addinivalue_line("markers", RULE_MARKER)
