"""Opaque cursors: where the next page of a list starts, as text a host passes back.

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
from typing import Any, Final

from ..errors import InvalidInputError

__all__ = ["MAX_CURSOR", "make_cursor", "page_limit", "read_cursor"]

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
