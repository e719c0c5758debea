"""Serializability of the PostgreSQL store: the logged store, the worker processes, the
replay on a memory store and the comparison of the two final states.

Not a test module (:mod:`tests.test_serializability` is). The method:

1. **Commit order.** Every unit of work that commits while an op runs also inserts, with
   its own writes, the row ``(nextval('commit_order'), op)`` into ``commit_log``
   (:class:`LoggedPostgresStore`). The ``nextval`` runs at commit, inside the committing
   transaction, while the unit still holds every lock it took (strict two-phase
   locking), so two units that conflict get increasing numbers in their commit order,
   and units that do not conflict commute. A unit that rolls back takes its row with it:
   an attempt the service runs again leaves no trace. A refused command draws a number
   too, at its rollback, while it still holds its locks (a unit that writes nothing is
   serializable at any instant it holds its locks): it is recorded in ``refusal_log``
   with the refusal's code and rule.
2. **Determinism.** Everything a command depends on besides the store is recorded or
   fixed: ``now`` (each worker's fast clock, set before each action to ``T0 + (wall time
   since the shared start) * SPEED`` and the same for every attempt), the ids (named after
   the unit of work that made them, :class:`UnitIds`), the key of email fingerprints, and
   the deadlines each unit applied (the service's timer handlers are wrapped): a deadline
   ``run_due()`` applies in a unit of its own is an op of its own; those a command
   applies first, in its own unit, are logged with it.
3. **Replay.** On a fresh :class:`~skilltroc_core.adapters.memory.MemoryStore`, every
   logged op in number order, the set-up first (it runs through the same logged store): a
   command is called again with the same arguments, ``now`` and ids, its unit of work
   finding due exactly the deadlines it applied in PostgreSQL (each must be pending, due
   at the same instant); it must succeed where it committed and be refused with the same
   code and rule where it was refused. A deadline of ``run_due`` is applied as it was.
4. **Comparison.** The PostgreSQL tables and the memory store must then hold the same
   entities, index postings (in order; ordered indexes by position), wallets, holds,
   platform balances, supply counters, statements, transfers, idempotency records, timers,
   outbox and queues; only sequence numbers (transfers, outbox rows, timers) are left
   out, each store drawing them its own way.
5. **Deadlines.** Apart from the state, each command must have applied exactly the
   deadlines due by its ``now`` at its place in the commit order, in due order, as a
   serial execution does (:meth:`Replay._check_deadlines`). The replay follows the
   deadlines PostgreSQL chose, so the two checks fail apart: a different state is a
   fault of the locking; a deadline fault is a command that skipped or reordered due
   timers (which timers are due is a question no row or key lock covers). A timer whose
   commit the op could not see when it drew its number is not held against it: numbers
   are drawn before a commit becomes visible, so two units committing at the same moment
   may be numbered in either order, and the serial order that explains them has the op
   first (each logged commit keeps its transaction id and snapshot; disabling the
   store's guard makes this check fail at once).

Run as a module this file is one worker process:
``python -m tests.serial_world <dsn> <world.json> <worker> <seed> <seconds>``. Once
connected it prints ``ready`` and reads the shared start instant (seconds since the
epoch) on stdin; at the end it prints one JSON line: ops done, refused, given up after
every attempt, and the service's retries.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import psycopg

from skilltroc_core.adapters._sql import SqlUnitOfWork
from skilltroc_core.adapters.codec import dumps, instant_text, loads, parse_instant
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.booking import Session, SessionState
from skilltroc_core.errors import (
    ConcurrencyError,
    InvariantViolationError,
    SkilltrocError,
    StoreError,
)
from skilltroc_core.ports import Clock, IdGenerator, Store, Timer
from skilltroc_core.service import AgendaItem, Skilltroc, Tx, kinds
from skilltroc_core.service.units import _FORGET_BATCH, forget_due

from .pg_fixtures import POLICY as CHEAP_POLICY
from .pg_fixtures import T0

__all__ = [
    "LOG_TABLES",
    "MISSED",
    "OUT_OF_ORDER",
    "WORKERS",
    "Actor",
    "Divergence",
    "LoggedOp",
    "LoggedPostgresStore",
    "Replay",
    "UnitIds",
    "World",
    "create_log_tables",
    "differences",
    "memory_state",
    "new_service",
    "pg_state",
    "read_log",
    "replay",
    "run_workers",
    "set_up_world",
]

WORKERS: Final = 8
#: Actions a worker does at least (within half as long again as its time), however loaded
#: the machine.
MIN_ACTIONS: Final = 30
#: Fast seconds per real second: 3 days, so that a run of a few seconds crosses session
#: starts and ends, request due dates, 7-day confirmation windows, gift expiries...
SPEED: Final = 3 * 86_400
#: Cheap password hashing, gifts expiring, page views forgotten after a day, 20
#: impressions per 10-star campaign: every kind of deadline comes due within a run.
#: ``clock_tolerance=None``: the workers' clocks run at ``SPEED``, so a few milliseconds
#: between two workers are hours of their time, and the replay plays every worker's
#: instants in one service, in commit order, not in time order: each command must run at
#: the instant it was logged with, as is.
POLICY: Final = attrs.evolve(CHEAP_POLICY, gift_expiry_days=3, replay_window=timedelta(days=1),
                             impressions_per_ad_star=2, clock_tolerance=None)
#: The host's secret key, the same for both stores.
SECRET_KEY: Final = bytes(range(32))
DOMAIN: Final = "pottery"
#: What the test database holds besides the store's tables.
LOG_TABLES: Final = (
    "CREATE SEQUENCE commit_order",
    "CREATE TABLE commit_log (seq BIGINT PRIMARY KEY, op TEXT NOT NULL, xid BIGINT NOT NULL,"
    " snapshot TEXT NOT NULL)",
    "CREATE TABLE refusal_log (seq BIGINT PRIMARY KEY, op TEXT NOT NULL)",
)
_LOG_COMMIT: Final = (
    "INSERT INTO commit_log (seq, op, xid, snapshot) VALUES (nextval('commit_order'), ?, "
    "txid_current(), txid_current_snapshot()::text)")

#: The two kinds of deadline faults (:meth:`Replay._check_deadlines`).
OUT_OF_ORDER: Final = "applied deadlines out of due order"
MISSED: Final = "ran before deadlines due by its instant"

JsonOp = dict[str, Any]


# ---------------------------------------------------------------------- determinism
class FastClock:
    """A clock set from outside before each action; reading it never moves it, so every
    attempt of a command sees the same ``now``."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now


