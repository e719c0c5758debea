"""What the SQL stores share: the schema, the ledger book and the unit of work in SQL.

Statements are written with ``?`` placeholders; a dialect rewrites them for its driver.
Money is ``BIGINT``; instants are fixed-width UTC text (sorting like the instants);
entities are JSON text keyed by ``(kind, id)`` with their index keys in a side table;
the change feed is a table ordered by ``(tx, seq)`` (see :data:`SCHEMA`, version 6).
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..errors import ConcurrencyError, SkilltrocError
from ..events import MEMBER_FACTS, Notification
from ..ledger import (
    PLATFORM,
    Balance,
    Hold,
    HoldState,
    IdempotencyRecord,
    StatementLine,
    Transfer,
    TransferKind,
    VoidReason,
    refuse_platform_balance,
)
from ..logs import LOGGER
from ..ports import (
    ORDER_SEPARATOR,
    RECENT_TRANSFERS,
    Change,
    EntityKind,
    IndexKey,
    Ordered,
    OutboxItem,
    Timer,
    ordered_key,
    position_of,
)
from ..refusals import refusal, shown
from .codec import dumps, instant_text, loads, parse_instant
from .feed import feed_position, read_position
from .indexing import check_unique, posted_pairs, reposting

__all__ = ["SCHEMA", "SqlBook", "SqlCache", "SqlIndexes", "SqlUnitOfWork"]

E = TypeVar("E")
T = TypeVar("T")
X = TypeVar("X", bound=Exception)

MAX_BEGIN_ATTEMPTS = 100


def check_attempts(attempts: int) -> int:
    """``attempts`` if it is a whole number from 1 to :data:`MAX_BEGIN_ATTEMPTS`."""
    if type(attempts) is not int or not 1 <= attempts <= MAX_BEGIN_ATTEMPTS:
        raise refusal("store_attempts_invalid", maximum=MAX_BEGIN_ATTEMPTS,
                      got=shown(attempts))
    return attempts


def retrying(work: Callable[[], T], attempts: int,
             translate: Callable[[X], SkilltrocError], driver_errors: type[X]) -> T:
    """``work`` (safe to repeat: it changed nothing when it failed) until it succeeds.

    A driver error that ``translate`` makes a :class:`ConcurrencyError` (another writer
    holds the lock, a deadlock, a lost connection) is tried again, ``attempts`` times in
    all, with a short growing pause; then it is raised, still retryable, for the host.
    Any other error is raised at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except driver_errors as exc:
            error = translate(exc)
            if not isinstance(error, ConcurrencyError):
                raise error from exc
            if attempt == attempts:
                raise refusal("store_gave_up" if attempts > 1 else "store_gave_up_at_once",
                              problem=error.message, cause=error.reason, attempts=attempts,
                              nothing_written=error.nothing_written) from exc
            time.sleep(0.005 * attempt)
    raise AssertionError("unreachable")

