"""What mutation testing of ``service/read_side.py`` found untested (issue 20): the change
feed records a campaign again whichever one of its public fields an edit changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from skilltroc_core.listings import PublicCampaign

from .ads_support import launch, professional
from .members_support import make_world


@pytest.mark.rule("AD-5", "AD-7")
def test_an_edit_of_any_one_public_field_of_a_campaign_is_in_the_feed() -> None:
    world = make_world()
    app = world.service
    owner = professional(app, "shop", 50)
    start = world.clock.now() + timedelta(days=2)
    campaign = launch(app, owner, start=start)
    position = app.changes(limit=100).items[-1].position
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
        [change] = app.changes(after=position, limit=100).items
        assert change.entity_id == campaign, field
        assert isinstance(change.record, PublicCampaign), field
        assert getattr(change.record, field) == shown, field
        position = change.position
