"""The in-memory store: the reference behaviour every other store must match.

State lives in dicts. A unit of work records an undo action for each write, so a
rollback puts back exactly what was there; one unit of work runs at a time (a lock
serialises threads). Timers sit in a heap with lazy deletion, so finding the next due
one costs O(log n).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from ..errors import AlreadyExistsError, StateConflictError
from ..events import Notification
from ..ledger import Balance, Hold, IdempotencyRecord, MemoryBook, StatementLine, Transfer
from ..ports import EntityKind, OutboxItem, Timer

__all__ = ["MemoryStore"]

E = TypeVar("E")
_MISSING: Any = object()
Undo = Callable[[], object]


class _JournaledBook(MemoryBook):
    """A :class:`MemoryBook` that logs how to undo each write into the open unit of work."""

    def __init__(self, journal: Callable[[Undo], None]) -> None:
        super().__init__()
        self._log = journal

    def _restore(self, table: dict[str, Any], key: str) -> Undo:
        old = table.get(key, _MISSING)
        if old is _MISSING:
            return lambda: table.pop(key, None)
        return lambda: table.__setitem__(key, old)

    def set_balance(self, account: str, balance: Balance) -> None:
        self._log(self._restore(self.balances, account))
        super().set_balance(account, balance)

    def record(
        self,
        transfer: Transfer,
        balances: Sequence[tuple[str, Balance]],
        lines: Sequence[StatementLine],
        hold: Hold | None,
    ) -> None:
        log = self._log
        for account, _ in balances:
            log(self._restore(self.balances, account))
        if hold is not None:
            log(self._restore(self.holds, hold.id))
        for line in lines:
            log(self._statement_undo(line.member))
        log(self.transfers.pop)
        super().record(transfer, balances, lines, hold)

    def _statement_undo(self, member: str) -> Undo:
        lines = self.statement.get(member)
        if lines is None:
            return lambda: self.statement.pop(member, None)
        return lines.pop

    def set_idempotency(self, record: IdempotencyRecord) -> None:
        self._log(self._restore(self.keys, record.key))
        super().set_idempotency(record)

    def add_to_counter(self, name: str, delta: int) -> None:
        self._log(self._restore(self.totals, name))
        super().add_to_counter(name, delta)


class MemoryStore:
    """A :class:`~skilltroc_core.ports.Store` in process memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._journal: list[Undo] | None = None
        self.book = _JournaledBook(self._record_undo)
        self._entities: dict[str, dict[str, Any]] = {}
        # (kind, index) -> key -> {entity id: posting number}, in posting order
        self._indexes: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        self._postings = itertools.count(1)
        self._outbox: dict[int, Notification] = {}
        self._outbox_seq = 0
        self._timers: dict[str, tuple[Timer, int]] = {}
        self._heap: list[tuple[datetime, int, str]] = []
        self._timer_versions = itertools.count(1)
        self._sequences: dict[str, int] = {}

    # ------------------------------------------------------------------ store
    def begin(self) -> _MemoryUnitOfWork:
        if not self._lock.acquire(timeout=30):
            raise StateConflictError("the memory store is busy with another unit of work")
        self._journal = []
        return _MemoryUnitOfWork(self)

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        with self._lock:
            return [
                OutboxItem(seq=seq, notification=item)
                for seq, item in itertools.islice(self._outbox.items(), limit)
            ]

    def ack(self, seqs: Iterable[int]) -> None:
        with self._lock:
            for seq in seqs:
                self._outbox.pop(seq, None)

    def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ journal
    def _record_undo(self, undo: Undo) -> None:
        if self._journal is None:
            raise StateConflictError("store writes happen inside a unit of work")
        self._journal.append(undo)

    def _end(self, commit: bool) -> None:
        journal, self._journal = self._journal, None
        try:
            if not commit and journal:
                for undo in reversed(journal):
                    undo()
        finally:
            self._lock.release()

    def _restore_into(self, table: dict[Any, Any], key: Any) -> Undo:
        old = table.get(key, _MISSING)
        if old is _MISSING:
            return lambda: table.pop(key, None)
        return lambda: table.__setitem__(key, old)