#: Version -> statements. A store applies, in order, every version above its own.
SCHEMA: Mapping[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE accounts (
            id TEXT PRIMARY KEY, available BIGINT NOT NULL, held BIGINT NOT NULL
        )""",
        """CREATE TABLE transfers (
            seq BIGINT PRIMARY KEY, debit TEXT NOT NULL, credit TEXT NOT NULL,
            amount BIGINT NOT NULL CHECK (amount > 0), kind TEXT NOT NULL,
            reference TEXT NOT NULL, at TEXT NOT NULL, hold_id TEXT, reason TEXT
        )""",
        """CREATE TABLE statement_lines (
            member TEXT NOT NULL, idx BIGINT NOT NULL, transfer_seq BIGINT NOT NULL,
            at TEXT NOT NULL, kind TEXT NOT NULL, amount BIGINT NOT NULL,
            held_change BIGINT NOT NULL, balance BIGINT NOT NULL, held BIGINT NOT NULL,
            reference TEXT NOT NULL, counterpart TEXT NOT NULL, PRIMARY KEY (member, idx)
        )""",
        """CREATE TABLE holds (
            id TEXT PRIMARY KEY, member TEXT NOT NULL, amount BIGINT NOT NULL,
            reference TEXT NOT NULL, opened_at TEXT NOT NULL, state TEXT NOT NULL,
            payee TEXT, ended_at TEXT, void_reason TEXT
        )""",
        """CREATE TABLE ledger_keys (
            key TEXT PRIMARY KEY, operation TEXT NOT NULL, fingerprint TEXT NOT NULL,
            result TEXT NOT NULL
        )""",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        """CREATE TABLE entities (
            kind TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, id)
        )""",
        """CREATE TABLE entity_keys (
            kind TEXT NOT NULL, idx TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL,
            seq BIGINT NOT NULL, PRIMARY KEY (kind, idx, key, id)
        )""",
        "CREATE INDEX entity_keys_by_key ON entity_keys (kind, idx, key, seq)",
        "CREATE INDEX entity_keys_by_id ON entity_keys (kind, id)",
        """CREATE TABLE outbox (
            seq BIGINT PRIMARY KEY, data TEXT NOT NULL, recipients TEXT NOT NULL
        )""",
        """CREATE TABLE timers (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, due TEXT NOT NULL,
            seq BIGINT NOT NULL
        )""",
        "CREATE INDEX timers_by_due ON timers (due, seq)",
        "CREATE TABLE sequences (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    ),
    # 2: the by-id index covers the keys, so SQLite's planner (without statistics) uses
    # it to read an entity's keys instead of scanning the primary key of the whole kind.
    2: (
        "DROP INDEX entity_keys_by_id",
        "CREATE INDEX entity_keys_by_id ON entity_keys (kind, id, idx, key)",
    ),
    # 3: ordered queues (ad serving). ``sort_key`` is bytes, the key in UTF-8, a NUL,
    # then the member: bytes compare bytewise in SQLite and PostgreSQL alike, whatever
    # the database's collation (SQLite has no ``COLLATE "C"``, and the schema is shared),
    # so one column orders by key, then member. The index covers the first-member query.
    # The ad heaps of version 2 (``ad_queue``, ``ad_slot``, ``ad_position`` entities) are
    # dropped: a store that had running campaigns rebuilds their queues with
    # ``Skilltroc.rebuild_ad_queues()`` (the ranks need 41-digit arithmetic, not SQL's).
    3: (
        """CREATE TABLE IF NOT EXISTS queue_entries (
            queue TEXT NOT NULL, member TEXT NOT NULL, sort_key BYTEA NOT NULL,
            PRIMARY KEY (queue, member)
        )""",
        "CREATE INDEX IF NOT EXISTS queue_entries_in_order "
        "ON queue_entries (queue, sort_key, member)",
        "DELETE FROM entity_keys WHERE kind IN ('ad_queue', 'ad_slot', 'ad_position')",
        "DELETE FROM entities WHERE kind IN ('ad_queue', 'ad_slot', 'ad_position')",
    ),
    # 4: no row that every command writes (many writers at once, PostgreSQL). The
    # platform accounts and the supply counters become sums of shards, each unit adding
    # to one; PostgreSQL numbers rows from server sequences (see its store).
    4: (
        """CREATE TABLE platform_balances (
            account TEXT NOT NULL, shard INTEGER NOT NULL, balance BIGINT NOT NULL,
            PRIMARY KEY (account, shard)
        )""",
        "INSERT INTO platform_balances (account, shard, balance) "
        "SELECT id, 0, available FROM accounts WHERE id LIKE 'platform:%'",
        "DELETE FROM accounts WHERE id LIKE 'platform:%'",
        """CREATE TABLE counter_shards (
            name TEXT NOT NULL, shard INTEGER NOT NULL, value BIGINT NOT NULL,
            PRIMARY KEY (name, shard)
        )""",
        "INSERT INTO counter_shards (name, shard, value) SELECT name, 0, value FROM counters",
        "DROP TABLE counters",
    ),
    # 5: ordered indexes (read by pages, :meth:`UnitOfWork.page`). ``position`` is bytes,
    # the entity's sort text, a NUL and its id in UTF-8, so that one column orders by
    # both, bytewise, whatever the database's collation (as ``queue_entries``). Kinds
    # that gain an ordered index post their stored entities when the service rebuilds
    # its read side (``Skilltroc.rebuild_read_side()``).
    5: (
        """CREATE TABLE IF NOT EXISTS ordered_keys (
            kind TEXT NOT NULL, idx TEXT NOT NULL, key TEXT NOT NULL,
            position BYTEA NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, idx, key, position)
        )""",
        "CREATE INDEX IF NOT EXISTS ordered_keys_by_id ON ordered_keys (kind, id)",
        # the authors' recent-message lists the feed read before it had an ordered index
        "DELETE FROM entities WHERE kind = 'recent_messages'",
    ),
    # 6: the change feed (:meth:`Store.changes`), read in ``(tx, seq)`` order. ``seq``
    # numbers the changes (PostgreSQL: a server sequence); ``tx`` is 0 in a store with
    # one writer at a time, and on PostgreSQL the id of the transaction that wrote the
    # change, or the greater ``tx`` of a change committed before it was written (see
    # :class:`Locking`): a reader reads only the changes below the ids of the
    # transactions still running. ``data`` is None for a tombstone. An erasure deletes
    # an entity's changes, found by ``changes_by_entity``.
    6: (
        """CREATE TABLE IF NOT EXISTS changes (
            tx BIGINT NOT NULL, seq BIGINT NOT NULL, topic TEXT NOT NULL,
            entity_id TEXT NOT NULL, data TEXT, PRIMARY KEY (tx, seq)
        )""",
        "CREATE INDEX IF NOT EXISTS changes_by_entity ON changes (topic, entity_id)",
    ),
}
SCHEMA_VERSION = max(SCHEMA)
#: The server sequence that numbers transfers (a store with one writer counts on from
#: the last transfer instead).
TRANSFER_SEQUENCE = "ledger_transfer"
#: The names of the facts that name a member, as an SQL list (for ``forget_where``).
MEMBER_FACT_NAMES = ", ".join(f"'{name}'" for name in MEMBER_FACTS)
#: The sequences a store numbers its own rows with (outbox, timers, index postings, the
#: change feed).
ROW_SEQUENCES = ("outbox", "timer", "entity_key", "change")


class Locking(Protocol):
    """How a store with many writers at once keeps each unit of work serializable.

    SQLite has none (one writer at a time, the cache kept between units); the PostgreSQL
    store gives one (see :mod:`.postgres`): every row a unit reads is locked until it
    ends (``FOR UPDATE``), every index key it reads or changes is locked by name,
    numbers come from server sequences, and the platform's shared totals are split in
    shards so that no row is written by every command.
    """

    #: Appended to a statement reading rows the unit may change.
    for_update: str
    #: The SQL expression of the ``tx`` of a change written now (schema 6): the writing
    #: transaction's id, or a greater ``tx`` already committed.
    change_tx: str
    #: How many shards a platform account or a supply counter is split in.
    shards: int

    def lock_names(self, db: Runner, names: Sequence[str], *, shared: bool = False) -> None:
        """Lock each name until the unit of work ends, waiting for another holder (with
        ``shared``, only for one holding it alone)."""
        ...

    def next_value(self, db: Runner, name: str) -> int:
        """The next number of sequence ``name`` (unique across every process)."""
        ...

    def give_back(self, name: str, values: Sequence[int]) -> None:
        """Numbers a unit took and rolled back: handed out again first."""
        ...

    def row_sequence(self, name: str) -> str:
        """The SQL expression giving the next number of one of :data:`ROW_SEQUENCES`."""
        ...

    def claim_due(self, db: Runner, until: str, wait: bool) -> Any:
        """``(due, seq, kind, ref)`` of the earliest timer due by ``until``, now held by
        this unit (with ``wait``, the earliest of all, waiting for a unit holding it;
        without, the earliest no other unit holds); None when none is left (see
        :meth:`SqlUnitOfWork.next_due`)."""
        ...

    def guard_due(self, until: str, mine: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
        """The statement (and its parameters) that fails the commit, retryably, if a
        timer due by ``until`` other than ``mine`` (those this unit scheduled) is stored:
        one another unit committed after this one applied what was due."""
        ...


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


#: Placeholder -> ``?``-style statement -> the statement for that placeholder, shared by
#: every runner (the statements are the library's own: a few dozen).
_REWRITTEN: dict[str, dict[str, str]] = {}


class Runner:
    """Runs ``?``-style SQL on a DB-API cursor, rewriting placeholders when needed."""

    def __init__(
        self,
        cursor: Cursor,
        placeholder: str,
        *,
        driver_errors: tuple[type[Exception], ...] = (),
        translate: Callable[[Exception], SkilltrocError] | None = None,
        pipeline: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.cursor = cursor
        self.placeholder = placeholder
        # the driver's own errors (a full disk, a busy file) become the library's errors
        self._driver_errors = driver_errors
        self._translate = translate
        self._native = placeholder == "?"
        self._cache = _REWRITTEN.setdefault(placeholder, {})
        self._pipeline = pipeline
        #: Whether anything was written through this runner (a unit of work that wrote
        #: nothing leaves the store's change marker alone).
        self.wrote = False

    def _sql(self, sql: str) -> str:
        if self._native:
            return sql
        found = self._cache.get(sql)
        if found is None:
            found = self._cache[sql] = sql.replace("?", self.placeholder)
        return found

    def _execute(self, sql: str, params: Sequence[Any], *, many: bool = False) -> Cursor:
        """Run ``sql`` once (or once per row of ``params`` with ``many``), the driver's
        and the encoder's errors turned into the library's."""
        cursor = self.cursor
        if not self._native:
            sql = self._sql(sql)
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
        except UnicodeEncodeError as exc:
            raise _unstorable(exc) from exc
        except self._driver_errors as exc:
            raise self._driver_error(exc) from exc
        return cursor

    def run(self, sql: str, *params: Any) -> None:
        self.wrote = True
        self._execute(sql, params)

    def many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run one writing statement once per row of parameters, in one driver call."""
        self.wrote = True
        if len(rows) == 1:
            self._execute(sql, rows[0])
        else:
            self._execute(sql, rows, many=True)

    def one(self, sql: str, *params: Any) -> Any:
        return self._fetched(self._execute(sql, params).fetchone)

    def all(self, sql: str, *params: Any) -> list[Any]:
        return self._fetched(self._execute(sql, params).fetchall)  # type: ignore[no-any-return]

    def _fetched(self, fetch: Callable[[], Any]) -> Any:
        """``fetch()``, its driver errors turned into the library's: rows are read from the
        file as they are fetched too (a damaged SQLite page fails here)."""
        try:
            return fetch()
        except self._driver_errors as exc:
            raise self._driver_error(exc) from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Send the statements run inside in one exchange with the server (a pipeline)
        when the driver has one; their errors come out at the end of the block."""
        if self._pipeline is None:
            yield
            return
        first: BaseException | None = None
        try:
            with self._pipeline():
                try:
                    yield
                except BaseException as exc:  # the pipeline is left as usual, then raised
                    first = exc
        except self._driver_errors as exc:
            if first is None:
                raise self._driver_error(exc) from exc
        if first is not None:
            raise first

    def _driver_error(self, exc: Exception) -> SkilltrocError:
        if self._translate is None:
            raise exc
        return self._translate(exc)


def _unstorable(exc: UnicodeEncodeError) -> SkilltrocError:
    """Text with a lone surrogate (an id, a key) cannot be sent to the database: the
    command is refused and its unit of work rolls back. The text stays out of the error:
    it may be anything a member wrote."""
    return refusal("store_text_not_unicode")


def _hold(row: Any) -> Hold:
    return Hold(
        row[0], row[1], row[2], row[3], parse_instant(row[4]), HoldState(row[5]), row[6],
        parse_instant(row[7]) if row[7] else None, VoidReason(row[8]) if row[8] else None,
    )


def _transfer(row: Any) -> Transfer:
    return Transfer(
        row[0], row[1], row[2], row[3], TransferKind(row[4]), row[5], parse_instant(row[6]),
        row[7], VoidReason(row[8]) if row[8] else None,
    )


#: A journal entry: a cache table, a key and what it held before (``_MISSING``: nothing).
_Undo = tuple[dict[Any, Any], Any, Any]
_MISSING: Any = object()
#: Index postings longer than this are not kept in the cache (each change copies them).
_POSTINGS_KEPT = 256

_SET_BALANCE = (
    "INSERT INTO accounts (id, available, held) VALUES (?, ?, ?) ON CONFLICT (id) "
    "DO UPDATE SET available = excluded.available, held = excluded.held"
)
_ADD_TRANSFER = (
    "INSERT INTO transfers (seq, debit, credit, amount, kind, reference, at, hold_id, "
    "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ADD_LINE = (
    "INSERT INTO statement_lines (member, idx, transfer_seq, at, kind, amount, "
    "held_change, balance, held, reference, counterpart) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: A statement line numbered by the database: one more than the member's last (the unit
#: holds the member's wallet, so no other unit adds to that statement meanwhile).
_NEXT_LINE = _ADD_LINE.replace(
    "VALUES (?, ?, ", "VALUES (?, (SELECT COALESCE(MAX(idx), -1) + 1 FROM statement_lines "
    "WHERE member = ?), ")
_SET_HOLD = (
    "INSERT INTO holds (id, member, amount, reference, opened_at, state, payee, "
    "ended_at, void_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) "
    "DO UPDATE SET state = excluded.state, payee = excluded.payee, "
    "ended_at = excluded.ended_at, void_reason = excluded.void_reason"
)
_PUT_ENTITY = (
    "INSERT INTO entities (kind, id, data) VALUES (?, ?, ?) ON CONFLICT (kind, id) "
    "DO UPDATE SET data = excluded.data"
)
_ADD_ENTITY = "INSERT INTO entities (kind, id, data) VALUES (?, ?, ?)"
_POST_KEY = "INSERT INTO entity_keys (kind, idx, key, id, seq) VALUES (?, ?, ?, ?, ?)"
_ADD_NOTICE = "INSERT INTO outbox (seq, data, recipients) VALUES (?, ?, ?)"
#: A change numbered by a store with one writer at a time (``tx`` 0, see :data:`SCHEMA`).
_ADD_CHANGE = "INSERT INTO changes (tx, seq, topic, entity_id, data) VALUES (0, ?, ?, ?, ?)"
_FORGET_CHANGES = "DELETE FROM changes WHERE topic = ? AND entity_id = ?"
_SET_TIMER = (
    "INSERT INTO timers (id, kind, ref, due, seq) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET due = excluded.due, seq = excluded.seq"
)
_UNPOST_KEY = "DELETE FROM entity_keys WHERE kind = ? AND idx = ? AND key = ? AND id = ?"
_ORDER_KEY = "INSERT INTO ordered_keys (kind, idx, key, position, id) VALUES (?, ?, ?, ?, ?)"
_UNORDER_KEY = ("DELETE FROM ordered_keys WHERE kind = ? AND idx = ? AND key = ? "
                "AND position = ?")
_PAGE = ("SELECT k.position, e.data FROM ordered_keys k JOIN entities e ON e.kind = k.kind "
         "AND e.id = k.id WHERE k.kind = ? AND k.idx = ? AND k.key = ? AND k.position > ? "
         "ORDER BY k.position LIMIT ?")
_ADD_TO_PLATFORM = (
    "INSERT INTO platform_balances (account, shard, balance) VALUES (?, ?, ?) "
    "ON CONFLICT (account, shard) DO UPDATE SET balance = "
    "platform_balances.balance + excluded.balance"
)
_ADD_TO_COUNTER = (
    "INSERT INTO counter_shards (name, shard, value) VALUES (?, ?, ?) "
    "ON CONFLICT (name, shard) DO UPDATE SET value = counter_shards.value + excluded.value"
)
_SET_SEQUENCE = (
    "INSERT INTO sequences (name, value) VALUES (?, ?) ON CONFLICT (name) "
    "DO UPDATE SET value = excluded.value"
)


def _read_stored(cls: type[T], data: Any, damaged: str, **facts: Any) -> T:
    """``data`` decoded as a ``cls``, or the :class:`StoreError` of refusal ``damaged``
    (with ``facts`` naming the row) when the row is damaged (it no longer decodes)."""
    try:
        return loads(cls, data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise refusal(damaged, problem=type(exc).__name__, **facts) from exc


def _decoded(kind: EntityKind[E], entity_id: str, data: Any) -> E:
    """The stored entity, or a :class:`StoreError` naming it if its row is damaged."""
    return _read_stored(kind.type, data, "store_entity_damaged", kind=kind.name,
                        entity=entity_id)


#: :meth:`~skilltroc_core.ports.Store.recent_instant` in SQL: the newest instant of the
#: transfers with the highest numbers (a backward scan of their primary key). Instants
#: are fixed-width text, so the greatest text is the newest instant.
RECENT_INSTANT = ("SELECT MAX(at) FROM (SELECT at FROM transfers ORDER BY seq DESC "
                  f"LIMIT {RECENT_TRANSFERS}) AS recent")


def stored_instant(row: Sequence[Any] | None) -> datetime | None:
    """The instant of a :data:`RECENT_INSTANT` row, or a :class:`StoreError` if damaged."""
    text = row[0] if row else None
    if text is None:
        return None
    try:
        return parse_instant(text)
    except (ValueError, TypeError) as exc:
        raise refusal("store_instant_damaged", got=shown(text)) from exc


def stored_notices(rows: Sequence[Any]) -> list[OutboxItem]:
    """Outbox rows ``(seq, data)`` as items, or a :class:`StoreError` naming the damaged
    one."""
    return [OutboxItem(seq=seq, notification=_read_stored(
        Notification, data, "store_notice_damaged", seq=seq)) for seq, data in rows]


def feed_page(placeholder: str, horizon: str = "") -> str:
    """:meth:`~skilltroc_core.ports.Store.changes` in SQL, with the driver's
    ``placeholder``: the changes after ``(tx, seq)``, in feed order, up to a limit (its
    parameters: tx, seq, limit); ``horizon`` is a further condition on them (from
    ``AND``), or nothing."""
    mark = placeholder
    return (f"SELECT tx, seq, topic, entity_id, data FROM changes WHERE (tx, seq) > "
            f"({mark}, {mark}){horizon} ORDER BY tx, seq LIMIT {mark}")


def read_feed(after: str | None, limit: int,
              read: Callable[[int, int, int], Sequence[Any]]) -> list[Change]:
    """:meth:`~skilltroc_core.ports.Store.changes` of a SQL store: ``after`` checked, then
    ``read(tx, seq, limit)`` runs :func:`feed_page` (a limit of 0 or less reads nothing:
    SQLite would read everything)."""
    tx, seq = read_position(after)
    if limit <= 0:
        return []
    return [Change(position=feed_position(row_tx, row_seq), topic=topic, entity_id=entity_id,
                   data=data) for row_tx, row_seq, topic, entity_id, data in read(tx, seq, limit)]


def stored_contents(unit: SqlUnitOfWork, layout: str) -> dict[str, tuple[tuple[str, object],
                                                                        ...]]:
    """Every row of every table (see :class:`~skilltroc_core.ports.Inspectable`), read in
    ``unit`` (a query's: one consistent state, the tables themselves, not the cache).

    ``layout``: the dialect's catalog query, one row per column of each table, in order:
    ``(table, column, its position in the primary key or 0)``. A table is one section; a
    row's key is its primary key (``/`` between columns), its value the other columns
    by name; rows come in primary key order. An order the store keeps is in a column
    (``seq`` of the outbox, of the index postings, of the timers)."""
    db = unit.db
    tables: dict[str, list[tuple[int, str]]] = {}
    for table, column, position in db.all(layout):
        tables.setdefault(table, []).append((int(position), column))
    found: dict[str, tuple[tuple[str, object], ...]] = {}
    for table, columns in tables.items():
        key = [column for position, column in sorted(columns) if position] or [
            column for _, column in columns]  # no primary key: the whole row is its key
        rest = [column for _, column in columns if column not in key]
        listed = ", ".join(f'"{column}"' for column in key + rest)
        order = ", ".join(f'"{column}"' for column in key)
        rows = db.all(f'SELECT {listed} FROM "{table}" ORDER BY {order}')
        found[table] = tuple(
            ("/".join(str(value) for value in row[:len(key)]),
             {column: bytes(value) if isinstance(value, memoryview) else value
              for column, value in zip(rest, row[len(key):], strict=True)})
            for row in rows)
    return {table: rows for table, rows in found.items() if rows}


@functools.cache
def _server_numbered(numbers: tuple[str, ...], change_tx: str) -> tuple[str, str, str, str]:
    """The index posting, notice, timer and change statements numbered by the server:
    ``numbers`` are the SQL expressions of :data:`ROW_SEQUENCES`' next values, in that
    order, ``change_tx`` that of a change's ``tx`` (built once per store kind, not per
    unit of work)."""
    outbox, timer, entity_key, change = numbers
    return (_POST_KEY.replace("?)", entity_key + ")"),
            _ADD_NOTICE.replace("(?, ", f"({outbox}, ", 1),
            _SET_TIMER.replace("?)", timer + ")"),
            _ADD_CHANGE.replace("(0, ?, ", f"({change_tx}, {change}, ", 1))


def _query_writes() -> SkilltrocError:
    return refusal("store_query_writes")


def _position(sort: str, entity_id: str) -> bytes:
    """An entity's position in an ordered index key, as stored: bytes compare bytewise."""
    return position_of(sort, entity_id).encode("utf-8")


