"""What the SQL stores share: the schema, the ledger book and the unit of work in SQL.

Statements are written with ``?`` placeholders; a dialect rewrites them for its driver.
Money is ``BIGINT``; instants are fixed-width UTC text (sorting like the instants);
entities are JSON text keyed by ``(kind, id)`` with their index keys in a side table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..codec import dumps, instant_text, loads, parse_instant
from ..errors import AlreadyExistsError, InvalidInputError, SkilltrocError
from ..events import Notification
from ..ledger import (
    Balance,
    Hold,
    HoldState,
    IdempotencyRecord,
    StatementLine,
    Transfer,
    TransferKind,
    VoidReason,
)
from ..ports import EntityKind, Timer

__all__ = ["SCHEMA", "SqlBook", "SqlUnitOfWork"]

E = TypeVar("E")

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
}
SCHEMA_VERSION = max(SCHEMA)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Runner:
    """Runs ``?``-style SQL on a DB-API cursor, rewriting placeholders when needed."""

    def __init__(
        self,
        cursor: Cursor,
        placeholder: str,
        *,
        driver_errors: tuple[type[Exception], ...] = (),
        translate: Callable[[Exception], SkilltrocError] | None = None,
    ) -> None:
        self.cursor = cursor
        self.placeholder = placeholder
        # the driver's own errors (a full disk, a busy file) become the library's errors
        self._driver_errors = driver_errors
        self._translate = translate
        self._native = placeholder == "?"
        self._cache: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        if self._native:
            return sql
        found = self._cache.get(sql)
        if found is None:
            found = self._cache[sql] = sql.replace("?", self.placeholder)
        return found

    def _execute(self, sql: str, params: tuple[Any, ...]) -> Cursor:
        cursor = self.cursor
        try:
            cursor.execute(sql if self._native else self._sql(sql), params)
        except UnicodeEncodeError as exc:
            raise _unstorable(exc) from exc
        except self._driver_errors as exc:
            raise self._driver_error(exc) from exc
        return cursor

    def run(self, sql: str, *params: Any) -> None:
        self._execute(sql, params)

    def one(self, sql: str, *params: Any) -> Any:
        return self._execute(sql, params).fetchone()

    def all(self, sql: str, *params: Any) -> list[Any]:
        return self._execute(sql, params).fetchall()

    def _driver_error(self, exc: Exception) -> SkilltrocError:
        if self._translate is None:
            raise exc
        return self._translate(exc)


def _unstorable(exc: UnicodeEncodeError) -> InvalidInputError:
    """Text with a lone surrogate (an id, a key) cannot be sent to the database: the
    command is refused and its unit of work rolls back."""
    return InvalidInputError(f"text that is not valid Unicode: {exc.object[:40]!r}")


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


class SqlBook:
    """The :class:`~skilltroc_core.ledger.LedgerBook` of a SQL store.

    It lives for one unit of work, which holds the store's write lock: balances, the
    next transfer number and statement lengths it has read or written stay valid until
    the unit ends, so it remembers them instead of reading them again.
    """

    def __init__(self, db: Runner) -> None:
        self.db = db
        self._balances: dict[str, Balance | None] = {}
        self._next_seq: int | None = None
        self._line_counts: dict[str, int] = {}

    def balance(self, account: str) -> Balance | None:
        try:
            return self._balances[account]
        except KeyError:
            pass
        row = self.db.one("SELECT available, held FROM accounts WHERE id = ?", account)
        found = self._balances[account] = Balance(row[0], row[1]) if row else None
        return found

    def set_balance(self, account: str, balance: Balance) -> None:
        self.db.run(
            "INSERT INTO accounts (id, available, held) VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET available = excluded.available, held = excluded.held",
            account, balance.available, balance.held,
        )
        self._balances[account] = balance

    def next_seq(self) -> int:
        if self._next_seq is None:
            row = self.db.one("SELECT MAX(seq) FROM transfers")
            self._next_seq = (row[0] or 0) + 1
        return self._next_seq

    def record(
        self,
        transfer: Transfer,
        balances: Sequence[tuple[str, Balance]],
        lines: Sequence[StatementLine],
        hold: Hold | None,
    ) -> None:
        t = transfer
        self._next_seq = t.seq + 1
        self.db.run(
            "INSERT INTO transfers (seq, debit, credit, amount, kind, reference, at, hold_id, "
            "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            t.seq, t.debit, t.credit, t.amount, t.kind.value, t.reference, instant_text(t.at),
            t.hold_id, t.reason.value if t.reason else None,
        )
        for account, balance in balances:
            self.set_balance(account, balance)
        for line in lines:
            self.db.run(
                "INSERT INTO statement_lines (member, idx, transfer_seq, at, kind, amount, "
                "held_change, balance, held, reference, counterpart) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                line.member, self._take_line(line.member), line.transfer_seq,
                instant_text(line.at), line.kind.value, line.amount, line.held_change,
                line.balance, line.held, line.reference, line.counterpart,
            )
        if hold is not None:
            self.db.run(
                "INSERT INTO holds (id, member, amount, reference, opened_at, state, payee, "
                "ended_at, void_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET state = excluded.state, payee = excluded.payee, "
                "ended_at = excluded.ended_at, void_reason = excluded.void_reason",
                hold.id, hold.member, hold.amount, hold.reference, instant_text(hold.opened_at),
                hold.state.value, hold.payee,
                instant_text(hold.ended_at) if hold.ended_at else None,
                hold.void_reason.value if hold.void_reason else None,
            )

    def transfer(self, seq: int) -> Transfer | None:
        row = self.db.one(
            "SELECT seq, debit, credit, amount, kind, reference, at, hold_id, reason "
            "FROM transfers WHERE seq = ?", seq,
        )
        return _transfer(row) if row else None

    def line_count(self, member: str) -> int:
        found = self._line_counts.get(member)
        if found is None:
            row = self.db.one("SELECT MAX(idx) FROM statement_lines WHERE member = ?", member)
            found = self._line_counts[member] = 0 if row[0] is None else row[0] + 1
        return found

    def _take_line(self, member: str) -> int:
        """The index of ``member``'s next statement line (and count it)."""
        index = self.line_count(member)
        self._line_counts[member] = index + 1
        return index

    def lines(self, member: str, offset: int, limit: int) -> list[StatementLine]:
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
        row = self.db.one(
            "SELECT id, member, amount, reference, opened_at, state, payee, ended_at, "
            "void_reason FROM holds WHERE id = ?", hold_id,
        )
        return _hold(row) if row else None

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        row = self.db.one(
            "SELECT key, operation, fingerprint, result FROM ledger_keys WHERE key = ?", key
        )
        if row is None:
            return None
        return IdempotencyRecord(key=row[0], operation=row[1], fingerprint=row[2], result=row[3])

    def set_idempotency(self, record: IdempotencyRecord) -> None:
        self.db.run(
            "INSERT INTO ledger_keys (key, operation, fingerprint, result) VALUES (?, ?, ?, ?)",
            record.key, record.operation, record.fingerprint, record.result,
        )

    def counter(self, name: str) -> int:
        row = self.db.one("SELECT value FROM counters WHERE name = ?", name)
        return int(row[0]) if row else 0

    def add_to_counter(self, name: str, delta: int) -> None:
        self.db.run(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET value = counters.value + excluded.value",
            name, delta,
        )

    def counters(self) -> Mapping[str, int]:
        return {r[0]: int(r[1]) for r in self.db.all("SELECT name, value FROM counters")}

    def all_balances(self) -> Iterable[tuple[str, Balance]]:
        return [
            (r[0], Balance(r[1], r[2]))
            for r in self.db.all("SELECT id, available, held FROM accounts")
        ]

    def all_holds(self) -> Iterable[Hold]:
        return [
            _hold(r) for r in self.db.all(
                "SELECT id, member, amount, reference, opened_at, state, payee, ended_at, "
                "void_reason FROM holds"
            )
        ]

    def all_transfers(self) -> Iterable[Transfer]:
        return [
            _transfer(r) for r in self.db.all(
                "SELECT seq, debit, credit, amount, kind, reference, at, hold_id, reason "
                "FROM transfers ORDER BY seq"
            )
        ]


