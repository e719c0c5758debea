"""Text at the service's door: valid Unicode without NUL characters, on every store.

PostgreSQL cannot hold a NUL character in text and no SQL driver can bind a lone
surrogate, while a dict happily keys on either: without this guard the same call would
be "not found" on one store and a store failure on another. Such text is never a real
name, address, reference or id either (it cannot even be written to a mail), so every
public command and query refuses it up front, naming the argument, and changes nothing.

The same goes for a ``datetime`` whose ``tzinfo`` gives no valid offset (30 hours, a
string, an error of its own) where the command does not take an instant (a member id,
a payment reference): even its text cannot be made. Where the command takes an instant,
the command refuses it itself, with its rule.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..instants import require_aware
from ..refusals import refusal

_LOOKED_INTO = (str, list, tuple, set, frozenset, dict, datetime)
#: How deep nested containers are looked into; deeper (or cyclic) values are left to the
#: command's own checks, which refuse them as the wrong shape anyway.
MAX_DEPTH = 8


def _bad_text(value: object, depth: int = 0) -> bool:
    """Whether ``value`` is, or plainly contains, text that is not storable everywhere.

    Text, lists, tuples, sets and dicts (subclasses included) are looked into, down to
    :data:`MAX_DEPTH` levels; other iterables are not (reading a generator here would
    consume it before the command sees it).
    """
    if isinstance(value, str):
        if "\x00" in value:
            return True
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return True
        return False
    if isinstance(value, datetime):
        return _no_offset(value)
    if depth >= MAX_DEPTH:
        return False
    if isinstance(value, list | tuple | set | frozenset):
        return any(_bad_text(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_bad_text(k, depth + 1) or _bad_text(v, depth + 1)
                   for k, v in value.items())
    return False


def _no_offset(value: datetime) -> bool:
    """Whether ``value``'s ``tzinfo`` gives no valid offset (naive is not this)."""
    if value.tzinfo is None or value.tzinfo is UTC:
        return False
    try:
        value.utcoffset()
    except Exception:  # a host's tzinfo: anything it raises
        return True
    return False


def _refuse(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> None:
    """Raise the refusal naming the first bad argument; return when the only bad ones
    are instants the operation takes (it refuses them itself, with its rule)."""
    instants = _instant_parameters(function)
    try:
        bound = inspect.signature(function).bind(None, *args, **kwargs).arguments
    except TypeError:  # the call is wrong anyway: name the position
        bound = {f"argument {i + 1}": a for i, a in enumerate(args)} | kwargs
    for name, value in bound.items():
        if name == "self" or (name in instants and isinstance(value, datetime)):
            continue
        if isinstance(value, datetime) and _no_offset(value):
            require_aware(value, name)  # raises: no valid offset, naming the argument
        if _bad_text(value):
            raise refusal("text_unstorable", argument=name)


@functools.cache
def _instant_parameters(function: Callable[..., Any]) -> frozenset[str]:
    """The parameters of ``function`` that take an instant (annotated ``datetime``)."""
    return frozenset(name for name, parameter in inspect.signature(function).parameters.items()
                     if "datetime" in str(parameter.annotation))


def check_text(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
               ) -> None:
    """Refuse the call ``function(self, *args, **kwargs)`` if an argument holds text no
    store can hold the same way (see the module); return if none does."""
    # The common case is this one loop, inline (it runs on every serve): ASCII text
    # without NUL and values of other types need nothing more; the rest is read.
    for value in (*args, *kwargs.values()) if kwargs else args:
        kind = type(value)
        if kind is str:
            if value.isascii() and "\x00" not in value:
                continue
        elif not isinstance(value, _LOOKED_INTO):
            continue
        if _bad_text(value):
            _refuse(function, args, kwargs)
            return
