"""The server store: PostgreSQL through psycopg 3 (the optional extra ``postgres``).

The tables are the shared SQL schema of :mod:`._sql`, created on open in the database's
current schema (or in ``schema=``, created if missing) and recorded in a small
``skilltroc_meta`` table: an application marker (so that another program's database is
refused and left untouched) and the schema version (a store written by a newer library is
refused with :class:`~skilltroc_core.errors.SchemaTooNewError`). Opening is idempotent;
migrations take a transaction-scoped advisory lock (:data:`ADVISORY_LOCK_KEY`) so that
processes opening at once apply them once.

Concurrency (docs/concurrency.md has the reasoning and the measurements): many processes
run commands at once, and only commands that touch the same things wait for each other.
Each unit of work is one ``READ COMMITTED`` transaction doing strict two-phase locking:

- every row it reads that a command may change (an entity, a wallet, a hold, an
  idempotency record, a due timer) is read ``FOR UPDATE`` and stays locked until the
  transaction ends, so the next reader waits and then sees the committed result;
- what a row lock cannot cover, an index key looked up (the registrations of a session,
  the account using an email), an ordered queue, is locked by name with a
  transaction-scoped advisory lock before it is read or changed;
- an entity read as absent is then written with a plain ``INSERT``: if another unit
  created it meanwhile, the insert fails and the command runs again;
- numbers come from server sequences (ids, transfers, outbox, timers, index postings),
  and the platform accounts and supply counters are sums of 64 shards, each unit adding
  to one, so that no row is written by every command;
- due timers are claimed ``FOR UPDATE SKIP LOCKED``: several schedulers share them, and
  a command waits only for the due timers another unit is applying.

So the outcome is that of the units one after the other in commit order. A conflict
(deadlock, a lock wait over ``lock_timeout`` seconds, an insert that lost a race, a
serialization failure, a connection lost before the commit) rolls the unit back and
raises a retryable :class:`~skilltroc_core.errors.ConcurrencyError` with
``nothing_written``: the service runs the whole command again, a bounded number of times
with a jittered pause. The writes of a unit wait in it and go to the server with
``COMMIT`` in one exchange (a pipeline), so row locks taken by writes last one round
trip. Nothing is kept between units of work (no cache: other processes write at any
time).

The change feed (:meth:`PostgresStore.changes`) is read in commit order without a lock
that every writer takes: each change records, with a sequence number, a ``tx``: the id
of the transaction writing it (``pg_current_xact_id()``), or, if greater, the greatest
``tx`` already committed when it is written (:data:`PgLocking.change_tx`). A reader
reads only the changes whose ``tx`` is below the oldest transaction still running
(``pg_snapshot_xmin(pg_current_snapshot())``): every transaction with a smaller id has
ended, so no change can appear later before one it read. A change written after its
unit waited for another unit's lock, or read what that unit wrote, sees that unit's
changes committed, so it comes after them. A transaction left open (any transaction of
the server that has written or locked something) delays the feed until it ends.

Failures: an unreachable server or a refused login is a
:class:`~skilltroc_core.errors.StoreError`. If the connection is lost during the commit
itself, PostgreSQL cannot say whether it committed; the error says so
(``nothing_written`` False) and the host retries with the same idempotency key or payment
reference, which the ledger applies once.

Erasure (ACC-7): deleted rows disappear from every query at once; their old versions
stay in the table files until (auto)vacuum reclaims them and in the WAL until it is
recycled, so operators run ``VACUUM`` on schedule and protect backups accordingly.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import ConcurrencyError, SkilltrocError
from ..logs import LOGGER
from ..ports import Change, OutboxItem
from ..refusals import refusal, shown
from ._sql import (
    MEMBER_FACT_NAMES,
    RECENT_INSTANT,
    ROW_SEQUENCES,
    SCHEMA,
    SCHEMA_VERSION,
    TRANSFER_SEQUENCE,
    Runner,
    SqlUnitOfWork,
    check_attempts,
    feed_page,
    read_feed,
    retrying,
    stored_contents,
    stored_instant,
    stored_notices,
)

__all__ = ["ADVISORY_LOCK_KEY", "APPLICATION_MARKER", "MIN_SERVER_VERSION", "SHARDS",
           "PostgresStore"]

T = TypeVar("T")

#: Written with ``?`` like every shared statement (the Runner turns it into ``%s``), hence
#: jsonb containment ``@>`` rather than the jsonb ``?`` operator.
FORGET_WHERE = (
    "recipients::jsonb @> jsonb_build_array(?::text) OR EXISTS (SELECT 1 FROM "
    "jsonb_array_elements(data::jsonb -> 'facts') f "
    f"WHERE f ->> 0 IN ({MEMBER_FACT_NAMES}) AND f ->> 1 = ?::text)"
)
#: The oldest server the store runs on (``server_version_num``): 13 has the 64-bit
#: transaction ids the change feed is ordered by (``pg_current_xact_id``).
MIN_SERVER_VERSION = 130000
#: The advisory lock migrations take ("SkTroc" 0 1); units of work never take it.
ADVISORY_LOCK_KEY = 0x536B_5472_6F63_0001
#: ``skilltroc_meta`` value of the key ``application`` in a Skilltroc database.
APPLICATION_MARKER = "skilltroc"
META_TABLE = "skilltroc_meta"
#: Shards of each platform account and supply counter (see :class:`PgLocking`).
SHARDS = 64
_SEQUENCE_PREFIX = "skilltroc_seq_"
#: Transfer numbers a store takes at once (only unique and increasing in one process
#: matter for them; a process that stops leaves the rest of its block unused).
_TRANSFER_BLOCK = 32
#: Each column of each table of the current schema, with its position in the primary key
#: (0: not in it).
_LAYOUT = (
    "SELECT c.relname, a.attname, COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY "
    "AS k(attnum, n) WHERE k.attnum = a.attnum), 0) "
    "FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "WHERE s.nspname = current_schema() AND c.relkind IN ('r', 'p') "
    "ORDER BY c.relname, a.attnum"
)
_PLAIN_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
#: The change feed read up to the horizon: only changes of transactions that all ended.
_FEED_PAGE = feed_page(
    "%s", " AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint")

#: SQLSTATEs that mean "another unit or the server got in the way: nothing of this unit
#: was written, run it again". A unique violation inside a unit of work is a unit that
#: found a row absent and lost the race to create it (:class:`~._sql.SqlUnitOfWork`).
_RETRYABLE = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
    pg_errors.QueryCanceled,
    pg_errors.AdminShutdown,
    pg_errors.CrashShutdown,
    pg_errors.CannotConnectNow,
)


#: Run last before a command's COMMIT (see :meth:`PgLocking.guard_due`): a timer due by
#: the command's instant that it did not schedule itself was committed by another unit
#: after the command applied what was due; failing like a serialization failure makes
#: the service run the command again, applying that deadline first.
_NO_NEW_DUE = """
CREATE OR REPLACE FUNCTION skilltroc_no_new_due(until TEXT, mine TEXT[]) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM timers WHERE due <= until AND NOT (id = ANY (mine))) THEN
        RAISE EXCEPTION 'a deadline came due while this command ran'
            USING ERRCODE = '40001';
    END IF;