class SqlUnitOfWork:
    """Entities, outbox, timers and sequences in SQL, inside the adapter's transaction."""

    def __init__(self, db: Runner, finish: Any, forget_where: str) -> None:
        self.db = db
        self._forget_where = forget_where  # outbox rows addressed to one ``?`` recipient
        self._book = SqlBook(db)
        self._finish = finish
        self._open = True
        # What this unit of work read or wrote, valid while it holds the write lock:
        # (kind, id) -> the entity (None: none stored), and -> its posted index keys.
        self._entities: dict[tuple[str, str], Any] = {}
        self._posted: dict[tuple[str, str], dict[str, set[str]]] = {}
        # name -> [last value handed out, value stored]: a sequence is bumped in SQL once
        # per unit, then counted here and stored once at commit.
        self._sequences: dict[str, list[int]] = {}

    @property
    def book(self) -> SqlBook:
        return self._book

    def get(self, kind: EntityKind[E], entity_id: str) -> E | None:
        cached = (kind.name, entity_id)
        try:
            found: E | None = self._entities[cached]
            return found
        except KeyError:
            pass
        row = self.db.one("SELECT data FROM entities WHERE kind = ? AND id = ?",
                          kind.name, entity_id)
        found = self._entities[cached] = loads(kind.type, row[0]) if row else None
        return found

    def _posted_keys(self, kind: EntityKind[E], entity_id: str) -> dict[str, set[str]]:
        """The keys ``entity_id`` is posted under, by index (read once per unit)."""
        cached = (kind.name, entity_id)
        posted = self._posted.get(cached)
        if posted is None:
            posted = self._posted[cached] = {}
            if cached not in self._entities or self._entities[cached] is not None:
                for index, key in self.db.all(
                    "SELECT idx, key FROM entity_keys WHERE kind = ? AND id = ?",
                    kind.name, entity_id,
                ):
                    posted.setdefault(index, set()).add(key)
        return posted

    def put(self, kind: EntityKind[E], entity_id: str, entity: E) -> None:
        db = self.db
        if kind.indexes:
            posted = self._posted_keys(kind, entity_id)
            changes = []
            for index in kind.indexes:
                new_keys = set(index.keys(entity))
                old_keys = posted.get(index.name, set())
                if new_keys == old_keys:
                    continue
                if index.unique:
                    for key in new_keys - old_keys:
                        if db.one(
                            "SELECT id FROM entity_keys WHERE kind = ? AND idx = ? AND key = ? "
                            "AND id <> ?", kind.name, index.name, key, entity_id,
                        ):
                            raise AlreadyExistsError(
                                f"another {kind.name} already has {index.name} {key!r}"
                            )
                changes.append((index.name, old_keys, new_keys))
            for index_name, old_keys, new_keys in changes:  # all checked: now write
                for key in old_keys - new_keys:
                    db.run("DELETE FROM entity_keys WHERE kind = ? AND idx = ? AND key = ? "
                           "AND id = ?", kind.name, index_name, key, entity_id)
                for key in sorted(new_keys - old_keys):
                    db.run(
                        "INSERT INTO entity_keys (kind, idx, key, id, seq) VALUES (?, ?, ?, ?, ?)",
                        kind.name, index_name, key, entity_id,
                        self.next_in_sequence("entity_key"),
                    )
                posted[index_name] = new_keys
        db.run(
            "INSERT INTO entities (kind, id, data) VALUES (?, ?, ?) ON CONFLICT (kind, id) "
            "DO UPDATE SET data = excluded.data",
            kind.name, entity_id, dumps(entity),
        )
        self._entities[(kind.name, entity_id)] = entity

    def delete(self, kind: EntityKind[E], entity_id: str) -> None:
        self.db.run("DELETE FROM entity_keys WHERE kind = ? AND id = ?", kind.name, entity_id)
        self.db.run("DELETE FROM entities WHERE kind = ? AND id = ?", kind.name, entity_id)
        self._entities[(kind.name, entity_id)] = None
        self._posted[(kind.name, entity_id)] = {}

    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        kind.index(index)
        rows = self.db.all(
            "SELECT e.id, e.data FROM entity_keys k JOIN entities e ON e.kind = k.kind "
            "AND e.id = k.id WHERE k.kind = ? AND k.idx = ? AND k.key = ? ORDER BY k.seq",
            kind.name, index, key,
        )
        found = []
        entities = self._entities
        for entity_id, data in rows:
            cached = (kind.name, entity_id)
            entity = entities.get(cached)
            if entity is None:
                entity = entities[cached] = loads(kind.type, data)
            found.append(entity)
        return found

    def append_notification(self, notification: Notification) -> None:
        seq = self.next_in_sequence("outbox")
        self.db.run("INSERT INTO outbox (seq, data, recipients) VALUES (?, ?, ?)",
                    seq, dumps(notification),
                    json.dumps([*notification.recipients, *notification.emails]))

    def forget_notifications(self, member_id: str, email: str | None) -> None:
        """Drop the notices only ``member_id`` (or ``email``) was to get; take them off
        the recipients of notices shared with others, who must still be told."""
        for recipient in (member_id, email) if email else (member_id,):
            rows = self.db.all(
                f"SELECT seq, data FROM outbox WHERE {self._forget_where} ORDER BY seq",
                recipient)
            for seq, data in rows:
                kept = loads(Notification, data).without(member_id, email)
                if kept is None:
                    self.db.run("DELETE FROM outbox WHERE seq = ?", seq)
                else:
                    self.db.run("UPDATE outbox SET data = ?, recipients = ? WHERE seq = ?",
                                dumps(kept), json.dumps([*kept.recipients, *kept.emails]), seq)

    def schedule(self, timer: Timer) -> None:
        self.db.run(
            "INSERT INTO timers (id, kind, ref, due, seq) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET due = excluded.due, seq = excluded.seq",
            timer.id, timer.kind, timer.ref, instant_text(timer.due),
            self.next_in_sequence("timer"),
        )

    def cancel_timer(self, kind: str, ref: str) -> None:
        self.db.run("DELETE FROM timers WHERE id = ?", f"{kind}:{ref}")

    def next_due(self, until: datetime) -> Timer | None:
        row = self.db.one(
            "SELECT kind, ref, due FROM timers WHERE due <= ? ORDER BY due, seq LIMIT 1",
            instant_text(until),
        )
        return Timer(kind=row[0], ref=row[1], due=parse_instant(row[2])) if row else None

    def next_in_sequence(self, name: str) -> int:
        counted = self._sequences.get(name)
        if counted is not None:
            counted[0] += 1
            return counted[0]
        row = self.db.one(
            "INSERT INTO sequences (name, value) VALUES (?, 1) ON CONFLICT (name) "
            "DO UPDATE SET value = sequences.value + 1 RETURNING value",
            name,
        )
        value = int(row[0])
        self._sequences[name] = [value, value]
        return value

    def commit(self) -> None:
        if self._open:
            try:
                for name, (value, stored) in self._sequences.items():
                    if value != stored:
                        self.db.run("UPDATE sequences SET value = ? WHERE name = ?", value, name)
            except BaseException:
                self.rollback()
                raise
            self._open = False
            self._finish(True)

    def rollback(self) -> None:
        if self._open:
            self._open = False
            self._finish(False)
