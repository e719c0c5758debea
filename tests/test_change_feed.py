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
from skilltroc_core.listings import (
    ChangeRecord,
    PublicCampaign,
    PublicProfile,
    PublicTutorial,
    PublicWorkshop,
)
from skilltroc_core.ports import EntityKind, Store
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import state_of

from .members_support import before_the_feed
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


def test_the_read_side_projections_name_kinds_the_service_stores() -> None:
    from skilltroc_core.service import kinds  # noqa: PLC0415
    from skilltroc_core.service.ads import CAMPAIGNS  # noqa: PLC0415
    from skilltroc_core.service.read_side import _PROJECTIONS  # noqa: PLC0415
    from skilltroc_core.service.tutorials import TUTORIALS  # noqa: PLC0415

    stored = {kind.name for kind in (*vars(kinds).values(), CAMPAIGNS, TUTORIALS)
              if isinstance(kind, EntityKind)}
    assert set(_PROJECTIONS) <= stored, set(_PROJECTIONS) - stored


@pytest.mark.rule("AD-7", "AD-8", "ACC-7")
def test_a_campaign_is_in_the_feed_until_its_goal_and_hidden_with_its_owner() -> None:
    built = _small_catalogue()
    app = built.app
    owner = built.organizers[1]
    app.buy_stars(owner, 20, "pay-ads")
    campaign = app.create_campaign(owner, budget=10, visual="a.png", visual_rights_free=True,
                                   text="Bread", start=app.now(), domains=["cuisine"])
    copy, _ = replica(app)
    assert isinstance(copy["campaign", campaign], PublicCampaign)
    assert copy["campaign", campaign].running
    app.deactivate(owner)
    app.reactivate(owner)
    assert replica(app)[0]["campaign", campaign] == copy["campaign", campaign]
    while app.campaign(campaign).state.value == "running":
        app.serve("cuisine", f"page-{app.campaign(campaign).impressions}")
    assert ("campaign", campaign) not in replica(app)[0]  # its goal reached: a tombstone


@pytest.mark.rule("ACC-7", "BOOK-19")
def test_what_a_deactivated_member_published_stays_out_of_the_feed_whatever_happens() -> None:
    built = _small_catalogue()
    app = built.app
    organizer = built.organizers[0]
    guest = built.guests[0]
    [item] = app.participant_agenda(guest).planned
    app.deactivate(organizer)
    app.unregister(guest, item.registration.id)  # frees a seat of the hidden session
    copy, _ = replica(app)
    assert not [key for key in copy if key[0] == "session"]
    assert app.upcoming_sessions().items == ()
    app.reactivate(organizer)
    assert [key for key in replica(app)[0] if key[0] == "session"]


@pytest.mark.rule("AD-7", "ACC-7")
def test_a_store_from_before_the_feed_gets_it_from_the_rebuild(tmp_path: Path) -> None:
    spec = CatalogueSpec(
        workshops=(WorkshopSpec(organizer=1, domain="Cuisine", mode="online", locality=None,
                                cost=1, capacity=2, title=("pain",),
                                sessions=((30, "planned"),)),),
        tutorials=((2, "Cuisine", ("four",), 0),), hidden=True, elapsed=0)
    built = build(SQLiteStore(tmp_path / "old.db"), spec)
    app = built.app
    app.run_due()
    want = expected(built)
    older = before_the_feed(app, tmp_path / "old.db")
    assert older.changes().items == ()
    older.rebuild_read_side(batch=3)
    built.app = older
    assert _comparable(replica(older)[0]) == want
    count = len(replica(older)[1])
    older.rebuild_read_side()  # the feed is not empty now: nothing recorded again
    assert len(replica(older)[1]) == count
    older.store.close()


def test_a_change_this_version_cannot_read_is_a_store_error() -> None:
    from skilltroc_core.errors import StoreError  # noqa: PLC0415
    from skilltroc_core.ports import Change  # noqa: PLC0415
    from skilltroc_core.service.feed import read_changes  # noqa: PLC0415

    for change in (Change(position="p", topic="poll", entity_id="x", data="{}"),
                   Change(position="p", topic="workshop", entity_id="x", data='{"a":1}')):
        with pytest.raises(StoreError):
            read_changes([change])
