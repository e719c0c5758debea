"""The scale benchmark: service commands per second as host processes are added.

``skilltroc bench scale`` starts N worker processes (``multiprocessing``, spawn context)
for each process count N and times them together for a fixed duration, after every
worker has set up its own members, workshop and sessions and waited at a barrier. Each
worker runs the same mix of service commands, one after the other, on things of its own
(disjoint from the other workers'), round after round:

    buy_stars (a new payment reference), a gift of 1 star to another of its members,
    a seat request in one of its sessions, the organizer's accept, the member's
    unregister (refunded: the seat and the stars come back, so rounds never run out).

Beside each count runs a raw psycopg baseline: N processes writing the same kind of rows
(wallet, transfer, statement line, platform shard, hold, entity, index postings, timer,
notice) in as many transactions, one per command, on tables of their own in the same
database. Then:

- ``unrelated_wait_ms``: a unit of work holds member A's wallet (``uow.book.balance(A)``)
  for ``hold`` seconds while a ``buy_stars`` of member B is timed on another store object
  (median of ``tries``); ``unrelated_wait_ms_command`` holds a whole command of A's open
  instead (a purchase credited, not yet committed); ``unrelated_free_ms`` is the same
  ``buy_stars`` with nothing held. Close figures: unrelated commands do not wait.
- a contended run: ``contended`` processes with the same mix, but their requests, accepts
  and unregisters all in the same 3 sessions of one workshop; its rate and the commands
  run again after a conflict (:attr:`Skilltroc.retries`).
- SQLite: the same mix on one file with 1 and 4 processes (one writer at a time).

PostgreSQL is a throwaway server (:class:`~skilltroc_core.testing.pgserver.PgServer`)
unless a DSN is given; every run has a PostgreSQL schema of its own, dropped at the end
when the DSN is the host's. Like every benchmark, it prints and never judges: the rates
depend on the machine (on 2 cores, 8 processes and their 8 server backends share them).
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import queue
import random
import statistics
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import attrs

from ..adapters._sql import SCHEMA
from ..adapters.sqlite import SQLiteStore
from ..ledger import TransferKind
from ..ports import Store
from ..service import Skilltroc
from .bench import _AT, _bench_app

__all__ = ["bench_scale"]

#: Members of each worker (each round acts for the next one) and sessions of its workshop.
MEMBERS = 4
SESSIONS = 3
#: Commands in one round of the mix (see the module).
ROUND = ("buy_stars", "gift", "request", "accept", "unregister")
#: Stars each member starts with (a round adds 4: +5 bought, -1 given, held and refunded).
START_STARS = 1_000
#: Seconds a worker may take to start and set up before the others stop waiting for it.
SETUP_TIMEOUT = 120.0
_AT_TEXT = "2027-01-01T09:00:00.000000+00:00"


@attrs.frozen
class _Job:
    """What one worker process runs: ``kind`` "service" (the mix through
    :class:`Skilltroc`) or "raw" (the baseline through psycopg) on ``target`` (a DSN, or
    a SQLite file when ``schema`` is None); ``shared`` is, for the contended run, the
    organizer's id then the sessions every worker requests seats in."""

    kind: str
    target: str
    schema: str | None
    worker: int
    seconds: float
    shared: tuple[str, ...] = ()


@attrs.frozen
class _Done:
    """A worker's report: commands completed between ``start`` and ``end``
    (``time.monotonic``, the same clock in every process), commands run again."""

    worker: int
    commands: int = 0
    start: float = 0.0
    end: float = 0.0
    retries: int = 0
    error: str | None = None


@attrs.frozen
class _Point:
    """The workers of one run, together: commands completed and the time they took."""

    commands: int
    elapsed: float
    retries: int

    @property
    def rate(self) -> float:
        return self.commands / self.elapsed if self.elapsed > 0 else 0.0


# ---------------------------------------------------------------------- worker side
def _open_store(job: _Job) -> Store:
    if job.schema is None:
        return SQLiteStore(job.target)
    from ..adapters.postgres import PostgresStore  # noqa: PLC0415 - optional dependency

    return PostgresStore(job.target, schema=job.schema)


