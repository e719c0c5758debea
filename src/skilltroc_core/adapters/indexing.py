"""Index bookkeeping every store shares: which postings a write of an entity adds and
removes, and the refusal when a unique key is another entity's.

An entity is posted under the ``(index position, key)`` pairs its kind gives it
(:meth:`~skilltroc_core.ports.EntityKind.keys_of`). A store remembers the pairs each
stored entity is posted under; a write compares them with those of the new entity (a
delete with none) and, once no unique key it adds is taken, moves the entity from the
pairs :func:`reposting` says it leaves to those it says it joins.

The memory store keeps each key of an ordered index in a :class:`SortedTexts`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from ..ports import EntityKind, Index, IndexKey
from ..refusals import refusal

__all__ = ["SortedTexts", "check_unique", "posted_pairs", "reposting"]


def reposting(old: tuple[IndexKey, ...], new: tuple[IndexKey, ...]
              ) -> tuple[tuple[IndexKey, ...], tuple[IndexKey, ...]]:
    """``(added, removed)``: the pairs a write of an entity posted under ``old`` as one
    posted under ``new`` adds (in ``new``'s order) and removes (in ``old``'s); ``old`` is
    ``()`` for a new entity, ``new`` for a deleted one."""
    if not old or not new:
        return new, old
    kept_old, kept_new = set(old), set(new)
    return (tuple(pair for pair in new if pair not in kept_old),
            tuple(pair for pair in old if pair not in kept_new))


def check_unique(kind: EntityKind[Any], added: Iterable[IndexKey],
                 taken: Callable[[Index[Any], str], bool]) -> None:
    """Refuse the write (:class:`AlreadyExistsError`) if a key it adds to a unique index
    is another entity's: ``taken(index, key)`` says whether it is."""
    for position, key in added:
        index = kind.indexes[position]
        if index.unique and taken(index, key):
            # the key itself stays out of the error: it may be an email fingerprint
            raise refusal("store_unique_key_taken", kind=kind.name, index=index.name)


def posted_pairs(kind: EntityKind[Any], rows: Iterable[tuple[str, str]]
                 ) -> tuple[IndexKey, ...]:
    """The pairs of stored ``(index name, key)`` rows, in index order; rows of an index
    the kind no longer has are left out."""
    positions = {index.name: position for position, index in enumerate(kind.indexes)}
    return tuple(sorted((positions[name], key) for name, key in rows if name in positions))


class SortedTexts:
    """Distinct texts kept sorted, read in order from after any text.

    The texts sit in consecutive sorted buckets of at most ``2 * LOAD``, with the largest
    text of each bucket beside it: adding or removing a text costs a binary search and a
    move within one bucket, O(log n + LOAD), and reading ``k`` texts on from any text
    costs O(log n + k), however many there are.
    """

    __slots__ = ("_buckets", "_largest")

    LOAD: Final = 256

    def __init__(self) -> None:
        self._buckets: list[list[str]] = []
        self._largest: list[str] = []  # the last text of each bucket

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets)

    def __bool__(self) -> bool:
        return bool(self._buckets)

    def __iter__(self) -> Iterator[str]:
        for bucket in self._buckets:
            yield from bucket

    def add(self, text: str) -> None:
        """Add ``text`` (nothing if it is there already)."""
        largest = self._largest
        if not largest:
            self._buckets.append([text])
            largest.append(text)
            return
        at = bisect_left(largest, text)
        if at == len(largest):  # beyond every text: the last bucket grows
            at -= 1
            self._buckets[at].append(text)
            largest[at] = text
        else:
            bucket = self._buckets[at]
            where = bisect_left(bucket, text)
            if where < len(bucket) and bucket[where] == text:
                return
            bucket.insert(where, text)
        bucket = self._buckets[at]
        if len(bucket) > 2 * self.LOAD:  # split in two halves
            upper = bucket[self.LOAD:]
            del bucket[self.LOAD:]
            self._buckets.insert(at + 1, upper)
            largest[at] = bucket[-1]
            largest.insert(at + 1, upper[-1])

    def discard(self, text: str) -> None:
        """Remove ``text`` (nothing if it is not there)."""
        largest = self._largest
        at = bisect_left(largest, text)
        if at == len(largest):
            return
        bucket = self._buckets[at]
        where = bisect_left(bucket, text)
        if where == len(bucket) or bucket[where] != text:
            return
        del bucket[where]
        if not bucket:
            del self._buckets[at]
            del largest[at]
        else:
            largest[at] = bucket[-1]

    def after(self, text: str | None, limit: int) -> list[str]:
        """Up to ``limit`` texts, in order, each greater than ``text`` (None: from the
        first)."""
        if limit <= 0 or not self._buckets:
            return []
        if text is None:
            at, where = 0, 0
        else:
            at = bisect_right(self._largest, text)
            if at == len(self._largest):
                return []
            where = bisect_right(self._buckets[at], text)
        found: list[str] = []
        buckets = self._buckets
        while at < len(buckets) and len(found) < limit:
            found += buckets[at][where:where + limit - len(found)]
            at, where = at + 1, 0
        return found