END
$$"""


#: SQLSTATE classes that may come after the server committed (the connection or the
#: server going away): a commit failing with them may have been applied.
_UNSURE = ("08", "57P")


def sequence_name(name: str) -> str:
    """The server sequence of the library's sequence ``name`` (any text)."""
    if _PLAIN_NAME.fullmatch(name):
        return _SEQUENCE_PREFIX + name
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=12)
    return f"{_SEQUENCE_PREFIX}x{digest.hexdigest()}"


def lock_key(name: str) -> int:
    """The 64-bit advisory lock key of a lock name (a collision only makes two units
    wait for each other, never lets two in at once)."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _redacted(dsn: str) -> str:
    """The DSN without a password of any kind (``password``, ``sslpassword``...), for
    error messages and logs."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<unparsable dsn>"
    return make_conninfo("", **{key: value for key, value in params.items()
                                if "password" not in key})


def _problem(exc: BaseException) -> str:
    """What went wrong, as the driver says it, for an error's facts: the server's primary
    message without its DETAIL lines, which may quote the values of a row (an email
    fingerprint, a member's text)."""
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        return exc.diag.message_primary
    return str(exc).strip()


class _GuardedCursor:
    """A cursor whose driver errors become the library's errors (retryable or not)."""

    def __init__(self, store: PostgresStore, cursor: psycopg.Cursor[Any]) -> None:
        self._store = store
        self._cursor = cursor

    # try/except rather than ``_translated``: these run for every statement.
    def execute(self, query: str, params: Sequence[Any] = (), /) -> Any:
        try:
            return self._cursor.execute(query, params)
        except psycopg.Error as exc:
            raise self._store._library_error(exc, "a unit of work") from exc

    def executemany(self, query: str, rows: Iterable[Sequence[Any]], /) -> Any:
        try:
            return self._cursor.executemany(query, rows)
        except psycopg.Error as exc:
            raise self._store._library_error(exc, "a unit of work") from exc

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except psycopg.Error as exc:
            raise self._store._library_error(exc, "a unit of work") from exc

    def fetchall(self) -> list[Any]:
        try:
            return self._cursor.fetchall()
        except psycopg.Error as exc:
            raise self._store._library_error(exc, "a unit of work") from exc


