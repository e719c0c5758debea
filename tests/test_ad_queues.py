"""Ad serving through the store's ordered queues (AD-7): the rank text orders exactly like
the fractions, SQL reads the first member from an index whatever the collation, schema 3
replaces the stored heaps, and the queue check catches a broken queue."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from psycopg import sql

from skilltroc_core.adapters._sql import SCHEMA, SCHEMA_VERSION
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import APPLICATION_ID, SQLiteStore
from skilltroc_core.ads import (
    MAX_GOAL,
    CampaignState,
    ServeKey,
    check_budget,
    goes_before,
    serve_rank,
)
from skilltroc_core.errors import CampaignBudgetError, InvariantViolationError, SkilltrocError
from skilltroc_core.instants import time_zone
from skilltroc_core.ports import Store
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.ads import ad_queue
from skilltroc_core.simulation.faults import FaultyStore
from skilltroc_core.testing import TEST_SECRET_KEY, state_of
from skilltroc_core.testing.pgserver import PgServer

from .ads_support import launch, professional
from .members_support import CHEAP_POLICY, make_world
from .pg_fixtures import pg_dsn, pg_server
from .schema_history import back_to_version_3
from .store_spies import SpyStore

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
SMALL = attrs.evolve(CHEAP_POLICY, impressions_per_ad_star=1)
ZONES = st.sampled_from([UTC, time_zone("Europe/Paris"), timezone(timedelta(hours=-11))])
IDS = st.text(alphabet="ad_0123456789xyzÉé~|", min_size=1, max_size=6)


@st.composite
def serve_keys(draw: st.DrawFn) -> ServeKey:
    goal = draw(st.one_of(st.integers(1, 50), st.integers(1, MAX_GOAL)))
    impressions = draw(st.one_of(st.integers(0, min(goal, 50)), st.integers(0, goal)))
    start = draw(st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
        max_value=datetime(9000, 1, 1),  # noqa: DTZ001
        timezones=ZONES))
    return ServeKey(impressions, goal, start, draw(IDS))


def _exact(key: ServeKey) -> tuple[Fraction, datetime, str]:
    return Fraction(key.impressions, key.goal), key.start, key.campaign


# Neighbours in the Farey sequence of order MAX_GOAL: they differ by 1/(g*h), the
# smallest gap two fractions with such goals can have.
_G = MAX_GOAL
_NEAR = (ServeKey(_G - 2, _G - 1, T0, "b"), ServeKey(_G - 1, _G, T0, "a"))


@pytest.mark.rule("AD-7")
@given(serve_keys(), serve_keys())
@example(*_NEAR)
# 1/G before 1/(G-1): ranks within 1/G**2 of each other must still differ (the id would
# otherwise put them the other way round)
@example(ServeKey(1, _G, T0, "b"), ServeKey(1, _G - 1, T0, "a"))
# ranks two apart (G**2 - G - 2 and G**2 - G), the first with the latest start there is,
# the second with the earliest: the start never outweighs the rank
@example(ServeKey(_G - 2, _G - 1, datetime(9999, 12, 31, tzinfo=UTC), "a"),
         ServeKey(_G - 1, _G, datetime(1, 1, 1, tzinfo=UTC), "b"))
@example(ServeKey(1, 3, T0, "b"), ServeKey(2, 6, T0, "a"))  # equal fractions: the id
@example(ServeKey(0, 7, T0 + timedelta(microseconds=1), "a"), ServeKey(0, 9, T0, "b"))
@example(ServeKey(3, 3, T0, "a"), ServeKey(1, 2, T0, "b"))  # at the goal: 41 digits
def test_the_rank_text_sorts_exactly_like_the_fractions(a: ServeKey, b: ServeKey) -> None:
    rank_a, rank_b = serve_rank(*a), serve_rank(*b)
    assert (rank_a < rank_b) == (_exact(a) < _exact(b)) == goes_before(a, b)
    assert (rank_a == rank_b) == (_exact(a) == _exact(b))
    assert rank_a[:59].isdigit() and rank_a[:60].isascii() and rank_a[59:] == f"|{a.campaign}"


@pytest.mark.rule("AD-7")
def test_a_goal_of_zero_counts_as_reached_and_is_served_last() -> None:
    """A policy of 0 impressions per star gives goals of 0: ranked as at their goal (no
    division by zero), after every campaign still short of its goal."""
    zero = serve_rank(0, 0, T0, "z")
    assert zero[:59] == serve_rank(7, 7, T0, "z")[:59] == serve_rank(1, 1, T0, "z")[:59]
    assert serve_rank(0, 1, T0, "a") < serve_rank(1, 2, T0, "a") < zero
    assert serve_rank(MAX_GOAL - 1, MAX_GOAL, T0, "a") < zero


@pytest.mark.rule("AD-2")
def test_a_budget_is_at_least_one_star_even_when_the_policy_minimum_is_zero() -> None:
    policy = attrs.evolve(CHEAP_POLICY, min_campaign_stars=0)
    assert check_budget(1, policy) == 1
    for budget in (0, -1):
        with pytest.raises(CampaignBudgetError) as refused:
            check_budget(budget, policy)
        assert (refused.value.code, refused.value.rule) == ("invalid_campaign_budget", "AD-2")
        assert refused.value.facts == {"got": repr(budget), "amount": budget, "minimum": 0}


@pytest.mark.rule("AD-2")
def test_a_budget_whose_goal_the_serving_order_cannot_rank_exactly_is_refused() -> None:
    policy = attrs.evolve(CHEAP_POLICY, impressions_per_ad_star=10**19)
    assert check_budget(10, policy) == 10  # a goal of exactly MAX_GOAL
    with pytest.raises(CampaignBudgetError) as refused:
        check_budget(11, policy)
    assert (refused.value.code, refused.value.rule) == ("invalid_campaign_budget", "AD-2")


# ---------------------------------------------------------------------- the service
@pytest.mark.rule("AD-7")
def test_the_queue_check_names_a_campaign_missing_misplaced_or_left_behind() -> None:
    world = make_world(start=T0, policy=SMALL)
    app = world.service
    shop = professional(app, "shop", 40)
    first = launch(app, shop, start=T0, domains=("cooking", "music"))
    second = launch(app, shop, start=T0, budget=11, domains=("cooking",))
    app.check_ad_queues()

    def broken(queue: str, member: str, key: str | None) -> str:
        """The check's complaint once ``member`` is at ``key`` (None: out) in ``queue``."""
        uow = world.store.begin()
        was = uow.queue_key(queue, member)
        if key is None:
            uow.queue_remove(queue, member)
        else:
            uow.queue_put(queue, member, key)
        uow.commit()
        with pytest.raises(InvariantViolationError) as found:
            app.check_ad_queues()
        assert found.value.rule == "AD-7"
        uow = world.store.begin()
        if was is None:
            uow.queue_remove(queue, member)
        else:
            uow.queue_put(queue, member, was)
        uow.commit()
        app.check_ad_queues()
        return str(found.value)

    assert first in broken(ad_queue("music"), first, None)
    misplaced = broken(ad_queue("cooking"), second, "0")
    assert second in misplaced and f"serves {second} first, not {first}" in misplaced
    for n in range(10):  # ``first`` completes in music, leaves both its queues
        app.serve("music", f"pv-{n}")
    assert app.campaign(first).state is CampaignState.COMPLETED
    assert "completed campaign" in broken(ad_queue("music"), first, "0")
    assert "queue that is not empty" in broken(ad_queue("music"), "ad_unknown", "0")
    hidden = professional(app, "gone", 20)
    theirs = launch(app, hidden, start=T0, domains=("music",))
    app.deactivate(hidden)  # its campaign leaves the queue with the account (ACC-7)
    assert f"{theirs} of a hidden owner is in 'music'" in broken(ad_queue("music"), theirs, "0")


