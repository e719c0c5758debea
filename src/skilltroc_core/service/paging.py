"""Pages of a list read through an ordered index, and their opaque cursors.

A page is read with :func:`walk` (keyset pagination: each entry after a position, see
:meth:`~skilltroc_core.ports.UnitOfWork.page`) and given by :func:`paged` with the
cursor of the next one: text a host passes back as ``after``.

A cursor names its list and the filters it was read with, so that one list's cursor is
refused by another (:class:`~skilltroc_core.errors.InvalidInputError`) rather than read
as something it is not; the rest is the position reached (keyset pagination, see
:meth:`~skilltroc_core.ports.UnitOfWork.page`). It is URL-safe base64 of JSON: not a
secret, and it shows nothing the page it follows did not show.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

from ..errors import InvalidInputError
from ..listings import Page
from ..ports import EntityKind, Ordered

if TYPE_CHECKING:
    from .units import Tx

__all__ = ["MAX_CURSOR", "Found", "later", "make_cursor", "page_limit", "paged", "read_cursor",
           "walk"]

E = TypeVar("E")
T = TypeVar("T")
#: Items found for a page, each with its position in the index.
Found: TypeAlias = list[tuple[str, T]]
#: Entries read from an index at a time while filling a page.
_CHUNK: Final = 64

_VERSION: Final = 1
#: Longest cursor text accepted (a position holds a sort text and an id).
MAX_CURSOR: Final = 2048


def make_cursor(listing: str, filters: object, position: object) -> str:
    """The cursor of ``listing`` read with ``filters`` (JSON values), at ``position``."""
    raw = json.dumps([_VERSION, listing, filters, position], ensure_ascii=False,
                     separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).rstrip(b"=").decode("ascii")


def read_cursor(listing: str, filters: object, cursor: object, rule: str) -> Any:
    """The position in a cursor :func:`make_cursor` gave for ``listing`` and ``filters``;
    None for no cursor (the first page)."""
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR:
        raise _not_a_cursor(listing, rule)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, name, read_with, position = json.loads(raw.decode("utf-8"))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _not_a_cursor(listing, rule) from None
    # The filters as JSON reads them back (tuples become lists, keys sorted).
    expected = json.loads(json.dumps(filters, sort_keys=True))
    if version != _VERSION or name != listing or read_with != expected:
        raise InvalidInputError(
            f"this cursor belongs to another list than {listing} with these filters: "
            "read that list again from its first page", rule=rule)
    return position


def page_limit(limit: object, default: int, most: int, rule: str) -> int:
    """``limit`` checked (None: ``default``): a whole number of items from 1 to ``most``."""
    if limit is None:
        return default
    if type(limit) is not int or not 1 <= limit <= most:
        raise InvalidInputError(f"a page holds a whole number of items from 1 to {most}, "
                                f"not {limit!r}", rule=rule, limit=repr(limit), most=most)
    return limit


def _not_a_cursor(listing: str, rule: str) -> InvalidInputError:
    return InvalidInputError(f"this is not a cursor of {listing}: pass back the `next` of "
                             "the page before, unchanged", rule=rule)


def walk(tx: Tx, kind: EntityKind[E], index: str, key: str, after: str | None, want: int,
         shown: Callable[[E], T | None], *, stop: Callable[[Ordered[E]], bool] | None = None,
         ) -> Found[T]:
    """Up to ``want`` items, in index order after ``after``: each entry ``shown`` turns
    into an item (None: left out), until ``stop`` says an entry is beyond the list."""
    found: Found[T] = []
    while True:
        read = tx.uow.page(kind, index, key, after=after, limit=_CHUNK)
        for entry in read:
            if stop is not None and stop(entry):
                return found
            item = shown(entry.entity)
            if item is not None:
                found.append((entry.position, item))
                if len(found) == want:
                    return found
        if len(read) < _CHUNK:
            return found
        after = read[-1].position


def paged(listing: str, filters: object, found: Found[T], limit: int) -> Page[T]:
    """The page of the first ``limit`` items found, in order of position (``limit + 1``
    were asked for: one more says there is a next page)."""
    found = sorted(found, key=lambda pair: pair[0])
    items = tuple(item for _, item in found[:limit])
    if len(found) <= limit:
        return Page(items=items)
    return Page(items=items, next=make_cursor(listing, filters, found[limit - 1][0]))


def later(*bounds: str | None) -> str | None:
    """The furthest of several ``after`` bounds (None: no bound)."""
    given = [bound for bound in bounds if bound is not None]
    return max(given) if given else None
