"""skilltroc_core: the rules of Skilltroc as a framework-free domain core."""

from __future__ import annotations

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

__version__ = "0.1.0"
