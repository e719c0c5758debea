"""The in-memory store: the reference behaviour every other store must match.

State lives in dicts. A unit of work records an undo action for each write, so a
rollback puts back exactly what was there; one unit of work runs at a time (a lock
serialises threads). Timers sit in a heap with lazy deletion, so finding the next due
one costs O(log n); so do the members of each ordered queue. The change feed is numbered
in commit order (one writer at a time), its positions kept sorted.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from ..errors import SkilltrocError
from ..events import Notification
from ..ledger import (
    PLATFORM,
    Balance,
    Hold,
    IdempotencyRecord,
    MemoryBook,
    StatementLine,
    Transfer,
    entries_by_key,
)
from ..ports import (
    ORDER_SEPARATOR,
    RECENT_TRANSFERS,
    Change,
    EntityKind,
    Index,
    IndexKey,
    Ordered,
    OutboxItem,
    Timer,
    ordered_key,
    position_of,
)
from ..refusals import refusal
from .feed import feed_position, read_position
from .indexing import SortedTexts, check_unique, reposting

__all__ = ["MemoryStore"]

E = TypeVar("E")
_MISSING: Any = object()
Undo = Callable[[], object]
# A journal entry is a function and its arguments: cheaper to record than a closure, and
# most writes share the one function that puts a dict entry back.
Entry = tuple[Any, ...]
Postings = dict[str, dict[str, int]]  # index key -> {entity id: posting number}
Orders = dict[str, SortedTexts]  # ordered index key -> its entities' positions


class _KindTables:
    """A kind as the store keeps it, looked up once per kind, not per write."""

    __slots__ = ("by_name", "entities", "kind", "orders", "postings", "stored_keys")

    def __init__(self, kind: EntityKind[Any], entities: dict[str, Any],
                 postings: tuple[Postings, ...],
                 stored_keys: dict[str, tuple[IndexKey, ...]],
                 orders: dict[int, Orders]) -> None:
        self.kind = kind
        self.entities = entities
        #: the postings of each index, in the kind's index order (what a write needs)...
        self.postings = postings
        #: ... and by index name (what a lookup needs)
        self.by_name = {index.name: table for index, table in zip(kind.indexes, postings,
                                                                  strict=True)}
        #: each stored entity's (index position, key) pairs: an update compares against
        #: the keys it was posted under instead of computing them again
        self.stored_keys = stored_keys
        #: each ordered index's keys, by index position, with their entities' positions
        self.orders = orders


def _put_back(table: dict[Any, Any], key: Any, old: Any) -> None:
    if old is _MISSING:
        table.pop(key, None)
    else:
        table[key] = old


def _call(undo: Undo) -> None:
    undo()


def _put_back_keyed(table: dict[str, Any], stored_keys: dict[str, Any], entity_id: str,
                    old: Any, old_keys: Any) -> None:
    if old is _MISSING:
        table.pop(entity_id, None)
        stored_keys.pop(entity_id, None)
    else:
        table[entity_id] = old
        stored_keys[entity_id] = old_keys


def _unpost_undo(postings: Postings, key: str, ids: dict[str, int],
                 entity_id: str) -> None:
    ids.pop(entity_id, None)
    if not ids and postings.get(key) is ids:
        del postings[key]  # leave no empty entry behind a rollback


def _repost_undo(postings: Postings, key: str, ids: dict[str, int],
                 entity_id: str, number: int) -> None:
    # Put the posting back in its place: O(1) when it was the last one, a re-sort of this
    # key's postings otherwise (only ever on a rollback).
    if postings.get(key) is not ids:
        postings[key] = ids  # a later undo may have dropped it while empty
    last = next(reversed(ids.values()), 0)
    ids[entity_id] = number
    if number < last:
        ordered = sorted(ids.items(), key=lambda item: item[1])
        ids.clear()
        ids.update(ordered)


def _unorder(orders: Orders, key: str, position: str) -> None:
    """Take ``position`` out of an ordered index key, and the key once it is empty."""
    texts = orders.get(key)
    if texts is not None:
        texts.discard(position)
        if not texts:  # its key may be personal data (a name, ACC-7)
            del orders[key]


def _order(orders: Orders, key: str, position: str) -> None:
    texts = orders.get(key)
    if texts is None:
        texts = orders[key] = SortedTexts()
    texts.add(position)


def _reorder(orders: Orders, posted: str, entity_id: str, journal: list[Entry],
             change: Callable[[Orders, str, str], None],
             undo: Callable[[Orders, str, str], None]) -> None:
    """``change`` (:func:`_order` or :func:`_unorder`) the entity posted at ``posted`` in
    an ordered index; a rollback does ``undo``."""
    key, sort = ordered_key(posted)
    position = position_of(sort, entity_id)
    change(orders, key, position)
    journal.append((undo, orders, key, position))


def _not_found_by_key(kind: EntityKind[Any], index: str) -> LookupError:
    """An ordered index is read by pages (a programming error otherwise)."""
    return LookupError(f"{kind.name} index {index!r} is ordered: read it with page")


class _Scheduled(NamedTuple):
    """A timer as the store keeps it: its heap entry is current while its version is."""

    timer: Timer
    version: int


class _Queue:
    """One ordered queue: each member's entry ``"<key>\\0<member>"``, and a heap of
    entries. Entries are plain strings, so the heap compares them in C; one that is no
    longer its member's entry is stale and dropped when it reaches the top. The NUL
    sorts below every other character, so entries order by key, then member."""

    __slots__ = ("entries", "heap")

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}
        self.heap: list[str] = []

    def compact(self) -> None:
        """Drop every stale entry (when they outnumber the live ones): O(n), amortised
        O(1) over the puts that made them."""
        self.heap = list(self.entries.values())
        heapq.heapify(self.heap)


def _queue_restore(queue: _Queue, member: str, old: str | None) -> None:
    """Undo a queue write: put back the member's previous entry, or none."""
    if old is None:
        queue.entries.pop(member, None)
    else:  # its heap copy may have been dropped as stale meanwhile
        queue.entries[member] = old
        heapq.heappush(queue.heap, old)