def plan_workshop(app: Skilltroc, tag: str) -> tuple[str, list[str]]:
    """An organizer, a workshop (1 star a seat, 1,000 seats a session) and its
    :data:`SESSIONS` sessions, a month away: the organizer's id and the session ids."""
    organizer = app.signup(f"{tag}-organizer@bench.example", provider="google").member_id
    workshop = app.create_workshop(organizer, title="Bread", description="Sourdough",
                                   domain="cooking", cost=1, capacity=1_000)
    return organizer, [app.plan_session(organizer, workshop, _AT + timedelta(days=30 + k))
                       for k in range(SESSIONS)]


def service_mix(app: Skilltroc, worker: int, shared: Sequence[str] = ()
                ) -> Callable[[int], None]:
    """Set up worker ``worker``'s members (and its workshop unless ``shared`` names an
    organizer and sessions); the function running command ``i`` of the mix."""
    tag = f"w{worker}"
    if shared:
        organizer, sessions = shared[0], list(shared[1:])
    else:
        organizer, sessions = plan_workshop(app, tag)
    emails = [f"{tag}-m{k}@bench.example" for k in range(MEMBERS)]
    members = [app.signup(email, provider="google").member_id for email in emails]
    for member in members:
        app.buy_stars(member, START_STARS, f"{tag}-setup-{member}")
    live = [""]  # the registration of the current round

    def step(i: int) -> None:
        rounds, command = divmod(i, len(ROUND))
        k = rounds % MEMBERS
        member = members[k]
        if command == 0:
            app.buy_stars(member, 5, f"{tag}-{rounds}")
        elif command == 1:
            app.gift(member, emails[(k + 1) % MEMBERS], 1)
        elif command == 2:
            session = sessions[(rounds + worker) % len(sessions)]
            live[0] = app.request(member, session_id=session, seats=1)
        elif command == 3:
            app.accept(organizer, live[0])
        else:
            app.unregister(member, live[0])

    return step