@pytest.mark.rule("AD-7")
def test_checking_the_queues_applies_no_deadline() -> None:
    """check_ad_queues reads the queues as they are: a campaign start due is left to
    run_due."""
    world = make_world(start=T0, policy=SMALL)
    app = world.service
    shop = professional(app, "shop", 20)
    later = launch(app, shop, start=T0 + timedelta(days=1))
    world.advance(days=2)
    before = state_of(world.store)
    app.check_ad_queues()
    assert state_of(world.store) == before  # the campaign is still scheduled
    assert app.run_due() == 1
    assert app.campaign(later).state is CampaignState.RUNNING
    app.check_ad_queues()


@pytest.mark.rule("AD-7", "AD-8")
def test_a_store_failure_at_any_call_of_a_serve_leaves_the_queues_as_they_were() -> None:
    memory = MemoryStore()
    faulty = FaultyStore(memory)
    clock = ManualClock(T0)
    app = Skilltroc(faulty, clock, policy=SMALL, secret_key=TEST_SECRET_KEY)
    shop = professional(app, "shop", 40)
    ending = launch(app, shop, start=T0, domains=("cooking", "music"))
    other = launch(app, shop, start=T0, budget=20, domains=("music",))
    for n in range(9):  # the next serve in cooking completes ``ending`` (10 impressions)
        app.serve("cooking", f"warm-{n}")
    assert app.campaign(ending).impressions == 9
    failures = 0
    for fail_at in range(1, 100):
        before = state_of(memory)
        faulty.arm(fail_at)
        try:
            shown = app.serve("cooking", "the-page")
        except SkilltrocError:
            failures += 1
            assert state_of(memory) == before
            app.check_ad_queues()
            continue
        assert faulty.disarm() is False  # every call of the serve was tried
        break
    assert failures >= 4  # the replay read, the first member, the campaign, each queue
    assert shown is not None and shown.id == ending
    assert shown.state is CampaignState.COMPLETED
    assert app.serve("music", "next-1").id == other  # type: ignore[union-attr]
    assert app.serve("cooking", "next-2") is None
    app.check_ad_queues()
    app.check_invariants(deep=True)