def _unrecord(book: MemoryBook, balances: list[tuple[str, Balance | None]],
              hold: tuple[str, Hold | None] | None,
              statements: list[tuple[str, list[StatementLine] | None]]) -> None:
    """Undo one ledger movement: drop its transfer, put back the balances and the hold it
    replaced (``None``: there was none) and drop the statement lines it added."""
    book.transfers.pop()
    for account, old in reversed(balances):
        if old is None:
            book.balances.pop(account, None)
        else:
            book.balances[account] = old
    if hold is not None:
        hold_id, old_hold = hold
        if old_hold is None:
            book.holds.pop(hold_id, None)
        else:
            book.holds[hold_id] = old_hold
    for member, lines in reversed(statements):
        _drop_line(book.statement, member, lines)


def _drop_line(statement: dict[str, list[StatementLine]], member: str,
               lines: list[StatementLine] | None) -> None:
    if lines is None:
        statement.pop(member, None)
    else:
        lines.pop()


class _JournaledBook(MemoryBook):
    """A :class:`MemoryBook` that logs how to undo each write into the open unit of work."""

    def __init__(self, journal: Callable[[], list[Entry]]) -> None:
        super().__init__()
        self._journal = journal

    def _log(self, entry: Entry) -> None:
        self._journal().append(entry)

    def set_balance(self, account: str, balance: Balance) -> None:
        balances = self.balances
        self._log((_put_back, balances, account, balances.get(account, _MISSING)))
        balances[account] = balance

    def record(
        self,
        transfer: Transfer,
        balances: Sequence[tuple[str, Balance]],
        lines: Sequence[StatementLine],
        hold: Hold | None,
    ) -> None:
        accounts, statement = self.balances, self.statement
        moved = [account for account, _ in balances]
        moved += [account for account in (transfer.debit, transfer.credit)
                  if account.startswith(PLATFORM)]
        self._journal().append((  # one undo entry for the five things a movement writes
            _unrecord, self,
            [(account, accounts.get(account)) for account in moved],
            None if hold is None else (hold.id, self.holds.get(hold.id)),
            [(line.member, statement.get(line.member)) for line in lines],
        ))
        super().record(transfer, balances, lines, hold)

    def set_idempotency(self, record: IdempotencyRecord) -> None:
        self._log((_put_back, self.keys, record.key, self.keys.get(record.key, _MISSING)))
        super().set_idempotency(record)

    def add_to_counter(self, name: str, delta: int) -> None:
        self._log((_put_back, self.totals, name, self.totals.get(name, _MISSING)))
        super().add_to_counter(name, delta)


