"""ACC-7 "hidden means hidden", and the rule fixes that came with it (BOOK-23's join
notice, BOOK-5 at a purge, PROF-1, TUTO-2), on every store: memory, SQLite, PostgreSQL.

A deactivated account cannot act and is hidden: nobody starts anything new with it (no
request or join into its sessions, no contact email given out, no gift or invitation
naming it), while what already exists with it stays untouched for the 15 days. Each
refusal is checked to change nothing, on the store's own rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.booking import RegistrationState, WorkshopState
from skilltroc_core.clocks import ManualClock
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.events import Notification
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.booking import DELETED_BY_ORGANIZER, ORGANIZER_PURGED

from .members_support import CHEAP_POLICY, email_of, notices, snapshot
from .pg_fixtures import dump_tables, pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
R = RegistrationState


@attrs.frozen
class Host:
    """A service on one store, its clock, and everything the store keeps (for the
    checks that a refusal changed nothing)."""

    app: Skilltroc
    clock: ManualClock
    state: Callable[[], object]

    def refused(self, call: Callable[[], object], code: str, rule: str) -> SkilltrocError:
        """``call`` is refused with ``code`` and ``rule`` and changes nothing at all."""
        before = self.state()
        with pytest.raises(SkilltrocError) as info:
            call()
        assert (info.value.code, info.value.rule) == (code, rule), str(info.value)
        assert str(info.value)  # a sentence a person can read
        assert self.state() == before
        return info.value

    def member(self, name: str, stars: int = 10, **kw: Any) -> str:
        member = self.app.signup(email_of(name), provider="google", **kw).member_id
        if stars > 10:
            self.app.buy_stars(member, stars - 10, f"pay-{name}")
        return member


def _memory_state(store: MemoryStore) -> Callable[[], object]:
    def state() -> object:
        taken = snapshot(store)  # without the empty index buckets a rollback may leave
        taken["indexes"] = {name: {key: ids for key, ids in postings.items() if ids}
                            for name, postings in taken["indexes"].items()}
        taken["indexes"] = {name: p for name, p in taken["indexes"].items() if p}
        return taken
    return state


def _sqlite_state(path: Path) -> Callable[[], object]:
    def state() -> object:
        with sqlite3.connect(path) as conn:  # what another process would read
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            rows = sorted((table, *row) for table in tables
                          for row in conn.execute(f"SELECT * FROM {table}"))
        return sorted(map(repr, rows))
    return state


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    clock = ManualClock(T0)
    if request.param == "memory":
        memory = MemoryStore()
        yield Host(Skilltroc(memory, clock, policy=CHEAP_POLICY), clock, _memory_state(memory))
        return
    if request.param == "sqlite":
        path = tmp_path / "hidden.db"
        sqlite = SQLiteStore(path)
        app = Skilltroc(sqlite, clock, policy=CHEAP_POLICY)
        yield Host(app, clock, _sqlite_state(path))
    else:
        dsn = request.getfixturevalue("pg_dsn")
        app = Skilltroc(PostgresStore(dsn), clock, policy=CHEAP_POLICY)
        yield Host(app, clock, lambda: dump_tables(dsn))
    app.check_invariants(deep=True)
    app.store.close()


def _told(app: Skilltroc, event: str | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(n.event, n.rule, n.recipients) for n in notices(app, event)]


def _workshop(app: Skilltroc, organizer: str, *, cost: int = 3, capacity: int = 4) -> str:
    return app.create_workshop(organizer, title="Sourdough", description="From starter to loaf",
                               domain="cooking", cost=cost, capacity=capacity)


START = T0 + timedelta(days=3)


def _waitlisted(host: Host, stars: int, seats: int, capacity: int = 4
                ) -> tuple[str, str, str, str, str]:
    """org's workshop (3 stars a seat), ann (with ``stars``) waitlisted for ``seats``, and
    a session planned at ``START``: (org, ann, workshop, the entry, the session)."""
    app = host.app
    org, ann = host.member("org"), host.member("ann", stars)
    ws = _workshop(app, org, capacity=capacity)
    waiting = app.request(ann, workshop_id=ws, seats=seats)
    app.accept_future(org, waiting)
    return org, ann, ws, waiting, app.plan_session(org, ws, START)


# --- BOOK-23: joining from the waitlist is told to both sides -----------------------------


@pytest.mark.rule("BOOK-23")
def test_joining_from_the_waitlist_tells_the_member_and_the_organizer(host: Host) -> None:
    app = host.app
    org, ann, ws, waiting, session = _waitlisted(host, stars=20, seats=2, capacity=3)
    bob = host.member("bob")
    notices(app)
    app.join(ann, waiting, session)
    told = notices(app)
    assert [(n.event, n.rule, n.recipients) for n in told] == [
        ("SessionJoined", "BOOK-23", (ann, org))]
    assert told[0].facts_map == {"request": waiting, "seats": 2, "session": session,
                                 "stars": 6, "workshop": ws, "start": START.isoformat()}
    assert app.seats_left(session) == 1 and app.balance(ann) == (14, 6)
    # a refused join tells nobody and changes nothing (all seats or none)
    other = app.request(bob, workshop_id=ws, seats=2)
    app.accept_future(org, other)
    notices(app)
    host.refused(lambda: app.join(bob, other, session), "state_conflict", "BOOK-23")
    assert app.balance(bob) == (4, 6) and notices(app) == []


# --- BOOK-5: a workshop deleted at its organizer's purge ----------------------------------


@pytest.mark.rule("BOOK-5", "ACC-7")
def test_a_workshop_deleted_at_its_organizers_purge_says_so_in_its_notice(host: Host) -> None:
    app = host.app
    org, ann, bob = host.member("org"), host.member("ann", 20), host.member("bob", 20)
    kept, dropped = _workshop(app, org), _workshop(app, org, cost=2)
    session = app.plan_session(org, kept, T0 + timedelta(days=20))
    registered = app.request(ann, session_id=session, seats=2)
    app.accept(org, registered)
    asked = app.request(bob, session_id=session, seats=1)  # due at the start, day 20
    pending = app.request(bob, workshop_id=dropped, seats=1)
    notices(app)

    app.delete_workshop(org, dropped)
    [by_hand] = notices(app)
    assert (by_hand.event, by_hand.rule, by_hand.recipients) == ("WorkshopDeleted", "BOOK-5",
                                                                  (bob,))
    assert by_hand.facts_map == {"workshop": dropped, "title": "Sourdough",
                                 "cause": DELETED_BY_ORGANIZER}
    assert app.registration(pending).state is R.WORKSHOP_DELETED

    app.deactivate(org)
    host.clock.advance(timedelta(days=15))
    assert app.run_due() == 1
    told: list[Notification] = notices(app, "WorkshopDeleted")
    assert [(n.rule, n.recipients, n.facts_map) for n in told] == [
        ("BOOK-5", (ann, bob), {"workshop": kept, "title": "Sourdough",
                                "cause": ORGANIZER_PURGED})]
    assert app.workshop(kept).state is WorkshopState.DELETED
    assert [app.registration(r).state for r in (registered, asked)] == [
        R.WORKSHOP_DELETED, R.WORKSHOP_DELETED]
    assert (app.balance(ann), app.balance(bob)) == ((20, 0), (20, 0))  # refunded
