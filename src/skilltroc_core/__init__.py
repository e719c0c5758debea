"""skilltroc_core: the rules of Skilltroc as a framework-free domain core."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .adapters.clocks import ManualClock, SystemClock
from .adapters.ids import RandomIds, SequentialIds
from .errors import SkilltrocError
from .ledger import Ledger, check_invariants
from .rules import DEFAULT_POLICY, Policy

__all__ = [
    "DEFAULT_POLICY",
    "Ledger",
    "ManualClock",
    "Policy",
    "RandomIds",
    "SequentialIds",
    "SkilltrocError",
    "SystemClock",
    "check_invariants",
]

try:  # one source: the version the package was installed with (pyproject.toml)
    __version__ = version("skilltroc-core")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
