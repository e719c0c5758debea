"""The embedded store: one SQLite file (standard-library ``sqlite3``), WAL, durable commits.

Each unit of work is a ``BEGIN IMMEDIATE`` transaction: it takes the database's write
lock up front, so several processes on one file run their commands one after the other
and never oversell a seat or overdraw a wallet; a process that waits longer than the
busy timeout gets a retryable :class:`~skilltroc_core.errors.ConcurrencyError`.
Deleted rows are overwritten (``secure_delete``) so that a purged member's data does not
linger in free pages (ACC-7).

Between units of work the store keeps what it read and wrote (a :class:`SqlCache` of
decoded entities, balances, sequence values...): SQLite's ``PRAGMA data_version``, read
under the write lock at the start of each unit, says whether another connection (another
process, another store object) committed since, and then the cache is dropped.

The change feed is numbered in commit order: a unit numbers its changes while it holds
the write lock, so numbers only grow from one commit to the next.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from ..errors import ConcurrencyError, SkilltrocError
from ..logs import LOGGER
from ..ports import Change, OutboxItem
from ..refusals import refusal, shown
from ._sql import (
    MEMBER_FACT_NAMES,
    RECENT_INSTANT,
    SCHEMA,
    SCHEMA_VERSION,
    Runner,
    SqlCache,
    SqlUnitOfWork,
    check_attempts,
    feed_page,
    read_feed,
    retrying,
    stored_contents,
    stored_instant,
    stored_notices,
)

__all__ = ["SQLiteStore"]

#: The outbox rows addressed to one recipient (a member id or an email), or whose facts
#: name that member, for erasure (ACC-7).
FORGET_WHERE = (
    "seq IN (SELECT o.seq FROM outbox o, json_each(o.recipients) r WHERE r.value = ? "
    "UNION SELECT o.seq FROM outbox o, json_each(o.data, '$.facts') f "
    f"WHERE json_extract(f.value, '$[0]') IN ({MEMBER_FACT_NAMES}) "
    "AND json_extract(f.value, '$[1]') = ?)"
)
#: PRAGMA application_id of a Skilltroc store ("SkTr").
APPLICATION_ID = 0x536B5472
#: The table each schema version added that the next ones keep, newest first (version 2
#: only changed an index).
_VERSION_TABLES = ((6, "changes"), (5, "ordered_keys"), (4, "platform_balances"),
                   (3, "queue_entries"), (1, "accounts"))
_FEED_PAGE = feed_page("?")
#: Each column of each table, with its position in the primary key (0: not in it).
_LAYOUT = ("SELECT m.name, c.name, c.pk FROM sqlite_master m, pragma_table_info(m.name) c "
           "WHERE m.type = 'table' ORDER BY m.name, c.cid")


T = TypeVar("T")


class SQLiteStore:
    """A :class:`~skilltroc_core.ports.Store` in a SQLite file (``":memory:"`` works too).

    ``cache_size`` bounds the entries kept between units of work (0: none kept). A unit of
    work waits up to ``busy_timeout`` seconds for another connection's write lock, and
    tries ``begin_attempts`` times in all before a retryable :class:`ConcurrencyError`.
    ``synchronous="full"`` (the default) makes every commit durable: the WAL is synced
    before the command returns. ``"normal"`` is faster (``skilltroc bench store`` shows
    by how much) but the last commits can be lost on a power loss or an OS crash (never
    on a crash of the process alone): for hosts that accept that.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0,
                 cache_size: int = 50_000, begin_attempts: int = 3,
                 synchronous: Literal["full", "normal"] = "full") -> None:
        if synchronous not in ("full", "normal"):
            raise refusal("sqlite_synchronous_invalid", got=shown(synchronous))
        self.synchronous = synchronous
        self.path = str(path)
        self.keeps_data = self.path != ":memory:"
        self.begin_attempts = check_attempts(begin_attempts)
        self._cache = SqlCache(cache_size)
        if self.path != ":memory:" and Path(self.path).is_dir():
            raise refusal("sqlite_path_is_directory", path=self.path)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise refusal("sqlite_unusable", path=self.path, problem=str(exc)) from exc
        try:
            # another process's long unit of work may hold the write lock: a busy file is
            # tried again and ends retryable, as for a command, not as an unusable file
            retrying(self._migrate, self.begin_attempts, self._opening_error, sqlite3.Error)
        except BaseException:
            self._conn.close()
            raise
        self._lock = threading.Lock()
        self._erased_in_wal = False  # an erasure whose WAL could not be emptied yet
        # the open unit's cursor, closed when the unit ends: a cursor left to the garbage
        # collector keeps its statements, and with them the file, open after close()
        self._unit_cursor: sqlite3.Cursor | None = None

    def _opening_error(self, exc: sqlite3.Error) -> SkilltrocError:
        error = driver_error(exc)
        if isinstance(error, ConcurrencyError):
            return error
        return refusal("sqlite_unusable", path=self.path, problem=str(exc))

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id != APPLICATION_ID and (app_id != 0 or tables):
                raise refusal("store_foreign", store=self.path)
            if version > SCHEMA_VERSION:
                raise refusal("store_schema_too_new", store=self.path, version=version,
                              known=SCHEMA_VERSION)
            if tables:
                self._check_recorded_version(version)
            for step in sorted(SCHEMA):
                if step > version:
                    for statement in SCHEMA[step]:
                        conn.execute(statement)
            if version != SCHEMA_VERSION:
                LOGGER.info("SQLite store %s: schema version %d -> %d", self.path, version,
                            SCHEMA_VERSION)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _check_recorded_version(self, version: int) -> None:
        """Refuse a Skilltroc file whose recorded schema version does not match its tables
        (changed by hand or damaged): migrating it would fail half-way or run again steps
        it already ran."""
        names = {row[0] for row in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        observed = next((v for v, table in _VERSION_TABLES if table in names), 0)
        fits = observed == version or (observed == 1 and version in (1, 2))
        if not fits:
            # schema 2 added no table: the tables of version 1 are those of version 2
            raise refusal("sqlite_version_mismatch", path=self.path, version=version,
                          observed=str(observed) if observed != 1 else "1-2")

    def begin(self, *, read_only: bool = False) -> SqlUnitOfWork:
        self._lock.acquire()
        try:
            marker = retrying(lambda: self._start(read_only), self.begin_attempts,
                              driver_error, sqlite3.Error)
        except BaseException:
            self._lock.release()
            raise
        try:
            self._cache.validate(marker)
            cursor = self._unit_cursor = self._conn.cursor()
            runner = Runner(cursor, "?", driver_errors=(sqlite3.Error,),
                            translate=driver_error)
            return SqlUnitOfWork(runner, self._finish, FORGET_WHERE, self._cache,
                                 read_only=read_only)
        except BaseException:  # no unit to end it: end the transaction and the lock here
            self._finish(False)
            raise

    def _start(self, read_only: bool) -> int:
        """Take the write lock (a query only reads: a snapshot, no lock); the change
        marker (safe to repeat: nothing done yet)."""
        conn = self._conn
        conn.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
        try:
            if read_only:  # the snapshot starts with a first read: before the marker
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
            # changes when another connection commits (never for our own commits)
            marker: int = conn.execute("PRAGMA data_version").fetchone()[0]
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return marker

    def _finish(self, commit: bool, write: Callable[[], object] | None = None,
                erases: bool = False) -> None:
        """Send the unit's writes and commit, or roll back; release the write lock. After
        a unit that erased personal data, fold the WAL in and empty it (see
        :meth:`_fold_erased`)."""
        conn = self._conn
        try:
            if commit and write is not None:
                try:
                    write()
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            conn.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException as exc:
            self._cache.invalidate()  # before another thread's unit of work can start
            if not isinstance(exc, sqlite3.Error):
                raise
            if conn.in_transaction:  # a failed COMMIT leaves the transaction open
                conn.execute("ROLLBACK")
            raise driver_error(exc) from exc
        else:
            if commit and (erases or self._erased_in_wal):
                self._fold_erased()
        finally:
            cursor, self._unit_cursor = self._unit_cursor, None
            if cursor is not None:
                cursor.close()
            self._lock.release()

    def _fold_erased(self) -> None:
        """ACC-7: the erased rows' former pages are still in the WAL until a checkpoint
        copies the pages back and the WAL is emptied (``secure_delete`` has already zeroed
        them in the pages). A reader still on an older state keeps the WAL in use: then
        it is tried again after the next commit, until it succeeds."""
        try:
            busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error:
            busy = 1
        self._erased_in_wal = bool(busy)

    def _outside_unit(self, work: Callable[[], T]) -> T:
        """``work`` (safe to repeat) under the store's lock, tried again while the file is
        busy, with SQLite's errors turned into the library's."""
        with self._lock:
            return retrying(work, self.begin_attempts, driver_error, sqlite3.Error)

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        rows = self._outside_unit(lambda: self._conn.execute(
            "SELECT seq, data FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall())
        return stored_notices(rows)

    def recent_instant(self) -> datetime | None:
        return stored_instant(self._outside_unit(
            lambda: self._conn.execute(RECENT_INSTANT).fetchone()))

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        return read_feed(after, limit, lambda tx, seq, count: self._outside_unit(
            lambda: self._conn.execute(_FEED_PAGE, (tx, seq, count)).fetchall()))

    def ack(self, seqs: Iterable[int]) -> None:
        rows = [(s,) for s in seqs]
        conn = self._conn

        def delete() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("DELETE FROM outbox WHERE seq = ?", rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # never leave the connection in a transaction
                    conn.execute("ROLLBACK")
                raise

        self._outside_unit(delete)

    def contents(self) -> dict[str, tuple[tuple[str, object], ...]]:
        """Every row of every table, by primary key (see
        :class:`~skilltroc_core.ports.Inspectable`): for checks, never for commands."""
        unit = self.begin(read_only=True)
        try:
            return stored_contents(unit, _LAYOUT)
        finally:
            unit.rollback()

    def checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it (used after erasures).

        Another connection still reading an older state keeps the WAL in use: that is
        tried again like a busy file, then a retryable :class:`ConcurrencyError` (the
        erased rows may still be in the WAL until a checkpoint succeeds).
        """

        def fold() -> None:
            busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if busy:  # SQLite says so in the result row, it raises nothing
                raise sqlite3.OperationalError("database is busy: the WAL is still read")

        self._outside_unit(fold)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def driver_error(exc: Exception) -> SkilltrocError:
    """The library's error for a failure of SQLite itself inside a unit of work.

    The unit of work rolls back, so nothing of the command was written: a busy or locked
    file is a retryable :class:`ConcurrencyError`, anything else (a full disk, an I/O
    error, a damaged file) a :class:`StoreError`.
    """
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return refusal("sqlite_busy", problem=text)
    return refusal("sqlite_failed", problem=text)