def _no_writes(read_only: bool) -> SkilltrocError:
    return refusal("store_query_writes" if read_only else "store_write_outside_unit")


class MemoryStore:
    """A :class:`~skilltroc_core.ports.Store` in process memory."""

    keeps_data = False  # gone with the process: a random secret key will do

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._journal: list[Entry] | None = None
        self._read_only = False
        self.book = _JournaledBook(self._entries)
        self._entities: dict[str, dict[str, Any]] = {}
        # kind name -> its tables, looked up once per kind (see _KindTables)
        self._kinds: dict[str, _KindTables] = {}
        # (kind, index) -> key -> {entity id: posting number}, in posting order
        self._indexes: dict[tuple[str, str], Postings] = {}
        self._postings = itertools.count(1)
        # (kind, ordered index) -> key -> its entities' positions, sorted
        self._orders: dict[tuple[str, str], Orders] = {}
        self._outbox: dict[int, Notification] = {}
        self._outbox_seq = 0
        self._timers: dict[str, _Scheduled] = {}
        # (due, version, timer id): the earliest first; stale once its version is not current
        self._heap: list[tuple[datetime, int, str]] = []
        self._timer_versions = itertools.count(1)
        self._sequences: dict[str, int] = {}
        self._queues: dict[str, _Queue] = {}
        # the change feed: each change by position, the positions in order, each entity's
        # positions (in order) and the number of the last change recorded
        self._feed: dict[str, Change] = {}
        self._feed_order = SortedTexts()
        self._feed_of: dict[tuple[str, str], list[str]] = {}
        self._feed_seq = 0

    # ------------------------------------------------------------------ store
    def begin(self, *, read_only: bool = False) -> _MemoryUnitOfWork:
        if not self._lock.acquire(blocking=False) and not self._lock.acquire(timeout=30):
            raise refusal("memory_store_busy")
        self._read_only = read_only
        self._journal = None if read_only else []
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

    def recent_instant(self) -> datetime | None:
        with self._lock:
            recent = self.book.transfers[-RECENT_TRANSFERS:]
            return max((transfer.at for transfer in recent), default=None)

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        start = feed_position(*read_position(after))
        if not self._lock.acquire(timeout=30):  # as begin: never wait for good
            raise refusal("memory_store_busy")
        try:
            feed = self._feed
            return [feed[position] for position in self._feed_order.after(start, limit)]
        finally:
            self._lock.release()

    def close(self) -> None:
        """Nothing to release."""

    def contents(self) -> dict[str, tuple[tuple[str, object], ...]]:
        """Everything the store keeps (see :class:`~skilltroc_core.ports.Inspectable`):
        the ledger book's sections, then ``entities/<kind>`` (by id),
        ``index/<kind>/<index>`` (each key's ids in posting order), ``outbox`` (in order)
        and ``outbox seq``, ``timers`` (each with its version: it orders equal due
        instants), ``sequences``, ``queue/<name>`` (each member's sort key), ``changes``
        (the change feed, by position) and ``changes seq``.

        Nothing empty is listed: a rolled-back unit of work may leave an empty table, index
        or index key behind, which reads exactly as a missing one."""
        with self._lock:
            found = self.book.contents()
            for kind, table in sorted(self._entities.items()):
                found[f"entities/{kind}"] = entries_by_key(table)
            for (kind, index), postings in sorted(self._indexes.items()):
                found[f"index/{kind}/{index}"] = tuple(
                    (key, tuple(ids)) for key, ids in sorted(postings.items()) if ids)
            found["outbox"] = tuple((str(seq), item) for seq, item in self._outbox.items())
            found["outbox seq"] = (("last", self._outbox_seq),)
            found["timers"] = entries_by_key(self._timers)
            found["sequences"] = entries_by_key(self._sequences)
            for name, queue in sorted(self._queues.items()):
                found[f"queue/{name}"] = tuple(
                    (member, entry[:entry.index("\x00")])
                    for member, entry in sorted(queue.entries.items()))
            found["changes"] = tuple((position, self._feed[position])
                                     for position in self._feed_order)
            found["changes seq"] = (("last", self._feed_seq),)
            return {section: entries for section, entries in found.items() if entries}

    # ------------------------------------------------------------------ journal
    def _entries(self) -> list[Entry]:
        """The open unit of work's journal (writes outside one are refused)."""
        journal = self._journal
        if journal is None:
            raise _no_writes(self._read_only)
        return journal

    def _log(self, entry: Entry) -> None:
        self._entries().append(entry)

    def _record_undo(self, undo: Undo) -> None:
        self._log((_call, undo))

    def _end(self, commit: bool) -> None:
        journal, self._journal = self._journal, None
        try:
            if not commit and journal:
                for function, *arguments in reversed(journal):
                    function(*arguments)
        finally:
            self._lock.release()

    def _forget_kind(self, name: str, created: list[tuple[dict[Any, Any], Any]]) -> None:
        self._kinds.pop(name, None)
        for where, key in created:
            if not where.get(key):
                where.pop(key, None)

    def _unappend(self, seq: int) -> None:
        self._outbox.pop(seq, None)
        self._outbox_seq = seq - 1

    def _unrecord_change(self, seq: int, entity: tuple[str, str]) -> None:
        """Undo :meth:`_MemoryUnitOfWork.record_change`: the last change recorded goes."""
        position = self._feed_of[entity].pop()
        if not self._feed_of[entity]:
            del self._feed_of[entity]
        del self._feed[position]
        self._feed_order.discard(position)
        self._feed_seq = seq - 1

    def _unforget_changes(self, entity: tuple[str, str], forgotten: list[Change]) -> None:
        """Undo :meth:`_MemoryUnitOfWork.forget_changes`: the entity's changes are back."""
        self._feed_of[entity] = [change.position for change in forgotten]
        for change in forgotten:
            self._feed[change.position] = change
            self._feed_order.add(change.position)

    def _unschedule(self, timer_id: str, old: _Scheduled | None) -> None:
        """Undo a schedule or a cancel: put back the timer that was there, or none."""
        if old is None:
            self._timers.pop(timer_id, None)
        else:  # its heap entry may have been dropped as stale meanwhile
            self._timers[timer_id] = old
            heapq.heappush(self._heap, (old.timer.due, old.version, timer_id))

    def _restore_into(self, table: dict[Any, Any], key: Any) -> Entry:
        return (_put_back, table, key, table.get(key, _MISSING))

    def _kind(self, kind: EntityKind[Any]) -> _KindTables:
        """The kind's table and index postings, looked up once per kind (not per write)."""
        found = self._kinds.get(kind.name)
        if found is None or found.kind is not kind:
            created: list[tuple[dict[Any, Any], Any]] = (
                [(self._entities, kind.name)] if kind.name not in self._entities else []
            )
            created += [(self._indexes, (kind.name, index.name)) for index in kind.indexes
                        if (kind.name, index.name) not in self._indexes]
            if created and self._journal is not None:
                # a rollback leaves no empty table or index behind (nor this entry)
                self._journal.append((self._forget_kind, kind.name, created))
            table = self._entities.setdefault(kind.name, {})
            postings = tuple(self._indexes.setdefault((kind.name, index.name), {})
                             for index in kind.indexes)
            stored_keys = {entity_id: kind.keys_of(entity) for entity_id, entity in table.items()
                           } if postings else {}
            orders = {position: self._orders.setdefault((kind.name, index.name), {})
                      for position, index in enumerate(kind.indexes) if index.order}
            found = self._kinds[kind.name] = _KindTables(kind, table, postings, stored_keys,
                                                         orders)
        return found


