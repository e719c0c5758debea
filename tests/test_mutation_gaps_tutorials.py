"""What mutation testing of ``service/tutorials.py`` found untested (issue 20): the
stores' own refusal of a second live tutorial or history of one video (what stops two
processes that both checked before either committed), and the purge of a video history
a store of an earlier version kept outside the publisher's index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.tutorials import TUTORIALS, VIDEO_HISTORIES
from skilltroc_core.testing import TEST_SECRET_KEY

from .members_support import CHEAP_POLICY, START, email_of, make_world, signup_confirmed


@pytest.mark.rule("TUTO-2")
def test_the_store_keeps_one_live_tutorial_and_one_history_per_video() -> None:
    """The command refuses a second live tutorial of a video; the store refuses it too,
    so that two units of work that both checked before either committed cannot both
    write one, nor two histories of one video."""
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    first = app.publish_tutorial(ann, title="Knots", domain="sailing", rights_attested=True,
                                 upload="uploads/knots.mp4")
    uow = world.store.begin()
    try:
        tutorial = uow.get(TUTORIALS, first)
        assert tutorial is not None
        history = uow.get(VIDEO_HISTORIES, tutorial.history)
        assert history is not None
        with pytest.raises(SkilltrocError) as twice:
            uow.put(TUTORIALS, "tuto_twin", attrs.evolve(tutorial, id="tuto_twin"))
        assert twice.value.code == "already_exists"
        with pytest.raises(SkilltrocError) as again:
            uow.put(VIDEO_HISTORIES, "vh_twin", attrs.evolve(history, id="vh_twin"))
        assert again.value.code == "already_exists"
    finally:
        uow.rollback()


@pytest.mark.rule("TUTO-2", "ACC-7")
def test_a_purge_erases_the_video_of_a_history_missing_from_the_publisher_index(
    tmp_path: Path,
) -> None:
    """A store written before histories were indexed by publisher holds histories the
    index does not list: the purge finds them through the tutorials and erases their
    video reference all the same."""
    clock = ManualClock(START)
    app = Skilltroc(SQLiteStore(tmp_path / "s.db"), clock, policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    kim = app.signup(email_of("kim"), provider="google").member_id
    tutorial = app.publish_tutorial(kim, title="Knots", domain="sailing",
                                    rights_attested=True, upload="uploads/kim-knots.mp4")
    history = app.tutorial(tutorial).history
    app.store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:  # what that version wrote
        dropped = db.execute("DELETE FROM entity_keys WHERE kind = ? AND idx = ?",
                             (VIDEO_HISTORIES.name, "publisher")).rowcount
    assert dropped == 1
    app = Skilltroc(SQLiteStore(tmp_path / "s.db"), clock, policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    app.deactivate(kim)
    clock.advance(days=CHEAP_POLICY.account_retention_days)
    assert app.run_due() == 1
    with app.query() as tx:
        kept = tx.get(VIDEO_HISTORIES, history)
    assert kept is not None and kept.video == ""
    app.store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"kim-knots" not in raw


@pytest.mark.rule("TUTO-1", "AD-7")
def test_the_catalogue_lists_published_tutorials_only_in_either_order() -> None:
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    kept, deleted = (app.publish_tutorial(ann, title=title, domain="sailing",
                                          rights_attested=True, upload=f"uploads/{title}.mp4")
                     for title in ("knots", "sails"))
    app.delete_tutorial(ann, deleted)
    for order in ("newest", "most_viewed"):
        listed = app.tutorials(domain="sailing", order=order).items
        assert [card.tutorial_id for card in listed] == [kept]
    assert [card.tutorial_id for card in app.tutorials().items] == [kept]
