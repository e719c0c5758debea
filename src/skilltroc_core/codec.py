"""JSON encoding of the library's frozen values, for stores that persist them as text.

``encode`` turns an attrs instance (nested values, enums, aware datetimes, tuples) into
plain JSON data; ``decode(cls, data)`` builds the instance back from its field types.
Datetimes are written in one fixed UTC format so that their text sorts chronologically.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar, Union

import attrs

from .errors import InvalidInputError

__all__ = ["decode", "dumps", "encode", "instant_text", "loads", "parse_instant"]

T = TypeVar("T")
_INSTANT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def instant_text(instant: datetime) -> str:
    """An aware instant as fixed-width UTC text (sorts like the instants it names)."""
    return instant.astimezone(UTC).strftime(_INSTANT)


def parse_instant(text: str) -> datetime:
    return datetime.strptime(text, _INSTANT).replace(tzinfo=UTC)


def encode(value: Any) -> Any:
    """Plain JSON data for ``value``."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if attrs.has(type(value)):
        return {f.name: encode(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    raise InvalidInputError(f"cannot store a {type(value).__name__}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def _decode_as(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return _decode_as(options[0], data)
        return data  # a union of JSON primitives (e.g. FactValue) is stored as itself
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode_as(args[0], item) for item in data)
        return tuple(_decode_as(a, item) for a, item in zip(args, data, strict=True))
    if origin is dict or origin is typing.get_origin(typing.Mapping[str, int]):
        _key_type, value_type = typing.get_args(tp)
        return {k: _decode_as(value_type, v) for k, v in data.items()}
    if tp is datetime:
        return parse_instant(data)
    if tp is timedelta:
        return timedelta(seconds=data)
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return tp(data)
        if attrs.has(tp):
            return decode(tp, data)
    return data


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """The ``cls`` instance that :func:`encode` turned into ``data``."""
    hints = _hints(cls)
    values = {
        f.name: _decode_as(hints[f.name], data[f.name])
        for f in attrs.fields(cls)  # type: ignore[arg-type]
        if f.name in data
    }
    return cls(**values)


def dumps(value: Any) -> str:
    return json.dumps(encode(value), separators=(",", ":"), sort_keys=True)


def loads(cls: type[T], text: str) -> T:
    return decode(cls, json.loads(text))