class _RawMix:
    """The baseline: the rows each command of the mix writes, with psycopg, one
    transaction per command, on the raw tables (the store's schema, in a schema of
    their own). Wallets are updated in place (``RETURNING`` the new balance), numbers
    come from server sequences, every row the next command depends on is locked by the
    statement that reads or writes it; nothing else is checked."""

    def __init__(self, conn: Any, worker: int) -> None:
        self.conn = conn
        self.run = conn.cursor().execute
        self.worker = worker
        self.tag = f"w{worker}"
        self.members = [f"raw_{self.tag}_m{k}" for k in range(MEMBERS)]
        self.sessions = [f"raw_{self.tag}_s{k}" for k in range(SESSIONS)]
        self.organizer = f"raw_{self.tag}_organizer"
        self.lines = dict.fromkeys(self.members, 0)
        self.seats = dict.fromkeys(self.sessions, 0)
        self.live = ""
        self.numbers = 0

    def set_up(self) -> None:
        for member in self.members:
            self.run("INSERT INTO accounts (id, available, held) VALUES (%s, %s, 0)",
                     (member, START_STARS))
        for session in self.sessions:
            self.run("INSERT INTO entities (kind, id, data) VALUES ('session', %s, %s)",
                     (session, self._session(session)))
        self.conn.commit()

    def _session(self, session: str) -> str:
        return json.dumps({"capacity": 1_000, "end": _AT_TEXT, "ended_at": None, "id": session,
                           "organizer": self.organizer, "seats_taken": self.seats[session],
                           "start": _AT_TEXT, "state": "planned", "workshop": "raw_ws"})

    def _registration(self, registration: str, member: str, session: str, state: str) -> str:
        return json.dumps({"accepted_at": None, "attendance": None, "due": _AT_TEXT,
                           "ended_at": None, "evaluated": False, "id": registration,
                           "member": member, "organizer": self.organizer, "price": 1,
                           "requested_at": _AT_TEXT, "seats": 1, "session": session,
                           "state": state, "waitlist_until": None, "workshop": "raw_ws"})

    def _notice(self, event: str, recipient: str, **facts: Any) -> None:
        data = json.dumps({"at": _AT_TEXT, "emails": [], "event": event,
                           "facts": sorted(facts.items()), "recipients": [recipient],
                           "rule": "BENCH"})
        self.run("INSERT INTO outbox (seq, data, recipients) VALUES "
                 "(nextval('raw_outbox'), %s, %s)", (data, json.dumps([recipient])))

    def _move(self, member: str, available: int, held: int, kind: str, reference: str,
              platform: str, *, to_member: bool, hold_id: str | None = None,
              reason: str | None = None) -> None:
        """A wallet change, its transfer, statement line and platform shard."""
        row = self.run(
            "UPDATE accounts SET available = available + %s, held = held + %s WHERE id = %s "
            "AND available + %s >= 0 RETURNING available, held",
            (available, held, member, available)).fetchone()
        if row is None:
            raise RuntimeError(f"raw baseline: {member} cannot pay")
        amount = abs(available) or abs(held)
        debit, credit = (platform, member) if to_member else (member, platform)
        seq = self.run(
            "INSERT INTO transfers (seq, debit, credit, amount, kind, reference, at, hold_id, "
            "reason) VALUES (nextval('raw_transfer'), %s, %s, %s, %s, %s, %s, %s, %s) "
            "RETURNING seq",
            (debit, credit, amount, kind, reference, _AT_TEXT, hold_id, reason)).fetchone()[0]
        self.run("INSERT INTO statement_lines (member, idx, transfer_seq, at, kind, amount, "
                 "held_change, balance, held, reference, counterpart) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (member, self.lines[member], seq, _AT_TEXT, kind, available, held, row[0],
                  row[1], reference, platform))
        self.lines[member] += 1
        self.run("INSERT INTO platform_balances (account, shard, balance) VALUES (%s, %s, %s) "
                 "ON CONFLICT (account, shard) DO UPDATE SET balance = "
                 "platform_balances.balance + excluded.balance",
                 (platform, random.randrange(64), -amount if to_member else amount))

    def step(self, i: int) -> None:
        rounds, command = divmod(i, len(ROUND))
        k = rounds % MEMBERS
        member = self.members[k]
        session = self.sessions[(rounds + self.worker) % SESSIONS]
        run = self.run
        if command == 0:
            reference = f"{self.tag}-{rounds}"
            self._move(member, 5, 0, "purchase", f"payment:{reference}", "platform:issuance",
                       to_member=True)
            run("INSERT INTO counter_shards (name, shard, value) VALUES ('issued:purchase', "
                "%s, 5) ON CONFLICT (name, shard) DO UPDATE SET value = counter_shards.value "
                "+ excluded.value", (random.randrange(64),))
            run("INSERT INTO entities (kind, id, data) VALUES ('command_key', %s, %s)",
                (f"purchase:{reference}", json.dumps({
                    "command": "buy_stars", "fingerprint": f"{member},5",
                    "key": f"purchase:{reference}", "result": "0", "until": None})))
        elif command == 1:
            self.numbers += 1
            gift = f"gift_{self.tag}_{self.numbers}"
            friend = self.members[(k + 1) % MEMBERS]
            self._move(member, -1, 0, "gift_sent", f"gift:{gift}", "platform:gift_escrow",
                       to_member=False)
            run("INSERT INTO entity_keys (kind, idx, key, id, seq) VALUES "
                "('gift', 'pending_recipient', %s, %s, nextval('raw_key')), "
                "('gift', 'sender', %s, %s, nextval('raw_key'))", (friend, gift, member, gift))
            run("INSERT INTO entities (kind, id, data) VALUES ('gift', %s, %s)",
                (gift, json.dumps({"ended_at": None, "id": gift, "recipient": friend,
                                   "recipient_email": None, "sender": member,
                                   "sent_at": _AT_TEXT, "stars": 1, "state": "sent"})))
            self._notice("GiftReceived", friend, gift=gift, sender=member, stars=1)
        elif command == 2:
            self.numbers += 1
            registration = self.live = f"req_{self.tag}_{self.numbers}"
            run("SELECT data FROM entities WHERE kind = 'session' AND id = %s FOR SHARE",
                (session,)).fetchone()
            self._move(member, -1, 1, "hold", f"request:{registration}", "platform:holds",
                       to_member=False, hold_id=registration)
            run("INSERT INTO holds (id, member, amount, reference, opened_at, state) "
                "VALUES (%s, %s, 1, %s, %s, 'open')",
                (registration, member, f"request:{registration}", _AT_TEXT))
            run("INSERT INTO entity_keys (kind, idx, key, id, seq) VALUES "
                + ", ".join(["('registration', %s, %s, %s, nextval('raw_key'))"] * 5),
                ("session_live", session, registration, "workshop_live", "raw_ws",
                 registration, "organizer_pending", self.organizer, registration,
                 "member_live", member, registration, "member_session",
                 f"{member}|{session}", registration))
            run("INSERT INTO entities (kind, id, data) VALUES ('registration', %s, %s)",
                (registration, self._registration(registration, member, session, "pending")))
            run("INSERT INTO timers (id, kind, ref, due, seq) VALUES (%s, 'request_due', %s, "
                "%s, nextval('raw_timer'))",
                (f"request_due:{registration}", registration, _AT_TEXT))
            self._notice("RequestReceived", self.organizer, request=registration,
                         session=session, member=member)
        elif command == 3:
            registration = self.live
            run("SELECT data FROM entities WHERE kind = 'session' AND id = %s FOR UPDATE",
                (session,)).fetchone()
            self.seats[session] += 1
            run("DELETE FROM entity_keys WHERE kind = 'registration' AND idx = "
                "'organizer_pending' AND key = %s AND id = %s", (self.organizer, registration))
            run("UPDATE entities SET data = %s WHERE kind = 'registration' AND id = %s",
                (self._registration(registration, member, session, "registered"),
                 registration))
            run("UPDATE entities SET data = %s WHERE kind = 'session' AND id = %s",
                (self._session(session), session))
            run("DELETE FROM timers WHERE id = %s", (f"request_due:{registration}",))
            self._notice("RequestAccepted", member, request=registration, session=session)
        else:
            registration = self.live
            run("SELECT data FROM entities WHERE kind = 'session' AND id = %s FOR UPDATE",
                (session,)).fetchone()
            self.seats[session] -= 1
            run("UPDATE entities SET data = %s WHERE kind = 'session' AND id = %s",
                (self._session(session), session))
            self._move(member, 1, -1, "hold_voided", f"request:{registration}",
                       "platform:holds", to_member=True, hold_id=registration,
                       reason="unregistered")
            run("UPDATE holds SET state = 'voided', ended_at = %s, void_reason = "
                "'unregistered' WHERE id = %s", (_AT_TEXT, registration))
            run("DELETE FROM entity_keys WHERE kind = 'registration' AND id = %s AND idx IN "
                "('session_live', 'workshop_live', 'member_live', 'member_session')",
                (registration,))
            run("UPDATE entities SET data = %s WHERE kind = 'registration' AND id = %s",
                (self._registration(registration, member, session, "unregistered"),
                 registration))
            self._notice("MemberUnregistered", self.organizer, request=registration,
                         session=session)
        self.conn.commit()


