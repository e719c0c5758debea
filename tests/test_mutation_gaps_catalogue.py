"""What mutation testing of ``service/catalogue.py`` found untested (issue 20): the length
bounds of the catalogue's texts (a filter, a search, a name prefix), which filters leave
tutorials out of a search, a search page filled exactly or one short, a start range
whose ends meet, and a rebuild seeding the feed of a store whose sessions have no card
any more."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import InvalidInputError
from skilltroc_core.ports import Store
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY

from .ads_support import professional
from .members_support import CHEAP_POLICY, START, before_the_feed

LYON = "Lyon"


def _world(store: Store | None = None) -> tuple[Skilltroc, ManualClock, str]:
    """A service with a professional, ``org``, who runs a face-to-face bread workshop in
    Lyon (cost 2) and published a bread tutorial."""
    clock = ManualClock(START)
    app = Skilltroc(store if store is not None else MemoryStore(), clock, policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    org = professional(app, "org", 20)
    app.create_workshop(org, title="Bread basics", description="Sourdough", domain="Cooking",
                        cost=2, capacity=4, mode="face_to_face", locality=LYON)
    clock.advance(timedelta(minutes=1))
    app.publish_tutorial(org, title="Bread shaping", domain="Cooking", rights_attested=True,
                         upload="uploads/bread.mp4")
    return app, clock, org


def _refused(call: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as refused:
        call()
    return refused.value


# ---------------------------------------------------------------------- text bounds
@pytest.mark.rule("AD-7")
def test_a_filter_text_holds_at_most_200_characters() -> None:
    app, _, _ = _world()
    assert app.workshops(domain="x" * 200).items == ()
    assert _refused(lambda: app.workshops(domain="x" * 201)).reason == "filter_text_invalid"


@pytest.mark.rule("AD-7")
def test_a_search_is_text_of_at_most_200_characters() -> None:
    app, _, _ = _world()
    assert app.search("bread " + "x" * 194).items == ()
    for wrong in ("bread " + "x" * 195, 5, None):
        refused = _refused(lambda wrong=wrong: app.search(wrong))
        assert (refused.reason, refused.facts["limit"]) == ("search_too_long", 200)


@pytest.mark.rule("SOCIAL-1")
def test_a_name_prefix_is_text_with_a_letter_of_at_most_100_characters() -> None:
    app, _, _ = _world()
    assert app.find_members("a" * 100).items == ()
    for wrong in ("a" * 101, "   ", "", 5):
        refused = _refused(lambda wrong=wrong: app.find_members(wrong))
        assert (refused.reason, refused.facts["limit"]) == ("name_prefix_invalid", 100)


# ---------------------------------------------------------------------- search
@pytest.mark.rule("AD-7", "TUTO-1")
def test_a_filter_a_tutorial_cannot_meet_leaves_tutorials_out_of_a_search() -> None:
    app, _, _ = _world()

    def kinds_found(**filters: Any) -> list[str]:
        return sorted(type(card).__name__ for card in app.search("bread", **filters).items)

    assert kinds_found() == ["TutorialCard", "WorkshopCard"]
    assert kinds_found(domain="cooking") == ["TutorialCard", "WorkshopCard"]
    assert kinds_found(mode="face_to_face") == ["WorkshopCard"]
    assert kinds_found(locality="lyon") == ["WorkshopCard"]
    assert kinds_found(max_cost=2) == ["WorkshopCard"]
    assert kinds_found(max_cost=1) == []


@pytest.mark.rule("AD-7")
def test_a_search_page_filled_exactly_has_no_next_and_one_short_has_one() -> None:
    app, clock, org = _world()
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        app.create_workshop(org, title=f"Bread {n}", description="Rye", domain="Cooking",
                            cost=2, capacity=4)
    exact = app.search("bread", mode="online", limit=3)  # the three online workshops
    assert len(exact.items) == 3 and exact.next is None
    short = app.search("bread", mode="online", limit=2)
    assert len(short.items) == 2 and short.next is not None
    page = app.search("bread", limit=3)  # 4 workshops and a tutorial
    assert len(page.items) == 3 and page.next is not None
    rest = app.search("bread", limit=3, after=page.next)
    assert len(rest.items) == 2 and rest.next is None


# ---------------------------------------------------------------------- upcoming sessions
@pytest.mark.rule("AD-7", "BOOK-2")
def test_a_start_range_is_from_inclusive_to_before_exclusive_and_never_empty() -> None:
    app, clock, org = _world()
    workshop = app.workshops().items[0].workshop.workshop_id
    day = clock.now() + timedelta(days=1)
    sessions = [app.plan_session(org, workshop, day + timedelta(hours=h)) for h in (0, 2, 4)]
    found = app.upcoming_sessions(starts_from=day, starts_before=day + timedelta(hours=4))
    assert [card.session_id for card in found.items] == sessions[:2]
    assert _refused(lambda: app.upcoming_sessions(
        starts_from=day, starts_before=day)).reason == "start_range_empty"


# ---------------------------------------------------------------------- rebuild
@pytest.mark.rule("AD-7", "BOOK-9")
def test_a_rebuild_seeds_the_feed_past_sessions_that_have_no_card(tmp_path: Path) -> None:
    """A store from before the feed holding a cancelled session (out of the catalogue: no
    card): the rebuild records the planned one and goes past it."""
    app, clock, org = _world(SQLiteStore(tmp_path / "old.db"))
    workshop = app.workshops().items[0].workshop.workshop_id
    kept = app.plan_session(org, workshop, clock.now() + timedelta(days=2))
    gone = app.plan_session(org, workshop, clock.now() + timedelta(days=3))
    app.cancel_session(org, gone)
    older = before_the_feed(app, tmp_path / "old.db")
    older.rebuild_read_side()
    seeded = {(c.topic, c.entity_id) for c in older.changes(limit=100).items}
    assert ("session", kept) in seeded and ("session", gone) not in seeded
    refused = _refused(lambda: older.rebuild_read_side(batch=10_001))
    assert refused.facts["limit"] == 10_000
    older.store.close()


@pytest.mark.rule("AD-7", "TUTO-1")
def test_a_search_finding_only_tutorials_tells_a_next_page() -> None:
    app, clock, org = _world()
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        app.publish_tutorial(org, title=f"Knots {n}", domain="Sailing", rights_attested=True,
                             upload=f"uploads/knots{n}.mp4")
    first = app.search("knots", limit=2)
    assert len(first.items) == 2 and first.next is not None
    last = app.search("knots", limit=2, after=first.next)
    assert len(last.items) == 1 and last.next is None


@pytest.mark.rule("SOCIAL-1")
def test_a_page_of_members_is_full_and_tells_a_next_page() -> None:
    app, _, _ = _world()
    for n, name in enumerate(("Anna", "Annie", "Anne")):
        app.signup(f"named{n}@example.org", provider="google", display_name=name)
    first = app.find_members("ann", limit=2)
    assert [card.display_name for card in first.items] == ["Anna", "Anne"]
    assert first.next is not None
    rest = app.find_members("ann", limit=2, after=first.next)
    assert [card.display_name for card in rest.items] == ["Annie"] and rest.next is None


@pytest.mark.rule("AD-7")
def test_a_feed_page_filled_exactly_by_the_last_changes_has_no_next() -> None:
    app, _, _ = _world()
    every = app.changes(limit=100).items
    assert len(every) >= 3
    exact = app.changes(limit=len(every))
    assert len(exact.items) == len(every) and exact.next is None
    short = app.changes(limit=len(every) - 1)
    assert short.next == short.items[-1].position


@pytest.mark.rule("AD-7")
def test_a_rebuild_takes_batches_of_1_to_10000() -> None:
    app, _, _ = _world()
    assert app.rebuild_read_side(batch=10_000) == app.rebuild_read_side(batch=1) > 0
    for wrong in (0, 10_001):
        assert _refused(lambda wrong=wrong: app.rebuild_read_side(batch=wrong)
                        ).reason == "rebuild_batch_invalid"


@pytest.mark.rule("AD-7")
@pytest.mark.parametrize("accent", ["\u0301", " \u0301\u0300 "], ids=["acute", "two"])
def test_a_filter_of_accents_alone_is_refused_not_read_as_no_locality(accent: str) -> None:
    """Folded, such a filter is empty: it matched every workshop without a locality, and
    let tutorials into a search filtered by locality (found by a review of the equivalent
    mutants of allow_tutorials)."""
    app, _, _ = _world()
    for call in (lambda: app.search("bread", locality=accent),
                 lambda: app.upcoming_sessions(locality=accent),
                 lambda: app.workshops(domain=accent)):
        refused = _refused(call)
        assert (refused.reason, refused.rule) == ("filter_text_only_accents", "AD-7")
    assert [type(card).__name__ for card in app.search("bread", locality="lyon").items] == [
        "WorkshopCard"]
