"""Index bookkeeping every store shares: which postings a write of an entity adds and
removes, and the refusal when a unique key is another entity's.

An entity is posted under the ``(index position, key)`` pairs its kind gives it
(:meth:`~skilltroc_core.ports.EntityKind.keys_of`). A store remembers the pairs each
stored entity is posted under; a write compares them with those of the new entity (a
delete with none) and, once no unique key it adds is taken, moves the entity from the
pairs :func:`reposting` says it leaves to those it says it joins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ..errors import AlreadyExistsError
from ..ports import EntityKind, Index, IndexKey

__all__ = ["Reposting", "check_unique", "posted_pairs", "reposting"]


class Reposting(NamedTuple):
    """What one write changes in its kind's indexes."""

    #: the pairs the entity is posted under from now on and was not, in the new order
    added: tuple[IndexKey, ...]
    #: the pairs it was posted under and no longer is, in the old order
    removed: tuple[IndexKey, ...]


def reposting(old: tuple[IndexKey, ...], new: tuple[IndexKey, ...]) -> Reposting:
    """The postings a write of an entity posted under ``old`` as one posted under ``new``
    adds and removes (``()`` for a new entity, or for a deleted one)."""
    if not old or not new:
        return Reposting(added=new, removed=old)
    kept_old, kept_new = set(old), set(new)
    return Reposting(added=tuple(pair for pair in new if pair not in kept_old),
                     removed=tuple(pair for pair in old if pair not in kept_new))


def check_unique(kind: EntityKind[Any], added: Iterable[IndexKey],
                 taken: Callable[[Index[Any], str], bool]) -> None:
    """Refuse the write (:class:`AlreadyExistsError`) if a key it adds to a unique index
    is another entity's: ``taken(index, key)`` says whether it is."""
    for position, key in added:
        index = kind.indexes[position]
        if index.unique and taken(index, key):
            raise AlreadyExistsError(f"another {kind.name} already has {index.name} {key!r}")


def posted_pairs(kind: EntityKind[Any], rows: Iterable[tuple[str, str]]
                 ) -> tuple[IndexKey, ...]:
    """The pairs of stored ``(index name, key)`` rows, in index order; rows of an index
    the kind no longer has are left out."""
    positions = {index.name: position for position, index in enumerate(kind.indexes)}
    return tuple(sorted((positions[name], key) for name, key in rows if name in positions))
