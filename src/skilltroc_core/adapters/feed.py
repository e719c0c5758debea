"""The positions of the change feed, as every shipped store writes and reads them.

A position is two numbers, fixed-width and dot-separated, so that positions compare as
text in the order of the numbers: the *turn* the change was committed in (PostgreSQL:
a transaction id, see :mod:`.postgres`; 0 in a store with one writer at a time) and its
number within the feed (:meth:`~skilltroc_core.ports.Store.changes`).
"""

from __future__ import annotations

import re
from typing import Final

from ..refusals import refusal, shown

__all__ = ["feed_position", "read_position"]

#: Digits of each number of a position: every non-negative ``BIGINT``.
_WIDTH: Final = 19
_LARGEST: Final = 2**63 - 1
_POSITION = re.compile(rf"([0-9]{{{_WIDTH}}})\.([0-9]{{{_WIDTH}}})")


def feed_position(turn: int, seq: int) -> str:
    """The position of the change numbered ``seq`` in ``turn``."""
    return f"{turn:0{_WIDTH}d}.{seq:0{_WIDTH}d}"


def read_position(after: str | None) -> tuple[int, int]:
    """``(turn, seq)`` of a position :func:`feed_position` wrote, ``(0, 0)`` (before every
    change) for None; any other text is refused."""
    if after is None:
        return 0, 0
    found = _POSITION.fullmatch(after) if isinstance(after, str) else None
    if found is None or max(int(found[1]), int(found[2])) > _LARGEST:
        raise refusal("store_feed_position_invalid", got=shown(after))
    return int(found[1]), int(found[2])