class _MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._open = True

    @property
    def book(self) -> MemoryBook:
        return self._store.book

    # ------------------------------------------------------------------ entities
    def get(self, kind: EntityKind[E], entity_id: str) -> E | None:
        found: E | None = self._store._entities.get(kind.name, {}).get(entity_id)
        return found

    def put(self, kind: EntityKind[E], entity_id: str, entity: E) -> None:
        store = self._store
        table = store._entities.setdefault(kind.name, {})
        old = table.get(entity_id)
        changes = []
        for index in kind.indexes:
            new_keys = tuple(index.keys(entity))
            old_keys = tuple(index.keys(old)) if old is not None else ()
            if new_keys == old_keys:
                continue  # the common case: this index is untouched by the update
            postings = store._indexes.setdefault((kind.name, index.name), {})
            added = set(new_keys) - set(old_keys)
            if index.unique:
                for key in added:
                    ids = postings.get(key)
                    if ids and entity_id not in ids:
                        raise AlreadyExistsError(
                            f"another {kind.name} already has {index.name} {key!r}"
                        )
            changes.append((postings, set(old_keys) - set(new_keys), added))
        for postings, removed, added in changes:  # checked everything first: now write
            for key in removed:
                self._unpost(postings, key, entity_id)
            for key in added:
                self._post(postings, key, entity_id)
        store._record_undo(store._restore_into(table, entity_id))
        table[entity_id] = entity

    def delete(self, kind: EntityKind[E], entity_id: str) -> None:
        store = self._store
        table = store._entities.get(kind.name, {})
        old = table.get(entity_id)
        if old is None:
            return
        for index in kind.indexes:
            postings = store._indexes.setdefault((kind.name, index.name), {})
            for key in set(index.keys(old)):
                self._unpost(postings, key, entity_id)
        store._record_undo(store._restore_into(table, entity_id))
        del table[entity_id]

    def _post(self, postings: dict[str, dict[str, int]], key: str, entity_id: str) -> None:
        ids = postings.setdefault(key, {})
        ids[entity_id] = next(self._store._postings)

        def undo() -> None:
            ids.pop(entity_id, None)
            if not ids and postings.get(key) is ids:
                del postings[key]  # leave no empty entry behind a rollback

        self._store._record_undo(undo)

    def _unpost(self, postings: dict[str, dict[str, int]], key: str, entity_id: str) -> None:
        ids = postings.get(key)
        if ids is None or entity_id not in ids:
            return
        number = ids.pop(entity_id)

        def undo() -> None:
            # Put the posting back in its place: O(1) when it was the last one, a re-sort
            # of this key's postings otherwise (only ever on a rollback).
            if postings.get(key) is not ids:
                postings[key] = ids  # a later undo may have dropped it while empty
            last = next(reversed(ids.values()), 0)
            ids[entity_id] = number
            if number < last:
                ordered = sorted(ids.items(), key=lambda item: item[1])
                ids.clear()
                ids.update(ordered)

        self._store._record_undo(undo)

    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        kind.index(index)  # refuses an unknown index name
        ids = self._store._indexes.get((kind.name, index), {}).get(key, {})
        table = self._store._entities.get(kind.name, {})
        return [table[entity_id] for entity_id in ids]

    # ------------------------------------------------------------------ outbox
    def append_notification(self, notification: Notification) -> None:
        store = self._store
        store._outbox_seq += 1
        seq = store._outbox_seq

        def undo() -> None:
            store._outbox.pop(seq, None)
            store._outbox_seq = seq - 1

        store._record_undo(undo)
        store._outbox[seq] = notification

    def forget_notifications(self, member_id: str, email: str | None) -> None:
        store = self._store
        outbox = store._outbox
        doomed = [seq for seq, item in outbox.items()
                  if member_id in item.recipients or (email and email in item.emails)]
        if not doomed:
            return
        # Undo restores the whole outbox in its order (re-inserting the forgotten notices
        # one by one would put them at the end, out of sequence).
        before = dict(outbox)

        def undo() -> None:
            outbox.clear()
            outbox.update(before)

        store._record_undo(undo)
        for seq in doomed:
            kept = outbox[seq].without(member_id, email)  # others keep a shared notice
            if kept is None:
                del outbox[seq]
            else:
                outbox[seq] = kept

    # ------------------------------------------------------------------ timers
    def schedule(self, timer: Timer) -> None:
        store = self._store
        version = next(store._timer_versions)
        old = store._timers.get(timer.id)

        def undo() -> None:
            if old is None:
                store._timers.pop(timer.id, None)
            else:  # its heap entry may have been dropped as stale meanwhile
                store._timers[timer.id] = old
                heapq.heappush(store._heap, (old[0].due, old[1], timer.id))

        store._record_undo(undo)
        store._timers[timer.id] = (timer, version)
        heapq.heappush(store._heap, (timer.due, version, timer.id))

    def cancel_timer(self, kind: str, ref: str) -> None:
        store = self._store
        timer_id = f"{kind}:{ref}"
        found = store._timers.pop(timer_id, None)
        if found is None:
            return
        timer, version = found

        def undo() -> None:
            store._timers[timer_id] = (timer, version)
            heapq.heappush(store._heap, (timer.due, version, timer_id))

        store._record_undo(undo)

    def next_due(self, until: datetime) -> Timer | None:
        store = self._store
        heap = store._heap
        while heap:
            due, version, timer_id = heap[0]
            current = store._timers.get(timer_id)
            if current is None or current[1] != version:
                heapq.heappop(heap)  # stale entry of a cancelled or rescheduled timer
                continue
            return current[0] if due <= until else None
        return None

    # ------------------------------------------------------------------ sequences
    def next_in_sequence(self, name: str) -> int:
        store = self._store
        store._record_undo(store._restore_into(store._sequences, name))
        value = store._sequences.get(name, 0) + 1
        store._sequences[name] = value
        return value

    # ------------------------------------------------------------------ end
    def commit(self) -> None:
        self._finish(True)

    def rollback(self) -> None:
        self._finish(False)

    def _finish(self, commit: bool) -> None:
        if self._open:
            self._open = False
            self._store._end(commit)
