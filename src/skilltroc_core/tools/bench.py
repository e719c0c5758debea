"""Benchmarks: throughput measured against a baseline doing the same bookkeeping.

Numbers are ratios against a baseline run in the same process (a bare dict and list
doing the same writes), so they mean something on any machine. Like :mod:`timeit`,
timing runs with the garbage collector paused and keeps the best of a few repeats.
Benchmarks are never assertions: ``skilltroc bench`` prints, it does not judge.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import heapq
import itertools
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from ..adapters._sql import SCHEMA, Runner, SqlUnitOfWork
from ..adapters.clocks import ManualClock
from ..adapters.memory import MemoryStore
from ..adapters.sqlite import SQLiteStore
from ..booking import Registration
from ..ledger import GIFT_ESCROW, Ledger, TransferKind
from ..ports import Store, Timer
from ..rules import DEFAULT_POLICY
from ..service import Skilltroc, kinds
from ..service.booking_steps import REQUEST_DUE

__all__ = ["bench_ads", "bench_booking", "bench_ledger", "bench_store"]

_AT = datetime(2027, 1, 1, 9, tzinfo=UTC)
#: The host's secret key of benchmark services (processes of one run share it).
BENCH_SECRET_KEY = b"skilltroc benchmark secret key, public"
#: Password hashing that takes microseconds: benchmarks measure the bookkeeping.
_CHEAP_HASHING = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)


def _best_of(repeats: int, run: Callable[[], float]) -> float:
    """The fastest of ``repeats`` runs, each timed with the garbage collector paused."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            best = min(best, run())
        finally:
            if was_enabled:
                gc.enable()
    return best


def _ledger_with_funds(members: int = 2) -> Ledger:
    ledger = Ledger()
    for index in range(members):
        ledger.open_wallet(f"m{index}")
    ledger.issue(TransferKind.PURCHASE, "m0", 10**12, reference="funding", at=_AT)
    return ledger


def _hold_post_cycles(n: int) -> float:
    ledger = _ledger_with_funds()
    ids = [f"h{i}" for i in range(n)]
    hold, post = ledger.hold, ledger.post
    start = time.perf_counter()
    for hold_id in ids:
        hold(hold_id, "m0", 6, reference=hold_id, at=_AT)
        post(hold_id, "m1", at=_AT)
    return time.perf_counter() - start


def _baseline_cycles(n: int) -> float:
    """The same writes as a hold + post, with dicts, tuples and list appends only."""
    available = {"m0": 10**12, "m1": 0, "holds": 0}
    held = {"m0": 0}
    transfers: list[tuple[Any, ...]] = []
    lines: dict[str, list[tuple[Any, ...]]] = {"m0": [], "m1": []}
    holds: dict[str, tuple[Any, ...]] = {}
    ids = [f"h{i}" for i in range(n)]
    start = time.perf_counter()
    for hold_id in ids:
        seq = len(transfers) + 1
        available["m0"] -= 6
        held["m0"] += 6
        available["holds"] += 6
        transfers.append((seq, "m0", "holds", 6, "hold", hold_id, _AT))
        holds[hold_id] = ("m0", 6, hold_id, _AT, "open")
        lines["m0"].append(("m0", seq, -6, 6, available["m0"], held["m0"]))
        seq = len(transfers) + 1
        available["holds"] -= 6
        held["m0"] -= 6
        available["m1"] += 6
        transfers.append((seq, "holds", "m1", 6, "hold_posted", hold_id, _AT))
        holds[hold_id] = ("m0", 6, hold_id, _AT, "posted", "m1", _AT)
        lines["m0"].append(("m0", seq, 0, -6, available["m0"], held["m0"]))
        lines["m1"].append(("m1", seq, 6, 0, available["m1"], 0))
    return time.perf_counter() - start


def _transfers(n: int) -> float:
    ledger = _ledger_with_funds()
    transfer = ledger.transfer
    start = time.perf_counter()
    for _ in range(n):
        transfer(TransferKind.GIFT_SENT, "m0", GIFT_ESCROW, 1, reference="gift", at=_AT)
    return time.perf_counter() - start


def _balance_reads(members: int, reads: int) -> tuple[float, float]:
    """Time random balance reads, and the same reads from a bare dict of the same size.

    Both slow down somewhat with size (CPU caches); the ratio between them shows that
    the ledger's read stays a constant-time dict lookup.
    """
    ledger = Ledger()
    names = [f"member{i}" for i in range(members)]
    for name in names:
        ledger.open_wallet(name)
    bare = dict.fromkeys(names, (0, 0))
    rng = random.Random(7)
    sample = [names[rng.randrange(members)] for _ in range(reads)]
    balance, lookup = ledger.balance, bare.get
    best, best_bare = float("inf"), float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for name in sample:
            balance(name)
        middle = time.perf_counter()
        for name in sample:
            lookup(name)
        best = min(best, middle - start)
        best_bare = min(best_bare, time.perf_counter() - middle)
    return best, best_bare