def _prepare(job: _Job, stack: contextlib.ExitStack
             ) -> tuple[Callable[[int], None], Callable[[], int]]:
    """Set up ``job``'s world; the function running command ``i`` and the retry count."""
    if job.kind == "raw":
        import psycopg  # noqa: PLC0415 - optional dependency

        conn = stack.enter_context(psycopg.connect(job.target, application_name="bench_raw"))
        conn.execute(f'SET search_path TO "{job.schema}"')
        conn.commit()
        mix = _RawMix(conn, job.worker)
        mix.set_up()
        return mix.step, lambda: 0
    store = _open_store(job)
    stack.callback(store.close)
    app = _bench_app(store)
    return service_mix(app, job.worker, job.shared), lambda: app.retries


def _worker(job: _Job, barrier: Barrier, results: Any) -> None:
    """A worker process: set up, wait for the others, run the mix for ``job.seconds``
    (garbage collector paused), report a :class:`_Done` (or the error) on ``results``."""
    try:
        with contextlib.ExitStack() as stack:
            step, retries = _prepare(job, stack)
            before = retries()  # the setup's are not counted
            barrier.wait(SETUP_TIMEOUT)
            gc.collect()
            gc.disable()
            start = time.monotonic()
            deadline = start + job.seconds
            done = 0
            while True:
                step(done)
                done += 1
                now = time.monotonic()
                if now >= deadline:
                    break
            gc.enable()
            results.put(_Done(job.worker, done, start, now, retries() - before))
    except BaseException:
        barrier.abort()  # the others stop waiting for this one
        results.put(_Done(job.worker, error=traceback.format_exc()))