class UnitIds:
    """Ids named after the unit of work that makes them: ``<prefix>_<label>_<n>``.

    ``label`` names the op and its unit (``w3.127.2``: worker 3, op 127, its second unit of
    work); ``n`` restarts at every unit. The label is logged with the unit, so the replay
    makes exactly the same ids.
    """

    def __init__(self) -> None:
        self.label = "none"
        self._count = 0

    def start_unit(self, label: str | None = None) -> None:
        if label is not None:
            self.label = label
        self._count = 0

    def new_id(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self.label}_{self._count}"


def new_service(store: Store, clock: Clock, ids: IdGenerator) -> Skilltroc:
    """The service both stores run under: same policy, ids scheme and fingerprint key."""
    return Skilltroc(store, clock, policy=POLICY, ids=ids, secret_key=SECRET_KEY)


def _encoded(value: Any) -> Any:
    """A call's argument as JSON data (instants tagged, so they come back as instants)."""
    if isinstance(value, datetime):
        return {"instant": instant_text(value)}
    if isinstance(value, list | tuple):
        return [_encoded(item) for item in value]
    if isinstance(value, dict):
        return {key: _encoded(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int):
        return value
    raise TypeError(f"cannot log an argument {value!r}")


def _decoded(value: Any) -> Any:
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"instant"}:
            return parse_instant(value["instant"])
        return {key: _decoded(item) for key, item in value.items()}
    return value


# ---------------------------------------------------------------------- commit order
@attrs.define
class Recorder:
    """What the running op is, for each unit of work it opens (one per worker process)."""

    proc: str
    ids: UnitIds = attrs.Factory(UnitIds)
    #: ops started so far; the running one (None between ops) and its unit of work count
    number: int = 0
    call: JsonOp | None = None
    units: int = 0
    #: timers whose handler ran in the current unit of work
    applied: list[Timer] = attrs.Factory(list)
    #: the ``commit_order`` number the last rolled back unit drew (None: it could not),
    #: and the snapshot it drew it in
    rolled_back_at: int | None = None
    snapshot: str | None = None

    def start(self, name: str, args: Sequence[Any], kwargs: Mapping[str, Any],
              now: datetime) -> None:
        self.number += 1
        self.units = 0
        self.call = {"op": f"{self.proc}.{self.number}", "now": instant_text(now),
                     "call": name, "args": _encoded(args), "kwargs": _encoded(kwargs)}

    def end(self) -> None:
        self.call = None

    def unit_started(self) -> None:
        self.units += 1
        self.applied.clear()
        self.rolled_back_at = None
        self.ids.start_unit(f"{self.proc}.{self.number}.{self.units}")

    def entry(self) -> JsonOp:
        """What the unit committing now did, as the log keeps it."""
        call = self.call
        if call is None:
            raise AssertionError("a unit of work wrote outside any logged op")
        entry = {**call, "ids": self.ids.label}
        if call["call"] != "run_due":  # with the deadlines it applied first, in order
            return {**entry, "timers": [_timer_data(timer) for timer in self.applied]}
        del entry["call"], entry["args"], entry["kwargs"]
        if not self.applied:  # run_due's second loop: expired command keys deleted
            return {**entry, "forget": True}
        [timer] = self.applied  # run_due applies one timer per unit of work
        return {**entry, "deadline": _timer_data(timer)}


def _timer_data(timer: Timer) -> list[str]:
    return [timer.kind, timer.ref, instant_text(timer.due)]


def _timer(data: Sequence[str]) -> Timer:
    kind, ref, due = data
    return Timer(kind=kind, ref=ref, due=parse_instant(due))


