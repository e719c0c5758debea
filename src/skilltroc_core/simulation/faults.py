"""Store failures on demand: a :class:`FaultyStore` wraps any store and, when armed,
makes the N-th store call inside the next unit of work raise :class:`StoreFault`.

Every call counts: entity reads and writes, index lookups, outbox appends, timers,
sequences, the change feed, each ledger-book read or write, and the commit itself. The
service must roll the whole unit of work back, so the simulator checks that nothing
changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar, cast

from ..errors import StoreError
from ..events import Notification
from ..ledger import LedgerBook
from ..ports import Change, EntityKind, Ordered, OutboxItem, Store, Timer, UnitOfWork

__all__ = ["FaultyStore", "StoreFault"]

E = TypeVar("E")


class StoreFault(StoreError):
    """A store failure injected by the simulator (as a disk or network error would be)."""

    code = "injected_store_fault"


class _Counter:
    """Counts store calls for the armed unit of work and fails the chosen one."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0
        self.fired = False

    def tick(self, what: str) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            self.fired = True
            raise StoreFault(f"injected failure at store call {self.calls} ({what})",
                             call=self.calls, operation=what)


class _FaultyBook:
    """A ledger book whose every method call counts (and may fail)."""

    def __init__(self, book: LedgerBook, counter: _Counter) -> None:
        self._book = book
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._book, name)
        if not callable(target):
            return target
        counter = self._counter

        def call(*args: Any, **kwargs: Any) -> Any:
            counter.tick(f"book.{name}")
            return target(*args, **kwargs)

        return call


class _FaultyUnitOfWork:
    """A unit of work that counts its calls and fails the armed one."""

    def __init__(self, inner: UnitOfWork, counter: _Counter) -> None:
        self._inner = inner
        self._counter = counter
        self._book = cast(LedgerBook, _FaultyBook(inner.book, counter))

    @property
    def book(self) -> LedgerBook:
        return self._book

    def get(self, kind: EntityKind[E], entity_id: str) -> E | None:
        self._counter.tick("get")
        return self._inner.get(kind, entity_id)

    def put(self, kind: EntityKind[E], entity_id: str, entity: E) -> None:
        self._counter.tick("put")
        self._inner.put(kind, entity_id, entity)

    def delete(self, kind: EntityKind[E], entity_id: str) -> None:
        self._counter.tick("delete")
        self._inner.delete(kind, entity_id)

    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        self._counter.tick("find")
        return self._inner.find(kind, index, key)

    def page(self, kind: EntityKind[E], index: str, key: str, *, after: str | None = None,
             limit: int) -> list[Ordered[E]]:
        self._counter.tick("page")
        return self._inner.page(kind, index, key, after=after, limit=limit)

    def scan(self, kind: EntityKind[E], *, after: str | None = None, limit: int
             ) -> list[tuple[str, E]]:
        self._counter.tick("scan")
        return self._inner.scan(kind, after=after, limit=limit)

    def repost(self, kind: EntityKind[E], entity_id: str) -> None:
        self._counter.tick("repost")
        self._inner.repost(kind, entity_id)

    def append_notification(self, notification: Notification) -> None:
        self._counter.tick("append_notification")
        self._inner.append_notification(notification)

    def forget_notifications(self, member_id: str, email: str | None) -> None:
        self._counter.tick("forget_notifications")
        self._inner.forget_notifications(member_id, email)

    def schedule(self, timer: Timer) -> None:
        self._counter.tick("schedule")
        self._inner.schedule(timer)

    def cancel_timer(self, kind: str, ref: str) -> None:
        self._counter.tick("cancel_timer")
        self._inner.cancel_timer(kind, ref)

    def next_due(self, until: datetime, *, wait: bool = True) -> Timer | None:
        self._counter.tick("next_due")
        return self._inner.next_due(until, wait=wait)

    def guard_due(self, until: datetime) -> None:
        self._inner.guard_due(until)

    def confirm_due(self) -> None:
        self._inner.confirm_due()

    def erasing(self) -> None:
        self._inner.erasing()

    def record_change(self, topic: str, entity_id: str, data: str | None) -> None:
        self._counter.tick("record_change")
        self._inner.record_change(topic, entity_id, data)

    def forget_changes(self, topic: str, entity_id: str) -> None:
        self._counter.tick("forget_changes")
        self._inner.forget_changes(topic, entity_id)

    def next_in_sequence(self, name: str) -> int:
        self._counter.tick("next_in_sequence")
        return self._inner.next_in_sequence(name)

    def queue_put(self, queue: str, member: str, sort_key: str, *,
                  later: bool = False) -> None:
        self._counter.tick("queue_put")
        self._inner.queue_put(queue, member, sort_key, later=later)

    def queue_remove(self, queue: str, member: str) -> None:
        self._counter.tick("queue_remove")
        self._inner.queue_remove(queue, member)

    def queue_first(self, queue: str) -> str | None:
        self._counter.tick("queue_first")
        return self._inner.queue_first(queue)

    def queue_key(self, queue: str, member: str) -> str | None:
        self._counter.tick("queue_key")
        return self._inner.queue_key(queue, member)

    def commit(self) -> None:
        self._counter.tick("commit")
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


class FaultyStore:
    """A :class:`~skilltroc_core.ports.Store` that fails on demand.

    :meth:`arm` chooses the call to fail in the next unit of work; the unit of work
    after it runs normally. ``injected`` counts the failures raised.
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.injected = 0
        self._armed: _Counter | None = None
        self._last: _Counter | None = None

    @property
    def keeps_data(self) -> bool:
        return self.inner.keeps_data

    def arm(self, fail_at: int) -> None:
        """Fail the ``fail_at``-th store call (from 1) of the next unit of work."""
        self._armed = _Counter(fail_at) if fail_at > 0 else None

    def disarm(self) -> bool:
        """Drop an unused arming; True if the last armed unit of work met its failure."""
        self._armed = None
        last, self._last = self._last, None
        return last is not None and last.fired

    def begin(self, *, read_only: bool = False) -> UnitOfWork:
        counter, self._armed = self._armed, None
        uow = self.inner.begin(read_only=read_only)
        if counter is None:
            return uow
        self._last = counter
        return _FaultyUnitOfWork(uow, _CountingHook(counter, self._count))

    def _count(self) -> None:
        self.injected += 1

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        return self.inner.drain_notifications(limit)

    def ack(self, seqs: Iterable[int]) -> None:
        self.inner.ack(seqs)

    def recent_instant(self) -> datetime | None:
        return self.inner.recent_instant()

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        return self.inner.changes(after, limit)

    def close(self) -> None:
        self.inner.close()


class _CountingHook(_Counter):
    """A counter that also tells the store when its failure fires."""

    def __init__(self, counter: _Counter, fired: Callable[[], None]) -> None:
        super().__init__(counter.fail_at)
        self._origin = counter
        self._fired = fired

    def tick(self, what: str) -> None:
        try:
            super().tick(what)
        except StoreFault:
            self._origin.fired = True
            self._fired()
            raise
