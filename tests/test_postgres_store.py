"""PostgreSQL-specific behaviour: schema, foreign and unreachable databases, erasure,
lost connections, the advisory lock and a multi-process race, plus the store contract.

Every test runs against a real, throwaway PostgreSQL server (see ``pg_fixtures``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest

from skilltroc_core.adapters._sql import SCHEMA_VERSION
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import APPLICATION_MARKER, PostgresStore
from skilltroc_core.errors import (
    ConcurrencyError,
    InvalidInputError,
    SchemaTooNewError,
    StoreError,
)
from skilltroc_core.events import Notification
from skilltroc_core.instants import time_zone
from skilltroc_core.ledger import TransferKind
from skilltroc_core.ports import EntityKind, Store, Timer
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.testing import TEST_SECRET_KEY, pgserver, races
from skilltroc_core.testing.contract import StoreContract
from skilltroc_core.testing.contract.feed import Recorded, in_order, read_all, recorded
from skilltroc_core.testing.pgserver import PgServer, PgServerError

from .ads_support import launch, professional
from .members_support import check_two_stores_see_each_others_commits
from .pg_fixtures import POLICY, T0, dump_tables, pg_dsn, pg_server, service
from .schema_history import back_to_version_3, back_to_version_5

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

PARIS = time_zone("Europe/Paris")


def tables(dsn: str, schema: str = "public") -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            (schema,),
        ).fetchall()]


def execute(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


# ---------------------------------------------------------------------- schema
def test_opening_a_store_twice_applies_the_schema_once(pg_dsn: str) -> None:
    PostgresStore(pg_dsn).close()
    first = dump_tables(pg_dsn)
    store = PostgresStore(pg_dsn)
    store.close()
    assert dump_tables(pg_dsn) == first
    assert sorted(first["skilltroc_meta"]) == sorted(
        [f"(application,{APPLICATION_MARKER})", f"(schema_version,{SCHEMA_VERSION})"]
    )
    assert "outbox" in first
    assert "timers" in first


@pytest.mark.rule("STAR-6")
def test_a_version_3_store_migrates_to_shards_and_server_sequences(pg_dsn: str) -> None:
    """Version 4: platform accounts and supply counters become shards, every number a
    server sequence; balances, supply and the numbering go on from where they were."""
    app = service(pg_dsn)
    alice = app.signup("alice@example.org", provider="google").member_id
    bob = app.signup("bob@example.org", provider="google").member_id
    app.buy_stars(alice, 20, "PAY-1")
    app.gift(alice, "bob@example.org", 5)
    before = (app.balance(alice), app.balance(bob), app.supply())
    app.store.close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        back_to_version_3(conn.execute, postgres=True)
        conn.execute("UPDATE skilltroc_meta SET value = '3' WHERE key = 'schema_version'")
        assert conn.execute("SELECT value FROM sequences WHERE name = 'mem'"
                            ).fetchone() == (2,)
    app = service(pg_dsn)
    assert (app.balance(alice), app.balance(bob), app.supply()) == before
    carol = app.signup("carol@example.org", provider="google").member_id
    assert carol == "mem_000003"  # numbering goes on
    transfer = app.buy_stars(carol, 7, "PAY-2")
    transfers = [line.transfer_seq for line in app.statement(alice).items]
    assert transfer.seq > max(transfers)
    app.check_invariants(deep=True)
    app.store.close()
    assert "sequences" in tables(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM sequences").fetchone() == (0,)
        assert conn.execute("SELECT value FROM skilltroc_meta WHERE key = 'schema_version'"
                            ).fetchone() == (str(SCHEMA_VERSION),)


def test_a_store_written_by_a_newer_schema_is_refused(pg_dsn: str) -> None:
    PostgresStore(pg_dsn).close()
    execute(pg_dsn, "UPDATE skilltroc_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaTooNewError) as refused:
        PostgresStore(pg_dsn)
    assert refused.value.code == "schema_too_new"
    assert "99" in refused.value.message


def test_another_programs_database_is_refused_and_left_untouched(pg_dsn: str) -> None:
    execute(pg_dsn, "CREATE TABLE recipes (name TEXT)")
    with pytest.raises(StoreError, match="another program"):
        PostgresStore(pg_dsn)
    assert tables(pg_dsn) == ["recipes"]


def test_a_server_older_than_postgresql_13_is_refused_untouched(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psycopg.ConnectionInfo, "server_version",
                        property(lambda info: 120016))
    with pytest.raises(StoreError, match="PostgreSQL 12; the store needs PostgreSQL 13"):
        PostgresStore(pg_dsn)
    assert tables(pg_dsn) == []


def test_a_meta_table_without_the_skilltroc_marker_is_refused(pg_dsn: str) -> None:
    execute(pg_dsn, "CREATE TABLE skilltroc_meta (key TEXT PRIMARY KEY, value TEXT)")
    with pytest.raises(StoreError, match="another program"):
        PostgresStore(pg_dsn)
    assert tables(pg_dsn) == ["skilltroc_meta"]


def test_an_unreachable_server_or_a_missing_database_is_a_store_error(
    pg_server: PgServer,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match="cannot connect") as refused:
        PostgresStore(f"host=127.0.0.1 port={port} dbname=x user=x password=s3cret "
                      "connect_timeout=3")
    assert refused.value.code == "store_error"
    assert "s3cret" not in str(refused.value)
    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore(pg_server.dsn_for("no_such_database"))
    with pytest.raises(StoreError):
        PostgresStore("this is = not a dsn")


def test_stores_in_two_schemas_of_one_database_are_independent(pg_dsn: str) -> None:
    ann = service(pg_dsn, schema="ann")
    bob = service(pg_dsn, schema="Bob's shop")
    ann_id = ann.signup("ann@example.org", provider="google").member_id
    ann.buy_stars(ann_id, 20, "PAY-1")
    bob_id = bob.signup("bob@example.org", provider="google").member_id
    assert ann_id == bob_id == "mem_000001"
    assert ann.balance(ann_id).available == 30
    assert bob.balance(bob_id).available == 10
    assert tables(pg_dsn) == []
    assert "skilltroc_meta" in tables(pg_dsn, "Bob's shop")
    ann.store.close()
    bob.store.close()
    again = service(pg_dsn, schema="ann")
    assert again.balance(ann_id).available == 30
    again.store.close()


# ---------------------------------------------------------------------- service flow
def _normalised(notice: Notification) -> Notification:
    """The notice without the random nonce of its link (it differs from run to run)."""
    facts = tuple((k, "<nonce>" if k == "nonce" else v) for k, v in notice.facts)
    return attrs.evolve(notice, facts=facts)


def _outcome(call: Callable[[str], Any], member_id: str) -> Any:
    try:
        return call(member_id)
    except Exception as exc:
        return ("refused", type(exc).__name__, getattr(exc, "code", None))


def member_flow(store: Store) -> dict[str, Any]:
    """The smoke flow: everything a host could observe afterwards, for comparison."""
    clock = ManualClock(datetime(2027, 3, 1, 9, tzinfo=PARIS))
    app = Skilltroc(store, clock, policy=POLICY, secret_key=TEST_SECRET_KEY)
    alice = app.signup("Alice@Example.org", password="correct horse",
                       display_name="Alice Liddell")
    assert alice.confirmation_token is not None
    app.confirm_email(alice.member_id, alice.confirmation_token)
    bob = app.signup("bob@example.org", provider="google", sponsor="alice@example.org").member_id
    first = app.buy_stars(bob, 20, "PAY-1")
    again = app.buy_stars(bob, 20, "PAY-1")
    gift = app.gift(bob, "carol@example.org", 15)
    carol = app.signup("carol@example.org", provider="facebook").member_id
    app.accept_gift(carol, gift)
    app.follow(carol, bob)
    app.post_message(bob, "hello")
    app.follow(bob, carol)
    app.update_profile(carol, display_name="Carolina Zed", bio="Carol's secret bio")
    app.deactivate(carol)
    clock.advance(days=15, zone="Europe/Paris")
    purged = app.run_due()
    app.check_invariants(deep=True)
    members = (alice.member_id, bob, carol)
    return {
        "ids": members,
        "purchases": (first, again),
        "run_due": purged,
        "supply": app.supply(),
        "statements": {m: _outcome(lambda m: app.statement(m).items, m) for m in members},
        "balances": {m: _outcome(app.balance, m) for m in members},
        "members": {m: _outcome(lambda m: app.member(m).status, m) for m in members},
        "followers": {m: _outcome(app.followers, m) for m in members},
        "following": {m: _outcome(app.following, m) for m in members},
        "gift": _outcome(app.gift_state, gift),
        "notifications": [(i.seq, _normalised(i.notification))
                          for i in app.drain_notifications()],
    }


@pytest.mark.rule("STAR-1", "STAR-2", "GIFT-3", "SPONSOR-3", "ACC-7")
def test_the_smoke_flow_gives_exactly_what_the_memory_store_gives(pg_dsn: str) -> None:
    store = PostgresStore(pg_dsn)
    try:
        on_postgres = member_flow(store)
    finally:
        store.close()
    on_memory = member_flow(MemoryStore())
    assert on_postgres == on_memory
    assert on_postgres["run_due"] == 1
    supply = on_postgres["supply"]
    assert dict(supply.issued_by_kind) == {
        "signup_bonus": 30, "purchase": 20, "referral_reward": 5
    }
    assert dict(supply.returned_by_kind) == {"account_purged": 25}
    assert [n.event for _, n in on_postgres["notifications"]] == [
        "EmailConfirmationRequested", "ReferralRewardPaid", "GiftAccepted", "AccountPurged",
    ]
    bob = on_postgres["ids"][1]
    assert [(line.kind, line.amount, line.balance)
            for line in on_postgres["statements"][bob]] == [
        (TransferKind.SIGNUP_BONUS, 10, 10),
        (TransferKind.PURCHASE, 20, 30),
        (TransferKind.GIFT_SENT, -15, 15),
    ]


@pytest.mark.rule("ACC-7")
def test_after_a_purge_the_members_personal_data_is_in_no_table(pg_dsn: str) -> None:
    app = service(pg_dsn)
    carol = app.signup("carol.unique@example.org", password="correct horse",
                       display_name="Carolina Zed")
    assert carol.confirmation_token is not None
    app.confirm_email(carol.member_id, carol.confirmation_token)
    app.update_profile(carol.member_id, bio="A bio nobody may keep")
    bob = app.signup("bob@example.org", provider="google").member_id
    app.buy_stars(bob, 30, "PAY-9")
    app.gift(bob, "carol.unique@example.org", 5)
    app.follow(bob, carol.member_id)
    app.post_message(carol.member_id, "Carolina Zed says hello")
    secrets = ("carol.unique@example.org", "Carolina Zed", "nobody may keep")

    def everything() -> str:
        return "\n".join(row for rows in dump_tables(pg_dsn).values() for row in rows)

    before = everything()
    assert all(secret in before for secret in secrets)  # the search does find them
    app.deactivate(carol.member_id)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    clock.advance(days=15)
    assert app.run_due() == 1
    app.check_invariants(deep=True)
    app.store.close()
    after = everything()
    for secret in secrets:
        assert secret not in after
    assert "bob@example.org" in after  # the others' data stays


# ---------------------------------------------------------------------- failures
@attrs.frozen(kw_only=True)
class Probe:
    id: str
    note: str


PROBES: EntityKind[Probe] = EntityKind(name="probe", type=Probe)


def _terminate(dsn: str, pid: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.parametrize("where", ["next statement", "commit"])
def test_a_connection_lost_mid_transaction_writes_nothing_and_is_retryable(
    pg_dsn: str, where: str
) -> None:
    store = PostgresStore(pg_dsn)
    uow = store.begin()
    pid = uow.db.one("SELECT pg_backend_pid()")[0]
    uow.put(PROBES, "p1", Probe(id="p1", note="written before the loss"))
    uow.append_notification(Notification(event="Probe", rule="STAR-6", at=datetime.now(PARIS)))
    _terminate(pg_dsn, pid)
    with pytest.raises(ConcurrencyError) as lost:
        if where == "commit":
            uow.commit()
        else:
            uow.put(PROBES, "p2", Probe(id="p2", note="after the loss"))
            uow.commit()
    assert lost.value.retryable
    # before the commit nothing was written for sure: the service runs the command
    # again; during the commit nobody knows, and the host retries with its keys
    assert lost.value.nothing_written is (where != "commit")
    assert "nothing_written" not in lost.value.facts  # the class's keyword, not a fact
    uow.rollback()  # what the service does; harmless on a dead connection
    rows = dump_tables(pg_dsn)
    assert rows["entities"] == []
    assert rows["outbox"] == []
    assert rows["sequences"] == []
    uow = store.begin()  # the store reconnects by itself
    assert uow.get(PROBES, "p1") is None
    uow.put(PROBES, "p1", Probe(id="p1", note="retried"))
    uow.commit()
    uow = store.begin()
    assert uow.get(PROBES, "p1") == Probe(id="p1", note="retried")
    uow.rollback()
    store.close()


def test_a_connection_lost_between_commands_is_reopened(pg_dsn: str) -> None:
    app = service(pg_dsn)
    bob = app.signup("bob@example.org", provider="google").member_id
    store = app.store
    assert isinstance(store, PostgresStore)
    uow = store.begin()
    pid = uow.db.one("SELECT pg_backend_pid()")[0]
    uow.rollback()
    _terminate(pg_dsn, pid)
    app.buy_stars(bob, 5, "PAY-1")
    assert app.balance(bob).available == 15
    assert [i.notification.event for i in app.drain_notifications()] == []
    store.close()


def test_a_unit_of_work_waits_for_a_row_another_holds_then_times_out(pg_dsn: str) -> None:
    """Only the same row waits: another entity is read at once, the held one waits
    ``lock_timeout`` and fails retryable, with nothing written."""
    setup = PostgresStore(pg_dsn)
    uow = setup.begin()
    uow.put(PROBES, "p1", Probe(id="p1", note="first"))
    uow.put(PROBES, "p2", Probe(id="p2", note="second"))
    uow.commit()
    holder = PostgresStore(pg_dsn)
    waiter = PostgresStore(pg_dsn, lock_timeout=0.05)
    held = holder.begin()
    assert held.get(PROBES, "p1") == Probe(id="p1", note="first")  # locked until it ends
    other = waiter.begin()
    assert other.get(PROBES, "p2") == Probe(id="p2", note="second")  # not waiting
    with pytest.raises(ConcurrencyError) as busy:
        other.get(PROBES, "p1")
    assert busy.value.retryable and busy.value.nothing_written
    other.rollback()
    held.rollback()
    again = waiter.begin()
    assert again.get(PROBES, "p1") == Probe(id="p1", note="first")  # free again
    again.rollback()
    for store in (setup, holder, waiter):
        store.close()


def test_a_command_waiting_longer_than_the_lock_timeout_is_run_again(pg_dsn: str) -> None:
    app = service(pg_dsn)
    bob = app.signup("bob@example.org", provider="google").member_id
    app.store.close()
    holder = PostgresStore(pg_dsn)
    waiter = Skilltroc(PostgresStore(pg_dsn, lock_timeout=0.05), ManualClock(T0),
                       policy=POLICY, attempts=100, secret_key=TEST_SECRET_KEY)
    # each wait (50 ms) is shorter than the row is held (at least 200 ms): only a later
    # run of the whole command can succeed, and it applies once
    uow = holder.begin()
    assert uow.book.balance(bob) is not None  # bob's wallet, locked
    release = threading.Timer(0.2, uow.rollback)
    release.start()
    waiter.buy_stars(bob, 5, "PAY-1")
    release.join()
    assert waiter.retries >= 1
    assert waiter.balance(bob).available == 15
    waiter.check_invariants(deep=True)
    holder.close()
    waiter.store.close()


@pytest.mark.rule("STAR-2", "STAR-6")
def test_a_unit_of_work_held_open_on_one_member_delays_no_other_members_command(
    pg_dsn: str,
) -> None:
    """No global lock: while another process keeps a purchase of member A uncommitted
    for 2 s, a purchase of member B completes at once; a purchase of A waits for it and
    then sees its stars (no lost update)."""
    app = service(pg_dsn)
    a = app.signup("a@example.org", provider="google").member_id
    b = app.signup("b@example.org", provider="google").member_id
    app.store.close()
    other = service(pg_dsn)
    other.balance(b)  # connected and warm, as a host's worker is
    holder = races.spawn_holder(partial(PostgresStore, pg_dsn), a, 2.0)
    started = time.monotonic()
    other.buy_stars(b, 5, "PAY-B")
    took = time.monotonic() - started
    assert holder.poll() is None  # B's purchase ended while A's unit was still open
    assert took < 0.5
    other.buy_stars(a, 7, "PAY-A")  # waits for the holder's commit, then adds to it
    assert holder.wait(timeout=30) == 0
    assert holder.stdout is not None and holder.stdout.read().strip() == "released"
    assert other.balance(a).available == 10 + 5 + 7
    assert other.balance(b).available == 10 + 5
    other.check_invariants(deep=True)
    other.store.close()


def _fail_first_insert(dsn: str, table: str, sqlstate: str) -> None:
    """The first row inserted into ``table`` fails with ``sqlstate`` (a sequence counts
    the tries: it is not rolled back with the failed transaction)."""
    execute(dsn, f"""
        CREATE SEQUENCE injected_failures;
        CREATE FUNCTION fail_first() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('injected_failures') = 1 THEN
                RAISE EXCEPTION 'injected failure' USING ERRCODE = '{sqlstate}';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER fail_first BEFORE INSERT ON {table}
            FOR EACH ROW EXECUTE FUNCTION fail_first();
    """)


@pytest.mark.rule("STAR-2", "STAR-6")
@pytest.mark.parametrize("sqlstate", ["40001", "40P01", "23505", "55P03"])
def test_a_conflict_on_the_first_attempt_is_run_again_and_applies_once(
    pg_dsn: str, sqlstate: str,
) -> None:
    """A serialization failure, a deadlock, an insert that lost a race or a lock
    timeout, injected at the first commit: the service runs the command again by itself
    and it counts once."""
    app = service(pg_dsn)
    bob = app.signup("bob@example.org", provider="google").member_id
    app.drain_notifications()
    _fail_first_insert(pg_dsn, "transfers", sqlstate)
    transfer = app.buy_stars(bob, 5, "PAY-1")
    assert app.retries == 1
    assert app.balance(bob).available == 15
    assert app.buy_stars(bob, 5, "PAY-1") == transfer  # the same purchase, once
    bought = [line for line in app.statement(bob).items if line.kind is TransferKind.PURCHASE]
    assert [(line.amount, line.transfer_seq) for line in bought] == [(5, transfer.seq)]
    assert app.supply().issued_by_kind["purchase"] == 5
    app.check_invariants(deep=True)
    app.store.close()


def test_a_failure_the_server_cannot_explain_is_not_run_again(pg_dsn: str) -> None:
    """Any other refusal of the server surfaces at once as a StoreError."""
    app = service(pg_dsn)
    bob = app.signup("bob@example.org", provider="google").member_id
    _fail_first_insert(pg_dsn, "transfers", "22012")  # division by zero: not a conflict
    with pytest.raises(StoreError):
        app.buy_stars(bob, 5, "PAY-1")
    assert app.retries == 0
    assert app.balance(bob).available == 10
    app.store.close()


@pytest.mark.parametrize("first_ends", ["applied", "given up"])
def test_due_timers_are_shared_out_and_a_command_waits_for_those_being_applied(
    pg_dsn: str, first_ends: str,
) -> None:
    """Two units take different due timers (SKIP LOCKED); a scheduler leaves a timer
    another unit is applying, a command waits for that unit, then finds the timer gone
    (applied) or takes it (the other unit gave up)."""
    setup = PostgresStore(pg_dsn)
    uow = setup.begin()
    for minute in range(3):
        uow.schedule(Timer(kind="probe", ref=str(minute), due=T0 + timedelta(minutes=minute)))
    uow.commit()
    first, second = PostgresStore(pg_dsn), PostgresStore(pg_dsn)
    until = T0 + timedelta(hours=1)
    applying = first.begin()
    taken = applying.next_due(until, wait=False)
    assert taken is not None and taken.ref == "0"
    scheduler = second.begin()
    shared = []
    while (timer := scheduler.next_due(until, wait=False)) is not None:
        shared.append(timer.ref)
        scheduler.cancel_timer(timer.kind, timer.ref)
    assert shared == ["1", "2"]  # "0" is left to the unit applying it
    scheduler.commit()

    def end_first() -> None:
        applying.cancel_timer(taken.kind, taken.ref)
        if first_ends == "applied":
            applying.commit()
        else:
            applying.rollback()

    ending = threading.Timer(0.3, end_first)
    ending.start()
    command = second.begin()
    started = time.monotonic()
    found = command.next_due(until)  # waits for the unit applying "0"
    assert time.monotonic() - started >= 0.2
    ending.join()
    if first_ends == "applied":
        assert found is None
    else:
        assert found is not None and found.ref == "0"
    command.rollback()
    for store in (setup, first, second):
        store.close()


def test_a_command_does_not_commit_past_a_deadline_another_unit_made_due_meanwhile(
    pg_dsn: str,
) -> None:
    """A unit that applied every timer due by its instant cannot commit once another
    unit committed one due by then (the service then runs the command again, applying
    it first); a timer it scheduled itself does not count."""
    first, second = PostgresStore(pg_dsn), PostgresStore(pg_dsn)
    command = first.begin()
    assert command.next_due(T0) is None
    command.guard_due(T0)
    command.schedule(Timer(kind="probe", ref="mine", due=T0 - timedelta(minutes=5)))
    command.put(PROBES, "p1", Probe(id="p1", note="decided before the deadline"))
    other = second.begin()
    other.schedule(Timer(kind="probe", ref="theirs", due=T0 - timedelta(minutes=1)))
    other.commit()
    with pytest.raises(ConcurrencyError) as late:
        command.commit()
    assert late.value.nothing_written
    command.rollback()
    check = first.begin()
    assert check.get(PROBES, "p1") is None
    due = check.next_due(T0)
    assert due is not None and due.ref == "theirs"
    check.rollback()
    alone = first.begin()  # its own timers only: it commits
    alone.guard_due(T0)
    alone.schedule(Timer(kind="probe", ref="mine", due=T0 - timedelta(minutes=5)))
    alone.cancel_timer("probe", "theirs")
    alone.commit()
    first.close()
    second.close()


@pytest.mark.rule("AD-7", "AD-8")
def test_serving_two_domains_of_the_same_campaigns_at_once_meets_no_deadlock(
    pg_dsn: str,
) -> None:
    """Two processes serve two domains whose queues hold the same two campaigns: each
    serve re-ranks its campaign in the other domain's queue too, and they neither wait
    in a circle nor lose an impression."""
    app = service(pg_dsn)
    shop = professional(app, "shop", 40)
    campaigns = [launch(app, shop, start=T0, budget=20, domains=("cooking", "music"))
                 for _ in range(2)]
    app.store.close()
    servers = [service(pg_dsn) for _ in range(2)]
    shown: list[int] = [0, 0]

    def serve(worker: int, domain: str) -> None:
        for page in range(60):
            if servers[worker].serve(domain, f"{domain}-{page}") is not None:
                shown[worker] += 1

    threads = [threading.Thread(target=serve, args=(0, "cooking")),
               threading.Thread(target=serve, args=(1, "music"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shown == [60, 60]
    assert sum(servers[0].campaign(c).impressions for c in campaigns) == 120
    assert servers[0].retries + servers[1].retries <= 3  # a deadlock each serve before
    servers[0].check_ad_queues()
    for server in servers:
        server.store.close()


def test_stores_in_two_schemas_never_wait_for_each_others_locks(pg_dsn: str) -> None:
    """Lock names carry the schema: a unit holding an email's index key in one schema
    does not hold up a signup with that email in another."""
    first = PostgresStore(pg_dsn, schema="tenant_a")
    second = Skilltroc(PostgresStore(pg_dsn, schema="tenant_b", lock_timeout=0.5),
                       ManualClock(T0), policy=POLICY, attempts=1, secret_key=TEST_SECRET_KEY)
    held = first.begin()
    assert held.find(kinds.MEMBERS, "email", "ann@example.org") == []
    second.signup("ann@example.org", provider="google")  # no lock timeout
    held.rollback()
    first.close()
    second.store.close()


@pytest.mark.parametrize("attempts", [0, 101, "3"])
def test_begin_attempts_out_of_range_are_refused_before_connecting(attempts: Any) -> None:
    with pytest.raises(InvalidInputError) as refused:
        PostgresStore("postgresql://nobody@127.0.0.1:1/none", begin_attempts=attempts)
    assert refused.value.code == "invalid_input"


@pytest.mark.rule("GIFT-1", "STAR-6")
def test_eight_processes_gifting_and_buying_on_one_wallet_keep_every_invariant(
    pg_dsn: str,
) -> None:
    races.wallet_race(partial(PostgresStore, pg_dsn))


@pytest.mark.rule("STAR-2", "STAR-6")
def test_a_process_killed_mid_command_leaves_a_consistent_store_and_retries_apply_once(
    pg_dsn: str,
) -> None:
    """The server rolls back the killed client's open transaction and frees its lock."""
    races.killed_process_race(partial(PostgresStore, pg_dsn))