def sort_of(position: bytes | memoryview) -> str:
    """The sort text of a stored position (the text before the id)."""
    return bytes(position).decode("utf-8").rpartition(ORDER_SEPARATOR)[0]


def _key_lock(kind: str, index: str, key: str) -> str:
    """The lock name of one key of one index (see :class:`Locking`)."""
    return f"key\x1f{kind}\x1f{index}\x1f{key}"


def _entity_lock(kind: str, entity_id: str) -> str:
    """What says that a unit holds an entity of a ``shared_reads`` kind alone."""
    return f"entity\x1f{kind}\x1f{entity_id}"


def _queue_lock(queue: str) -> str:
    return f"queue\x1f{queue}"


class SqlCache:
    """What a store knows of its tables between units of work: decoded entities and
    their index keys, index postings, balances, holds, statement lengths, counters,
    idempotency records, sequence values, the next transfer number and the first timer.

    It is only right while no other connection writes, so the store checks, under its
    write lock at the start of every unit of work, a marker that changes when another
    connection commits (:meth:`validate`); a failed commit forgets everything
    (:meth:`invalidate`), a rollback puts back what its unit changed (a journal).
    It holds only what the tables hold (no absent entity, no empty index posting: an id
    or a key can be an email), so an erased member's data leaves it with their rows.
    """

    def __init__(self, limit: int = 50_000) -> None:
        #: Entries kept at most: past this the next unit of work starts from empty.
        self.limit = limit
        #: The database's change marker for the state described here (None: unknown).
        self.token: object = None
        self.entities: dict[tuple[str, str], Any] = {}
        self.posted: dict[tuple[str, str], tuple[IndexKey, ...]] = {}
        self.postings: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self.balances: dict[str, Balance | None] = {}
        self.holds: dict[str, Hold | None] = {}
        self.line_counts: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self.ledger_keys: dict[str, IdempotencyRecord] = {}
        self.sequences: dict[str, int] = {}
        #: "next_transfer" -> int; "first_timer" -> (due, seq, kind, ref) or None (none).
        self.facts: dict[str, Any] = {}

    def _tables(self) -> tuple[dict[Any, Any], ...]:
        return (self.entities, self.posted, self.postings, self.balances, self.holds,
                self.line_counts, self.counters, self.ledger_keys, self.sequences,
                self.facts)

    def validate(self, token: object) -> None:
        """A unit of work starts on a database whose change marker is ``token``: keep
        what is known if it describes that state, forget it otherwise."""
        if token is None or token != self.token or self._size() > self.limit:
            if self._size():
                LOGGER.debug("store cache dropped: %s", "another process committed"
                             if token != self.token else "over its limit")
            self.clear()
        self.token = token

    def _size(self) -> int:
        return (len(self.entities) + len(self.posted) + len(self.postings)
                + len(self.balances) + len(self.holds) + len(self.line_counts)
                + len(self.counters) + len(self.ledger_keys))

    def invalidate(self) -> None:
        """Forget everything: the database's state is unknown (a commit failed)."""
        self.clear()
        self.token = None

    def clear(self) -> None:
        for table in self._tables():
            table.clear()


