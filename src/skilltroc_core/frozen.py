"""Copies of frozen attrs values with some fields changed: :func:`attrs.evolve`, faster.

Commands copy entities on every write (a registration accepted, a session's seats, a
campaign's impressions). :func:`attrs.evolve` looks the class's fields up and goes through
``__init__`` keyword arguments on every call. For a slotted class whose ``__init__`` only
assigns (no validator, converter or post-init hook), :func:`evolve` fills the copy's slots
directly, with the slot setters looked up once per class; any other class goes through
:func:`attrs.evolve`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["evolve"]

T = TypeVar("T")
Setter = Callable[[Any, Any], None]
# class -> (name, slot setter) per field, or None when attrs.evolve must do the work
_PLANS: dict[type, tuple[tuple[str, Setter], ...] | None] = {}
_new = object.__new__


def _plan(cls: type) -> tuple[tuple[str, Setter], ...] | None:
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return None
    plan = []
    for field in attrs.fields(cls):
        slot = cls.__dict__.get(field.name)
        if (not field.init or field.validator is not None or field.converter is not None
                or field.on_setattr not in (None, attrs.setters.NO_OP)
                or slot is None or type(slot).__name__ != "member_descriptor"):
            return None
        plan.append((field.name, slot.__set__))
    return tuple(plan)


def evolve(entity: T, **changes: Any) -> T:
    """``entity`` with ``changes`` applied, like :func:`attrs.evolve`."""
    cls = type(entity)
    try:
        plan = _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _plan(cls)
    if plan is None:
        return attrs.evolve(entity, **changes)  # type: ignore[misc]
    copy: T = _new(cls)
    for name, set_slot in plan:
        set_slot(copy, changes.pop(name) if name in changes else getattr(entity, name))
    if changes:  # names the class does not have: the error attrs.evolve would raise
        return attrs.evolve(entity, **changes)  # type: ignore[misc]
    return copy
