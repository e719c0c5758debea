"""The change feed a host's own search index or cache is fed from (issue 17, item 3).

A replica built only from ``Skilltroc.changes()`` (upsert each record, delete on a
tombstone) must equal what the service shows, on every store, after any catalogue built
through the service; a reader resuming from its last position sees every change once; a
purge leaves nothing of the member in any later read (ACC-7)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.booking import SessionState, WorkshopState
from skilltroc_core.listings import ChangeRecord, PublicProfile, PublicTutorial, PublicWorkshop
from skilltroc_core.ports import Store
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import state_of

from .pg_fixtures import pg_dsn, pg_server
from .test_catalogue import (
    CATALOGUES,
    Built,
    CatalogueSpec,
    WorkshopSpec,
    _property,
    build,
    shown,
    walk,
)

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

Replica = dict[tuple[str, str], Any]


def replica(app: Skilltroc, size: int = 7, after: str | None = None,
            into: Replica | None = None) -> tuple[Replica, list[ChangeRecord]]:
    """What a host builds from the feed: each entity's last record (tombstones drop it)."""
    copy: Replica = {} if into is None else into
    changes = walk(app.changes, size, after)
    for change in changes:
        key = (change.topic, change.entity_id)
        if change.record is None:
            copy.pop(key, None)
        else:
            copy[key] = change.record
    return copy, changes


def expected(built: Built) -> Replica:
    """What the service shows, read entity by entity."""
    app = built.app
    out: Replica = {}
    for workshop_id in built.workshops:
        w = app.workshop(workshop_id)
        if w.state is not WorkshopState.ACTIVE or not shown(app, w.organizer):
            continue
        out["workshop", w.id] = PublicWorkshop(
            workshop_id=w.id, organizer=w.organizer, title=w.title, description=w.description,
            domain=w.domain, mode=w.mode, locality=w.locality, cost=w.cost,
            capacity=w.capacity, duration_minutes=w.duration_minutes, media=w.media,
            created_at=w.created_at)
        for s in app.sessions_of(w.id):
            if s.state is SessionState.PLANNED:
                out["session", s.id] = s.seats_left
    for tutorial_id, publisher in built.tutorials:
        if shown(app, publisher):
            t = app.tutorial(tutorial_id)
            out["tutorial", t.id] = PublicTutorial(
                tutorial_id=t.id, publisher=t.publisher, title=t.title, domain=t.domain,
                published_at=t.published_at)
    for member in (*built.organizers, *built.members, *built.guests):
        if shown(app, member):
            view = app.profile(member)
            out["profile", member] = view.profile.display_name
    return out


def _comparable(copy: Replica) -> Replica:
    """The replica with a session as its seats left and a profile as its name (what
    :func:`expected` reads of them)."""
    return {key: record.seats_left if key[0] == "session" else
            record.display_name if isinstance(record, PublicProfile) else record
            for key, record in copy.items()}


def check_the_replica(built: Built, size: int) -> None:
    app = built.app
    app.run_due()
    copy, changes = replica(app, size)
    assert _comparable(copy) == expected(built)
    positions = [change.position for change in changes]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    # a reader resuming from any position it saw sees the rest, once
    if changes:
        middle = len(changes) // 2
        _, rest = replica(app, 3, changes[middle].position)
        assert [c.position for c in rest] == positions[middle + 1:]
    before = state_of(app.store)
    replica(app, size)
    assert state_of(app.store) == before  # reading the feed writes nothing


@pytest.mark.rule("AD-7", "ACC-7", "BOOK-18")
@_property(30)
@given(spec=CATALOGUES, size=st.integers(1, 9))
def test_a_replica_fed_by_the_changes_equals_what_the_service_shows_on_memory(
    spec: CatalogueSpec, size: int
) -> None:
    check_the_replica(build(MemoryStore(), spec), size)


@pytest.mark.rule("AD-7", "ACC-7", "BOOK-18")
def test_a_replica_fed_by_the_changes_equals_what_the_service_shows_on_sqlite_and_postgres(
    tmp_path: Path, pg_dsn: str
) -> None:
    names = itertools.count()

    @_property(6)
    @given(spec=CATALOGUES, size=st.integers(1, 9), postgres=st.booleans())
    def check(spec: CatalogueSpec, size: int, postgres: bool) -> None:
        store: Store = (PostgresStore(pg_dsn, schema=f"feed_{next(names)}") if postgres
                        else SQLiteStore(tmp_path / f"feed-{next(names)}.db"))
        try:
            check_the_replica(build(store, spec), size)
        finally:
            store.close()

    check()


def _small_catalogue() -> Built:
    spec = CatalogueSpec(
        workshops=(WorkshopSpec(organizer=0, domain="Cuisine", mode="face_to_face",
                                locality="12 rue Secrète", cost=1, capacity=2,
                                title=("Secretname", "pain"), sessions=((30, "booked"),)),),
        tutorials=((0, "Cuisine", ("Secretname",), 2),), hidden=False, elapsed=0)
    return build(MemoryStore(), spec)


@pytest.mark.rule("ACC-7")
def test_a_purge_leaves_nothing_of_the_member_in_any_later_read_of_the_feed() -> None:
    built = _small_catalogue()
    app = built.app
    early, _ = replica(app)
    assert any("Secretname" in repr(record) for record in early.values())
    last = app.changes(limit=100).items[-1].position
    purge_at = app.deactivate(built.organizers[0])
    built.clock.set(purge_at)
    app.run_due()
    everything = repr(walk(app.changes, 5))
    for secret in ("Secretname", "rue Secr", "Org 0"):
        assert secret not in everything  # read from the start: never there
    copy, changes = replica(app, 4, last, into=early)  # a reader that had copied them
    assert not any("Secretname" in repr(record) for record in copy.values())
    assert {(c.topic, c.record) for c in changes} >= {("profile", None), ("workshop", None),
                                                       ("tutorial", None)}


@pytest.mark.rule("ACC-7", "AD-7")
def test_a_deactivation_hides_what_the_member_published_and_a_reactivation_shows_it() -> None:
    built = _small_catalogue()
    app = built.app
    before, _ = replica(app)
    app.deactivate(built.organizers[0])
    hidden, _ = replica(app)
    assert not [key for key in hidden if key[1] in {
        built.organizers[0], built.workshops[0], built.tutorials[0][0]}]
    app.reactivate(built.organizers[0])
    again, _ = replica(app)
    assert again == before


@pytest.mark.rule("AD-7", "TUTO-2")
def test_views_and_impressions_record_no_change_and_bad_positions_are_refused() -> None:
    built = _small_catalogue()
    app = built.app
    count = len(walk(app.changes, 50))
    app.record_view(built.tutorials[0][0], "another visitor", "v-new")
    assert len(walk(app.changes, 50)) == count  # views: not public
    for bad in ("nope", 7, "0" * 40):
        with pytest.raises(Exception) as refused:
            app.changes(after=bad)  # type: ignore[arg-type]
        assert getattr(refused.value, "code", None) == "invalid_input", refused.value
