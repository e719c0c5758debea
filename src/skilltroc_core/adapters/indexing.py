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
from typing import Any

from ..errors import AlreadyExistsError
from ..ports import EntityKind, Index, IndexKey

__all__ = ["check_unique", "posted_pairs", "reposting"]


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
            raise AlreadyExistsError(f"another {kind.name} already has {index.name} {key!r}")


def posted_pairs(kind: EntityKind[Any], rows: Iterable[tuple[str, str]]
                 ) -> tuple[IndexKey, ...]:
    """The pairs of stored ``(index name, key)`` rows, in index order; rows of an index
    the kind no longer has are left out."""
    positions = {index.name: position for position, index in enumerate(kind.indexes)}
    return tuple(sorted((positions[name], key) for name, key in rows if name in positions))
