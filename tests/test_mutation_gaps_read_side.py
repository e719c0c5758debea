"""What mutation testing of ``service/read_side.py`` found untested (issue 20): the change
feed records a campaign, a tutorial or a profile again whichever one of its public fields
an edit changes, a profile edit hides nothing the member published, and a rebuild seeds
the feed with a purged member's tombstone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from skilltroc_core.accounts import ProCategory
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.listings import ChangeRecord, PublicCampaign, PublicProfile, PublicTutorial
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY

from .ads_support import launch, professional
from .members_support import (
    CHEAP_POLICY,
    START,
    World,
    before_the_feed,
    email_of,
    make_world,
    signup_confirmed,
)


def _since(world: World, position: str | None) -> list[ChangeRecord]:
    """The changes recorded after ``position``."""
    return list(world.service.changes(after=position, limit=100).items)


def _last(world: World) -> str:
    return _since(world, None)[-1].position


@pytest.mark.rule("AD-5", "AD-7")
def test_an_edit_of_any_one_public_field_of_a_campaign_is_in_the_feed() -> None:
    world = make_world()
    app = world.service
    owner = professional(app, "shop", 50)
    start = world.clock.now() + timedelta(days=2)
    campaign = launch(app, owner, start=start)
    position = _last(world)
    edits: list[tuple[str, Any, Any]] = [
        ("text", "Come and taste", "Come and taste"),
        ("link", "https://example.org/shop", "https://example.org/shop"),
        ("domains", ["baking"], ("baking",)),
        ("start", start + timedelta(days=1), start + timedelta(days=1)),
        ("visual", "other.png", "other.png"),
    ]
    for field, value, shown in edits:
        changes: dict[str, Any] = {field: value}
        if field == "visual":
            changes["visual_rights_free"] = True
        app.edit_campaign(owner, campaign, **changes)
        [change] = _since(world, position)
        assert change.entity_id == campaign, field
        assert isinstance(change.record, PublicCampaign), field
        assert getattr(change.record, field) == shown, field
        position = change.position


@pytest.mark.rule("TUTO-1", "AD-7")
def test_an_edit_of_a_tutorials_title_or_domain_and_its_deletion_are_in_the_feed() -> None:
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    tutorial = app.publish_tutorial(ann, title="Knots", domain="sailing",
                                    rights_attested=True, upload="uploads/knots.mp4")
    position = _last(world)
    edits: list[tuple[str, dict[str, Any]]] = [
        ("title", {"title": "Better knots"}), ("domain", {"domain": "boating"})]
    for field, edit in edits:
        app.edit_tutorial(ann, tutorial, **edit)
        value = edit[field]
        [change] = _since(world, position)
        assert isinstance(change.record, PublicTutorial), field
        assert (change.entity_id, getattr(change.record, field)) == (tutorial, value)
        position = change.position
    app.delete_tutorial(ann, tutorial)
    [change] = _since(world, position)
    assert (change.topic, change.entity_id, change.record) == ("tutorial", tutorial, None)


@pytest.mark.rule("ACC-3", "PROF-1")
def test_a_professionals_new_category_is_in_the_feed() -> None:
    world = make_world()
    app = world.service
    shop = professional(app, "shop")
    position = _last(world)
    app.update_profile(shop, category="craftsperson")
    [change] = _since(world, position)
    assert isinstance(change.record, PublicProfile)
    assert (change.entity_id, change.record.category) == (shop, ProCategory.CRAFTSPERSON)


@pytest.mark.rule("PROF-1", "ACC-7")
def test_a_profile_edit_hides_nothing_the_member_published() -> None:
    world = make_world()
    app = world.service
    shop = professional(app, "shop")
    app.create_workshop(shop, title="Bread", description="Sourdough", domain="cooking",
                        cost=2, capacity=3)
    position = _last(world)
    app.update_profile(shop, bio="Bakers since 1920")
    assert [(c.topic, c.entity_id) for c in _since(world, position)] == [("profile", shop)]


@pytest.mark.rule("ACC-7", "AD-7")
def test_a_rebuild_seeds_the_feed_with_a_tombstone_for_a_purged_member(tmp_path: Path) -> None:
    """A store from before the feed: the rebuild records each entity as it is now, and a
    purged member only as a tombstone."""
    clock = ManualClock(START)
    app = Skilltroc(SQLiteStore(tmp_path / "old.db"), clock, policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    gone = app.signup(email_of("gus"), provider="google").member_id
    kept = app.signup(email_of("kay"), provider="google").member_id
    app.deactivate(gone)
    clock.advance(days=CHEAP_POLICY.account_retention_days)
    app.run_due()
    older = before_the_feed(app, tmp_path / "old.db")
    older.rebuild_read_side()
    seeded = {(c.topic, c.entity_id): c.record for c in older.changes(limit=100).items}
    assert seeded[("profile", gone)] is None
    assert isinstance(seeded[("profile", kept)], PublicProfile)
    older.store.close()