class LoggedPostgresStore(PostgresStore):
    """A PostgreSQL store whose units of work log themselves (see the module)."""

    def __init__(self, dsn: str, recorder: Recorder) -> None:
        self.recorder = recorder
        super().__init__(dsn)

    def begin(self, *, read_only: bool = False) -> SqlUnitOfWork:
        uow = super().begin(read_only=read_only)
        recorder = self.recorder
        recorder.unit_started()
        if read_only:  # a query: no lock, no write, nothing to log
            return uow
        write_out, rollback = uow._write_out, uow.rollback

        def logged_write_out() -> bool:
            # just before the unit's own writes, sent with them and COMMIT
            if uow._pending or uow.db.wrote:
                uow._write("commit_log", _LOG_COMMIT, (json.dumps(recorder.entry()),))
            return write_out()

        numbered = False  # whether this unit's refusal has its place already

        def number() -> None:
            nonlocal numbered
            if uow._open and not numbered:  # holding its locks: its place in the order
                try:
                    row = uow.db.one("SELECT nextval('commit_order'), "
                                     "txid_current_snapshot()::text")
                except SkilltrocError:  # the transaction failed (a conflict): no place
                    return
                recorder.rolled_back_at, recorder.snapshot = int(row[0]), str(row[1])
                numbered = True

        def numbered_confirm_due() -> None:
            # a refusal is placed before the store confirms no deadline came due unseen
            # (as a commit is placed before the same check, sent with its COMMIT)
            number()
            confirm_due()

        def numbered_rollback() -> None:
            number()
            rollback()

        confirm_due = uow.confirm_due
        uow._write_out = logged_write_out  # type: ignore[method-assign]
        uow.confirm_due = numbered_confirm_due  # type: ignore[method-assign]
        uow.rollback = numbered_rollback  # type: ignore[method-assign]
        return uow


def _recording(handler: Callable[[Tx, Timer], None], recorder: Recorder
               ) -> Callable[[Tx, Timer], None]:
    def applied(tx: Tx, timer: Timer) -> None:
        recorder.applied.append(timer)
        handler(tx, timer)

    return applied


class Actor:
    """One service over a logged PostgreSQL store: each :meth:`call` is one logged op."""

    def __init__(self, dsn: str, proc: str) -> None:
        self.recorder = Recorder(proc)
        self.clock = FastClock(T0)
        self.store = LoggedPostgresStore(dsn, self.recorder)
        self.app = new_service(self.store, self.clock, self.recorder.ids)
        handlers = self.app.context.timer_handlers
        for kind, handler in list(handlers.items()):
            handlers[kind] = _recording(handler, self.recorder)
        #: ``(commit_order number, op)`` of each refused command that reached its unit
        self.refusals: list[tuple[int, str]] = []
        self.unplaced = 0  # refusals before any unit of work (arguments checked first)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``app.<name>(*args, **kwargs)`` at the clock's ``now``, as one op."""
        recorder = self.recorder
        recorder.start(name, args, kwargs, self.clock.now())
        try:
            return getattr(self.app, name)(*args, **kwargs)
        except ConcurrencyError:
            raise
        except SkilltrocError as refusal:
            assert recorder.call is not None
            if recorder.units and recorder.rolled_back_at is not None:
                self.refusals.append((recorder.rolled_back_at, json.dumps({
                    **recorder.call, "ids": recorder.ids.label,
                    "timers": [_timer_data(timer) for timer in recorder.applied],
                    "refused": [refusal.code, refusal.rule],
                    "snapshot": recorder.snapshot})))
            else:
                self.unplaced += 1
            raise
        finally:
            recorder.end()

    def close(self, dsn: str) -> None:
        """Store the refusals recorded; close the store."""
        self.store.close()
        if self.refusals:
            with psycopg.connect(dsn) as conn, conn.cursor() as cur:
                cur.executemany("INSERT INTO refusal_log (seq, op) VALUES (%s, %s)",
                                self.refusals)


# ---------------------------------------------------------------------- the world
@attrs.frozen(kw_only=True)
class World:
    """The shared world the workers act on (ids made by the set-up)."""

    members: tuple[str, ...]  # individuals asking for seats
    emails: Mapping[str, str]  # every member's email, by id
    organizers: tuple[str, ...]
    workshops: Mapping[str, tuple[str, ...]]  # by organizer
    shop: str  # the professional running ad campaigns
    domain: str
    guests: tuple[str, ...]  # emails of people who may sign up later

    @property
    def everyone(self) -> tuple[str, ...]:
        return (*self.members, *self.organizers, self.shop)

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> World:
        data = json.loads(text)
        return cls(members=tuple(data["members"]), emails=data["emails"],
                   organizers=tuple(data["organizers"]),
                   workshops={k: tuple(v) for k, v in data["workshops"].items()},
                   shop=data["shop"], domain=data["domain"], guests=tuple(data["guests"]))


def create_log_tables(dsn: str) -> None:
    """The store's schema first (a database with foreign tables only is refused), then
    the commit order sequence and the two logs."""
    PostgresStore(dsn).close()
    with psycopg.connect(dsn) as conn:
        for statement in LOG_TABLES:
            conn.execute(statement.encode())


def set_up_world(dsn: str) -> World:
    """Ten members with 50 stars, two organizers with a workshop each and three small
    sessions within the first days, a shop running one campaign and another starting on
    day 1; all through the logged store, at ``T0``, so that the replay starts with it."""
    actor = Actor(dsn, "set")
    call = actor.call

    def signup(email: str, **extra: Any) -> str:
        member: str = call("signup", email, provider="google", **extra).member_id
        return member

    members = tuple(signup(f"m{i}@example.org") for i in range(10))
    for i, member in enumerate(members):
        call("buy_stars", member, 40, f"set-up-{i}")
    organizers = tuple(signup(f"org{i}@example.org", kind="professional",
                              category="craftsperson") for i in range(2))
    shop = signup("shop@example.org", kind="professional", category="company")
    for i, pro in enumerate((*organizers, shop)):
        call("update_profile", pro, display_name=f"Pro {i}", description="Pots and bowls",
             photo="pro.jpg", locality="Lyon")
    workshops = {
        org: (call("create_workshop", org, title=f"Throwing {i}", description="Clay",
                   domain=DOMAIN, cost=2 + i, capacity=2 + i),)
        for i, org in enumerate(organizers)
    }
    for org, day in ((organizers[0], 2), (organizers[1], 3), (organizers[0], 5)):
        call("plan_session", org, workshops[org][0], T0 + timedelta(days=day))
    call("buy_stars", shop, 40, "set-up-shop")
    for start in (T0, T0 + timedelta(days=1)):
        call("create_campaign", shop, budget=10, visual="ad.png", visual_rights_free=True,
             text="Pots and bowls", start=start, domains=[DOMAIN])
    emails = {member: f"m{i}@example.org" for i, member in enumerate(members)}
    emails |= {org: f"org{i}@example.org" for i, org in enumerate(organizers)}
    emails[shop] = "shop@example.org"
    actor.close(dsn)
    return World(members=members, emails=emails, organizers=organizers, workshops=workshops,
                 shop=shop, domain=DOMAIN,
                 guests=tuple(f"guest{i}@example.org" for i in range(4)))


