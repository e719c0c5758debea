"""The ports the domain core is plugged into: time and identifiers.

A host supplies implementations; the library ships a system and a manual clock
(:mod:`skilltroc_core.clocks`) and sequential and random id generators
(:mod:`skilltroc_core.ids`). The store ports live beside the store they describe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "IdGenerator"]


@runtime_checkable
class Clock(Protocol):
    """Where "now" comes from. The domain never reads the time any other way."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


@runtime_checkable
class IdGenerator(Protocol):
    """Makes new, unique, opaque identifiers."""

    def new_id(self, prefix: str) -> str:
        """A fresh id starting with ``prefix`` (e.g. ``"mem"`` for members)."""
        ...