class PgLocking:
    """The :class:`~._sql.Locking` of a PostgreSQL store (one per store object)."""

    for_update = " FOR UPDATE"
    shards = SHARDS
    #: The writing transaction's id, or the greatest ``tx`` of a committed change if
    #: greater: a unit writing after another committed its changes (one it waited for,
    #: or whose writes it read) comes after it in the feed, though its id may be smaller.
    #: Never smaller than the writer's id, so what the reader's horizon says holds.
    change_tx = ("GREATEST(pg_current_xact_id()::text::bigint, "
                 "(SELECT COALESCE(MAX(tx), 0) FROM changes))")

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        #: The schema of the tables: stores in two schemas of one database never wait
        #: for each other's locks (advisory locks are per database).
        self.namespace = ""
        self._known: set[str] = set(ROW_SEQUENCES) | {TRANSFER_SEQUENCE}
        #: Values a rolled-back unit took: handed out first (ids stay dense in a process).
        self._spare: dict[str, list[int]] = {}

    def lock_names(self, db: Runner, names: Sequence[str], *, shared: bool = False) -> None:
        # in key order: two units locking the same names never wait for each other in a
        # circle over these
        keys = sorted({lock_key(f"{self.namespace}\x1f{name}") for name in names})
        lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        if len(keys) == 1:
            db.one(f"SELECT {lock}(?)", keys[0])
        else:
            db.all(f"SELECT {lock}(k) FROM unnest(?::bigint[]) AS k", keys)

    def next_value(self, db: Runner, name: str) -> int:
        spare = self._spare.get(name)
        if spare:
            return spare.pop(0)
        if name not in self._known:
            self._store._create_sequence(name)
            self._known.add(name)
        if name == TRANSFER_SEQUENCE:  # one per movement: taken a block at a time
            values = [int(r[0]) for r in db.all(
                "SELECT nextval(?::regclass) FROM generate_series(1, ?)",
                sequence_name(name), _TRANSFER_BLOCK)]
            self._spare[name] = values[1:]
            return values[0]
        row = db.one("SELECT nextval(?::regclass)", sequence_name(name))
        return int(row[0])

    def give_back(self, name: str, values: Sequence[int]) -> None:
        self._spare[name] = sorted([*self._spare.get(name, ()), *values])

    def row_sequence(self, name: str) -> str:
        return f"nextval('{sequence_name(name)}')"

    def claim_due(self, db: Runner, until: str, wait: bool) -> Any:
        # most units find nothing due: one plain read says so, without locking anything
        if db.one("SELECT 1 FROM timers WHERE due <= ? LIMIT 1", until) is None:
            return None
        if not wait:  # a scheduler: the earliest no other unit is applying
            return db.one("SELECT due, seq, kind, ref FROM timers WHERE due <= ? "
                          "ORDER BY due, seq LIMIT 1 FOR UPDATE SKIP LOCKED", until)
        while True:  # a command: the earliest of all, in due order, waiting for it if held
            row = db.one("SELECT due, seq, kind, ref FROM timers WHERE due <= ? "
                         "ORDER BY due, seq LIMIT 1 FOR UPDATE", until)
            if row is not None:
                return row
            # the one waited for was applied meanwhile (gone): look again
            if db.one("SELECT 1 FROM timers WHERE due <= ? LIMIT 1", until) is None:
                return None

    def guard_due(self, until: str, mine: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
        return "SELECT skilltroc_no_new_due(?, ?::text[])", (until, list(mine))


class PostgresStore:
    """A :class:`~skilltroc_core.ports.Store` in a PostgreSQL database (psycopg 3), on a
    server of version 13 or later.

    ``dsn`` is a libpq connection string or URI; ``schema`` puts the tables in that
    PostgreSQL schema (created if missing) instead of the connection's current schema.
    One connection per store; units of work from several threads of one store run one
    at a time (give each worker thread its own store to run them at once). A unit of
    work waits up to ``lock_timeout`` seconds for a lock another unit holds; connecting
    is tried ``begin_attempts`` times in all.
    """

    keeps_data = True

    def __init__(
        self, dsn: str, *, schema: str | None = None, lock_timeout: float = 30.0,
        begin_attempts: int = 3,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.begin_attempts = check_attempts(begin_attempts)
        self._pipelines = psycopg.Pipeline.is_supported()
        self._where = _redacted(dsn) + (f" (schema {schema})" if schema else "")
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._locking = PgLocking(self)
        with self._lock:
            try:
                # another process's migration may hold the lock: a timeout here is tried
                # again and ends retryable, as for a command
                self._reconnecting("opening the store", self._migrate)
            except BaseException:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                raise

    # ------------------------------------------------------------------ connection
    def _connect(self, **extra: Any) -> psycopg.Connection[Any]:
        params: dict[str, Any] = {"application_name": "skilltroc", **extra}
        try:
            if "connect_timeout" not in conninfo_to_dict(self.dsn):
                params["connect_timeout"] = 10
            return psycopg.connect(self.dsn, **params)
        except psycopg.Error as exc:
            raise refusal("postgres_unreachable", store=self._where,
                          problem=_problem(exc)) from exc

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, reconnecting after a loss (call with ``_lock`` held)."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if conn is not None:
            conn.close()
            self._conn = None
        conn = self._connect(autocommit=False)
        try:
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
            conn.execute("SELECT set_config('lock_timeout', %s, false)",
                         (f"{max(1, round(self.lock_timeout * 1000))}ms",))
            self._set_search_path(conn)
            conn.commit()
        except psycopg.Error as exc:
            lost = conn.broken or conn.closed  # lost on the way: like a loss in a unit
            conn.close()
            if lost or isinstance(exc, _RETRYABLE):
                raise refusal("postgres_lost_at_setup", problem=_problem(exc)) from exc
            raise refusal("postgres_setup_failed", store=self._where,
                          problem=_problem(exc)) from exc
        self._conn = conn
        return conn

    def _set_search_path(self, conn: psycopg.Connection[Any]) -> None:
        if self.schema is not None:
            path = sql.Identifier(self.schema).as_string(conn)
            conn.execute("SELECT set_config('search_path', %s, false)", (path,))

    def _library_error(self, exc: psycopg.Error, doing: str) -> SkilltrocError:
        """psycopg's error, raised while ``doing`` something, as the library's."""
        conn = self._conn
        lost = conn is None or conn.closed or conn.broken
        raced = isinstance(exc, pg_errors.UniqueViolation) and doing == "a unit of work"
        if not (lost or raced or isinstance(exc, _RETRYABLE)):
            return refusal("postgres_failed", store=self._where, operation=doing,
                           problem=_problem(exc))
        key = ("postgres_connection_lost" if lost else "postgres_raced" if raced
               else "postgres_busy")
        return refusal(key, operation=doing, problem=_problem(exc))

    def _create_sequence(self, name: str) -> None:
        """Create the server sequence of ``name`` if missing, on a connection of its
        own (so that it exists whatever becomes of the unit of work asking for it)."""
        statement = sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(
            sql.Identifier(sequence_name(name)))
        try:
            with self._connect(autocommit=True) as conn:
                self._set_search_path(conn)
                # another process may create it at the same moment: IF NOT EXISTS does
                # not cover a race, which fails either way
                with contextlib.suppress(pg_errors.UniqueViolation, pg_errors.DuplicateTable):
                    conn.execute(statement)
        except psycopg.Error as exc:
            raise self._library_error(exc, "creating a sequence") from exc

    # ------------------------------------------------------------------ schema
    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        try:
            if conn.info.server_version < MIN_SERVER_VERSION:
                raise refusal("postgres_too_old", store=self._where,
                              major=conn.info.server_version // 10000,
                              minimum=MIN_SERVER_VERSION // 10000)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
                if self.schema is not None:
                    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(self.schema)))
                row = cur.execute("SELECT current_schema()").fetchone()
                namespace = row[0] if row else None
                if namespace is None:
                    raise refusal("postgres_no_schema", store=self._where)
                version = self._recorded_version(cur, namespace)
                if version > SCHEMA_VERSION:
                    raise refusal("store_schema_too_new", store=self._where,
                                  version=version, known=SCHEMA_VERSION)
                for step in sorted(SCHEMA):
                    if step > version:
                        for statement in SCHEMA[step]:
                            cur.execute(statement)
                if version < 4 <= SCHEMA_VERSION:
                    self._to_server_sequences(cur)
                if version < 6 <= SCHEMA_VERSION:  # the change feed's numbers
                    cur.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(
                        sql.Identifier(sequence_name("change"))))
                cur.execute(_NO_NEW_DUE)  # the current one, whatever made the schema
                self._locking.namespace = namespace
                if version != SCHEMA_VERSION:
                    LOGGER.info("PostgreSQL store %s: schema version %d -> %d", self._where,
                                version, SCHEMA_VERSION)
                    cur.execute(
                        f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (str(SCHEMA_VERSION),),
                    )
            conn.commit()
        except BaseException:
            self._end(conn, commit=False)
            raise

    @staticmethod
    def _to_server_sequences(cur: psycopg.Cursor[Any]) -> None:
        """Schema 4 on PostgreSQL: every sequence of the ``sequences`` table becomes a
        server sequence starting after its last value, and the row numbers of the outbox,
        timers and index postings come from sequences too."""
        last = dict(cur.execute("SELECT name, value FROM sequences").fetchall())
        for name, table in (("outbox", "outbox"), ("timer", "timers"),
                            ("entity_key", "entity_keys"), (TRANSFER_SEQUENCE, "transfers")):
            row = cur.execute(sql.SQL("SELECT MAX(seq) FROM {}").format(
                sql.Identifier(table))).fetchone()
            last[name] = max(int(last.get(name) or 0), int(row[0] or 0) if row else 0)
        for name, value in last.items():
            cur.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(
                sql.Identifier(sequence_name(name))))
            if int(value) > 0:
                cur.execute("SELECT setval(%s::regclass, %s)",
                            (sequence_name(name), int(value)))
        cur.execute("DELETE FROM sequences")

    def _recorded_version(self, cur: psycopg.Cursor[Any], namespace: str) -> int:
        """The schema version of a Skilltroc database (0 when empty); refuses others."""
        relations = {
            r[0] for r in cur.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')",
                (namespace,),
            ).fetchall()
        }
        foreign = refusal("store_foreign", store=self._where)
        if META_TABLE not in relations:
            if relations:
                raise foreign
            cur.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
            cur.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES ('application', %s)",
                        (APPLICATION_MARKER,))
            return 0
        meta = dict(cur.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
        if meta.get("application") != APPLICATION_MARKER:
            raise foreign
        try:
            return int(meta.get("schema_version") or 0)
        except ValueError:
            raise refusal("postgres_version_unreadable", store=self._where,
                          got=shown(meta.get("schema_version"))) from None

    # ------------------------------------------------------------------ store
    def begin(self, *, read_only: bool = False) -> SqlUnitOfWork:
        self._lock.acquire()
        try:
            # nothing is sent yet: the transaction starts with the unit's first statement
            conn = self._reconnecting("starting a unit of work", lambda conn: conn)
            # a query reads one snapshot and locks nothing; a command locks what it reads
            conn.read_only = read_only
            conn.isolation_level = (psycopg.IsolationLevel.REPEATABLE_READ if read_only
                                    else psycopg.IsolationLevel.READ_COMMITTED)
        except BaseException:
            self._lock.release()
            raise
        runner = Runner(_GuardedCursor(self, conn.cursor()), "%s",
                        driver_errors=(psycopg.Error,), translate=self._unit_error,
                        pipeline=conn.pipeline if self._pipelines else None)
        return SqlUnitOfWork(runner, self._finish, FORGET_WHERE, read_only=read_only,
                             locking=None if read_only else self._locking)

    def _pipelined(self, conn: psycopg.Connection[Any]) -> AbstractContextManager[Any]:
        return conn.pipeline() if self._pipelines else nullcontext()

    def _unit_error(self, exc: Exception) -> SkilltrocError:
        assert isinstance(exc, psycopg.Error)
        return self._library_error(exc, "a unit of work")

    def _reconnecting(self, doing: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` on the connection, tried again (``begin_attempts`` times in all) after
        a lock timeout, a deadlock or a lost connection (on a new one).

        Only for work that is safe to repeat: starting a unit of work (nothing done yet),
        reading, acknowledging. A connection dropped while idle (server restart, idle
        timeout) is only noticed at its next use.
        """

        def attempt() -> T:
            conn = self._connection()
            try:
                return work(conn)
            except BaseException:
                self._end(conn, commit=False)
                raise

        return retrying(attempt, self.begin_attempts,
                        lambda exc: self._library_error(exc, doing), psycopg.Error)

    def _finish(self, commit: bool, write: Callable[[], bool] | None = None,
                erases: bool = False) -> None:
        """Send the unit's writes and commit, or roll back; release the store's lock.

        An erasing unit needs nothing more: the old versions of its rows stay in dead
        tuples until (auto)vacuum reclaims them, which is PostgreSQL's business (see
        docs/hosting.md)."""
        try:
            conn = self._conn
            if conn is None:
                raise refusal("postgres_closed_in_unit")
            if commit and write is not None:
                self._commit(conn, write)
            else:
                self._end(conn, commit=commit)
        finally:
            self._lock.release()

    def _commit(self, conn: psycopg.Connection[Any], write: Callable[[], bool]) -> None:
        """The unit's writes and ``COMMIT``, in one exchange."""
        first: BaseException | None = None  # what failed first (leaving a pipeline may too)
        try:
            with self._pipelined(conn):
                try:
                    write()
                    if self._pipelines:  # a statement: ``conn.commit()`` adds an exchange
                        conn.execute("COMMIT")
                    else:
                        conn.commit()
                except BaseException as exc:  # the pipeline is left as usual, then raised
                    first = exc
        except BaseException as exc:
            first = first or exc
        if first is not None:
            self._end(conn, commit=False)
            raise self._commit_error(conn, first) from first

    def _commit_error(self, conn: psycopg.Connection[Any], exc: BaseException
                      ) -> BaseException:
        """The error for a commit that failed with ``exc``. The server refusing one of the
        writes (a conflict, a full disk) aborted the transaction: nothing was written.
        Without the server's word (the connection went away) nobody knows."""
        cause = exc.__cause__ if isinstance(exc, SkilltrocError) else exc
        if (isinstance(cause, psycopg.Error) and cause.sqlstate is not None
                and not cause.sqlstate.startswith(_UNSURE)):
            if isinstance(exc, SkilltrocError):
                return exc
            return self._library_error(cause, "a unit of work")
        if isinstance(exc, psycopg.Error | ConcurrencyError):
            return refusal("postgres_lost_in_commit", problem=_problem(cause or exc),
                           nothing_written=False)
        return exc

    def _end(self, conn: psycopg.Connection[Any], *, commit: bool) -> None:
        if not commit:
            if not conn.closed and not conn.broken:
                try:
                    conn.rollback()
                except psycopg.Error:  # the connection died (the server rolls back
                    conn.close()       # itself) or is in no state to go on: a new one
            return
        try:
            conn.commit()
        except psycopg.Error as exc:
            raise self._commit_error(conn, exc) from exc

    def _outside_unit(self, doing: str, work: Callable[[psycopg.Cursor[Any]], T]) -> T:
        """Run ``work`` (safe to repeat) in a short transaction of its own."""

        def run(conn: psycopg.Connection[Any]) -> T:
            conn.read_only = False
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
            with conn.cursor() as cur:
                result = work(cur)
            conn.commit()
            return result

        with self._lock:
            return self._reconnecting(doing, run)

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        rows = self._outside_unit("reading the outbox", lambda cur: cur.execute(
            "SELECT seq, data FROM outbox ORDER BY seq LIMIT %s", (limit,)
        ).fetchall())
        return stored_notices(rows)

    def recent_instant(self) -> datetime | None:
        return stored_instant(self._outside_unit(
            "reading the ledger's newest instant",
            lambda cur: cur.execute(RECENT_INSTANT).fetchone()))

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        return read_feed(after, limit, lambda tx, seq, count: self._outside_unit(
            "reading the change feed",
            lambda cur: cur.execute(_FEED_PAGE, (tx, seq, count)).fetchall()))

    def ack(self, seqs: Iterable[int]) -> None:
        done = [int(s) for s in seqs]
        if done:  # row locks: an erasure rewriting one of these rows waits, or this does
            self._outside_unit("acknowledging notifications", lambda cur: cur.execute(
                "DELETE FROM outbox WHERE seq = ANY(%s)", (done,)))

    def contents(self) -> dict[str, tuple[tuple[str, object], ...]]:
        """Every row of every table of the store's schema, by primary key (see
        :class:`~skilltroc_core.ports.Inspectable`): for checks, never for commands. The
        server sequences (row numbers, ids) are not listed: a unit rolled back may have
        drawn from them, which changes no row."""
        unit = self.begin(read_only=True)
        try:
            return stored_contents(unit, _LAYOUT)
        finally:
            unit.rollback()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
