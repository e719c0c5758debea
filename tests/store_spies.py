"""A memory store that records how the service uses the store port: the units of work it
opens (read-only or not), every call made on them, the reads of the recent instant; and
that can make units meet another one, a first read of the recent instant fail, or run a
``before`` hook ahead of a unit's calls (another unit acting meanwhile)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.errors import ConcurrencyError, StoreError

#: ``before(name, unit, args)``: run ahead of each call ``name`` on a unit (the memory
#: store's own unit, so that what it does is not recorded).
Hook = Callable[[str, Any, tuple[Any, ...]], None]


class _Spied:
    """Records every method call on ``inner`` in ``store.calls`` as ``prefix + name``, and
    runs ``store.before`` ahead of it with ``unit`` (what the hook may act on)."""

    def __init__(self, inner: Any, store: SpyStore, unit: Any, prefix: str = "") -> None:
        self._inner, self._store, self._unit, self._prefix = inner, store, unit, prefix

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target
        store, unit, called = self._store, self._unit, self._prefix + name

        def call(*args: Any, **kwargs: Any) -> Any:
            store.calls.append((called, args, kwargs))
            if store.before is not None:
                store.before(called, unit, args)
            return target(*args, **kwargs)

        return call


class SpyUnit(_Spied):
    """A memory unit of work whose every method call is recorded in its store's ``calls``,
    and those of its ledger book too (as ``book.<method>``)."""

    def __init__(self, inner: Any, store: SpyStore) -> None:
        super().__init__(inner, store, inner)
        self.book = _Spied(inner.book, store, inner, "book.")


class SpyStore(MemoryStore):
    def __init__(self, *, first_read_fails: bool = False) -> None:
        super().__init__()
        #: ``read_only`` of each unit of work opened, in order
        self.begins: list[bool] = []
        #: ``(method, args, kwargs)`` of each call made on a unit, in order
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        #: how many of the next units meet another one when they start
        self.conflicts = 0
        self.recent_reads = 0
        self.first_read_fails = first_read_fails
        self.before: Hook | None = None

    def begin(self, *, read_only: bool = False) -> Any:
        if self.conflicts:
            self.conflicts -= 1
            raise ConcurrencyError("another unit won", nothing_written=True)
        self.begins.append(read_only)
        return SpyUnit(super().begin(read_only=read_only), self)

    def recent_instant(self) -> datetime | None:
        self.recent_reads += 1
        if self.first_read_fails and self.recent_reads == 1:
            raise StoreError("the database is not reachable yet")
        return super().recent_instant()

    def called(self, method: str) -> list[dict[str, Any]]:
        """The keyword arguments of each call of ``method`` so far."""
        return [kwargs for name, _, kwargs in self.calls if name == method]

    def forget(self) -> None:
        """Start recording afresh."""
        self.begins.clear()
        self.calls.clear()