def bench_ledger(n: int = 50_000, repeats: int = 3, big: int = 1_000_000) -> dict[str, float]:
    """Hold+post cycles and transfers per second, balance reads at 1,000 and ``big`` members."""
    ours = _best_of(repeats, lambda: _hold_post_cycles(n))
    baseline = _best_of(repeats, lambda: _baseline_cycles(n))
    transfers = _best_of(repeats, lambda: _transfers(n))
    reads = 100_000
    small_reads, small_bare = _balance_reads(1_000, reads)
    big_reads, big_bare = _balance_reads(big, reads)
    return {
        "cycles": n,
        "hold_post_cycles_per_s": round(n / ours),
        "baseline_cycles_per_s": round(n / baseline),
        "ratio_hold_post_vs_baseline": round(ours / baseline, 2),
        "transfers_per_s": round(n / transfers),
        "balance_reads_per_s_1k_members": round(reads / small_reads),
        f"balance_reads_per_s_{big}_members": round(reads / big_reads),
        "ratio_balance_read_big_vs_1k": round(big_reads / small_reads, 2),
        "ratio_bare_dict_read_big_vs_1k": round(big_bare / small_bare, 2),
        "ratio_balance_read_vs_bare_dict_1k": round(small_reads / small_bare, 2),
        f"ratio_balance_read_vs_bare_dict_{big}": round(big_reads / big_bare, 2),
    }


class _RawDb:
    """Raw DB-API writes in transactions: sqlite3 (``BEGIN IMMEDIATE``, like the store) or
    psycopg (its transaction opened by the first statement, like the store's)."""

    def __init__(self, conn: Any, placeholder: str, begin: str, lock: tuple[Any, ...] = ()):
        self.conn = conn
        self.cursor = conn.cursor()
        self.placeholder = placeholder
        self.begin_sql = begin
        self.lock = lock
        self._sql: dict[str, str] = {}

    def sql(self, text: str) -> str:
        found = self._sql.get(text)
        if found is None:
            found = self._sql[text] = text.replace("?", self.placeholder)
        return found

    def begin(self) -> None:
        if self.begin_sql:  # psycopg opens its transaction with the first statement
            self.cursor.execute(self.begin_sql, self.lock)

    def commit(self) -> None:
        if self.placeholder == "?":
            self.cursor.execute("COMMIT")  # sqlite3 in autocommit mode: explicit
        else:
            self.conn.commit()


def _sqlite_raw(path: str, synchronous: str = "full") -> _RawDb:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    for version in sorted(SCHEMA):
        for statement in SCHEMA[version]:
            conn.execute(statement)
    return _RawDb(conn, "?", "BEGIN IMMEDIATE")


def _raw_commands(db: _RawDb, n: int) -> float:
    """The rows a purchase and a gift write, with raw DB-API calls, one transaction each."""
    run = db.cursor.execute
    sql = db.sql
    at = "2027-03-01T08:00:00.000000+00:00"
    upsert = sql(
        "INSERT INTO accounts (id, available, held) VALUES (?, ?, 0) ON CONFLICT (id) "
        "DO UPDATE SET available = excluded.available"
    )
    platform = sql(
        "INSERT INTO platform_balances VALUES (?, 0, ?) ON CONFLICT (account, shard) "
        "DO UPDATE SET balance = platform_balances.balance + excluded.balance"
    )
    line = sql("INSERT INTO statement_lines VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, ?, ?)")
    bought = sql("INSERT INTO transfers VALUES (?, 'platform:issuance', 'm1', 5, 'purchase', "
                 "?, ?, NULL, NULL)")
    gifted = sql("INSERT INTO transfers VALUES (?, 'm1', 'platform:gift_escrow', 1, "
                 "'gift_sent', ?, ?, NULL, NULL)")
    counter = sql("INSERT INTO counter_shards VALUES ('issued:purchase', 0, 5) "
                  "ON CONFLICT (name, shard) DO UPDATE SET value = counter_shards.value + 5")
    entity = sql("INSERT INTO entities VALUES (?, ?, ?)")
    key = sql("INSERT INTO entity_keys VALUES ('gift', ?, ?, ?, ?)")
    outbox = sql("INSERT INTO outbox VALUES (?, ?, ?)")
    start = time.perf_counter()
    balance = 0
    for i in range(n):
        db.begin()
        if i % 2 == 0:
            balance += 5
            run(bought, (i + 1, f"payment:{i}", at))
            run(platform, ("platform:issuance", -5))
            run(upsert, ("m1", balance))
            run(line, ("m1", i, i + 1, at, "purchase", 5, balance, f"payment:{i}",
                       "platform:issuance"))
            run(counter, ())
            run(entity, ("command_key", f"purchase:{i}", '{"command":"buy_stars"}'))
        else:
            balance -= 1
            run(gifted, (i + 1, f"gift:{i}", at))
            run(upsert, ("m1", balance))
            run(platform, ("platform:gift_escrow", 1))
            run(line, ("m1", i, i + 1, at, "gift_sent", -1, balance, f"gift:{i}",
                       "platform:gift_escrow"))
            run(entity, ("gift", f"gift_{i}", '{"sender":"m1","stars":1}'))
            for index, recipient in (("pending_recipient", "m2"), ("sender", "m1")):
                run(key, (index, recipient, f"gift_{i}", i))
            run(outbox, (i, '{"event":"GiftReceived"}', '["m2"]'))
        db.commit()
    return time.perf_counter() - start


