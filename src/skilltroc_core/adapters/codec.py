"""JSON encoding of the library's frozen values, for stores that persist them as text.

``encode`` turns an attrs instance (nested values, enums, aware datetimes, tuples; a
named tuple as an object with its field names) into plain JSON data;
``decode(cls, data)`` builds the instance back from its field types.
Datetimes are written in one fixed UTC format so that their text sorts chronologically.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar, Union

import attrs

from ..instants import instant_text, parse_instant
from ..refusals import refusal

__all__ = ["decode", "dumps", "encode", "instant_text", "loads", "parse_instant"]

T = TypeVar("T")
def encode(value: Any) -> Any:
    """Plain JSON data for ``value``."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        encoder = _ENCODERS[kind] = _encoder_for(kind)
    return encoder(value)


Encoder = Callable[[Any], Any]
_ENCODERS: dict[type, Encoder] = {}


def _encoder_for(kind: type) -> Encoder:
    """How to encode values of exactly ``kind`` (found once per type)."""
    if issubclass(kind, Enum):
        return _enum_value
    if issubclass(kind, bool | int | str):
        return _identity
    if issubclass(kind, datetime):
        return instant_text
    if issubclass(kind, timedelta):
        return timedelta.total_seconds
    # Objects come out with their keys already sorted, so :func:`dumps` need not sort.
    if attrs.has(kind):
        names = tuple(sorted(f.name for f in attrs.fields(kind)))
        return lambda value: {name: encode(getattr(value, name)) for name in names}
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):  # a named tuple: its names
        fields = tuple(sorted(kind._fields))
        return lambda value: {name: encode(getattr(value, name)) for name in fields}
    if issubclass(kind, tuple | list):
        return lambda value: [encode(item) for item in value]
    if issubclass(kind, dict):
        return lambda value: dict(sorted((str(k), encode(v)) for k, v in value.items()))
    return _refuse


def _enum_value(value: Enum) -> Any:
    return value.value


def _refuse(value: Any) -> Any:
    raise refusal("store_value_not_storable", got=type(value).__name__)


Decoder = Callable[[Any], Any]
_DECODERS: dict[Any, Decoder] = {}


def _identity(data: Any) -> Any:
    return data


def _optional(inner: Decoder) -> Decoder:
    return lambda data: None if data is None else inner(data)


def _compile(tp: Any) -> Decoder:
    """A function turning JSON data back into a value of type ``tp`` (built once per type)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return _optional(_decoder(options[0]))
        return _identity  # a union of JSON primitives (e.g. FactValue) is stored as itself
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            if item is _identity:
                return tuple
            return lambda data: tuple(item(x) for x in data)
        parts = [_decoder(a) for a in args]
        return lambda data: tuple(f(x) for f, x in zip(parts, data, strict=True))
    if origin in (dict, typing.get_origin(typing.Mapping[str, int])):
        value = _decoder(typing.get_args(tp)[1])
        return lambda data: {k: value(v) for k, v in data.items()}
    if tp is datetime:
        return parse_instant
    if tp is timedelta:
        return lambda data: timedelta(seconds=data)
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return tp
        if attrs.has(tp):
            return _class_decoder(tp)
        if issubclass(tp, tuple) and hasattr(tp, "_fields"):
            return _named_tuple_decoder(tp)
        if tp in (str, int, bool):
            return _exactly(tp)
    return _identity


def _exactly(kind: type) -> Decoder:
    """Data that must already be a ``kind`` (JSON keeps str, int and bool apart): a damaged
    row holding something else fails here, not later in the code that uses the value."""
    def check(data: Any) -> Any:
        if type(data) is not kind:
            raise TypeError(f"a {kind.__name__} was expected, not a {type(data).__name__}")
        return data

    return check


def _decoder(tp: Any) -> Decoder:
    found = _DECODERS.get(tp)
    if found is None:
        found = _DECODERS[tp] = _compile(tp)
    return found


def _class_decoder(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _decoder(hints[f.name])) for f in attrs.fields(cls)]  # type: ignore[arg-type]

    def build(data: dict[str, Any]) -> T:
        return cls(**{name: f(data[name]) for name, f in fields if name in data})

    return build


def _named_tuple_decoder(cls: type[T]) -> Decoder:
    """A named tuple from its object (field names), or from the list earlier versions
    wrote (its fields in order)."""
    hints = typing.get_type_hints(cls)
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    parts = [(name, _decoder(hints[name])) for name in names]

    def build(data: Any) -> T:
        if isinstance(data, dict):
            return cls(**{name: f(data[name]) for name, f in parts})
        return cls(*(f(x) for (_, f), x in zip(parts, data, strict=True)))

    return build


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """The ``cls`` instance that :func:`encode` turned into ``data``."""
    result: T = _decoder(cls)(data)
    return result


_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``, keys sorted (the same value, the same text)."""
    return _DUMPS(encode(value))


def loads(cls: type[T], text: str) -> T:
    return decode(cls, json.loads(text))