@pytest.mark.rule("AD-7", "AD-8")
def test_eight_processes_serving_one_campaign_deliver_exactly_its_goal(pg_dsn: str) -> None:
    races.ad_goal_race(partial(PostgresStore, pg_dsn))


@pytest.mark.rule("BOOK-12", "BOOK-14", "BOOK-18", "REFUND-5")
def test_eight_processes_requesting_one_five_seat_session_never_oversell_it(
    pg_dsn: str,
) -> None:
    """The SQLite 5-seat race on PostgreSQL: 8 processes of members asking for a seat
    each (some cancelling at once), one organizer process accepting all it sees."""
    races.seat_race(partial(PostgresStore, pg_dsn))


def test_missing_server_binaries_are_a_clear_error_not_a_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SKILLTROC_PG_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgserver, "_SEARCH_GLOBS", ())
    with pytest.raises(PgServerError, match=r"initdb.*apt-get install -y postgresql"):
        PgServer().start()
    monkeypatch.setenv("SKILLTROC_PG_BIN", str(tmp_path))
    with pytest.raises(PgServerError, match="does not hold initdb"):
        PgServer().start()


# ---------------------------------------------------------------------- change feed
@pytest.mark.rule("STAR-6")
def test_a_version_5_store_gains_the_change_feed(pg_dsn: str) -> None:
    app = service(pg_dsn)
    alice = app.signup("alice@example.org", provider="google").member_id
    app.store.close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        back_to_version_5(conn.execute, postgres=True)
        conn.execute("UPDATE skilltroc_meta SET value = '5' WHERE key = 'schema_version'")
    store = PostgresStore(pg_dsn)
    uow = store.begin()
    uow.record_change("profile", alice, "{}")
    uow.commit()
    assert recorded(store.changes()) == [("profile", alice, "{}")]
    store.close()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT value FROM skilltroc_meta WHERE key = 'schema_version'"
                            ).fetchone() == (str(SCHEMA_VERSION),)


