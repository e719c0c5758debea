"""The server store: PostgreSQL through psycopg 3 (the optional extra ``postgres``).

The tables are the shared SQL schema of :mod:`._sql`, created on open in the database's
current schema (or in ``schema=``, created if missing) and recorded in a small
``skilltroc_meta`` table: an application marker (so that another program's database is
refused and left untouched) and the schema version (a store written by a newer library is
refused with :class:`~skilltroc_core.errors.SchemaTooNewError`). Opening is idempotent.

Concurrency, deliberately simple in this first design (correctness first): every unit of
work is one ``READ COMMITTED`` transaction whose first statement takes the
transaction-scoped advisory lock :data:`ADVISORY_LOCK_KEY`. Every command of every process
using the database therefore runs alone, one after the other (as with SQLite's
``BEGIN IMMEDIATE``), and each statement after the lock sees everything committed before
it: no seat is oversold, no wallet overdrawn, no sequence number handed out twice. The
lock is released by the commit or rollback, so a crashed client cannot keep it. Waiting
longer than ``lock_timeout`` seconds (or a deadlock, or a lost connection) while taking
it is tried again, ``begin_attempts`` times in all; then the unit of work fails with a
retryable :class:`~skilltroc_core.errors.ConcurrencyError`. Throughput is that of one writer at a
time; finer locking (row locks, ``SERIALIZABLE`` with retries) can come later behind the
same port. The lock is per database, so stores in several schemas of one database also
wait for each other.

Failures: an unreachable server or a refused login is a
:class:`~skilltroc_core.errors.StoreError`. A connection lost in the middle of a unit of
work is a retryable :class:`~skilltroc_core.errors.ConcurrencyError`: the transaction did
not commit, so nothing of it was written, and the next unit of work reconnects. If the
connection is lost during the commit itself, PostgreSQL cannot say whether it committed;
the error says so and the host retries with the same idempotency key or payment
reference, which the ledger applies once.

Between units of work the store keeps what it read and wrote (a :class:`SqlCache`).
Every unit of work that writes also sets a change marker, the ``store_version`` row of
``skilltroc_meta``, to one more than it read; a store reads the marker right after taking
the lock, and keeps its cache only if the marker is still the one it wrote itself (no
other process committed since). The lock, the marker read and ``BEGIN`` go in one
exchange with the server, and so do the unit's writes (sent at commit, in a pipeline),
the new marker and ``COMMIT``.

Erasure (ACC-7): deleted rows disappear from every query at once; their old versions
stay in the table files until (auto)vacuum reclaims them and in the WAL until it is
recycled, so operators run ``VACUUM`` on schedule and protect backups accordingly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..codec import loads
from ..errors import ConcurrencyError, SchemaTooNewError, SkilltrocError, StoreError
from ..events import Notification
from ..ports import OutboxItem
from ._sql import (
    SCHEMA,
    SCHEMA_VERSION,
    Runner,
    SqlCache,
    SqlUnitOfWork,
    check_attempts,
    retrying,
)

__all__ = ["ADVISORY_LOCK_KEY", "APPLICATION_MARKER", "PostgresStore"]

T = TypeVar("T")

#: Written with ``?`` like every shared statement (the Runner turns it into ``%s``), hence
#: jsonb containment ``@>`` rather than the jsonb ``?`` operator.
FORGET_WHERE = "recipients::jsonb @> jsonb_build_array(?::text)"
#: The transaction-scoped advisory lock every unit of work takes first ("SkTroc" 0 1).
ADVISORY_LOCK_KEY = 0x536B_5472_6F63_0001
#: ``skilltroc_meta`` value of the key ``application`` in a Skilltroc database.
APPLICATION_MARKER = "skilltroc"
META_TABLE = "skilltroc_meta"
_READ_MARKER = f"SELECT value FROM {META_TABLE} WHERE key = 'store_version'"
_WRITE_MARKER = (
    f"INSERT INTO {META_TABLE} (key, value) VALUES ('store_version', %s) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

#: SQLSTATEs that mean "another writer or the server got in the way; try again".
_RETRYABLE = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
    pg_errors.QueryCanceled,
    pg_errors.AdminShutdown,
    pg_errors.CrashShutdown,
    pg_errors.CannotConnectNow,
)


def _marker(row: Any) -> int:
    """The change marker in a ``skilltroc_meta`` row (0 when there is none yet)."""
    try:
        return int(row[0]) if row else 0
    except ValueError:
        return 0


def _redacted(dsn: str) -> str:
    """The DSN without its password, for error messages."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<unparsable dsn>"
    params.pop("password", None)
    return make_conninfo("", **params)


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