# ---------------------------------------------------------------------- parent side
def _run_point(jobs: Sequence[_Job]) -> _Point:
    """Start one process per job, let them set up, time them together, collect."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    results = context.Queue()
    processes = [context.Process(target=_worker, args=(job, barrier, results), daemon=True,
                                 name=f"bench-scale-{job.kind}-{job.worker}")
                 for job in jobs]
    for process in processes:
        process.start()
    reports: list[_Done] = []
    deadline = time.monotonic() + SETUP_TIMEOUT + max(job.seconds for job in jobs) + 60
    try:
        while len(reports) < len(jobs):
            try:
                reports.append(results.get(timeout=1.0))
            except queue.Empty:
                silent = [p for p in processes if p.exitcode not in (None, 0)]
                if silent or time.monotonic() > deadline:
                    raise RuntimeError(
                        "a scale benchmark worker died or hung without reporting: "
                        + ", ".join(f"{p.name} (exit {p.exitcode})" for p in silent)
                    ) from None
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():  # our own child, stuck: stop it
                process.terminate()
                process.join()
    failed = [report.error for report in reports if report.error is not None]
    if failed:  # the first cause, rather than the others' broken barrier
        failed.sort(key=lambda error: "BrokenBarrierError" in error)
        raise RuntimeError(f"a scale benchmark worker failed:\n{failed[0]}")
    return _Point(
        commands=sum(r.commands for r in reports),
        elapsed=max(r.end for r in reports) - min(r.start for r in reports),
        retries=sum(r.retries for r in reports),
    )


def _drop_schemas(dsn: str, tag: str) -> None:
    import psycopg  # noqa: PLC0415 - optional dependency

    with psycopg.connect(dsn, autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{tag}\\_%",)
        ).fetchall():
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def _raw_schema(dsn: str, schema: str) -> None:
    """The store's tables (every schema version) and the raw sequences, in ``schema``."""
    import psycopg  # noqa: PLC0415 - optional dependency

    with psycopg.connect(dsn) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        for step in sorted(SCHEMA):
            for statement in SCHEMA[step]:
                conn.execute(statement)
        for name in ("raw_transfer", "raw_outbox", "raw_key", "raw_timer"):
            conn.execute(f"CREATE SEQUENCE {name}")
        conn.commit()