@pytest.mark.rule("STAR-6")
def test_a_change_is_read_once_every_older_transaction_ended_and_in_commit_order(
    pg_dsn: str,
) -> None:
    """B's transaction has the smaller id (it locked a row first) but commits its change
    of the session after A's: the reader sees neither while B is open (B could still
    write before A's position), then both, A's first, as they were committed."""
    setup, first, second, reader = (PostgresStore(pg_dsn) for _ in range(4))
    uow = setup.begin()
    uow.put(PROBES, "p1", Probe(id="p1", note="held by B"))
    uow.commit()
    b = second.begin()
    assert b.get(PROBES, "p1") is not None  # a row lock: B's transaction id is taken now
    a = first.begin()
    a.record_change("session", "s1", "A")
    a.commit()
    assert reader.changes() == []
    b.record_change("session", "s1", "B")
    b.commit()
    changes = reader.changes()
    assert recorded(changes) == [("session", "s1", "A"), ("session", "s1", "B")]
    assert in_order(changes)
    for store in (setup, first, second, reader):
        store.close()


_GROUPS = 2  # shared counters the writers take turns on


def _feed_writer(dsn: str, worker: int, units: int, committed: list[Recorded],
                 guard: threading.Lock) -> None:
    """Units that each lock the worker's own row (taking a transaction id), then one of
    the shared counters (waiting for the others), add one to it and record the count;
    every fifth unit rolls back."""
    store = PostgresStore(dsn)
    try:
        for unit in range(units):
            group = f"c{(worker + unit) % _GROUPS}"
            while True:
                uow = store.begin()
                try:
                    assert uow.get(PROBES, f"w{worker}") is not None
                    counter = uow.get(PROBES, group)
                    assert counter is not None
                    count = str(int(counter.note) + 1)
                    uow.put(PROBES, group, Probe(id=group, note=count))
                    changes = [("counter", group, count), ("writer", f"w{worker}", str(unit))]
                    for change in changes:
                        uow.record_change(*change)
                    if unit % 5 == 4:
                        uow.rollback()
                        break
                    uow.commit()
                except ConcurrencyError as exc:
                    uow.rollback()
                    assert exc.nothing_written
                    continue
                with guard:
                    committed += changes
                break
    finally:
        store.close()