class SqlBook:
    """The :class:`~skilltroc_core.ledger.LedgerBook` of a SQL store, for one unit of
    work: reads go through the store's cache, writes wait in the unit of work."""

    def __init__(self, unit: SqlUnitOfWork) -> None:
        self._unit = unit
        self.db = unit.db
        self._for_update = unit.for_update
        cache = unit.cache
        self._balances = cache.balances
        self._holds = cache.holds
        self._line_counts = cache.line_counts
        self._counters = cache.counters
        self._ledger_keys = cache.ledger_keys
        self._facts = cache.facts

    def balance(self, account: str) -> Balance | None:
        if account.startswith(PLATFORM):  # the sum of its shards, read when asked
            self._unit._flush_for("platform_balances")
            row = self.db.one(
                "SELECT SUM(balance) FROM platform_balances WHERE account = ?", account)
            return None if row[0] is None else Balance(int(row[0]), 0)
        # A miss is never a row this unit wrote (writes are cached): no flush needed.
        found = self._balances.get(account, _MISSING)
        if found is _MISSING:
            row = self.db.one("SELECT available, held FROM accounts WHERE id = ?"
                              + self._for_update, account)
            found = Balance(row[0], row[1]) if row else None
            self._unit._load(self._balances, account, found)
        return found  # type: ignore[no-any-return]

    def set_balance(self, account: str, balance: Balance) -> None:
        if account.startswith(PLATFORM):
            refuse_platform_balance(account)
        if self._balances.get(account) == balance:
            return
        self._unit._write("accounts", _SET_BALANCE,
                          (account, balance.available, balance.held))
        self._unit._remember(self._balances, account, balance)

    def next_seq(self) -> int:
        if self._unit.locking is not None:
            return self._unit.next_in_sequence(TRANSFER_SEQUENCE)
        found = self._facts.get("next_transfer")
        if found is None:
            row = self.db.one("SELECT MAX(seq) FROM transfers")
            found = (row[0] or 0) + 1
            self._unit._load(self._facts, "next_transfer", found)
        return int(found)

    def record(
        self,
        transfer: Transfer,
        balances: Sequence[tuple[str, Balance]],
        lines: Sequence[StatementLine],
        hold: Hold | None,
    ) -> None:
        t = transfer
        unit = self._unit
        if unit.locking is None:
            unit._remember(self._facts, "next_transfer", t.seq + 1)
        unit._write("transfers", _ADD_TRANSFER, (
            t.seq, t.debit, t.credit, t.amount, t.kind.value, t.reference, instant_text(t.at),
            t.hold_id, t.reason.value if t.reason else None,
        ))
        for account, balance in balances:
            self.set_balance(account, balance)
        shard = unit.shard
        if t.debit.startswith(PLATFORM):
            unit._write("platform_balances", _ADD_TO_PLATFORM, (t.debit, shard, -t.amount))
        if t.credit.startswith(PLATFORM):
            unit._write("platform_balances", _ADD_TO_PLATFORM, (t.credit, shard, t.amount))
        for line in lines:
            if unit.locking is not None:  # numbered when written, under the wallet's lock
                unit._write("statement_lines", _NEXT_LINE, (
                    line.member, line.member, line.transfer_seq, instant_text(line.at),
                    line.kind.value, line.amount, line.held_change, line.balance, line.held,
                    line.reference, line.counterpart,
                ))
                continue
            unit._write("statement_lines", _ADD_LINE, (
                line.member, self._take_line(line.member), line.transfer_seq,
                instant_text(line.at), line.kind.value, line.amount, line.held_change,
                line.balance, line.held, line.reference, line.counterpart,
            ))
        if hold is not None:
            unit._write("holds", _SET_HOLD, (
                hold.id, hold.member, hold.amount, hold.reference, instant_text(hold.opened_at),
                hold.state.value, hold.payee,
                instant_text(hold.ended_at) if hold.ended_at else None,
                hold.void_reason.value if hold.void_reason else None,
            ))
            unit._remember(self._holds, hold.id, hold)

    def transfer(self, seq: int) -> Transfer | None:
        self._unit._flush_for("transfers")
        row = self.db.one(
            "SELECT seq, debit, credit, amount, kind, reference, at, hold_id, reason "
            "FROM transfers WHERE seq = ?", seq,
        )
        return _transfer(row) if row else None

    def line_count(self, member: str) -> int:
        found = self._line_counts.get(member)
        if found is None:
            row = self.db.one("SELECT MAX(idx) FROM statement_lines WHERE member = ?", member)
            found = 0 if row[0] is None else row[0] + 1
            self._unit._load(self._line_counts, member, found)
        return found

    def _take_line(self, member: str) -> int:
        """The index of ``member``'s next statement line (and count it)."""
        index = self.line_count(member)
        self._unit._remember(self._line_counts, member, index + 1)
        return index

    def lines(self, member: str, offset: int, limit: int) -> list[StatementLine]:
        self._unit._flush_for("statement_lines")
        rows = self.db.all(
            "SELECT member, transfer_seq, at, kind, amount, held_change, balance, held, "
            "reference, counterpart FROM statement_lines WHERE member = ? AND idx >= ? "
            "ORDER BY idx LIMIT ?", member, offset, limit,
        )
        return [
            StatementLine(r[0], r[1], parse_instant(r[2]), TransferKind(r[3]), r[4], r[5], r[6],
                          r[7], r[8], r[9])
            for r in rows
        ]

    def hold(self, hold_id: str) -> Hold | None:
        found = self._holds.get(hold_id, _MISSING)
        if found is _MISSING:
            row = self.db.one(
                "SELECT id, member, amount, reference, opened_at, state, payee, ended_at, "
                "void_reason FROM holds WHERE id = ?" + self._for_update, hold_id,
            )
            found = _hold(row) if row else None
            self._unit._load(self._holds, hold_id, found)
        return found  # type: ignore[no-any-return]

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        found = self._ledger_keys.get(key, _MISSING)
        if found is _MISSING:
            row = self.db.one(
                "SELECT key, operation, fingerprint, result FROM ledger_keys WHERE key = ?"
                + self._for_update, key
            )
            if row is None:  # not remembered: a key is the host's text
                return None
            found = IdempotencyRecord(
                key=row[0], operation=row[1], fingerprint=row[2], result=row[3])
            self._unit._load(self._ledger_keys, key, found)
        return found  # type: ignore[no-any-return]

    def set_idempotency(self, record: IdempotencyRecord) -> None:
        self._unit._write(
            "ledger_keys",
            "INSERT INTO ledger_keys (key, operation, fingerprint, result) VALUES (?, ?, ?, ?)",
            (record.key, record.operation, record.fingerprint, record.result),
        )
        self._unit._remember(self._ledger_keys, record.key, record)

    def counter(self, name: str) -> int:
        found = self._counters.get(name)
        if found is None:
            self._unit._flush_for("counter_shards")
            row = self.db.one("SELECT SUM(value) FROM counter_shards WHERE name = ?", name)
            found = int(row[0]) if row[0] is not None else 0
            self._unit._load(self._counters, name, found)
        return found

    def add_to_counter(self, name: str, delta: int) -> None:
        # one shard per unit of work and process, so that writers rarely meet on a row
        shard = self._unit.shard
        self._unit._write("counter_shards", _ADD_TO_COUNTER, (name, shard, delta))
        known = self._counters.get(name)
        if known is not None:
            self._unit._remember(self._counters, name, known + delta)

    def counters(self) -> Mapping[str, int]:
        self._unit._flush_for("counter_shards")
        return {r[0]: int(r[1]) for r in self.db.all(
            "SELECT name, SUM(value) FROM counter_shards GROUP BY name")}

    def all_balances(self) -> Iterable[tuple[str, Balance]]:
        self._unit._flush_for("accounts", "platform_balances")
        wallets = [
            (r[0], Balance(r[1], r[2]))
            for r in self.db.all("SELECT id, available, held FROM accounts")
        ]
        return wallets + [
            (r[0], Balance(int(r[1]), 0)) for r in self.db.all(
                "SELECT account, SUM(balance) FROM platform_balances GROUP BY account")
        ]

    def all_holds(self) -> Iterable[Hold]:
        self._unit._flush_for("holds")
        return [
            _hold(r) for r in self.db.all(
                "SELECT id, member, amount, reference, opened_at, state, payee, ended_at, "
                "void_reason FROM holds"
            )
        ]

    def all_transfers(self) -> Iterable[Transfer]:
        self._unit._flush_for("transfers")
        return [
            _transfer(r) for r in self.db.all(
                "SELECT seq, debit, credit, amount, kind, reference, at, hold_id, reason "
                "FROM transfers ORDER BY seq"
            )
        ]