def _rival_world() -> tuple[Skilltroc, SpyStore]:
    store = SpyStore()
    return Skilltroc(store, ManualClock(T0), policy=SMALL, secret_key=TEST_SECRET_KEY), store


def _completed_elsewhere(store: SpyStore) -> None:
    """Another server's impression completes the first campaign of the queue while this
    serve waits for it: just before the unit's second read of the queue's first, that
    campaign leaves the queue."""
    reads = []

    def before(name: str, unit: Any, args: tuple[Any, ...]) -> None:
        if name == "queue_first":
            reads.append(args)
            if len(reads) == 2:
                unit.queue_remove(args[0], unit.queue_first(args[0]))

    store.before = before


@pytest.mark.rule("AD-7")
def test_a_serve_whose_first_campaign_moved_meanwhile_shows_the_new_first() -> None:
    app, store = _rival_world()
    shop = professional(app, "shop", 40)
    first = launch(app, shop, start=T0)
    second = launch(app, shop, start=T0, budget=11)
    _completed_elsewhere(store)
    shown = app.serve("cooking", "pv-1")
    store.before = None
    assert shown is not None and shown.id == second and shown.impressions == 1
    assert app.campaign(first).impressions == 0
    assert app.campaign(second).impressions == 1


@pytest.mark.rule("AD-7")
def test_a_serve_whose_queue_emptied_meanwhile_shows_nothing_and_counts_nothing() -> None:
    app, store = _rival_world()
    shop = professional(app, "shop", 20)
    only = launch(app, shop, start=T0)
    _completed_elsewhere(store)
    assert app.serve("cooking", "pv-1") is None
    store.before = None
    assert app.campaign(only).impressions == 0