# ---------------------------------------------------------------------- workers
class Worker:
    """Random commands on the shared world until the time is up (one process)."""

    def __init__(self, actor: Actor, world: World, name: str, rng: random.Random) -> None:
        self.actor = actor
        self.world = world
        self.name = name
        self.rng = rng
        self.counts: Counter[str] = Counter()
        self.late = 0.0
        self.purchases: list[tuple[str, int, str]] = []
        self.pages: list[str] = []
        self.guests: list[str] = []  # members this worker signed up
        self.actions: tuple[tuple[Callable[[], None], int], ...] = (
            (self.buy, 8), (self.give, 8), (self.accept_gifts, 5), (self.sign_up_guest, 1),
            (self.ask_for_a_session, 12), (self.ask_for_a_future_session, 4),
            (self.answer, 14), (self.confirm, 3), (self.plan, 3), (self.join, 5),
            (self.withdraw, 6), (self.serve, 12), (self.launch, 2), (self.deadlines, 5),
        )

    def run(self, start: float, seconds: float, *, at_least: int = MIN_ACTIONS) -> None:
        """Act from ``start`` for ``seconds``, or longer (up to half as long again) until
        ``at_least`` actions are done, so that a loaded machine still makes a full run."""
        self.late = time.time() - start  # > 0: this process came up after the start
        time.sleep(max(0.0, -self.late))
        end, limit = start + seconds, start + 1.5 * seconds
        actions = [action for action, _ in self.actions]
        weights = [weight for _, weight in self.actions]
        while (now := time.time()) < end or (
                now < limit and self.counts["actions"] < at_least):
            fast = T0 + timedelta(seconds=(now - start) * SPEED)
            self.actor.clock.set(max(fast, self.actor.clock.now()))
            self.rng.choices(actions, weights)[0]()
            self.counts["actions"] += 1

    def attempt(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The call's result; None when refused, or when it met conflicts every attempt."""
        try:
            result = self.actor.call(name, *args, **kwargs)
        except ConcurrencyError:
            self.counts["gave_up"] += 1
            return None
        except (StoreError, InvariantViolationError):
            raise
        except SkilltrocError:
            self.counts["refused"] += 1
            return None
        self.counts["done"] += 1
        return result

    @property
    def now(self) -> datetime:
        return self.actor.clock.now()

    def _open_sessions(self, workshop: str) -> list[Session]:
        sessions: list[Session] = self.attempt("sessions_of", workshop) or []
        return [s for s in sessions
                if s.state is SessionState.PLANNED and not s.started(self.now)]

    def _agenda_items(self, agenda: object, section: str) -> list[AgendaItem]:
        """The lines of one section of an agenda (none when it could not be read)."""
        return [item for item in getattr(agenda, section, ())
                if isinstance(item, AgendaItem)]

    # ------------------------------------------------------------------ actions
    def buy(self) -> None:
        rng = self.rng
        if self.purchases and rng.random() < 0.15:  # the host reports a purchase again
            member, stars, reference = rng.choice(self.purchases)
            if rng.random() < 0.3:  # ... with another amount: refused
                stars += 1
            self.attempt("buy_stars", member, stars, reference)
            return
        purchase = (rng.choice(self.world.everyone), rng.randint(1, 8),
                    f"pay-{self.name}-{self.counts['actions']}")
        if self.attempt("buy_stars", *purchase) is not None:
            self.purchases.append(purchase)

    def give(self) -> None:
        world, rng = self.world, self.rng
        sender = rng.choice(world.everyone)
        to = rng.choice([*(email for member, email in world.emails.items()
                           if member != sender), *world.guests])
        self.attempt("gift", sender, to, rng.randint(1, 6))

    def accept_gifts(self) -> None:
        member = self.rng.choice([*self.world.everyone, *self.guests])
        waiting: list[str] = self.attempt("gifts_waiting", member) or []
        if waiting:
            self.attempt("accept_gift", member, self.rng.choice(waiting))

    def sign_up_guest(self) -> None:
        signed = self.attempt("signup", self.rng.choice(self.world.guests), provider="google")
        if signed is not None:
            self.guests.append(signed.member_id)

    def ask_for_a_session(self) -> None:
        rng = self.rng
        workshop = rng.choice([w for ws in self.world.workshops.values() for w in ws])
        sessions = self._open_sessions(workshop)
        if sessions:
            self.attempt("request", rng.choice(self.world.members),
                         session_id=rng.choice(sessions).id, seats=rng.choice((1, 1, 2)))

    def ask_for_a_future_session(self) -> None:
        rng = self.rng
        workshop = rng.choice([w for ws in self.world.workshops.values() for w in ws])
        self.attempt("request", rng.choice(self.world.members), workshop_id=workshop,
                     seats=rng.choice((1, 2)))

    def answer(self) -> None:
        rng = self.rng
        organizer = rng.choice(self.world.organizers)
        items = self._agenda_items(self.attempt("organizer_agenda", organizer), "to_answer")
        if not items:
            return
        registration = rng.choice(items).registration
        roll = rng.random()
        if registration.session is None:
            how = "accept_future" if roll < 0.8 else "refuse"
        else:
            how = "accept" if roll < 0.7 else "accept_future" if roll < 0.85 else "refuse"
        self.attempt(how, organizer, registration.id)

    def confirm(self) -> None:
        organizer = self.rng.choice(self.world.organizers)
        agenda = self.attempt("organizer_agenda", organizer)
        sessions = [s for s in getattr(agenda, "to_confirm", ()) if isinstance(s, Session)]
        if sessions:
            how = "confirm_held" if self.rng.random() < 0.7 else "confirm_not_held"
            self.attempt(how, organizer, self.rng.choice(sessions).id)

    def plan(self) -> None:
        organizer = self.rng.choice(self.world.organizers)
        self.attempt("plan_session", organizer, self.world.workshops[organizer][0],
                     self.now + timedelta(hours=self.rng.randint(12, 96)))

    def join(self) -> None:
        member = self.rng.choice(self.world.members)
        waiting = self._agenda_items(self.attempt("participant_agenda", member), "waiting")
        if not waiting:
            return
        registration = self.rng.choice(waiting).registration
        sessions = self._open_sessions(registration.workshop)
        if sessions:
            self.attempt("join", member, registration.id, self.rng.choice(sessions).id)

    def withdraw(self) -> None:
        member = self.rng.choice(self.world.members)
        agenda = self.attempt("participant_agenda", member)
        choices = [(how, item.registration.id)
                   for section, how in (("pending", "cancel_request"), ("planned", "unregister"),
                                        ("waiting", "leave_waitlist"))
                   for item in self._agenda_items(agenda, section)]
        if choices:
            how, registration = self.rng.choice(choices)
            self.attempt(how, member, registration)

    def serve(self) -> None:
        if self.pages and self.rng.random() < 0.1:  # the same page view again: counted once
            page = self.rng.choice(self.pages)
        else:
            page = f"pv-{self.name}-{len(self.pages)}"
            self.pages.append(page)
        self.attempt("serve", self.world.domain, page)

    def launch(self) -> None:
        start = self.now + timedelta(hours=self.rng.choice((0, 0, 6, 30)))
        self.attempt("create_campaign", self.world.shop, budget=10, visual="ad.png",
                     visual_rights_free=True, text="Pots and bowls", start=start,
                     domains=[self.world.domain])

    def deadlines(self) -> None:
        self.attempt("run_due")

    def report(self) -> dict[str, Any]:
        return {"worker": self.name, "late": round(self.late, 2),
                "retries": self.actor.app.retries,
                "unplaced": self.actor.unplaced, "refusals_placed": len(self.actor.refusals),
                **{key: self.counts[key] for key in ("actions", "done", "refused", "gave_up")}}


def worker_main(argv: Sequence[str]) -> None:
    """One worker: connect, say ``ready``, read the shared start instant on stdin, act
    until ``seconds`` after it, store the refusals, print the report."""
    dsn, world_file, number, seed, seconds = argv
    world = World.from_json(Path(world_file).read_text(encoding="utf-8"))
    name = f"w{number}"
    worker = Worker(Actor(dsn, name), world, name, random.Random(f"{seed}-{number}"))
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    try:
        worker.run(start, float(seconds))
    finally:
        worker.actor.close(dsn)
    print(json.dumps(worker.report()), flush=True)


def run_workers(dsn: str, world: World, folder: Path, *, root: Path, seconds: float,
                seed: int = 1, workers: int = WORKERS, module: str = "tests.serial_world",
                ) -> list[dict[str, Any]]:
    """``workers`` worker processes (``python -m <module>``) acting for ``seconds`` from
    one start instant, once every one of them is connected; their reports."""
    world_file = folder / "world.json"
    world_file.write_text(world.to_json(), encoding="utf-8")
    processes = [
        subprocess.Popen([sys.executable, "-m", module, dsn, str(world_file),
                          str(number), str(seed), str(seconds)],
                         cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for number in range(workers)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        start = time.time() + 0.1
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(f"{start!r}\n")
            process.stdin.close()
        outputs = [process.stdout.read() for process in processes if process.stdout]
        for process in processes:
            process.wait(timeout=120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0] * workers, outputs
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


# ---------------------------------------------------------------------- replay
@attrs.frozen
class LoggedOp:
    """One op of the log: its ``commit_order`` number and what it did."""

    seq: int
    entry: Mapping[str, Any]
    #: the transaction id of a commit (None for a refusal), and the snapshot the op drew
    #: its number in (``xmin:xmax:xip,...``): which commits it could see
    xid: int | None = None
    snapshot: str | None = None

    def saw(self, xid: int) -> bool:
        """Whether the commit of transaction ``xid`` was visible to this op when it drew
        its number (and so when it checked that no deadline came due unseen, later)."""
        snapshot = self.snapshot or self.entry.get("snapshot")
        if snapshot is None:
            return True
        _, xmax, running = snapshot.split(":")
        return xid < int(xmax) and str(xid) not in running.split(",")

    @property
    def refused(self) -> tuple[str, str | None] | None:
        """The code and rule of its refusal; None if it committed."""
        found = self.entry.get("refused")
        return None if found is None else (found[0], found[1])

    def __str__(self) -> str:
        entry = self.entry
        what = (f"{entry['call']}{tuple(entry['args'])} {entry['kwargs']}" if "call" in entry
                else f"run_due: deadline {entry['deadline']}" if "deadline" in entry
                else "run_due: forget expired command keys")
        if entry.get("timers"):
            what += f", deadlines applied first: {entry['timers']}"
        outcome = f" -> refused {self.refused}" if self.refused else ""
        return f"#{self.seq} {entry['op']} at {entry['now']} (ids {entry['ids']}): {what}{outcome}"


def read_log(dsn: str) -> list[LoggedOp]:
    """Every committed or refused op, in ``commit_order``."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT seq, op, xid, snapshot FROM commit_log UNION ALL "
                            "SELECT seq, op, NULL, NULL FROM refusal_log ORDER BY seq"
                            ).fetchall()
    return [LoggedOp(int(seq), json.loads(op), None if xid is None else int(xid), snapshot)
            for seq, op, xid, snapshot in rows]


class Divergence(AssertionError):
    """The replay could not do what PostgreSQL did."""


class ReplayStore(MemoryStore):
    """A memory store restarting the ids' unit counter at each unit of work, whose units
    find due exactly the timers of :attr:`script` while one is set."""

    def __init__(self, ids: UnitIds) -> None:
        super().__init__()
        self._ids = ids
        #: the deadlines the op being replayed applied in PostgreSQL, in order (None:
        #: every due timer, as a memory store does); see :meth:`follow`
        self.script: list[Timer] | None = None
        self._handed: set[str] = set()  # ids of the script's timers handed out

    def follow(self, script: Sequence[Timer] | None) -> None:
        """From now on units find due exactly the timers of ``script``, in order (None:
        every due timer again)."""
        self.script = None if script is None else list(script)
        self._handed.clear()

    def begin(self, *, read_only: bool = False) -> Any:
        self._ids.start_unit()
        uow = super().begin(read_only=read_only)
        if self.script is not None:
            uow.next_due = self._scripted  # type: ignore[method-assign]
        return uow

    def _scripted(self, until: datetime, *, wait: bool = True) -> Timer | None:
        """The script's next timer, pending at the same due instant; None at its end."""
        script = self.script
        assert script is not None
        while script:
            timer = script[0]
            pending = self._timers.get(timer.id)
            if pending is not None and pending[0].due == timer.due and timer.due <= until:
                self._handed.add(timer.id)
                return timer
            if timer.id not in self._handed:
                raise Divergence(f"PostgreSQL applied {timer} in this op; in the replay it "
                                 f"is {pending[0] if pending else 'not pending'}")
            self._handed.discard(timer.id)  # applied: the next one
            script.pop(0)
        return None


class Replay:
    """The memory service the log is replayed on, one op after the other."""

    def __init__(self) -> None:
        self.ids = UnitIds()
        self.clock = FastClock(T0)
        self.store = ReplayStore(self.ids)
        self.app = new_service(self.store, self.clock, self.ids)
        #: ops that did not apply exactly the deadlines due by their ``now`` at their
        #: place in the commit order, in due order (see :meth:`_check_deadlines`)
        self.deadline_faults: list[str] = []
        #: the transaction that committed each pending timer as it now is
        self.scheduled_by: dict[str, int] = {}

    def apply(self, op: LoggedOp) -> None:
        before = {timer_id: pending[0] for timer_id, pending in self.store._timers.items()}
        self._apply(op)
        if op.xid is not None:
            for timer_id, pending in self.store._timers.items():
                if before.get(timer_id) != pending[0]:
                    self.scheduled_by[timer_id] = op.xid

    def _apply(self, op: LoggedOp) -> None:
        entry = op.entry
        self.clock.set(parse_instant(entry["now"]))
        self.ids.label = entry["ids"]
        if "deadline" in entry:
            self._deadline(_timer(entry["deadline"]))
        elif "forget" in entry:
            self._in_unit(lambda uow: forget_due(uow, kinds.COMMAND_KEYS, self.clock.now(),
                                                 _FORGET_BATCH))
        else:
            self._call(op)

    def _call(self, op: LoggedOp) -> None:
        entry, expected = op.entry, op.refused
        args = _decoded(entry["args"])
        kwargs = {name: _decoded(value) for name, value in entry["kwargs"].items()}
        timers = [_timer(data) for data in entry["timers"]]
        self._check_deadlines(op, timers)
        store = self.store
        store.follow(timers)
        try:
            getattr(self.app, entry["call"])(*args, **kwargs)
            if expected is None and store._scripted(self.clock.now()) is not None:
                raise Divergence(f"PostgreSQL applied the deadlines {entry['timers']} first; "
                                 f"the replay left {store.script}")
        except SkilltrocError as refusal:
            if expected is None:
                raise Divergence(f"committed in PostgreSQL, refused in the replay: {refusal}"
                                 ) from refusal
            if (refusal.code, refusal.rule) != expected:
                raise Divergence(f"refused in PostgreSQL with {expected}, in the replay: "
                                 f"{refusal}") from refusal
            return
        finally:
            store.follow(None)
        if expected is not None:
            raise Divergence(f"refused in PostgreSQL with {expected}, done in the replay")

    def _check_deadlines(self, op: LoggedOp, applied: Sequence[Timer]) -> None:
        """A command runs after every deadline due by its ``now``, applied in due order
        (``UnitOfWork.next_due``: "a command must not run before the deadlines due by its
        instant"): what a serial execution in commit order does. An op that did otherwise
        in PostgreSQL is a fault, of one of two kinds: it applied deadlines out of due
        order, or it ran before deadlines due by its instant that were pending at its
        place in the commit order. (Its replay still applies what it applied, so that the
        two final states stay comparable.)"""
        now = self.clock.now()
        due = sorted((timer for timer, _ in self.store._timers.values() if timer.due <= now),
                     key=lambda timer: timer.due)
        done = {(timer.id, timer.due) for timer in applied}
        # A timer whose commit the op could not see yet, when it drew its number, belongs
        # after it: numbers are drawn before a commit becomes visible, so two units
        # committing at once may be numbered in either order (a timer is a new row: no
        # lock orders the two; the store's guard checks what is visible, as it must).
        missed = [timer for timer in due if (timer.id, timer.due) not in done
                  and op.saw(self.scheduled_by.get(timer.id, 0))]
        if any(a.due > b.due for a, b in itertools.pairwise(applied)):
            fault = OUT_OF_ORDER
        elif missed:
            fault = MISSED
        else:
            return
        self.deadline_faults.append(
            f"{fault}: {op}\n    it applied {[_timer_data(t) for t in applied]}"
            f"\n    due at its place in the commit order: {[_timer_data(t) for t in due]}")

    def _deadline(self, timer: Timer) -> None:
        pending = self.store._timers.get(timer.id)
        if pending is None or pending[0].due != timer.due:
            raise Divergence(f"PostgreSQL applied this timer; in the replay it is "
                             f"{pending[0] if pending else 'not pending'}")
        handler = self.app.context.timer_handlers[timer.kind]

        def apply(uow: Any) -> None:
            uow.cancel_timer(timer.kind, timer.ref)
            handler(Tx(self.app.context, uow, timer.due), timer)

        self._in_unit(apply)

    def _in_unit(self, work: Callable[[Any], object]) -> None:
        uow = self.store.begin()
        try:
            work(uow)
        except SkilltrocError as exc:
            uow.rollback()
            raise Divergence(f"applied in PostgreSQL, refused in the replay: {exc}") from exc
        except BaseException:
            uow.rollback()
            raise
        uow.commit()


def replay(ops: Sequence[LoggedOp]) -> Replay:
    """The log replayed on a fresh memory store; :class:`Divergence` at the first op the
    replay cannot do as PostgreSQL did (with the ops just before it)."""
    done = Replay()
    for position, op in enumerate(ops):
        try:
            done.apply(op)
        except Divergence as exc:
            before = "\n".join(f"    {earlier}" for earlier in ops[max(0, position - 12):position])
            raise Divergence(f"{exc}\n  at op {op}\n  after:\n{before}") from exc
    return done


# ---------------------------------------------------------------------- final states
State = dict[str, dict[Any, Any]]
_ABSENT: Final = "<absent>"


def _transfer(debit: str, credit: str, amount: int, kind: str, reference: str, at: str,
              hold_id: str | None, reason: str | None) -> tuple[Any, ...]:
    """A transfer without its sequence number."""
    return (kind, debit, credit, amount, reference, at, hold_id, reason)


def _entity_text(kind: str, data: str, transfers: Mapping[int, tuple[Any, ...]]) -> str:
    """An entity's JSON, a purchase's remembered transfer number replaced by the transfer."""
    if kind == kinds.COMMAND_KEYS.name:
        key = loads(kinds.CommandKey, data)
        if key.command == "buy_stars":
            return dumps(attrs.evolve(key, result=repr(transfers.get(int(key.result)))))
    return data


def _idempotency(operation: str, fingerprint: str, result: str,
                 transfers: Mapping[int, tuple[Any, ...]]) -> tuple[Any, ...]:
    shown: Any = transfers.get(int(result), result) if result.isdigit() else result
    return (operation, fingerprint, shown)


def pg_state(dsn: str) -> State:
    """What the PostgreSQL tables hold (see the module for what is compared)."""
    with psycopg.connect(dsn) as conn:
        def rows(query: str) -> list[Any]:
            return conn.execute(query.encode()).fetchall()

        transfers = {r[0]: _transfer(*r[1:]) for r in rows(
            "SELECT seq, debit, credit, amount, kind, reference, at, hold_id, reason "
            "FROM transfers")}
        postings: dict[Any, list[str]] = {}
        for kind, index, key, entity_id in rows(
                "SELECT kind, idx, key, id FROM entity_keys ORDER BY seq"):
            postings.setdefault((kind, index, key), []).append(entity_id)
        for kind, index, key, position in rows(  # ordered: the key, NUL, the sort text
                "SELECT kind, idx, key, position FROM ordered_keys ORDER BY position"):
            sort, _, entity_id = bytes(position).decode().rpartition("\x00")
            postings.setdefault((kind, index, f"{key}\x00{sort}"), []).append(entity_id)
        statements: dict[str, list[tuple[Any, ...]]] = {}
        for line in rows("SELECT member, at, kind, amount, held_change, balance, held, "
                         "reference, counterpart FROM statement_lines ORDER BY member, idx"):
            statements.setdefault(line[0], []).append(tuple(line[1:]))
        queues = {}
        for queue, member, position in rows("SELECT queue, member, sort_key FROM queue_entries"):
            raw = bytes(position)
            queues[queue, member] = raw[:raw.index(b"\x00")].decode()
        return {
            "entities": {(kind, entity_id): _entity_text(kind, data, transfers)
                         for kind, entity_id, data in rows("SELECT kind, id, data FROM entities")},
            "index postings": postings,
            "wallets": {r[0]: (r[1], r[2]) for r in rows(
                "SELECT id, available, held FROM accounts")},
            "platform balances": {r[0]: int(r[1]) for r in rows(
                "SELECT account, SUM(balance) FROM platform_balances GROUP BY account")},
            "supply counters": {r[0]: int(r[1]) for r in rows(
                "SELECT name, SUM(value) FROM counter_shards GROUP BY name")},
            "holds": {r[0]: tuple(r[1:]) for r in rows(
                "SELECT id, member, amount, reference, opened_at, state, payee, ended_at, "
                "void_reason FROM holds")},
            "transfers": dict(Counter(transfers.values())),
            "statements": statements,
            "idempotency records": {r[0]: _idempotency(r[1], r[2], r[3], transfers) for r in rows(
                "SELECT key, operation, fingerprint, result FROM ledger_keys")},
            "timers": {tuple(r): 1 for r in rows("SELECT kind, ref, due FROM timers")},
            "outbox": dict(Counter(r[0] for r in rows("SELECT data FROM outbox"))),
            "queues": queues,
        }


def _text(instant: datetime | None) -> str | None:
    return None if instant is None else instant_text(instant)


def _value(member: Any) -> Any:
    return None if member is None else member.value


def memory_state(store: MemoryStore) -> State:
    """What the memory store holds, in the form of :func:`pg_state`."""
    book = store.book
    transfers = {t.seq: _transfer(t.debit, t.credit, t.amount, t.kind.value, t.reference,
                                  instant_text(t.at), t.hold_id, _value(t.reason))
                 for t in book.transfers}
    postings = {  # an ordered index key's entities by id, as its positions order them
        (kind, index, key): sorted(ids) if "\x00" in key else [
            entity_id for entity_id, _ in sorted(ids.items(), key=lambda item: item[1])]
        for (kind, index), by_key in store._indexes.items()
        for key, ids in by_key.items() if ids
    }
    return {
        "entities": {(kind, entity_id): _entity_text(kind, dumps(entity), transfers)
                     for kind, table in store._entities.items()
                     for entity_id, entity in table.items()},
        "index postings": postings,
        "wallets": {account: (b.available, b.held) for account, b in book.balances.items()
                    if not account.startswith("platform:")},
        "platform balances": {account: b.available for account, b in book.balances.items()
                              if account.startswith("platform:")},
        "supply counters": dict(book.totals),
        "holds": {h.id: (h.member, h.amount, h.reference, instant_text(h.opened_at),
                         h.state.value, h.payee, _text(h.ended_at), _value(h.void_reason))
                  for h in book.holds.values()},
        "transfers": dict(Counter(transfers.values())),
        "statements": {member: [(instant_text(line.at), line.kind.value, line.amount,
                                 line.held_change, line.balance, line.held, line.reference,
                                 line.counterpart) for line in lines]
                       for member, lines in book.statement.items() if lines},
        "idempotency records": {key: _idempotency(r.operation, r.fingerprint, r.result,
                                                  transfers)
                                for key, r in book.keys.items()},
        "timers": {(timer.kind, timer.ref, instant_text(timer.due)): 1
                   for timer, _ in store._timers.values()},
        "outbox": dict(Counter(dumps(n) for n in store._outbox.values())),
        "queues": {(name, member): entry[:entry.index("\x00")]
                   for name, queue in store._queues.items()
                   for member, entry in queue.entries.items()},
    }


def differences(postgres: State, replayed: State, *, shown: int = 6) -> list[str]:
    """What differs between the two states, section by section (empty: nothing)."""
    found: list[str] = []
    for section in sorted(postgres.keys() | replayed.keys()):
        ours, theirs = postgres.get(section, {}), replayed.get(section, {})
        if ours == theirs:
            continue
        wrong = sorted((key for key in ours.keys() | theirs.keys()
                        if ours.get(key, _ABSENT) != theirs.get(key, _ABSENT)), key=repr)
        found.append(f"{section}: {len(wrong)} of {len(ours)} differ")
        for key in wrong[:shown]:
            found.append(f"  {key!r}")
            found += _difference(ours.get(key, _ABSENT), theirs.get(key, _ABSENT))
    return found


def _difference(ours: Any, theirs: Any) -> list[str]:
    """Two values; of two lists, only from their first difference on (a few items)."""
    if not (isinstance(ours, list) and isinstance(theirs, list)):
        return [f"    postgres: {ours!r}", f"    replay:   {theirs!r}"]
    first = next(i for i, pair in enumerate(zip([*ours, _ABSENT], [*theirs, _ABSENT],
                                                strict=False)) if pair[0] != pair[1])
    shown = [f"    from item {first} (of {len(ours)} in postgres, {len(theirs)} in the replay)"]
    for name, items in (("postgres", ours), ("replay", theirs)):
        shown.append(f"    {name}:")
        shown += [f"      {item!r}" for item in items[first:first + 4]]
    return shown


if __name__ == "__main__":
    worker_main(sys.argv[1:])
