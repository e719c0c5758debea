"""Copies of frozen attrs values with some fields changed: :func:`attrs.evolve`, faster.

Commands copy entities on every write (a registration accepted, a session's seats, a
campaign's impressions). :func:`attrs.evolve` looks the class's fields up and goes through
``__init__`` keyword arguments on every call. For a slotted class whose ``__init__`` only
assigns (no validator, converter or post-init hook), :func:`evolve` fills the copy's slots
directly, through a copier compiled once per class; any other class goes through
:func:`attrs.evolve`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["evolve"]

T = TypeVar("T")
Copier = Callable[[Any, dict[str, Any]], Any]
# class -> its compiled copier, or None when attrs.evolve must do the work
_COPIERS: dict[type, Copier | None] = {}


def _copier(cls: type) -> Copier | None:
    """A function copying a ``cls`` value slot by slot, then applying the changes.

    It is compiled once per class (straight-line code: one slot read and one slot
    write per field, no loop, no name lookups), because commands copy entities on
    every write. None for a class that needs ``__init__`` (validators, converters,
    hooks, non-slot fields).
    """
    if any(hasattr(cls, hook) for hook in (
            "__attrs_post_init__", "__attrs_pre_init__", "__attrs_init__",
            "_attrs_cached_hash")):  # a hook, a hand-written __init__, a cached hash
        return None
    setters: dict[str, Callable[[Any, Any], None]] = {}  # by init keyword (the alias)
    names: list[str] = []
    for field in attrs.fields(cls):
        slot = cls.__dict__.get(field.name)
        if (not field.init or field.validator is not None or field.converter is not None
                or field.on_setattr not in (None, attrs.setters.NO_OP)
                or slot is None or type(slot).__name__ != "member_descriptor"
                or not field.name.isidentifier()):
            return None
        setters[field.alias or field.name] = slot.__set__
        names.append(field.name)
    lines = ["def copy(entity, changes):", "    new = _new(_cls)"]
    lines += [f"    _set_{i}(new, entity.{name})" for i, name in enumerate(names)]
    lines += ["    for name, value in changes.items():",
              "        _setters[name](new, value)",  # KeyError: not a field of the class
              "    return new"]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_setters": setters}
    namespace.update({f"_set_{i}": setter for i, setter in enumerate(setters.values())})
    exec("\n".join(lines), namespace)  # the code is built from attrs field names only
    copier: Copier = namespace["copy"]
    return copier


def evolve(entity: T, **changes: Any) -> T:
    """``entity`` with ``changes`` applied, like :func:`attrs.evolve`."""
    cls = type(entity)
    try:
        copier = _COPIERS[cls]
    except KeyError:
        copier = _COPIERS[cls] = _copier(cls)
    if copier is None:
        return attrs.evolve(entity, **changes)  # type: ignore[misc]
    try:
        copy: T = copier(entity, changes)
    except KeyError:  # a name the class does not have: the error attrs.evolve raises
        return attrs.evolve(entity, **changes)  # type: ignore[misc]
    return copy