@pytest.mark.rule("AD-7")
def test_an_impression_tells_the_store_the_campaign_only_moves_back_in_its_queue() -> None:
    """``later=True`` lets a SQL store lock the campaign's entry alone (the queue's first
    can only move back); a campaign entering a queue may become its first (``later=False``)."""
    app, store = _rival_world()
    shop = professional(app, "shop", 20)
    store.forget()
    ad = launch(app, shop, start=T0, domains=("cooking", "music"))
    assert [(args[1], kwargs.get("later", False)) for name, args, kwargs in store.calls
            if name == "queue_put" and args[0].startswith("ad:")] == [(ad, False), (ad, False)]
    store.forget()
    app.serve("music", "pv-1")
    assert [(args[1], kwargs.get("later", False)) for name, args, kwargs in store.calls
            if name == "queue_put" and args[0].startswith("ad:")] == [(ad, True), (ad, True)]


# ---------------------------------------------------------------------- SQLite
QUEUE_FIRST = "SELECT member FROM queue_entries WHERE queue = ? ORDER BY sort_key LIMIT 1"


@pytest.mark.rule("AD-7")
def test_sqlite_reads_the_first_member_from_the_covering_index(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + QUEUE_FIRST, ("ad:x",))]
    assert plan == ["SEARCH queue_entries USING COVERING INDEX queue_entries_in_order "
                    "(queue=?)"]  # no sort: the index is in order
    plan = [row[3] for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT sort_key FROM queue_entries WHERE queue = ? AND member = ?",
        ("ad:x", "m"))]
    assert len(plan) == 1 and "INDEX sqlite_autoindex_queue_entries_1 (queue=? AND member=?)" in (
        plan[0])
    conn.close()