class _MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._open = True

    @property
    def book(self) -> MemoryBook:
        return self._store.book

    # ------------------------------------------------------------------ entities
    def get(self, kind: EntityKind[E], entity_id: str) -> E | None:
        table = self._store._entities.get(kind.name)
        if table is None:
            return None
        found: E | None = table.get(entity_id)
        return found

    def put(self, kind: EntityKind[E], entity_id: str, entity: E) -> None:
        store = self._store
        journal = store._journal
        if journal is None:
            raise _no_writes(store._read_only)
        tables = store._kinds.get(kind.name)
        if tables is None or tables.kind is not kind:
            tables = store._kind(kind)
        table = tables.entities
        old = table.get(entity_id, _MISSING)
        if not tables.postings:
            journal.append((_put_back, table, entity_id, old))
            table[entity_id] = entity
            return
        stored_keys = tables.stored_keys
        if old is _MISSING:
            old_keys: tuple[IndexKey, ...] = ()
        else:
            old_keys = stored_keys.get(entity_id, ())
            keyed_by = kind.keyed_by
            if keyed_by is not None and keyed_by(old) == keyed_by(entity):
                # the same keys (see EntityKind.keyed_by): nothing to make again or move
                journal.append((_put_back_keyed, table, stored_keys, entity_id, old, old_keys))
                table[entity_id] = entity
                return
        new_keys = kind.keys_of(entity)
        if new_keys != old_keys:
            self._repost(tables, entity_id, old_keys, new_keys, journal)
        journal.append((_put_back_keyed, table, stored_keys, entity_id, old, old_keys))
        table[entity_id] = entity
        stored_keys[entity_id] = new_keys

    def _repost(self, tables: _KindTables, entity_id: str, old_keys: tuple[IndexKey, ...],
                new_keys: tuple[IndexKey, ...], journal: list[Entry]) -> None:
        """Move ``entity_id`` from its ``old_keys`` to ``new_keys``; refused, with nothing
        changed, when a unique key is another entity's."""
        added, removed = reposting(old_keys, new_keys)

        def taken(index: Index[Any], key: str) -> bool:
            ids = tables.by_name[index.name].get(key)
            return bool(ids and entity_id not in ids)

        check_unique(tables.kind, added, taken)
        for position, key in removed:  # all checked: now write
            postings = tables.postings[position]
            ids = postings.get(key)
            if ids is not None and entity_id in ids:
                number = ids.pop(entity_id)
                if not ids:
                    # No empty bucket stays behind: its key may be personal data (an
                    # email, ACC-7).
                    del postings[key]
                journal.append((_repost_undo, postings, key, ids, entity_id, number))
            if position in tables.orders:
                _reorder(tables.orders[position], key, entity_id, journal, _unorder, _order)
        numbers = self._store._postings
        for position, key in added:
            postings = tables.postings[position]
            ids = postings.get(key)
            if ids is None:
                ids = postings[key] = {}
            ids[entity_id] = next(numbers)
            journal.append((_unpost_undo, postings, key, ids, entity_id))
            if position in tables.orders:
                _reorder(tables.orders[position], key, entity_id, journal, _order, _unorder)

    def delete(self, kind: EntityKind[E], entity_id: str) -> None:
        store = self._store
        table = store._entities.get(kind.name, {})
        old = table.get(entity_id)
        if old is None:
            return
        tables = store._kind(kind)
        journal = store._entries()
        stored_keys = tables.stored_keys
        old_keys = stored_keys.get(entity_id, ())
        self._repost(tables, entity_id, old_keys, (), journal)
        journal.append((_put_back_keyed, table, stored_keys, entity_id, old, old_keys))
        del table[entity_id]
        stored_keys.pop(entity_id, None)

    def page(self, kind: EntityKind[E], index: str, key: str, *, after: str | None = None,
             limit: int) -> list[Ordered[E]]:
        if kind.index(index).order is None:  # programming error
            raise LookupError(f"{kind.name} index {index!r} is not ordered: use find")
        store = self._store
        texts = store._orders.get((kind.name, index), {}).get(key)
        if not texts:
            return []
        table = store._entities[kind.name]
        return [Ordered(position, table[position.rpartition(ORDER_SEPARATOR)[2]])
                for position in texts.after(after, limit)]

    def scan(self, kind: EntityKind[E], *, after: str | None = None, limit: int
             ) -> list[tuple[str, E]]:
        table = self._store._entities.get(kind.name, {})
        ids = sorted(entity_id for entity_id in table if after is None or entity_id > after)
        return [(entity_id, table[entity_id]) for entity_id in ids[:max(limit, 0)]]

    def repost(self, kind: EntityKind[E], entity_id: str) -> None:
        store = self._store
        journal = store._entries()
        entity = self.get(kind, entity_id)
        if entity is None:
            return
        tables = store._kind(kind)
        keys = kind.keys_of(entity)
        missing = tuple((position, key) for position, key in keys
                        if entity_id not in tables.postings[position].get(key, {}))
        stale = tuple(pair for pair in tables.stored_keys.get(entity_id, ()) if pair not in keys)
        if missing or stale:
            self._repost(tables, entity_id, stale, missing, journal)
            journal.append((_put_back_keyed, tables.entities, tables.stored_keys, entity_id,
                            entity, tables.stored_keys.get(entity_id, ())))
            tables.stored_keys[entity_id] = keys

    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        store = self._store
        tables = store._kinds.get(kind.name)
        if tables is None or tables.kind is not kind:  # a kind never written yet: read as is
            if kind.index(index).order is not None:
                raise _not_found_by_key(kind, index)
            posted = store._indexes.get((kind.name, index), {}).get(key, {})
            table = store._entities.get(kind.name, {})
            return [table[entity_id] for entity_id in posted]
        postings = tables.by_name.get(index)
        if postings is None:
            kind.index(index)  # refuses an unknown index name
            return []
        if tables.orders and kind.index(index).order is not None:
            raise _not_found_by_key(kind, index)
        ids = postings.get(key)
        if not ids:
            return []
        table = tables.entities
        return [table[entity_id] for entity_id in ids]

    # ------------------------------------------------------------------ outbox
    def append_notification(self, notification: Notification) -> None:
        store = self._store
        seq = store._outbox_seq + 1
        store._log((store._unappend, seq))
        store._outbox_seq = seq
        store._outbox[seq] = notification

    def forget_notifications(self, member_id: str, email: str | None) -> None:
        store = self._store
        outbox = store._outbox
        doomed = [seq for seq, item in outbox.items()
                  if member_id in item.concerned or (email and email in item.emails)]
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
        timer_id = f"{timer.kind}:{timer.ref}"
        timers = store._timers
        store._log((store._unschedule, timer_id, timers.get(timer_id)))
        version = next(store._timer_versions)
        timers[timer_id] = _Scheduled(timer, version)
        heapq.heappush(store._heap, (timer.due, version, timer_id))

    def cancel_timer(self, kind: str, ref: str) -> None:
        store = self._store
        timer_id = f"{kind}:{ref}"
        timers = store._timers
        if timer_id not in timers:
            return
        found = timers[timer_id]
        store._log((store._unschedule, timer_id, found))
        del timers[timer_id]

    def next_due(self, until: datetime, *, wait: bool = True) -> Timer | None:
        store = self._store
        heap = store._heap
        while heap:
            due, version, timer_id = heap[0]
            current = store._timers.get(timer_id)
            if current is None or current.version != version:
                heapq.heappop(heap)  # stale entry of a cancelled or rescheduled timer
                continue
            return current.timer if due <= until else None
        return None

    def guard_due(self, until: datetime) -> None:
        """One writer at a time: no other unit can add a timer meanwhile."""

    def confirm_due(self) -> None:
        """Nothing can have come due unseen (see :meth:`guard_due`)."""

    def erasing(self) -> None:
        """Nothing is kept once replaced: nothing to fold in."""

    # ------------------------------------------------------------------ change feed
    def record_change(self, topic: str, entity_id: str, data: str | None) -> None:
        store = self._store
        journal = store._entries()
        seq = store._feed_seq + 1
        position = feed_position(0, seq)
        entity = (topic, entity_id)
        journal.append((store._unrecord_change, seq, entity))
        store._feed_seq = seq
        store._feed[position] = Change(position=position, topic=topic, entity_id=entity_id,
                                       data=data)
        store._feed_order.add(position)  # the greatest: at the end of the last bucket
        store._feed_of.setdefault(entity, []).append(position)

    def forget_changes(self, topic: str, entity_id: str) -> None:
        store = self._store
        journal = store._entries()
        entity = (topic, entity_id)
        positions = store._feed_of.pop(entity, None)
        if positions is None:
            return
        journal.append((store._unforget_changes, entity,
                        [store._feed.pop(position) for position in positions]))
        for position in positions:
            store._feed_order.discard(position)

    # ------------------------------------------------------------------ sequences
    def next_in_sequence(self, name: str) -> int:
        store = self._store
        store._log(store._restore_into(store._sequences, name))
        value = store._sequences.get(name, 0) + 1
        store._sequences[name] = value
        return value

    # ------------------------------------------------------------------ ordered queues
    def queue_put(self, queue: str, member: str, sort_key: str, *,
                  later: bool = False) -> None:
        store = self._store
        journal = store._journal
        if journal is None:
            raise _no_writes(store._read_only)
        if "\x00" in sort_key:
            raise refusal("store_queue_key_nul")
        found = store._queues.get(queue)
        if found is None:
            found = store._queues[queue] = _Queue()
        entries = found.entries
        old = entries.get(member)
        entry = f"{sort_key}\x00{member}"
        if entry == old:
            return
        journal.append((_queue_restore, found, member, old))
        entries[member] = entry
        heap = found.heap
        if heap and heap[0] is old:  # the first member moves (a serve): one sift, not two
            heapq.heapreplace(heap, entry)
            return
        heapq.heappush(heap, entry)
        if len(heap) > 2 * len(entries) + 32:
            found.compact()

    def queue_remove(self, queue: str, member: str) -> None:
        store = self._store
        found = store._queues.get(queue)
        if found is None:
            return
        old = found.entries.get(member)
        if old is None:
            return
        store._log((_queue_restore, found, member, old))
        del found.entries[member]

    def queue_first(self, queue: str) -> str | None:
        found = self._store._queues.get(queue)
        if found is None:
            return None
        heap, entries = found.heap, found.entries
        while heap:
            entry = heap[0]
            member = entry[entry.index("\x00") + 1:]
            if entries.get(member) == entry:
                return member
            heapq.heappop(heap)  # stale: its member moved or left
        return None

    def queue_key(self, queue: str, member: str) -> str | None:
        found = self._store._queues.get(queue)
        entry = found.entries.get(member) if found is not None else None
        return entry[:entry.index("\x00")] if entry is not None else None

    # ------------------------------------------------------------------ end
    def commit(self) -> None:
        if self._open:
            self._open = False
            self._store._end(True)

    def rollback(self) -> None:
        self._finish(False)

    def _finish(self, commit: bool) -> None:
        if self._open:
            self._open = False
            self._store._end(commit)