class SqlUnitOfWork:
    """Entities, outbox, timers and sequences in SQL, inside the adapter's transaction
    (the ledger book, the outbox, the timers and the ordered queues are its parts:
    :class:`SqlBook`, :class:`SqlOutbox`, :class:`SqlTimers`, :class:`SqlQueues`).

    Reads go through the store's :class:`SqlCache` (the SQL only on a miss); writes wait
    in order in the unit of work and go to the database at commit, each run of one
    statement in one driver call (``executemany``), so that PostgreSQL gets them in one
    exchange. A read the cache cannot answer first sends the waiting writes to the
    tables it reads (:meth:`_flush_for`): code reading SQL of its own through ``db``
    calls it first, or writes through ``db`` at once as the queue methods do.

    With ``locking`` (many writers at once, see :class:`Locking`) every entity, wallet,
    hold and idempotency record read is locked until the unit ends, and so is every
    index key and queue read or changed; an entity read as absent is then written with
    a plain ``INSERT``, so that two units that both found it absent cannot both create
    it (the second fails, and the service runs its command again).
    """

    def __init__(self, db: Runner, finish: Callable[..., None], forget_where: str,
                 cache: SqlCache | None = None, locking: Locking | None = None,
                 read_only: bool = False) -> None:
        self.db = db
        self.read_only = read_only  # a query: every write is refused
        self.locking = locking
        self.for_update = locking.for_update if locking is not None else ""
        #: The shard this unit adds to (platform accounts, supply counters).
        self.shard = random.randrange(locking.shards) if locking is not None else 0
        self._locked: set[str] = set()  # names locked by this unit
        self._shared: set[str] = set()  # names locked shared by this unit
        self._absent: set[tuple[str, str]] = set()  # entities read as not stored
        self.erases = False  # whether the store folds its journal in after the commit
        self._due_guard: str | None = None  # every timer due by then was applied
        self._applied_up_to = ""  # the latest due instant of a timer this unit claimed
        self._scheduled: set[str] = set()  # timers this unit scheduled
        self._drawn: dict[str, list[int]] = {}  # server sequence values taken
        self._forget_where = forget_where  # outbox rows addressed to one ``?`` recipient
        # finish(commit, write=None): the store commits (after calling ``write``, which
        # sends the waiting writes) or rolls back, and releases its write lock.
        self._finish = finish
        self._open = True
        self.cache = cache if cache is not None else SqlCache()
        self._entities = self.cache.entities
        self._posted = self.cache.posted
        self._postings = self.cache.postings
        self._sequences = self.cache.sequences
        self._facts = self.cache.facts
        self._journal: list[_Undo] = []
        # Writes not sent yet: [statement, its rows] in order, and the tables they touch.
        self._pending: list[tuple[str, list[tuple[Any, ...]]]] = []
        self._dirty: set[str] = set()
        self._last_sql: str | None = None
        self._last_rows: list[tuple[Any, ...]] = []
        self._flushed = False  # whether some writes were sent before the commit
        # name -> the last value handed out: a sequence is stored once, at commit.
        self._counted: dict[str, int] = {}
        self._deleted: list[tuple[str, str]] = []
        self._post_key, self._add_notice, self._set_timer, self._add_change = (
            _server_numbered(tuple(locking.row_sequence(name) for name in ROW_SEQUENCES),
                             locking.change_tx)
            if locking is not None else (_POST_KEY, _ADD_NOTICE, _SET_TIMER, _ADD_CHANGE))
        self._book = SqlBook(self)
        self._indexes = SqlIndexes(self)
        self._outbox = SqlOutbox(self)
        self._timers = SqlTimers(self)
        self._queues = SqlQueues(self)

    @property
    def book(self) -> SqlBook:
        return self._book

    def _lock(self, *names: str) -> None:
        """Lock ``names`` until the unit ends (with ``locking``; nothing otherwise)."""
        locking = self.locking
        if locking is None:
            return
        new = [name for name in names if name not in self._locked]
        if new:
            locking.lock_names(self.db, new)
            self._locked.update(new)

    def _lock_row(self, kind: EntityKind[Any], entity_id: str) -> None:
        """Lock a stored entity of a ``shared_reads`` kind alone, before changing it
        (it was read ``FOR SHARE``; units reading it meanwhile are waited for)."""
        name = _entity_lock(kind.name, entity_id)
        if name not in self._locked and (kind.name, entity_id) not in self._absent:
            self.db.one("SELECT 1 FROM entities WHERE kind = ? AND id = ? FOR UPDATE",
                        kind.name, entity_id)
            self._locked.add(name)

    # ------------------------------------------------------------------ cache, writes
    def _remember(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """Cache a write of this unit of work (undone by a rollback)."""
        self._journal.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def _load(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """Cache what was just read from the database for a missing ``key``."""
        if self._flushed:  # it may show this unit's writes: a rollback must forget it
            self._journal.append((table, key, _MISSING))
        table[key] = value

    def _forget(self, table: dict[Any, Any], key: Any) -> None:
        old = table.pop(key, _MISSING)
        if old is not _MISSING:
            self._journal.append((table, key, old))

    def _write(self, table: str, sql: str, params: tuple[Any, ...]) -> None:
        if self.read_only:
            raise _query_writes()
        if sql is self._last_sql:  # the statements are constants: same text, same object
            self._last_rows.append(params)
        else:
            rows = self._last_rows = [params]
            self._last_sql = sql
            self._pending.append((sql, rows))
            self._dirty.add(table)

    def _flush_for(self, *tables: str) -> None:
        """Send the waiting writes if some touch ``tables`` (before reading them in SQL)."""
        if self._dirty and not self._dirty.isdisjoint(tables):
            with self.db.batch():
                self._flush()

    def _flush(self) -> None:
        """Send every waiting write, in order."""
        many = self.db.many
        for sql, rows in self._pending:
            many(sql, rows)
        self._pending.clear()
        self._dirty.clear()
        self._last_sql = None
        self._flushed = True

    def _write_out(self) -> bool:
        """Send the sequences and every waiting write; the store calls this just before
        COMMIT. Whether this unit of work wrote anything at all."""
        if self._due_guard is not None and self.locking is not None:  # last, before COMMIT
            sql, params = self.locking.guard_due(self._due_guard, sorted(self._scheduled))
            self._write("timers", sql, params)
        for name, value in self._counted.items():  # server sequences: nothing to write
            self._write("sequences", _SET_SEQUENCE, (name, value))
            self._sequences[name] = value
        self._drawn.clear()  # kept: a commit uses them for good
        for deleted in self._deleted:  # an erased entity's id leaves the cache too
            if self._entities.get(deleted, _MISSING) is None:
                del self._entities[deleted]
                self._posted.pop(deleted, None)
        self._flush()
        return self.db.wrote

    # ------------------------------------------------------------------ entities
    def get(self, kind: EntityKind[E], entity_id: str) -> E | None:
        # A miss is never an entity this unit wrote (writes are cached): no flush needed.
        cached = (kind.name, entity_id)
        found = self._entities.get(cached, _MISSING)
        if found is _MISSING:
            if cached in self._absent:
                return None
            lock = self.for_update
            if kind.immutable:
                lock = ""
            elif kind.shared_reads and lock:  # others may read it at once; not change it
                lock = " FOR SHARE"
            row = self.db.one("SELECT data FROM entities WHERE kind = ? AND id = ?" + lock,
                              kind.name, entity_id)
            if row is None:  # not remembered: the cache holds only what the tables hold
                if self.locking is not None:
                    self._absent.add(cached)
                return None
            found = _decoded(kind, entity_id, row[0])
            self._load(self._entities, cached, found)
        return found  # type: ignore[no-any-return]

    def put(self, kind: EntityKind[E], entity_id: str, entity: E) -> None:
        cached = (kind.name, entity_id)
        old = self._entities.get(cached)
        if old is not None and (old is entity or old == entity):
            return  # stored as it is
        if self.locking is not None:
            if old is None and cached not in self._absent:
                self.get(kind, entity_id)  # lock it, or know it absent, before writing it
            if kind.shared_reads:  # read under a shared lock: writing needs it alone
                self._lock_row(kind, entity_id)
        if kind.indexes:
            new_keys = kind.keys_of(entity)
            added, removed = reposting(self._indexes.posted_keys(kind, entity_id), new_keys)
            if added or removed:
                check_unique(kind, added, lambda index, key: self._indexes.taken(
                    kind.name, index.name, key, entity_id))
                self._indexes.move(kind, entity_id, removed, added)  # all checked: write
                self._remember(self._posted, cached, new_keys)
        if cached in self._absent:  # found absent: if another unit stored it since, fail
            self._absent.discard(cached)
            self._write("entities", _ADD_ENTITY, (kind.name, entity_id, dumps(entity)))
        else:
            self._write("entities", _PUT_ENTITY, (kind.name, entity_id, dumps(entity)))
        self._remember(self._entities, cached, entity)

    def delete(self, kind: EntityKind[E], entity_id: str) -> None:
        if self.locking is not None:
            if self.get(kind, entity_id) is None:
                return  # nothing stored: nothing to delete
            if kind.shared_reads:
                self._lock_row(kind, entity_id)
            self._lock(*(_key_lock(kind.name, kind.indexes[position].name, key)
                         for position, key in self._indexes.posted_keys(kind, entity_id)
                         if position not in kind.ordered))
        for position, key in self._indexes.posted_keys(kind, entity_id):
            if position not in kind.ordered:
                self._indexes.unpost(kind.name, kind.indexes[position].name, key, entity_id,
                             write=False)
        self._write("entity_keys", "DELETE FROM entity_keys WHERE kind = ? AND id = ?",
                    (kind.name, entity_id))
        if kind.ordered:
            self._write("ordered_keys", "DELETE FROM ordered_keys WHERE kind = ? AND id = ?",
                        (kind.name, entity_id))
        self._write("entities", "DELETE FROM entities WHERE kind = ? AND id = ?",
                    (kind.name, entity_id))
        self._remember(self._entities, (kind.name, entity_id), None)
        self._remember(self._posted, (kind.name, entity_id), ())
        self._deleted.append((kind.name, entity_id))  # forgotten at commit

    def page(self, kind: EntityKind[E], index: str, key: str, *, after: str | None = None,
             limit: int) -> list[Ordered[E]]:
        return self._indexes.page(kind, index, key, after=after, limit=limit)

    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        return self._indexes.find(kind, index, key)

    def scan(self, kind: EntityKind[E], *, after: str | None = None, limit: int
             ) -> list[tuple[str, E]]:
        return self._indexes.scan(kind, after, limit)

    def repost(self, kind: EntityKind[E], entity_id: str) -> None:
        self._indexes.repost(kind, entity_id)

    # ------------------------------------------------------------------ outbox
    def append_notification(self, notification: Notification) -> None:
        self._outbox.append(notification)

    def forget_notifications(self, member_id: str, email: str | None) -> None:
        self._outbox.forget(member_id, email)

    # ------------------------------------------------------------------ timers
    def schedule(self, timer: Timer) -> None:
        self._timers.schedule(timer)

    def cancel_timer(self, kind: str, ref: str) -> None:
        self._timers.cancel(kind, ref)

    def next_due(self, until: datetime, *, wait: bool = True) -> Timer | None:
        return self._timers.next_due(until, wait=wait)

    def guard_due(self, until: datetime) -> None:
        if self.locking is not None:
            self._due_guard = instant_text(until)

    def erasing(self) -> None:
        self.erases = True

    # ------------------------------------------------------------------ change feed
    def record_change(self, topic: str, entity_id: str, data: str | None) -> None:
        if self.locking is not None:  # numbered by the server when written
            self._write("changes", self._add_change, (topic, entity_id, data))
        else:  # numbered now: the unit holds the write lock until it commits
            self._write("changes", _ADD_CHANGE,
                        (self.next_in_sequence("change"), topic, entity_id, data))

    def forget_changes(self, topic: str, entity_id: str) -> None:
        # after this unit's own changes of the entity, sent before it (in order)
        self._write("changes", _FORGET_CHANGES, (topic, entity_id))

    def confirm_due(self) -> None:
        self._timers.confirm_due()

    # ------------------------------------------------------------------ sequences
    def next_in_sequence(self, name: str) -> int:
        if self.read_only:
            raise _query_writes()
        locking = self.locking
        if locking is not None:
            taken = locking.next_value(self.db, name)
            self._drawn.setdefault(name, []).append(taken)
            return taken
        value = self._counted.get(name)
        if value is None:
            value = self._sequences.get(name)
            if value is None:  # sequences are written at commit only: nothing waits
                row = self.db.one("SELECT value FROM sequences WHERE name = ?", name)
                value = int(row[0]) if row else 0
                self._load(self._sequences, name, value)
        value += 1
        self._counted[name] = value
        return value

    # Ordered queues (see :class:`SqlQueues`).
    def queue_put(self, queue: str, member: str, sort_key: str, *,
                  later: bool = False) -> None:
        self._queues.put(queue, member, sort_key, later=later)

    def queue_remove(self, queue: str, member: str) -> None:
        self._queues.remove(queue, member)

    def queue_first(self, queue: str) -> str | None:
        return self._queues.first(queue)

    def queue_key(self, queue: str, member: str) -> str | None:
        return self._queues.key(queue, member)

    def commit(self) -> None:
        if self._open:
            self._open = False
            self._journal.clear()
            # the store sends the writes, commits, and forgets its cache if that fails
            self._finish(True, self._write_out, self.erases)

    def rollback(self) -> None:
        if self._open:
            self._open = False
            self._pending.clear()
            self._dirty.clear()
            self._last_sql = None
            if self.locking is not None:
                for name, values in self._drawn.items():
                    self.locking.give_back(name, values)
                self._drawn.clear()
            journal = self._journal
            while journal:
                table, key, old = journal.pop()
                if old is _MISSING:
                    table.pop(key, None)
                else:
                    table[key] = old
            self._finish(False)


class SqlIndexes:
    """The index postings of one :class:`SqlUnitOfWork`: plain ones in ``entity_keys``
    (read by :meth:`find`, cached), ordered ones in ``ordered_keys`` (read by
    :meth:`page`, schema 5); what the unit's ``put`` and ``delete`` move."""

    def __init__(self, unit: SqlUnitOfWork) -> None:
        self.unit = unit

    def move(self, kind: EntityKind[Any], entity_id: str, removed: tuple[IndexKey, ...],
             added: tuple[IndexKey, ...]) -> None:
        """Take ``entity_id`` out of the ``removed`` pairs and post it under ``added``
        (plain keys are locked first with several writers at once; ordered ones are read
        by queries only, which lock nothing)."""
        unit = self.unit
        ordered = kind.ordered
        if unit.locking is not None:
            unit._lock(*(_key_lock(kind.name, kind.indexes[position].name, key)
                         for position, key in (*removed, *added) if position not in ordered))
        for position, key in removed:
            index = kind.indexes[position].name
            if position in ordered:
                self.unorder(kind.name, index, key, entity_id)
            else:
                self.unpost(kind.name, index, key, entity_id)
        for position, key in added:
            index = kind.indexes[position].name
            if position in ordered:
                self.order(kind.name, index, key, entity_id)
            else:
                self.post(kind.name, index, key, entity_id)

    def posted_keys(self, kind: EntityKind[E], entity_id: str) -> tuple[IndexKey, ...]:
        """The ``(index position, key)`` pairs ``entity_id`` is posted under."""
        unit = self.unit
        cached = (kind.name, entity_id)
        posted: tuple[IndexKey, ...] | None = unit._posted.get(cached)
        if posted is None:
            posted = ()
            stored = unit._entities.get(cached, _MISSING)
            if unit.locking is not None and stored is not _MISSING:
                # read (and locked) in this unit: its keys are those its indexes give it,
                # as they were when it was stored (a version changing an index rebuilds
                # its postings when it migrates), without reading them again
                if stored is not None:
                    posted = kind.keys_of(stored)
            elif stored is not None and cached not in unit._absent:  # not known absent
                posted = self.stored_pairs(kind, entity_id)
            unit._load(unit._posted, cached, posted)
        return posted

    def stored_pairs(self, kind: EntityKind[E], entity_id: str) -> tuple[IndexKey, ...]:
        """The pairs the tables post ``entity_id`` under, read from them."""
        unit = self.unit
        unit._flush_for("entity_keys", "ordered_keys")
        rows = unit.db.all("SELECT idx, key FROM entity_keys WHERE kind = ? AND id = ?",
                           kind.name, entity_id)
        if kind.ordered:
            rows += [(index, f"{key}{ORDER_SEPARATOR}{sort_of(position)}")
                     for index, key, position in unit.db.all(
                         "SELECT idx, key, position FROM ordered_keys WHERE kind = ? AND id = ?",
                         kind.name, entity_id)]
        return posted_pairs(kind, rows)

    def repost(self, kind: EntityKind[E], entity_id: str) -> None:
        """Post a stored entity under the keys its kind gives it now."""
        unit = self.unit
        if unit.read_only:
            raise _query_writes()
        entity = unit.get(kind, entity_id)
        if entity is None:
            return
        keys = kind.keys_of(entity)
        added, removed = reposting(self.stored_pairs(kind, entity_id), keys)
        if added or removed:
            check_unique(kind, added, lambda index, key: self.taken(
                kind.name, index.name, key, entity_id))
            self.move(kind, entity_id, removed, added)
        unit._remember(unit._posted, (kind.name, entity_id), keys)

    def scan(self, kind: EntityKind[E], after: str | None, limit: int) -> list[tuple[str, E]]:
        """Stored entities of ``kind`` in id order after ``after`` (a maintenance walk)."""
        unit = self.unit
        unit._flush_for("entities")
        rows = unit.db.all("SELECT id, data FROM entities WHERE kind = ? AND id > ? "
                           "ORDER BY id LIMIT ?", kind.name, after or "", max(limit, 0))
        return [(entity_id, unit._entities.get((kind.name, entity_id))
                 or _decoded(kind, entity_id, data)) for entity_id, data in rows]

    def taken(self, kind: str, index: str, key: str, entity_id: str) -> bool:
        """Whether an entity other than ``entity_id`` has ``key`` in a unique index."""
        unit = self.unit
        unit._lock(_key_lock(kind, index, key))
        postings = unit._postings.get((kind, index, key))
        if postings is not None:
            return any(other != entity_id for other in postings)
        unit._flush_for("entity_keys")
        return unit.db.one("SELECT id FROM entity_keys WHERE kind = ? AND idx = ? AND key = ? "
                           "AND id <> ?", kind, index, key, entity_id) is not None

    def post(self, kind: str, index: str, key: str, entity_id: str) -> None:
        unit = self.unit
        if unit.locking is not None:  # numbered by the server when written
            unit._write("entity_keys", unit._post_key, (kind, index, key, entity_id))
        else:
            unit._write("entity_keys", _POST_KEY,
                        (kind, index, key, entity_id, unit.next_in_sequence("entity_key")))
        posting = (kind, index, key)
        postings = unit._postings.get(posting)
        if postings is not None:  # the newest key comes last (``find`` order)
            if len(postings) < _POSTINGS_KEPT:
                unit._remember(unit._postings, posting, (*postings, entity_id))
            else:
                unit._forget(unit._postings, posting)

    def unpost(self, kind: str, index: str, key: str, entity_id: str, *,
                write: bool = True) -> None:
        unit = self.unit
        if write:
            unit._write("entity_keys", _UNPOST_KEY, (kind, index, key, entity_id))
        posting = (kind, index, key)
        postings = unit._postings.get(posting)
        if postings is not None:
            kept = tuple(other for other in postings if other != entity_id)
            if kept:
                unit._remember(unit._postings, posting, kept)
            else:  # an erased member's key (an email) must not linger in the cache
                unit._forget(unit._postings, posting)

    def order(self, kind: str, index: str, posted: str, entity_id: str) -> None:
        unit = self.unit
        key, sort = ordered_key(posted)
        unit._write("ordered_keys", _ORDER_KEY,
                    (kind, index, key, _position(sort, entity_id), entity_id))

    def unorder(self, kind: str, index: str, posted: str, entity_id: str) -> None:
        unit = self.unit
        key, sort = ordered_key(posted)
        unit._write("ordered_keys", _UNORDER_KEY, (kind, index, key, _position(sort, entity_id)))

    def page(self, kind: EntityKind[E], index: str, key: str, *, after: str | None = None,
             limit: int) -> list[Ordered[E]]:
        unit = self.unit
        if kind.index(index).order is None:  # programming error
            raise LookupError(f"{kind.name} index {index!r} is not ordered: use find")
        if limit <= 0:
            return []
        unit._flush_for("ordered_keys", "entities")
        name = kind.name
        entities = unit._entities
        found: list[Ordered[E]] = []
        start = b"" if after is None else after.encode("utf-8")
        for position, data in unit.db.all(_PAGE, name, index, key, start, limit):
            text = bytes(position).decode("utf-8")
            entity_id = text.rpartition(ORDER_SEPARATOR)[2]
            entity = entities.get((name, entity_id))
            if entity is None:
                entity = _decoded(kind, entity_id, data)
            found.append(Ordered(text, entity))
        return found

    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        unit = self.unit
        if kind.index(index).order is not None:  # programming error
            raise LookupError(f"{kind.name} index {index!r} is ordered: read it with page")
        name = kind.name
        unit._lock(_key_lock(name, index, key))
        entities = unit._entities
        posting = (name, index, key)
        postings = unit._postings.get(posting)
        if postings is not None:
            known: list[Any] = [entities.get((name, entity_id)) for entity_id in postings]
            if None not in known:
                return known
        unit._flush_for("entity_keys", "entities")
        lock = ""
        if unit.locking is not None:
            lock = " FOR SHARE OF e" if kind.shared_reads else " FOR UPDATE OF e"
        rows = unit.db.all(
            "SELECT e.id, e.data FROM entity_keys k JOIN entities e ON e.kind = k.kind "
            "AND e.id = k.id WHERE k.kind = ? AND k.idx = ? AND k.key = ? ORDER BY k.seq"
            + lock, name, index, key,
        )
        found: list[E] = []
        for entity_id, data in rows:
            cached = (name, entity_id)
            entity = entities.get(cached)
            if entity is None:
                entity = _decoded(kind, entity_id, data)
                unit._load(entities, cached, entity)
            found.append(entity)
        if 0 < len(rows) <= _POSTINGS_KEPT:  # no empty ones: a key can be an email
            unit._load(unit._postings, posting, tuple(row[0] for row in rows))
        return found


class SqlOutbox:
    """The notices one :class:`SqlUnitOfWork` appends (with its other writes) or makes
    forget a purged member."""

    def __init__(self, unit: SqlUnitOfWork) -> None:
        self.unit = unit

    def append(self, notification: Notification) -> None:
        unit = self.unit
        row = (dumps(notification), json.dumps([*notification.recipients, *notification.emails]))
        if unit.locking is not None:  # numbered by the server when written
            unit._write("outbox", unit._add_notice, row)
        else:
            unit._write("outbox", _ADD_NOTICE, (unit.next_in_sequence("outbox"), *row))

    def forget(self, member_id: str, email: str | None) -> None:
        """Drop the notices only ``member_id`` (or ``email``) was to get, or that were
        about them (``forget_where`` finds both, with the recipient as each of its
        parameters); take them off the notices shared with others, who must still be
        told."""
        unit = self.unit
        for recipient in (member_id, email) if email else (member_id,):
            unit._flush_for("outbox")
            rows = unit.db.all(
                f"SELECT seq, data FROM outbox WHERE {unit._forget_where} ORDER BY seq"
                + unit.for_update, *[recipient] * unit._forget_where.count("?"))
            for seq, data in rows:
                kept = loads(Notification, data).without(member_id, email)
                if kept is None:
                    unit._write("outbox", "DELETE FROM outbox WHERE seq = ?", (seq,))
                else:
                    unit._write(
                        "outbox", "UPDATE outbox SET data = ?, recipients = ? WHERE seq = ?",
                        (dumps(kept), json.dumps([*kept.recipients, *kept.emails]), seq))


class SqlTimers:
    """The timers of one :class:`SqlUnitOfWork`: scheduled and cancelled with its writes,
    the first one due kept in its cache (one writer) or claimed under a lock (many)."""

    def __init__(self, unit: SqlUnitOfWork) -> None:
        self.unit = unit

    def schedule(self, timer: Timer) -> None:
        unit = self.unit
        due = instant_text(timer.due)
        if unit.locking is not None:  # numbered by the server; no first timer kept
            unit._write("timers", unit._set_timer, (timer.id, timer.kind, timer.ref, due))
            unit._scheduled.add(timer.id)
            return
        seq = unit.next_in_sequence("timer")
        unit._write("timers", _SET_TIMER, (timer.id, timer.kind, timer.ref, due, seq))
        first = unit._facts.get("first_timer", _MISSING)
        if first is _MISSING:
            return
        if first is None or (due, seq) < first[:2]:
            unit._remember(unit._facts, "first_timer", (due, seq, timer.kind, timer.ref))
        elif first[2:] == (timer.kind, timer.ref):  # the first one moved later
            unit._forget(unit._facts, "first_timer")

    def cancel(self, kind: str, ref: str) -> None:
        unit = self.unit
        unit._write("timers", "DELETE FROM timers WHERE id = ?", (f"{kind}:{ref}",))
        first = unit._facts.get("first_timer")
        if first is not None and first[2:] == (kind, ref):
            unit._forget(unit._facts, "first_timer")

    def next_due(self, until: datetime, *, wait: bool = True) -> Timer | None:
        unit = self.unit
        locking = unit.locking
        if locking is not None:
            unit._flush_for("timers")  # a timer this unit cancelled is not due any more
            claimed = locking.claim_due(unit.db, instant_text(until), wait)
            if claimed is None:
                return None
            timer = Timer(kind=claimed[2], ref=claimed[3], due=parse_instant(claimed[0]))
            if wait and claimed[0] < unit._applied_up_to and timer.id not in unit._scheduled:
                # another unit committed a timer due before one this unit applied: applied
                # now it would come after a later one, so the command runs again
                raise refusal("store_deadline_came_in_meanwhile")
            unit._applied_up_to = max(unit._applied_up_to, claimed[0])
            return timer
        first = unit._facts.get("first_timer", _MISSING)
        if first is _MISSING:
            unit._flush_for("timers")
            row = unit.db.one("SELECT due, seq, kind, ref FROM timers ORDER BY due, seq LIMIT 1")
            first = (row[0], row[1], row[2], row[3]) if row else None
            unit._load(unit._facts, "first_timer", first)
        if first is None or first[0] > instant_text(until):
            return None
        return Timer(kind=first[2], ref=first[3], due=parse_instant(first[0]))

    def confirm_due(self) -> None:
        unit = self.unit
        if unit.locking is not None and unit._due_guard is not None and not unit.read_only:
            unit._flush_for("timers")
            sql, params = unit.locking.guard_due(unit._due_guard, sorted(unit._scheduled))
            unit.db.one(sql, *params)


class SqlQueues:
    """The ordered queues of one :class:`SqlUnitOfWork`: one row per member, ``sort_key``
    = key, NUL, member (schema 3), written at once (not with the unit's other writes)."""

    def __init__(self, unit: SqlUnitOfWork) -> None:
        self.unit = unit

    def put(self, queue: str, member: str, sort_key: str, *, later: bool = False) -> None:
        if "\x00" in sort_key:
            raise refusal("store_queue_key_nul")
        try:
            position = f"{sort_key}\x00{member}".encode()
        except UnicodeEncodeError as exc:
            raise _unstorable(exc) from exc
        if self.unit.read_only:
            raise _query_writes()
        self.lock_member(queue, member, first_may_change=not later)
        self.unit.db.run(
            "INSERT INTO queue_entries (queue, member, sort_key) VALUES (?, ?, ?) "
            "ON CONFLICT (queue, member) DO UPDATE SET sort_key = excluded.sort_key",
            queue, member, position,
        )

    def remove(self, queue: str, member: str) -> None:
        if self.unit.read_only:
            raise _query_writes()
        self.lock_member(queue, member)
        self.unit.db.run("DELETE FROM queue_entries WHERE queue = ? AND member = ?",
                         queue, member)

    def lock_member(self, queue: str, member: str, *, first_may_change: bool = False
                    ) -> None:
        """Lock one member of a queue: units changing different members go on together.
        One that may make a member first (a new one, a smaller key) also holds the queue
        shared, so that a unit reading the first member (which holds the queue alone)
        sees it or not, never in between. Moving a member back or taking it out makes
        nobody first who was not: a reader then only locks what its first member stands
        for and reads the first again (see ``serve``)."""
        if first_may_change:
            self.lock_shared(_queue_lock(queue))
        self.unit._lock(f"{_queue_lock(queue)}\x1f{member}")

    def lock_shared(self, name: str) -> None:
        """Lock ``name`` with others who lock it shared too, until the unit ends."""
        if self.unit.locking is not None and name not in self.unit._locked | self.unit._shared:
            self.unit.locking.lock_names(self.unit.db, (name,), shared=True)
            self.unit._shared.add(name)

    def first(self, queue: str) -> str | None:  # one reader of the first at a time
        self.unit._lock(_queue_lock(queue))
        row = self.unit.db.one(
            "SELECT member FROM queue_entries WHERE queue = ? ORDER BY sort_key LIMIT 1", queue
        )
        return str(row[0]) if row else None

    def key(self, queue: str, member: str) -> str | None:
        self.lock_member(queue, member)
        row = self.unit.db.one(
            "SELECT sort_key FROM queue_entries WHERE queue = ? AND member = ?", queue, member
        )
        if row is None:
            return None
        position = bytes(row[0])
        return position[:position.index(b"\x00")].decode()


