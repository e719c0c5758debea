"""Pages of a list read through an ordered index, and their opaque cursors.

A page is read with :func:`walk` (keyset pagination: each entry after a position, see
:meth:`~skilltroc_core.ports.UnitOfWork.page`) and given by :func:`paged` with the
cursor of the next one: text a host passes back as ``after``.

A cursor holds a digest of its list and the filters it was read with, so that one
list's cursor is refused by another (:class:`~skilltroc_core.errors.InvalidInputError`)
rather than read as something it is not, and the position reached. It is URL-safe
base64 of JSON: short, not a secret, and it shows nothing the page it follows did not
show. A cursor made by hand is refused unless it holds a position a store could keep.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar

from ..errors import SkilltrocError
from ..listings import Page
from ..ports import EntityKind, Ordered
from ..refusals import refusal, shown

if TYPE_CHECKING:
    from .units import Tx

__all__ = ["MAX_CURSOR", "Found", "later", "listed_under_all", "make_cursor", "page_limit",
           "paged", "read_cursor", "read_line_cursor", "walk"]

E = TypeVar("E")
T = TypeVar("T")
#: Items found for a page, each with its position in the index.
Found: TypeAlias = list[tuple[str, T]]
#: Entries read from an index at a time while filling a page.
_CHUNK: Final = 64

_VERSION: Final = 1
#: Longest cursor text accepted (a position holds a sort text and an id).
MAX_CURSOR: Final = 2048


def _digest(listing: str, filters: object) -> str:
    """What names a list read with its filters, in a few characters (a cursor stays short
    however long the filters are)."""
    canonical = json.dumps([listing, filters], ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def make_cursor(listing: str, filters: object, position: str | int) -> str:
    """The cursor of ``listing`` read with ``filters`` (JSON values), at ``position`` (a
    position in an ordered index, or a line number)."""
    raw = json.dumps([_VERSION, _digest(listing, filters), position], ensure_ascii=False,
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).rstrip(b"=").decode("ascii")


def read_cursor(listing: str, filters: object, cursor: object, rule: str) -> str | None:
    """The position in a cursor :func:`make_cursor` gave for ``listing`` and ``filters``
    at a position in an ordered index; None for no cursor (the first page)."""
    position = _position(listing, filters, cursor, rule)
    if position is None or (isinstance(position, str) and len(position) <= MAX_CURSOR
                            and _encodable(position)):
        return position
    raise _not_a_cursor(listing, rule)


def read_line_cursor(listing: str, filters: object, cursor: object, rule: str) -> int:
    """The line number in a cursor :func:`make_cursor` gave for ``listing`` and
    ``filters`` (0 for no cursor: the first page)."""
    position = _position(listing, filters, cursor, rule)
    if position is None:
        return 0
    if type(position) is not int or position < 0:
        raise _not_a_cursor(listing, rule)
    return position


def _position(listing: str, filters: object, cursor: object, rule: str) -> object:
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR:
        raise _not_a_cursor(listing, rule)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, digest, position = json.loads(raw.decode("utf-8"))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _not_a_cursor(listing, rule) from None
    if version != _VERSION or digest != _digest(listing, filters):
        raise refusal("cursor_of_other_list", rule=rule, listing=listing)
    return position


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no store keeps one
        return False
    return "\x00" not in text or text.count("\x00") == 1


def page_limit(limit: object, default: int, most: int, rule: str) -> int:
    """``limit`` checked (None: ``default``): a whole number of items from 1 to ``most``."""
    if limit is None:
        return default
    if type(limit) is not int or not 1 <= limit <= most:
        raise refusal("page_limit_invalid", rule=rule, got=shown(limit), most=most)
    return limit


def _not_a_cursor(listing: str, rule: str) -> SkilltrocError:
    return refusal("cursor_invalid", rule=rule, listing=listing)


def walk(tx: Tx, kind: EntityKind[E], index: str, key: str, after: str | None, want: int,
         shown: Callable[[E], T | None], *, stop: Callable[[Ordered[E]], bool] | None = None,
         ) -> Found[T]:
    """Up to ``want`` items, in index order after ``after``: each entry ``shown`` turns
    into an item (None: left out), until ``stop`` says an entry is beyond the list."""
    found: Found[T] = []
    chunk = 0
    while True:  # as many as still wanted (and one), then twice as many, up to _CHUNK
        chunk = min(_CHUNK, max(2 * chunk, want - len(found) + 1))
        read = tx.uow.page(kind, index, key, after=after, limit=chunk)
        for entry in read:
            if stop is not None and stop(entry):
                return found
            item = shown(entry.entity)
            if item is not None:
                found.append((entry.position, item))
                if len(found) == want:
                    return found
        if len(read) < chunk:
            return found
        after = read[-1].position


def listed_under_all(tx: Tx, kind: EntityKind[E], index: str, keys: Sequence[str],
                     after: str | None, want: int, shown: Callable[[E], T | None]
                     ) -> Found[T]:
    """Up to ``want`` items, in index order after ``after``, of the entities listed under
    every one of ``keys`` (a search's words).

    An entity has one position in an ordered index whatever the key, so the lists meet at
    equal positions: each list is read from the furthest position any list reached (a
    leapfrog join), and an entry in the first list that another list skips is never read.
    The cost grows with the matches and the jumps, not with the lengths of the lists.
    """
    if len(keys) == 1:
        return walk(tx, kind, index, keys[0], after, want, shown)
    found: Found[T] = []
    bound = after
    while len(found) < want:
        first = tx.uow.page(kind, index, keys[0], after=bound, limit=1)
        if not first:
            return found
        candidate = first[0]
        bound = candidate.position
        for key in keys[1:]:
            other = tx.uow.page(kind, index, key, after=_just_before(candidate.position),
                                limit=1)
            if not other:
                return found
            if other[0].position != candidate.position:  # leap to where that list is
                bound = _just_before(other[0].position)
                break
        else:
            item = shown(candidate.entity)
            if item is not None:
                found.append((candidate.position, item))
    return found


def _just_before(position: str) -> str:
    """A text every position before ``position`` sorts below, and ``position`` above
    (positions end with an id, of characters below the largest one)."""
    last = ord(position[-1]) - 1
    if 0xD800 <= last <= 0xDFFF:  # no surrogate: the character just below them
        last = 0xD7FF
    return f"{position[:-1]}{chr(last)}\U0010ffff"


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
