"""What mutation testing of ``service/feed.py`` found untested (issue 20): every kind of
change this version cannot read is a store error, not whatever the decoding raised; a
record's optional enum is read back as the enum; a campaign that starts while its owner
is deactivated stays out of the feed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from skilltroc_core.accounts import ProCategory
from skilltroc_core.errors import StoreError
from skilltroc_core.listings import PublicProfile
from skilltroc_core.ports import Change
from skilltroc_core.service.feed import read_changes

from .ads_support import launch, professional
from .members_support import make_world


@pytest.mark.parametrize("data", [
    "not JSON",  # ValueError
    '["a list"]',  # TypeError: a record is an object
    '{"a": 1}',  # KeyError: a field this version needs is missing
])
def test_a_change_whose_data_this_version_cannot_read_is_a_store_error(data: str) -> None:
    with pytest.raises(StoreError) as refused:
        read_changes([Change(position="p", topic="workshop", entity_id="x", data=data)])
    assert refused.value.code == "store_error"


@pytest.mark.rule("ACC-3", "PROF-1")
def test_a_profile_read_from_the_feed_has_its_category_as_the_enum() -> None:
    world = make_world()
    shop = professional(world.service, "shop")
    profiles = [c.record for c in world.service.changes(limit=100).items
                if c.entity_id == shop and c.record is not None]
    assert profiles
    for profile in profiles:
        assert isinstance(profile, PublicProfile)
        assert profile.category is ProCategory.COMPANY


@pytest.mark.rule("ACC-7", "AD-3")
def test_a_campaign_that_starts_while_its_owner_is_deactivated_stays_out_of_the_feed() -> None:
    world = make_world()
    app = world.service
    shop = professional(app, "shop", 50)
    campaign = launch(app, shop, start=world.clock.now() + timedelta(days=1))
    app.deactivate(shop)
    position = app.changes(limit=100).items[-1].position
    world.advance(days=2)
    app.run_due()
    assert app.changes(after=position, limit=100).items == ()  # hidden: no record
    app.reactivate(shop)
    [change] = [c for c in app.changes(after=position, limit=100).items
                if c.entity_id == campaign]
    assert change.record is not None and change.record.running  # type: ignore[union-attr]