def _bench_app(store: Store, clock: ManualClock | None = None) -> Skilltroc:
    return Skilltroc(store, clock or ManualClock(_AT), policy=_CHEAP_HASHING,
                     secret_key=BENCH_SECRET_KEY)


def _store_commands(store: Store, n: int) -> float:
    """The same purchases and gifts as service commands on ``store``."""
    app = _bench_app(store)
    buyer = app.signup("buyer@example.org", provider="google").member_id
    app.signup("friend@example.org", provider="google")
    start = time.perf_counter()
    for i in range(n):
        if i % 2 == 0:
            app.buy_stars(buyer, 5, f"payment-{i}")
        else:
            app.gift(buyer, "friend@example.org", 1)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


Write = tuple[str, tuple[Any, ...]]


@contextmanager
def _recording_writes() -> Iterator[list[list[Write]]]:
    """Record, unit of work by unit of work, every row a SQL store writes (statement and
    parameters), so a raw baseline can write the same rows in the same transactions."""
    units: list[list[Write]] = [[]]
    run, one, many = Runner.run, Runner.one, Runner.many
    finish_commit = SqlUnitOfWork.commit

    def record(sql: str, params: tuple[Any, ...]) -> None:
        if not sql.startswith("SELECT"):
            units[-1].append((sql, params))

    def recorded_run(self: Runner, sql: str, *params: Any) -> None:
        record(sql, params)
        run(self, sql, *params)

    def recorded_one(self: Runner, sql: str, *params: Any) -> Any:
        record(sql, params)
        return one(self, sql, *params)

    def recorded_many(self: Runner, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        for params in rows:  # the raw baseline writes them one by one
            record(sql, params)
        many(self, sql, rows)

    def recorded_commit(self: SqlUnitOfWork) -> None:
        finish_commit(self)
        units.append([])

    Runner.run, Runner.one = recorded_run, recorded_one  # type: ignore[method-assign]
    Runner.many = recorded_many  # type: ignore[method-assign]
    SqlUnitOfWork.commit = recorded_commit  # type: ignore[method-assign]
    try:
        yield units
    finally:
        Runner.run, Runner.one, Runner.many = run, one, many  # type: ignore[method-assign]
        SqlUnitOfWork.commit = finish_commit  # type: ignore[method-assign]
        units.pop()  # the one opened after the last commit


def _store_lifecycles(make_store: Callable[[], Store], n: int
                      ) -> tuple[float, list[list[Write]]]:
    """Time ``n`` lifecycles on a fresh store; then run them again on another fresh
    store recording the rows written (untimed), for the raw baseline."""
    store = make_store()
    app, clock, organizer, workshop, members = _booking_world(n, store)
    elapsed = _timed_lifecycles(app, clock, organizer, workshop, members)
    store.close()
    store = make_store()
    app, clock, organizer, workshop, members = _booking_world(n, store)
    with _recording_writes() as units:
        _timed_lifecycles(app, clock, organizer, workshop, members)
    store.close()
    return elapsed, units


def _raw_units(db: _RawDb, units: list[list[Write]]) -> float:
    """Write the recorded rows with raw DB-API calls, in the same transactions."""
    prepared = [[(db.sql(sql), params) for sql, params in unit] for unit in units]
    run = db.cursor.execute
    start = time.perf_counter()
    for unit in prepared:
        db.begin()
        for sql, params in unit:
            run(sql, params)
        db.commit()
    return time.perf_counter() - start


def _sqlite_part(folder: Path, n: int, lifecycles: int) -> dict[str, float]:
    paths = (str(folder / f"db{k}.sqlite") for k in itertools.count())
    ours = min(_store_commands(SQLiteStore(next(paths)), n) for _ in range(2))
    raw = min(_raw_commands(_sqlite_raw(next(paths)), n) for _ in range(2))
    cycles, units = _store_lifecycles(lambda: SQLiteStore(next(paths)), lifecycles)

    raw_cycle = min(_raw_units(_sqlite_raw(next(paths)), units) for _ in range(2))
    # the commits a host may lose on power loss, for speed: both sides the same
    fast = min(_store_commands(SQLiteStore(next(paths), synchronous="normal"), n)
               for _ in range(2))
    fast_raw = min(_raw_commands(_sqlite_raw(next(paths), "normal"), n) for _ in range(2))
    return {**_store_ratios("sqlite", n, ours, raw, lifecycles, cycles, raw_cycle),
            "lifecycle_transactions": len(units),
            "sqlite_normal_commands_per_s": round(n / fast),
            "raw_sqlite_normal_transactions_per_s": round(n / fast_raw),
            "ratio_sqlite_normal_vs_raw": round(fast / fast_raw, 2)}


def _postgres_part(dsn: str | None, n: int, lifecycles: int) -> dict[str, Any]:
    """The same runs on PostgreSQL: on ``dsn`` (each run in a schema of its own) or on a
    throwaway server (each run in a database of its own)."""
    try:  # optional dependency: imported only when PostgreSQL is benchmarked
        import psycopg  # noqa: PLC0415

        from ..adapters.postgres import PostgresStore  # noqa: PLC0415
        from ..testing.pgserver import PgServer, PgServerError  # noqa: PLC0415
    except ImportError as exc:  # the optional dependency is missing
        return {"postgres_skipped": f"psycopg is not installed ({exc})"}
    names = itertools.count()
    tag = f"bench_{os.getpid()}"
    with contextlib.ExitStack() as stack:
        server: PgServer | None = None
        if dsn is None:
            try:
                server = stack.enter_context(PgServer())
            except PgServerError as exc:
                return {"postgres_skipped": str(exc)}
        else:
            stack.callback(_drop_schemas, psycopg, dsn, tag)

        def fresh() -> tuple[str, str | None]:
            """A database of its own (throwaway server) or a schema of its own (dsn)."""
            if server is not None:
                return server.new_database(), None
            assert dsn is not None
            return dsn, f"{tag}_{next(names)}"

        def store() -> PostgresStore:
            target, schema = fresh()
            return PostgresStore(target, schema=schema)

        def raw() -> _RawDb:
            target, schema = fresh()
            PostgresStore(target, schema=schema).close()  # the tables and sequences
            conn = psycopg.connect(target)
            stack.callback(conn.close)
            if schema is not None:
                conn.execute(f'SET search_path TO "{schema}"')
                conn.commit()
            return _RawDb(conn, "%s", "", ())

        ours = min(_store_commands(store(), n) for _ in range(2))
        base = min(_raw_commands(raw(), n) for _ in range(2))
        cycles, units = _store_lifecycles(store, lifecycles)
        raw_cycle = min(_raw_units(raw(), units) for _ in range(2))
    return _store_ratios("postgres", n, ours, base, lifecycles, cycles, raw_cycle)


def _drop_schemas(psycopg: Any, dsn: str, tag: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{tag}_%",)
        ).fetchall():
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def bench_store(n: int = 2_000, lifecycles: int = 500, *, postgres: bool = True,
                dsn: str | None = None) -> dict[str, Any]:
    """Commands per second on SQLite (durable WAL commits) and PostgreSQL, each beside raw
    sqlite3 / psycopg writing the same rows in the same number of transactions: ``n``
    purchases and gifts, and ``lifecycles`` booking lifecycles (request, accept, session
    end, confirmed held, payout). The raw lifecycle baseline replays the very rows the
    store wrote (recorded from a second, untimed run), transaction by transaction.
    PostgreSQL runs on ``dsn``, or on a throwaway server (``initdb``) when none is given.
    """
    with tempfile.TemporaryDirectory() as folder:
        results: dict[str, Any] = {"commands": n, "lifecycles": lifecycles,
                                   **_sqlite_part(Path(folder), n, lifecycles)}
    if postgres or dsn is not None:
        results.update(_postgres_part(dsn, n, lifecycles))
    return results


def _booking_world(participants: int, store: Store | None = None
                   ) -> tuple[Skilltroc, ManualClock, str, str, list[str]]:
    clock = ManualClock(_AT)
    app = _bench_app(store if store is not None else MemoryStore(), clock)
    organizer = app.signup("organizer@example.org", provider="google").member_id
    workshop = app.create_workshop(organizer, title="Bread", description="Sourdough",
                                   domain="cooking", cost=2, capacity=10)
    members = [app.signup(f"p{i}@example.org", provider="google").member_id
               for i in range(participants)]
    return app, clock, organizer, workshop, members


def _timed_lifecycles(app: Skilltroc, clock: ManualClock, organizer: str, workshop: str,
                      members: list[str]) -> float:
    """Request -> accept -> session end -> confirm held -> payout for each member (10 a
    session); the time it took."""
    start = time.perf_counter()
    sessions = []
    for first in range(0, len(members), 10):
        session = app.plan_session(organizer, workshop, clock.now() + timedelta(days=1))
        sessions.append(session)
        for member in members[first:first + 10]:
            app.accept(organizer, app.request(member, session_id=session, seats=1))
    clock.advance(timedelta(days=1, hours=3))
    app.run_due()
    for session in sessions:
        app.confirm_held(organizer, session)
    return time.perf_counter() - start


def _lifecycles(n: int) -> float:
    """``n`` lifecycles on a memory store."""
    return _timed_lifecycles(*_booking_world(n))


#: The fields of a session card, in the order the raw baseline keeps them.
_CARD_FIELDS = ("session_id", "workshop_id", "organizer", "title", "domain", "mode", "locality",
                "start", "end", "cost", "capacity", "seats_left")
#: The feed's JSON text of a record's fields, made by one encoder (as the library's).
_RAW_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def _raw_lifecycles(n: int, tally: dict[str, int] | None = None) -> float:
    """The writes of ``n`` lifecycles (10 a session), with dicts, tuples, lists and a
    heap only: no check, no unit of work, no undo journal, no entity class.

    Each lifecycle writes what the library writes: the hold and its post (balances,
    transfers, statement lines, the hold record), the registration and its index
    postings, its request deadline, the session's seats, state and deadlines, both
    members' stats and the notices with their facts; and the read side: whenever the
    session's public record changes (planned, a seat taken, out of the catalogue), its
    catalogue card (written, or deleted with its catalogue postings) and a change-feed
    record (the card's fields as JSON text, or a tombstone), kept by entity too. It is
    the floor the library's lifecycle is compared with (``ratio_lifecycles_vs_raw``).
    ``tally``, when given, receives the number of each kind of record written, for a
    test to compare.
    """
    cost, organizer, workshop = 2, "mem_000001", "ws_000001"
    title, domain, mode, capacity = "Bread", "cooking", "online", 10
    balances = {f"m{i}": (10, 0) for i in range(n)}
    balances.update({organizer: (10, 0), "holds": (0, 0)})
    members = list(balances)[:n]
    transfers: list[tuple[Any, ...]] = []
    statement: dict[str, list[tuple[Any, ...]]] = {}
    holds: dict[str, tuple[Any, ...]] = {}
    registrations: dict[str, tuple[Any, ...]] = {}
    sessions: dict[str, tuple[Any, ...]] = {}
    # the index postings written: sessions by workshop and awaiting their organizer's
    # answer; live registrations by session, workshop, member, member and session;
    # pending ones by organizer; paid ones to evaluate by member
    (by_workshop, awaiting, session_live, workshop_live, organizer_pending, member_live,
     member_session, to_evaluate) = range(8)
    postings: list[dict[str, dict[str, int]]] = [{} for _ in range(8)]
    timers: dict[str, tuple[Any, ...]] = {}
    heap: list[tuple[datetime, int, str]] = []
    stats: dict[str, tuple[int, int]] = {}
    outbox: dict[int, tuple[Any, ...]] = {}
    numbers = itertools.count(1)
    # the read side: each planned session's card, the catalogue's ordered keys (each a
    # sorted list of "<start>\0<session>"), the change feed and each entity's changes
    cards: dict[str, tuple[Any, ...]] = {}
    catalogue: dict[str, list[str]] = {}
    listed_at: dict[str, str] = {}  # each card's place in its catalogue keys
    changes: dict[int, tuple[str, str, str | None]] = {}
    changes_of: dict[tuple[str, str], list[int]] = {}
    card_writes = [0, 0]  # written, deleted
    listed = ("all", f"domain:{domain}", f"mode:{mode}", f"workshop:{workshop}")

    def post(position: int, key: str, entity_id: str) -> None:
        postings[position].setdefault(key, {})[entity_id] = next(numbers)

    def unpost(position: int, key: str, entity_id: str) -> None:
        ids = postings[position][key]
        del ids[entity_id]
        if not ids:
            del postings[position][key]

    def move(debit: str, credit: str, amount: int, kind: str, reference: str,
             at: datetime) -> int:
        seq = len(transfers) + 1
        transfers.append((seq, debit, credit, amount, kind, reference, at))
        return seq

    def schedule(kind: str, ref: str, due: datetime) -> None:
        version = next(numbers)
        timers[f"{kind}:{ref}"] = ((kind, ref, due), version)
        heapq.heappush(heap, (due, version, f"{kind}:{ref}"))

    def tell(event: str, rule: str, at: datetime, to: tuple[str, ...],
             facts: tuple[tuple[str, Any], ...]) -> None:
        outbox[len(outbox) + 1] = (event, rule, at, to, (), facts)

    def change(session_id: str, data: str | None) -> None:
        seq = len(changes) + 1
        changes[seq] = ("session", session_id, data)
        changes_of.setdefault(("session", session_id), []).append(seq)

    def write_card(card: tuple[Any, ...]) -> None:
        cards[card[0]] = card
        card_writes[0] += 1
        change(card[0], _RAW_JSON(dict(zip(_CARD_FIELDS, card, strict=True))))

    now = _AT
    start = time.perf_counter()
    planned = []
    for first in range(0, n, 10):
        session_id = f"ses_{first:06d}"
        begins = now + timedelta(days=1)
        sessions[session_id] = (session_id, workshop, organizer, begins, 10, 0, "planned")
        post(by_workshop, workshop, session_id)
        ends = begins + timedelta(hours=2)
        schedule("session_end", session_id, ends)
        place = listed_at[session_id] = (
            f"{begins.astimezone(UTC).strftime('%Y%m%d%H%M%S%f')}\0{session_id}")
        for key in listed:  # the card, in the catalogue's keys, in start order
            bisect.insort(catalogue.setdefault(key, []), place)
        write_card((session_id, workshop, organizer, title, domain, mode, None,
                    begins.isoformat(), ends.isoformat(), cost, capacity, capacity))
        planned.append(session_id)
        for member in members[first:first + 10]:
            # request: the hold, the registration, its postings and deadline, a notice
            request_id = f"req_{next(numbers):06d}"
            available, held = balances[member]
            balances[member] = (available - cost, held + cost)
            holds_now = balances["holds"][0] + cost
            balances["holds"] = (holds_now, 0)
            seq = move(member, "holds", cost, "hold", request_id, now)
            statement.setdefault(member, []).append(
                (member, seq, now, "hold", -cost, cost, available - cost, held + cost))
            holds[request_id] = (request_id, member, cost, f"request:{request_id}", now)
            registrations[request_id] = (request_id, member, organizer, workshop, session_id,
                                         1, cost, now, begins, "pending")
            for position, key in ((session_live, session_id), (workshop_live, workshop),
                                  (organizer_pending, organizer), (member_live, member),
                                  (member_session, f"{member}|{session_id}")):
                post(position, key, request_id)
            schedule("request_due", request_id, begins)
            tell("RequestReceived", "BOOK-11", now, (organizer,), (
                ("due", begins.isoformat()), ("member", member), ("request", request_id),
                ("seats", 1), ("session", session_id), ("stars", cost),
                ("workshop", workshop)))
            # accept: the registration, one posting less, the seats, no deadline, a notice
            registrations[request_id] = (request_id, member, organizer, workshop, session_id,
                                         1, cost, now, None, "registered", now)
            unpost(organizer_pending, organizer, request_id)
            session = sessions[session_id]
            sessions[session_id] = (*session[:5], session[5] + 1, session[6])
            card = cards[session_id]
            write_card((*card[:11], card[11] - 1))
            del timers[f"request_due:{request_id}"]
            tell("RequestAccepted", "BOOK-14", now, (member,), (
                ("request", request_id), ("seats", 1), ("session", session_id),
                ("stars", cost), ("start", begins.isoformat()), ("workshop", workshop)))
    now += timedelta(days=1, hours=3)
    while heap and heap[0][0] <= now:  # session end: awaiting the organizer's answer
        _, version, timer_id = heapq.heappop(heap)
        timer = timers.pop(timer_id, None)
        if timer is None or timer[1] != version:
            continue
        session_id = timer[0][1]
        session = sessions[session_id]
        sessions[session_id] = (*session[:6], "awaiting_confirmation")
        post(awaiting, organizer, session_id)
        del cards[session_id]  # out of the catalogue: a tombstone
        card_writes[1] += 1
        place = listed_at.pop(session_id)
        for key in listed:
            places = catalogue[key]
            del places[bisect.bisect_left(places, place)]
            if not places:
                del catalogue[key]
        change(session_id, None)
        answer_by = session[3] + timedelta(days=7, hours=2)
        schedule("confirmation_window", session_id, answer_by)
        tell("SessionConfirmationRequested", "BOOK-30", now, (organizer,), (
            ("answer_by", answer_by.isoformat()), ("session", session_id),
            ("workshop", workshop)))
    for session_id in planned:  # held: each hold posted, each registration paid
        session = sessions[session_id]
        sessions[session_id] = (*session[:6], "held", now)
        unpost(awaiting, organizer, session_id)
        del timers[f"confirmation_window:{session_id}"]
        paid = []
        for request_id in list(postings[session_live][session_id]):
            registration = registrations[request_id]
            member = registration[1]
            available, held = balances[member]
            balances[member] = (available, held - cost)
            balances["holds"] = (balances["holds"][0] - cost, 0)
            earned = balances[organizer][0] + cost
            balances[organizer] = (earned, 0)
            seq = move("holds", organizer, cost, "hold_posted", request_id, now)
            statement[member].append((member, seq, now, "hold_posted", 0, -cost, available,
                                      held - cost))
            statement.setdefault(organizer, []).append(
                (organizer, seq, now, "hold_posted", cost, 0, earned, 0))
            holds[request_id] = (*holds[request_id], "posted", organizer, now)
            registrations[request_id] = (*registration[:9], "paid", now)
            for position, key in ((session_live, session_id), (workshop_live, workshop),
                                  (member_live, member),
                                  (member_session, f"{member}|{session_id}")):
                unpost(position, key, request_id)
            post(to_evaluate, member, request_id)
            organized, attended = stats.get(member, (0, 0))
            stats[member] = (organized, attended + 1)
            paid.append(member)
        organized, attended = stats.get(organizer, (0, 0))
        stats[organizer] = (organized + 1, attended)
        tell("SessionHeld", "BOOK-30", now, tuple(paid), (
            ("session", session_id), ("workshop", workshop)))
    elapsed = time.perf_counter() - start
    if tally is not None:
        tally.update(
            transfers=len(transfers), statement_lines=sum(map(len, statement.values())),
            posted_holds=sum(len(hold) > 5 for hold in holds.values()),
            timers=len(timers), organizer_stars=balances[organizer][0] - 10,
            paid=sum(r[9] == "paid" for r in registrations.values()),
            held_sessions=sum(session[6] == "held" for session in sessions.values()),
            seats_taken=sum(session[5] for session in sessions.values()),
            attended=sum(attended for _, attended in stats.values()),
            organized=stats[organizer][0],
            **{f"postings_{position}": sum(map(len, postings[position].values()))
               for position in range(8)},
            **{f"notices_{notice[0]}_{notice[1]}": sum(n[:2] == notice[:2]
                                                       for n in outbox.values())
               for notice in outbox.values()},
            session_cards=len(cards), session_card_writes=card_writes[0],
            session_card_deletes=card_writes[1],
            catalogue_postings=sum(map(len, catalogue.values())),
            session_changes=sum(data is not None for _, _, data in changes.values()),
            session_tombstones=sum(data is None for _, _, data in changes.values()),
            session_change_chars=sum(len(data or "") for _, _, data in changes.values()),
            changed_sessions=len(changes_of))
    return elapsed


def _run_due_among(pending: int, due: int = 1_000, rounds: int = 5) -> float:
    """Time ``run_due`` applying ``due`` expiries while ``pending`` other requests wait;
    the best of ``rounds`` batches, each due an hour after the one before.

    The requests are written straight through the store port, 10,000 per unit of work
    (a million through the service would take minutes: this measures ``run_due``)."""
    app, clock, organizer, workshop, members = _booking_world(1)
    member = members[0]
    far = _AT + timedelta(days=300)
    soon = [_AT + timedelta(hours=1 + batch) for batch in range(rounds)]
    store = app.store
    total = pending + due * rounds
    every = pending // (due * rounds) + 1
    uow = store.begin()
    Ledger(uow.book).issue(TransferKind.PURCHASE, member, 2 * total, reference="bench", at=_AT)
    uow.commit()
    gc.disable()  # a million long-lived objects: collections would only rescan them
    for first in range(0, total, 10_000):
        uow = store.begin()
        ledger = Ledger(uow.book)
        for index in range(first, min(first + 10_000, total)):
            registration_id = f"req_bench_{index}"
            deadline = soon[index // every % rounds] if index % every == 0 else far
            ledger.hold(registration_id, member, 2, reference=registration_id, at=_AT)
            uow.put(kinds.REGISTRATIONS, registration_id, Registration(
                # one workshop each: BOOK-4 allows one future request per member and workshop
                id=registration_id, member=member, organizer=organizer,
                workshop=f"{workshop}_{index}", session=None, seats=1, price=2,
                requested_at=_AT, due=deadline))
            uow.schedule(Timer(kind=REQUEST_DUE, ref=registration_id, due=deadline))
        uow.commit()
    gc.enable()
    best = float("inf")
    for instant in soon:
        clock.set(instant)
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            ran = app.run_due()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        assert ran >= due
        best = min(best, elapsed / ran * due)
    return best


def bench_booking(n: int = 5_000, big: int = 1_000_000) -> dict[str, float]:
    """Full booking lifecycles per second, beside the raw writes of the same lifecycles
    (``ratio_lifecycles_vs_raw``), and run_due's cost with 10,000 vs ``big`` waiting."""
    lifecycles = _best_of(2, lambda: _lifecycles(n))
    raw = _best_of(2, lambda: _raw_lifecycles(n))
    small = _run_due_among(10_000)
    large = _run_due_among(big)
    return {
        "lifecycles": n,
        "lifecycles_per_s": round(n / lifecycles),
        "raw_lifecycles_per_s": round(n / raw),
        "ratio_lifecycles_vs_raw": round(lifecycles / raw, 2),
        "run_due_1000_among_10k_s": round(small, 4),
        f"run_due_1000_among_{big}_s": round(large, 4),
        "ratio_run_due_1m_vs_10k": round(large / small, 2),
    }


def _ads_world(campaigns: int, domains: int, seed: int = 11) -> tuple[Skilltroc, list[str]]:
    """``campaigns`` running campaigns, each on 1 to 3 of ``domains`` domains, goals far."""
    app = Skilltroc(MemoryStore(), ManualClock(_AT), policy=_CHEAP_HASHING)
    owner = app.signup("shop@example.org", provider="google", kind="professional",
                       category="venue_or_local_shop").member_id
    app.update_profile(owner, display_name="Shop", description="A shop", photo="shop.jpg",
                       locality="Lyon")
    budget = 1_000  # 100,000 impressions each: none completes during the run
    app.buy_stars(owner, budget * campaigns, "bench")
    names = [f"domain {d}" for d in range(domains)]
    rng = random.Random(seed)
    for _ in range(campaigns):
        app.create_campaign(owner, budget=budget, visual="ad.png", visual_rights_free=True,
                            text="Come and see", start=_AT,
                            domains=rng.sample(names, rng.randint(1, 3)))
    return app, names


def _serves(app: Skilltroc, names: list[str], n: int, run: str, seed: int = 5) -> float:
    rng = random.Random(seed)
    pages = [(names[rng.randrange(len(names))], f"{run}-{i}") for i in range(n)]
    serve = app.serve
    start = time.perf_counter()
    for domain, page_view in pages:
        serve(domain, page_view)
    return time.perf_counter() - start


def _record_views(n: int, tutorials: int = 100, viewers: int = 5_000) -> float:
    """``n`` view reports on ``tutorials`` tutorials by ``viewers`` visitors (some repeat
    within 24 hours, some cross a payout threshold), memory store."""
    clock = ManualClock(_AT)
    app = Skilltroc(MemoryStore(), clock, policy=_CHEAP_HASHING)
    publisher = app.signup("teacher@example.org", provider="google").member_id
    ids = [app.publish_tutorial(publisher, title=f"Lesson {i}", domain="cooking",
                                rights_attested=True, upload=f"video-{i}")
           for i in range(tutorials)]
    rng = random.Random(3)
    reports = [(ids[rng.randrange(tutorials)], f"visitor-{rng.randrange(viewers)}", f"v{i}")
               for i in range(n)]
    record = app.record_view
    start = time.perf_counter()
    for tutorial, viewer, view in reports:
        record(tutorial, viewer, view)
    return time.perf_counter() - start


def bench_ads(serves: int = 20_000, views: int = 20_000, domains: int = 50) -> dict[str, float]:
    """Serves per second with 100 and with 10,000 running campaigns over ``domains``
    domains (memory store), and record_view throughput."""
    small, small_names = _ads_world(100, domains)
    large, large_names = _ads_world(10_000, domains)
    runs = iter(range(1_000_000))
    t_small = _best_of(2, lambda: _serves(small, small_names, serves, f"r{next(runs)}"))
    t_large = _best_of(2, lambda: _serves(large, large_names, serves, f"r{next(runs)}"))
    t_views = _best_of(2, lambda: _record_views(views))
    return {
        "serves": serves,
        "domains": domains,
        "serves_per_s": round(serves / t_large),
        "serves_per_s_100_campaigns": round(serves / t_small),
        "serves_per_s_10000_campaigns": round(serves / t_large),
        "ratio_10000_vs_100_campaigns": round(t_large / t_small, 2),
        "record_views": views,
        "record_views_per_s": round(views / t_views),
    }


def _store_ratios(name: str, n: int, ours: float, raw: float, lifecycles: int,
                  cycles: float, raw_cycle: float) -> dict[str, float]:
    """Rates and store/raw ratios of one database (seconds in, per-second rates out)."""
    return {
        f"{name}_commands_per_s": round(n / ours),
        f"raw_{name}_transactions_per_s": round(n / raw),
        f"ratio_{name}_vs_raw": round(ours / raw, 2),
        f"{name}_lifecycles_per_s": round(lifecycles / cycles),
        f"raw_{name}_lifecycles_per_s": round(lifecycles / raw_cycle),
        f"ratio_{name}_lifecycles_vs_raw": round(cycles / raw_cycle, 2),
    }