@pytest.mark.rule("STAR-6")
def test_a_reader_polling_while_writers_commit_at_once_sees_each_change_once_in_order(
    pg_dsn: str,
) -> None:
    """Four writers commit at once (some roll back) while a reader polls from its last
    position: it sees every committed change exactly once, at positions that only
    increase, and each counter's counts in the order they were committed."""
    setup = PostgresStore(pg_dsn)
    uow = setup.begin()
    for name in [*(f"w{n}" for n in range(4)), *(f"c{n}" for n in range(_GROUPS))]:
        uow.put(PROBES, name, Probe(id=name, note="0"))
    uow.commit()
    setup.close()
    committed: list[Recorded] = []
    guard = threading.Lock()
    writers = [threading.Thread(target=_feed_writer, args=(pg_dsn, n, 40, committed, guard))
               for n in range(4)]
    reader = PostgresStore(pg_dsn)
    seen = []
    last: str | None = None
    for writer in writers:
        writer.start()
    while any(writer.is_alive() for writer in writers):
        page = reader.changes(after=last, limit=5)
        seen += page
        last = page[-1].position if page else last
        time.sleep(0 if page else 0.002)
    for writer in writers:
        writer.join()
    read_while_writing = len(seen)
    seen += read_all(reader, 5, after=last)
    reader.close()
    assert read_while_writing > 0
    assert Counter(recorded(seen)) == Counter(committed)
    assert len(seen) == len(committed) == 4 * 32 * 2
    assert in_order(seen)
    for n in range(_GROUPS):
        counts = [data for topic, entity_id, data in recorded(seen)
                  if (topic, entity_id) == ("counter", f"c{n}")]
        assert counts == [str(count) for count in range(1, len(counts) + 1)]


# ---------------------------------------------------------------------- contract
class TestPostgresStoreContract(StoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, pg_dsn: str) -> None:
        self.dsn = pg_dsn

    def create_store(self) -> Store:
        return PostgresStore(self.dsn)


@pytest.mark.rule("GIFT-1", "STAR-6")
def test_a_commit_by_another_store_empties_the_cache_of_this_one(pg_dsn: str) -> None:
    """Two stores on one database (as two processes would be): each keeps what it read
    and wrote between units of work, and drops it all once the other one has committed
    (the change marker it reads under the lock is no longer the one it wrote)."""
    first, second = service(pg_dsn), service(pg_dsn)
    check_two_stores_see_each_others_commits(first, second)



def test_no_password_of_a_dsn_reaches_an_error_or_a_log() -> None:
    from skilltroc_core.adapters.postgres import _redacted  # noqa: PLC0415

    shown = _redacted("host=db password=pw sslpassword=passphrase dbname=x user=u")
    assert "pw" not in shown and "passphrase" not in shown
    assert "dbname=x" in shown and "host=db" in shown
