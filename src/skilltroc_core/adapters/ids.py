"""Id generators: deterministic for tests and replays, random for production."""

from __future__ import annotations

import uuid
from collections import defaultdict

__all__ = ["RandomIds", "SequentialIds"]


class SequentialIds:
    """``prefix_000001``, ``prefix_000002``, ...: one counter per prefix, reproducible."""

    def __init__(self) -> None:
        self._counters: defaultdict[str, int] = defaultdict(int)

    def new_id(self, prefix: str) -> str:
        self._counters[prefix] += 1
        return f"{prefix}_{self._counters[prefix]:06d}"


class RandomIds:
    """``prefix_`` followed by 32 random hex digits (UUID4)."""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex}"