class PostgresStore:
    """A :class:`~skilltroc_core.ports.Store` in a PostgreSQL database (psycopg 3).

    ``dsn`` is a libpq connection string or URI; ``schema`` puts the tables in that
    PostgreSQL schema (created if missing) instead of the connection's current schema.
    One connection per store; units of work from several threads run one at a time.
    """

    def __init__(
        self, dsn: str, *, schema: str | None = None, lock_timeout: float = 30.0,
        cache_size: int = 50_000, begin_attempts: int = 3,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.begin_attempts = check_attempts(begin_attempts)
        self._cache = SqlCache(cache_size)  # ``cache_size`` entries at most (0: none kept)
        self._marker = 0  # the change marker read at the start of the current unit of work
        self._pipelines = psycopg.Pipeline.is_supported()
        self._where = _redacted(dsn) + (f" (schema {schema})" if schema else "")
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        with self._lock:
            try:
                # another process's long unit of work (or migration) may hold the lock:
                # a timeout here is tried again and ends retryable, as for a command
                self._reconnecting("opening the store", self._migrate)
            except BaseException:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                raise

    # ------------------------------------------------------------------ connection
    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, reconnecting after a loss (call with ``_lock`` held)."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if conn is not None:
            conn.close()
            self._conn = None
        params: dict[str, Any] = {"application_name": "skilltroc"}
        try:
            if "connect_timeout" not in conninfo_to_dict(self.dsn):
                params["connect_timeout"] = 10
            conn = psycopg.connect(self.dsn, autocommit=False, **params)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {self._where}: {exc}".strip()
            ) from exc
        try:
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
            conn.execute("SELECT set_config('lock_timeout', %s, false)",
                         (f"{max(1, round(self.lock_timeout * 1000))}ms",))
            if self.schema is not None:
                path = sql.Identifier(self.schema).as_string(conn)
                conn.execute("SELECT set_config('search_path', %s, false)", (path,))
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"cannot set up the connection to {self._where}: {exc}") from exc
        self._conn = conn
        return conn

    def _library_error(self, exc: psycopg.Error, doing: str) -> SkilltrocError:
        """psycopg's error, raised while ``doing`` something, as the library's."""
        conn = self._conn
        lost = conn is None or conn.closed or conn.broken
        if not (lost or isinstance(exc, _RETRYABLE)):
            return StoreError(f"{self._where} failed during {doing}: {exc}")
        what = (
            "the connection to PostgreSQL was lost" if lost
            else "PostgreSQL could not run it now"
        )
        return ConcurrencyError(
            f"{what} during {doing}; nothing of it was written: retry ({exc})"
        )

    # ------------------------------------------------------------------ schema
    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
                if self.schema is not None:
                    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(self.schema)))
                row = cur.execute("SELECT current_schema()").fetchone()
                namespace = row[0] if row else None
                if namespace is None:
                    raise StoreError(
                        f"{self._where} has no schema to create tables in (search_path)"
                    )
                version = self._recorded_version(cur, namespace)
                if version > SCHEMA_VERSION:
                    raise SchemaTooNewError(
                        f"{self._where} has schema version {version}; this library knows "
                        f"up to {SCHEMA_VERSION}: upgrade skilltroc-core"
                    )
                for step in sorted(SCHEMA):
                    if step > version:
                        for statement in SCHEMA[step]:
                            cur.execute(statement)
                if version != SCHEMA_VERSION:
                    cur.execute(
                        f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (str(SCHEMA_VERSION),),
                    )
                if 0 < version < SCHEMA_VERSION:
                    # a migration changes rows: other processes' caches must go
                    marker = _marker(cur.execute(_READ_MARKER).fetchone())
                    cur.execute(_WRITE_MARKER, (str(marker + 1),))
            conn.commit()
        except BaseException:
            self._end(conn, commit=False)
            raise

    def _recorded_version(self, cur: psycopg.Cursor[Any], namespace: str) -> int:
        """The schema version of a Skilltroc database (0 when empty); refuses others."""
        relations = {
            r[0] for r in cur.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')",
                (namespace,),
            ).fetchall()
        }
        foreign = StoreError(f"{self._where} belongs to another program, not Skilltroc")
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
            raise StoreError(
                f"{self._where} records an unreadable schema version "
                f"{meta.get('schema_version')!r}"
            ) from None

    # ------------------------------------------------------------------ store
    def begin(self) -> SqlUnitOfWork:
        self._lock.acquire()
        try:
            cursor, marker = self._reconnecting("starting a unit of work", self._start)
            conn = self._connection()
        except BaseException:
            self._lock.release()
            raise
        self._marker = marker
        self._cache.validate(marker)
        runner = Runner(_GuardedCursor(self, cursor), "%s", driver_errors=(psycopg.Error,),
                        translate=self._unit_error,
                        pipeline=conn.pipeline if self._pipelines else None)
        return SqlUnitOfWork(runner, self._finish, FORGET_WHERE, self._cache)

    def _start(self, conn: psycopg.Connection[Any]) -> tuple[psycopg.Cursor[Any], int]:
        """Take the write lock, then read the change marker (one exchange)."""
        cursor = conn.cursor()
        with self._pipelined(conn):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            # a statement of its own: READ COMMITTED reads what committed before the lock
            cursor.execute(_READ_MARKER)
        return cursor, _marker(cursor.fetchone())

    def _pipelined(self, conn: psycopg.Connection[Any]) -> AbstractContextManager[Any]:
        return conn.pipeline() if self._pipelines else nullcontext()

    def _unit_error(self, exc: Exception) -> SkilltrocError:
        assert isinstance(exc, psycopg.Error)
        return self._library_error(exc, "a unit of work")

    def _reconnecting(self, doing: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` on the connection, tried again (``begin_attempts`` times in all) after
        a lock timeout, a deadlock or a lost connection (on a new one).

        Only for work that is safe to repeat: taking the lock at the start of a unit of
        work (nothing done yet), reading, acknowledging. A connection dropped while idle
        (server restart, idle timeout) is only noticed at its next use.
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

    def _finish(self, commit: bool, write: Callable[[], bool] | None = None) -> None:
        """Send the unit's writes and commit, or roll back; release the lock."""
        try:
            conn = self._conn
            if conn is None:
                raise ConcurrencyError("the store was closed during a unit of work")
            if commit and write is not None:
                self._commit(conn, write)
            else:
                self._end(conn, commit=commit)
        except BaseException:
            self._cache.invalidate()  # before another thread's unit of work can start
            raise
        finally:
            self._lock.release()

    def _commit(self, conn: psycopg.Connection[Any], write: Callable[[], bool]) -> None:
        """The unit's writes, the new change marker and ``COMMIT``, in one exchange."""
        marker = self._marker + 1
        try:
            with self._pipelined(conn):
                wrote = write()
                if wrote:
                    conn.execute(_WRITE_MARKER, (str(marker),))
                if self._pipelines:  # a statement: ``conn.commit()`` would add an exchange
                    conn.execute("COMMIT")
                else:
                    conn.commit()
        except psycopg.Error as exc:
            self._end(conn, commit=False)
            raise self._commit_error(conn, exc) from exc
        except BaseException:
            self._end(conn, commit=False)
            raise
        if wrote:
            self._cache.token = marker

    def _end(self, conn: psycopg.Connection[Any], *, commit: bool) -> None:
        if not commit:
            if not conn.closed and not conn.broken:
                try:
                    conn.rollback()
                except psycopg.Error:  # the connection died: the server rolls back itself
                    conn.close()
            return
        try:
            conn.commit()
        except psycopg.Error as exc:
            raise self._commit_error(conn, exc) from exc

    def _commit_error(self, conn: psycopg.Connection[Any], exc: psycopg.Error
                      ) -> SkilltrocError:
        if conn.closed or conn.broken:
            return ConcurrencyError(
                "the connection to PostgreSQL was lost while committing: the command "
                "may or may not have been applied; retry it with the same idempotency "
                f"key or payment reference ({exc})"
            )
        return self._library_error(exc, "a commit")

    def _outside_unit(self, doing: str, work: Callable[[psycopg.Cursor[Any]], T]) -> T:
        """Run ``work`` (safe to repeat) in a short transaction of its own."""

        def run(conn: psycopg.Connection[Any]) -> T:
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
        return [OutboxItem(seq=r[0], notification=loads(Notification, r[1])) for r in rows]

    def ack(self, seqs: Iterable[int]) -> None:
        done = [int(s) for s in seqs]

        def delete(cur: psycopg.Cursor[Any]) -> None:
            # The lock too: erasure deletes outbox rows, and writers never interleave.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            cur.execute("DELETE FROM outbox WHERE seq = ANY(%s)", (done,))

        if done:
            self._outside_unit("acknowledging notifications", delete)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