def _version_2(path: Path) -> sqlite3.Connection:
    """A file as schema version 2 wrote it (tables and stored ad heaps)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for step in (1, 2):
        for statement in SCHEMA[step]:
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute("PRAGMA user_version=2")
    return conn


def _old_heap(conn: sqlite3.Connection, campaign: str) -> None:
    conn.executemany("INSERT INTO entities (kind, id, data) VALUES (?, ?, ?)", [
        ("ad_queue", "cooking", '{"size": 1}'),
        ("ad_slot", "0#cooking", f'{{"campaign": "{campaign}", "impressions": 0, '
                                 '"goal": 10, "start": "2027-03-01T09:00:00.000000+00:00"}'),
        ("ad_position", f"{len(campaign)}:{campaign}|cooking", '{"position": 0}'),
    ])


def test_a_version_2_store_without_campaigns_migrates_to_version_3(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _version_2(path).close()
    app = Skilltroc(SQLiteStore(path), ManualClock(T0), policy=SMALL, secret_key=TEST_SECRET_KEY)
    shop = professional(app, "shop", 20)
    campaign = launch(app, shop, start=T0)
    assert app.serve("cooking", "pv-1").id == campaign  # type: ignore[union-attr]
    app.check_ad_queues()
    app.store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT queue, member FROM queue_entries").fetchall() == [
        ("ad:cooking", campaign)]


@pytest.mark.rule("AD-7")
def test_a_version_2_store_with_running_campaigns_serves_them_again_once_rebuilt(
    tmp_path: Path,
) -> None:
    """Schema 3 drops the stored heaps; ``rebuild_ad_queues`` puts every running
    campaign back at its rank, impressions kept."""
    path = tmp_path / "s.db"
    app = Skilltroc(SQLiteStore(path), ManualClock(T0), policy=SMALL, secret_key=TEST_SECRET_KEY)
    shop = professional(app, "shop", 40)
    running = launch(app, shop, start=T0)
    later = launch(app, shop, start=T0 + timedelta(days=1), domains=("music",))
    app.serve("cooking", "pv-1")
    app.store.close()
    conn = sqlite3.connect(path, isolation_level=None)  # back to what version 2 kept
    back_to_version_3(conn.execute)
    conn.execute("DROP TABLE queue_entries")
    _old_heap(conn, running)
    conn.execute("PRAGMA user_version=2")
    conn.close()

    app = Skilltroc(SQLiteStore(path), ManualClock(T0 + timedelta(hours=1)), policy=SMALL,
                    secret_key=TEST_SECRET_KEY)
    with pytest.raises(InvariantViolationError, match=running):
        app.check_ad_queues()
    assert app.serve("cooking", "pv-2") is None
    assert app.rebuild_ad_queues() == 1
    assert app.rebuild_ad_queues() == 1  # again: the same queues
    app.check_ad_queues()
    shown = app.serve("cooking", "pv-3")
    assert shown is not None and (shown.id, shown.impressions) == (running, 2)
    assert app.campaign(later).state is CampaignState.SCHEDULED
    app.store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM entities WHERE kind LIKE 'ad\\_%' ESCAPE '\\' "
                        "AND kind <> 'ad_campaign'").fetchone()[0] == 0
    conn.close()


# ---------------------------------------------------------------------- PostgreSQL
def test_a_version_2_postgres_store_migrates_to_version_3(pg_dsn: str) -> None:
    PostgresStore(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # back to what version 2 kept
        back_to_version_3(conn.execute, postgres=True)
        conn.execute("DROP TABLE queue_entries")
        conn.execute("UPDATE skilltroc_meta SET value = '2' WHERE key = 'schema_version'")
        conn.execute("INSERT INTO entities (kind, id, data) VALUES "
                     "('ad_queue', 'cooking', '{\"size\": 0}')")
    app = Skilltroc(PostgresStore(pg_dsn), ManualClock(T0), policy=SMALL,
                    secret_key=TEST_SECRET_KEY)
    shop = professional(app, "shop", 20)
    campaign = launch(app, shop, start=T0)
    shown = app.serve("cooking", "pv-1")
    assert shown is not None and shown.id == campaign
    app.check_ad_queues()
    app.store.close()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT value FROM skilltroc_meta WHERE key = 'schema_version'"
                            ).fetchone() == (str(SCHEMA_VERSION),)
        assert conn.execute("SELECT count(*) FROM entities WHERE kind = 'ad_queue'"
                            ).fetchone() == (0,)
        assert conn.execute("SELECT pg_typeof(sort_key)::text FROM queue_entries"
                            ).fetchall() == [("bytea",)]


@pytest.mark.rule("AD-7")
def test_postgres_orders_queues_bytewise_under_a_linguistic_collation(
    pg_server: PgServer,
) -> None:
    """A database whose default collation is ICU English (punctuation and case nearly
    ignored) still hands out members in code-point order of their keys."""
    name = "queues_icu"
    with psycopg.connect(pg_server.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL(
            "CREATE DATABASE {} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
            "LOCALE 'C'").format(sql.Identifier(name)))
    store: Store = PostgresStore(pg_server.dsn_for(name))
    try:
        keys = ["a|9", "a 1", "a-1", "ab", "A", "b", "a", "a|10", "é", "Z"]
        uow = store.begin()
        for n, key in enumerate(keys):
            uow.queue_put("q", f"m{n}", key)
        uow.commit()
        uow = store.begin()
        served = []
        while (first := uow.queue_first("q")) is not None:
            served.append(uow.queue_key("q", first))
            uow.queue_remove("q", first)
        uow.rollback()
        assert served == sorted(keys)
    finally:
        store.close()
        pg_server.drop_database(name)


@pytest.mark.rule("ACC-7", "AD-6")
def test_a_purge_takes_out_a_campaign_an_earlier_version_left_queued() -> None:
    """Before deactivated owners' campaigns left the queues, a store kept them there; the
    owner's purge withdraws the campaign and takes it out of every queue."""
    world = make_world(start=T0, policy=SMALL)
    app = world.service
    shop = professional(app, "shop", 20)
    ad = launch(app, shop, start=T0, domains=("cooking", "music"))
    rank = app.campaign(ad).serve_rank
    app.deactivate(shop)
    unit = world.store.begin()  # as an earlier version left it: still queued
    for domain in ("cooking", "music"):
        unit.queue_put(ad_queue(domain), ad, rank)
    unit.commit()
    world.advance(days=CHEAP_POLICY.account_retention_days)
    assert app.run_due() == 1  # the purge
    assert app.campaign(ad).state is CampaignState.WITHDRAWN
    app.check_ad_queues()
    assert app.serve("cooking", "pv-1") is None