def _unrelated_wait(dsn: str, schema: str, hold: float, tries: int) -> dict[str, float]:
    """How long a ``buy_stars`` of member B takes while a unit of work holds member A
    (their wallet read; or a whole purchase of A's, not committed) for ``hold`` seconds;
    and with nothing held. Medians of ``tries``, in ms."""
    from ..adapters.postgres import PostgresStore  # noqa: PLC0415 - optional dependency

    stores = [PostgresStore(dsn, schema=schema) for _ in range(2)]
    try:
        holder, app = _bench_app(stores[0]), _bench_app(stores[1])
        a = app.signup("a@bench.example", provider="google").member_id
        b = app.signup("b@bench.example", provider="google").member_id
        app.buy_stars(a, 100, "a-setup")
        app.buy_stars(b, 100, "b-setup")

        def hold_wallet(opened: threading.Event) -> None:
            uow = stores[0].begin()
            try:
                uow.book.balance(a)
                opened.set()
                time.sleep(hold)
            finally:
                uow.rollback()

        def hold_command(opened: threading.Event) -> None:
            with contextlib.suppress(_Undo), holder.command() as tx:
                tx.actor(a)
                tx.ledger.issue(TransferKind.PURCHASE, a, 1, reference="payment:held",
                                at=tx.now)
                opened.set()
                time.sleep(hold)
                raise _Undo  # rolled back: nothing of it is written

        timings: dict[str, list[float]] = {"free": [], "wallet": [], "command": []}
        purchases = iter(range(10**9))
        for _ in range(tries):
            for name, held in (("free", None), ("wallet", hold_wallet),
                               ("command", hold_command)):
                with _holding(held):
                    start = time.perf_counter()
                    app.buy_stars(b, 1, f"b-{next(purchases)}")
                    timings[name].append(time.perf_counter() - start)
        return {
            "unrelated_wait_ms": round(statistics.median(timings["wallet"]) * 1000, 2),
            "unrelated_wait_ms_command": round(statistics.median(timings["command"]) * 1000, 2),
            "unrelated_free_ms": round(statistics.median(timings["free"]) * 1000, 2),
        }
    finally:
        for store in stores:
            store.close()


class _Undo(Exception):
    """Leaves a held command's unit of work by rolling it back."""


@contextlib.contextmanager
def _holding(hold: Callable[[threading.Event], None] | None) -> Iterator[None]:
    """Run ``hold`` in a thread of its own while the block runs (entered once it holds)."""
    if hold is None:
        yield
        return
    opened = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            hold(opened)
        except BaseException as exc:
            failure.append(exc)
            opened.set()

    thread = threading.Thread(target=run, name="bench-scale-holder")
    thread.start()
    try:
        opened.wait(30)
        if failure:
            raise failure[0]
        yield
    finally:
        thread.join()
    if failure:
        raise failure[0]


def _ratios(results: dict[str, Any], processes: Sequence[int]) -> dict[str, float]:
    """raw/store per process count; each count's rate over one process's (store, raw)."""
    ratios: dict[str, float] = {}
    ours_1, raw_1 = results.get("commands_per_s_1"), results.get("raw_per_s_1")
    for n in processes:
        ours, raw = results[f"commands_per_s_{n}"], results[f"raw_per_s_{n}"]
        if ours:
            ratios[f"ratio_vs_raw_{n}"] = round(raw / ours, 2)
        if n != 1 and ours_1 and raw_1:
            ratios[f"scaling_{n}_vs_1"] = round(ours / ours_1, 2)
            ratios[f"raw_scaling_{n}_vs_1"] = round(raw / raw_1, 2)
    return ratios


def _postgres_part(processes: Sequence[int], dsn: str | None, seconds: float, contended: int,
                   hold: float, tries: int, keep: bool, tag: str) -> dict[str, Any]:
    try:  # optional dependency: imported only when PostgreSQL is benchmarked
        import psycopg  # noqa: F401, PLC0415

        from ..adapters.postgres import PostgresStore  # noqa: PLC0415
        from ..testing.pgserver import PgServer, PgServerError  # noqa: PLC0415
    except ImportError as exc:
        return {"postgres_skipped": f"psycopg is not installed ({exc})"}
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        if dsn is None:
            try:
                target = stack.enter_context(PgServer()).dsn
            except PgServerError as exc:
                return {"postgres_skipped": str(exc)}
        else:
            target = dsn
            if not keep:
                stack.callback(_drop_schemas, dsn, tag)

        def service_jobs(schema: str, n: int, shared: tuple[str, ...] = ()) -> list[_Job]:
            PostgresStore(target, schema=schema).close()  # created once, before the workers
            return [_Job("service", target, schema, w, seconds, shared) for w in range(n)]

        for n in processes:
            point = _run_point(service_jobs(f"{tag}_pg_{n}", n))
            results[f"commands_per_s_{n}"] = round(point.rate)
            results[f"commands_{n}"] = point.commands
            results[f"retries_{n}"] = point.retries
            _raw_schema(target, f"{tag}_raw_{n}")
            raw = _run_point([_Job("raw", target, f"{tag}_raw_{n}", w, seconds)
                              for w in range(n)])
            results[f"raw_per_s_{n}"] = round(raw.rate)
            results[f"raw_transactions_{n}"] = raw.commands
        results.update(_ratios(results, processes))
        if contended:
            schema = f"{tag}_contended_{contended}"
            store = PostgresStore(target, schema=schema)
            try:
                organizer, sessions = plan_workshop(_bench_app(store), "shared")
            finally:
                store.close()
            point = _run_point(service_jobs(schema, contended, (organizer, *sessions)))
            results[f"contended_commands_per_s_{contended}"] = round(point.rate)
            results[f"contended_commands_{contended}"] = point.commands
            results[f"contended_retries_{contended}"] = point.retries
        if tries:
            wait = f"{tag}_wait"
            PostgresStore(target, schema=wait).close()
            results.update(_unrelated_wait(target, wait, hold, tries))
    return results


def _sqlite_part(processes: Sequence[int], seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="skilltroc-scale-") as folder:
        for n in processes:
            path = str(Path(folder) / f"scale-{n}.db")
            SQLiteStore(path).close()  # created once, before the workers
            point = _run_point([_Job("service", path, None, w, seconds) for w in range(n)])
            results[f"sqlite_commands_per_s_{n}"] = round(point.rate)
            results[f"sqlite_commands_{n}"] = point.commands
    first = results.get("sqlite_commands_per_s_1")
    for n in processes:
        if n != 1 and first:
            results[f"sqlite_scaling_{n}_vs_1"] = round(
                results[f"sqlite_commands_per_s_{n}"] / first, 2)
    return results


def bench_scale(processes: Sequence[int] = (1, 2, 4, 8), *, dsn: str | None = None,
                seconds: float = 3.0, contended: int = 8,
                sqlite_processes: Sequence[int] = (1, 4), hold: float = 1.0, tries: int = 3,
                keep: bool = False, tag: str | None = None) -> dict[str, Any]:
    """Commands per second with each count of ``processes`` running the mix at once
    (PostgreSQL on ``dsn``, or on a throwaway server), beside raw psycopg writes of the
    same kind of rows; the wait of an unrelated command; a ``contended`` run (0: none);
    the mix on one SQLite file with ``sqlite_processes`` (empty: none). Each run lasts
    ``seconds``; ``hold`` and ``tries`` are the unrelated-wait measure's (0 tries: none).

    Each PostgreSQL run has a schema of its own, ``<tag>_pg_<n>``, ``<tag>_raw_<n>``,
    ``<tag>_contended_<n>``, ``<tag>_wait``; on ``dsn`` they are dropped at the end
    unless ``keep``. Rates and ratios are rounded; ``*_commands_<n>`` are the counts.
    """
    counts = sorted(set(processes))
    if not counts or counts[0] < 1 or seconds <= 0 or contended < 0 or tries < 0:
        raise ValueError("process counts >= 1, seconds > 0, contended and tries >= 0")
    tag = tag or f"scale_{os.getpid()}"
    results: dict[str, Any] = {"processes": counts, "seconds": seconds,
                               "cpus": os.cpu_count() or 0}
    results.update(_postgres_part(counts, dsn, seconds, contended, hold, tries, keep, tag))
    if sqlite_processes:
        results.update(_sqlite_part(sorted(set(sqlite_processes)), seconds))
    return results
