"""Tutorials (TUTO-1..5): publishing, editing, deleting, counting views, paying publishers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import TransferKind
from skilltroc_core.ports import EntityKind
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.service.tutorials import TUTORIALS, VIDEO_HISTORIES, VIEWER_MARKS
from skilltroc_core.testing import TEST_SECRET_KEY, state_of
from skilltroc_core.tutorials import (
    TutorialState,
    VideoKind,
    ViewVerdict,
    check_viewer,
    upload_source,
    viewer_mark_id,
    youtube_source,
)

from .ads_support import VIDEO, WATCH, code, professional, statement_kinds
from .members_support import (
    CHEAP_POLICY,
    START,
    World,
    email_of,
    make_world,
    notices,
    signup_confirmed,
)


@pytest.fixture
def world() -> Iterator[World]:
    built = make_world()
    yield built
    built.service.check_invariants(deep=True)


def _publish(world: World, publisher: str, url: str = WATCH, title: str = "Sourdough") -> str:
    return world.service.publish_tutorial(publisher, title=title, domain="Cooking",
                                          rights_attested=True, youtube_url=url)


def _views(world: World, tutorial: str, count: int, prefix: str = "visitor") -> None:
    for i in range(count):
        view = f"{tutorial}-{prefix}-view-{i}"
        assert world.service.record_view(tutorial, f"{prefix}-{i}", view) is ViewVerdict.COUNTED


def _payouts(world: World, member: str) -> int:
    return sum(amount for kind, amount in statement_kinds(world.service, member)
               if kind is TransferKind.TUTORIAL_PAYOUT)


# --- TUTO-1: publishing a YouTube link or an upload ------------------------------------------


@pytest.mark.rule("TUTO-1")
@pytest.mark.parametrize("url", [
    f"https://www.youtube.com/watch?v={VIDEO}",
    f"https://youtube.com/watch?v={VIDEO}&t=42s",
    f"https://m.youtube.com/watch?feature=share&v={VIDEO}",
    f"http://www.youtube.com/watch?v={VIDEO}&list=PL123",
    f"https://youtu.be/{VIDEO}",
    f"https://youtu.be/{VIDEO}?si=abc&t=3",
    f"https://www.youtube.com/shorts/{VIDEO}",
    f"https://www.youtube.com/shorts/{VIDEO}/",
    f"https://www.youtube.com/embed/{VIDEO}?start=10",
    f"https://www.youtube-nocookie.com/embed/{VIDEO}",
    f"  HTTPS://WWW.YOUTUBE.COM/watch?v={VIDEO}  ",
])
def test_every_youtube_link_form_names_the_same_video(world: World, url: str) -> None:
    publisher = signup_confirmed(world.service, "ann")
    tutorial = world.service.tutorial(_publish(world, publisher, url))
    assert tutorial.source.kind is VideoKind.YOUTUBE
    assert tutorial.source.ref == VIDEO
    assert tutorial.source.url == WATCH
    assert tutorial.publisher == publisher
    assert tutorial.domain == "Cooking"


@pytest.mark.rule("TUTO-1")
@pytest.mark.parametrize("url", [
    "https://vimeo.com/123456789",
    "https://www.youtube.com/watch?v=dQw4w9WgXc",  # 10 characters
    "https://www.youtube.com/watch?v=dQw4w9WgXcQQ",  # 12 characters
    "https://www.youtube.com/watch?v=dQw4w9WgXc!",  # a character outside the set
    "https://www.youtube.com/watch?list=PL123",  # no video
    f"https://www.youtube.com/watch?v={VIDEO}&v=aaaaaaaaaaa",  # two videos
    f"https://youtu.be/{VIDEO}/extra",
    f"https://www.youtube.com/channel/{VIDEO}",
    f"https://www.youtube.com/shorts/{VIDEO}/more",
    f"https://youtu.be.evil.example/{VIDEO}",
    f"https://evil.example/watch?v={VIDEO}",
    f"https://user:pw@www.youtube.com/watch?v={VIDEO}",
    f"https://www.youtube.com:8080/watch?v={VIDEO}",
    f"ftp://www.youtube.com/watch?v={VIDEO}",
    f"javascript://www.youtube.com/watch?v={VIDEO}",
    f"www.youtube.com/watch?v={VIDEO}",  # no scheme
    f"https://www.you tube.com/watch?v={VIDEO}",
    f"https://youtu-be.com/{VIDEO}",
    "https://[::1/watch?v=dQw4w9WgXcQ",  # malformed
    f"https://user@www.youtube.com/watch?v={VIDEO}",  # a user without a password
    f"https://www.youtube.com/watch?v=&v={VIDEO}",  # a blank v= beside the video
    f"https://www.youtube.com/watch?v={VIDEO}&x=\x01",  # a control character
    "",
    "not a link",
])
def test_anything_but_a_youtube_video_link_is_refused_and_changes_nothing(
    world: World, url: str
) -> None:
    publisher = signup_confirmed(world.service, "ann")
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        _publish(world, publisher, url)
    assert code(refused) == ("invalid_video", "TUTO-1")
    assert state_of(world.store) == before


@pytest.mark.rule("TUTO-1")
def test_a_link_that_is_not_text_is_refused() -> None:
    with pytest.raises(SkilltrocError) as refused:
        youtube_source(42)
    assert code(refused) == ("invalid_video", "TUTO-1")
    with pytest.raises(SkilltrocError):
        upload_source("  ")


@pytest.mark.rule("TUTO-1")
def test_an_uploaded_video_is_published_by_its_reference(world: World) -> None:
    publisher = signup_confirmed(world.service, "ann")
    tutorial_id = world.service.publish_tutorial(
        publisher, title="Knots", domain="Sailing", rights_attested=True,
        upload="uploads/2027/knots.mp4")
    tutorial = world.service.tutorial(tutorial_id)
    assert (tutorial.source.kind, tutorial.source.ref) == (VideoKind.UPLOAD,
                                                           "uploads/2027/knots.mp4")
    assert tutorial.source.url is None


@pytest.mark.rule("TUTO-1")
@pytest.mark.parametrize("sources", [{}, {"youtube_url": WATCH, "upload": "up/1.mp4"}])
def test_a_tutorial_is_exactly_one_video(world: World, sources: dict[str, str]) -> None:
    publisher = signup_confirmed(world.service, "ann")
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.publish_tutorial(publisher, title="T", domain="D", rights_attested=True,
                                       **sources)
    assert code(refused) == ("invalid_video", "TUTO-1")
    assert state_of(world.store) == before


@pytest.mark.rule("TUTO-1")
@pytest.mark.parametrize(("title", "domain"), [("", "Cooking"), ("Bread", "   "),
                                               ("x" * 161, "Cooking")])
def test_a_tutorial_needs_a_title_and_a_domain(world: World, title: str, domain: str) -> None:
    publisher = signup_confirmed(world.service, "ann")
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.publish_tutorial(publisher, title=title, domain=domain,
                                       rights_attested=True, youtube_url=WATCH)
    assert code(refused) == ("invalid_input", "TUTO-1")
    assert state_of(world.store) == before


@pytest.mark.rule("TUTO-1", "PROF-6")
def test_individuals_publish_and_professionals_need_a_complete_profile(world: World) -> None:
    service = world.service
    individual = signup_confirmed(service, "ann")
    assert service.tutorial(_publish(world, individual)).is_live
    pro = professional(service, "shop", complete=False)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        _publish(world, pro)
    assert code(refused) == ("profile_incomplete", "PROF-6")
    assert state_of(world.store) == before
    service.update_profile(pro, display_name="Shop", description="We sell", photo="s.jpg",
                           locality="Lyon")
    assert service.tutorial(_publish(world, pro)).publisher == pro


@pytest.mark.rule("TUTO-1")
def test_only_the_publisher_edits_or_deletes_a_tutorial(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    bob = signup_confirmed(service, "bob")
    tutorial = _publish(world, ann)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        service.edit_tutorial(bob, tutorial, title="Mine now")
    assert code(refused) == ("not_allowed", "TUTO-1")
    with pytest.raises(SkilltrocError) as refused:
        service.delete_tutorial(bob, tutorial)
    assert code(refused) == ("not_allowed", "TUTO-1")
    assert state_of(world.store) == before
    world.advance(timedelta(days=30))  # "at any time"
    edited = service.edit_tutorial(ann, tutorial, title="Better bread", domain="Baking")
    assert (edited.title, edited.domain, edited.edited_at) == (
        "Better bread", "Baking", world.clock.now())
    service.delete_tutorial(ann, tutorial)
    assert service.tutorial(tutorial).state is TutorialState.DELETED


@pytest.mark.rule("TUTO-1", "TUTO-3")
def test_deletion_is_soft_and_a_deleted_tutorial_can_no_longer_change_or_be_viewed(
    world: World,
) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    _views(world, tutorial, 3)
    service.delete_tutorial(ann, tutorial)
    kept = service.tutorial(tutorial)
    assert (kept.state, kept.views, kept.deleted_at) == (TutorialState.DELETED, 3,
                                                          world.clock.now())
    assert service.my_tutorials(ann) == []
    assert [s.tutorial.id for s in service.my_tutorials(ann, include_deleted=True)] == [
        tutorial]
    before = state_of(world.store)
    for attempt in (lambda: service.edit_tutorial(ann, tutorial, title="Back"),
                    lambda: service.delete_tutorial(ann, tutorial),
                    lambda: service.record_view(tutorial, "visitor-x", "late-view")):
        with pytest.raises(SkilltrocError) as refused:
            attempt()
        assert code(refused) == ("state_conflict", "TUTO-1")
    assert state_of(world.store) == before


@pytest.mark.rule("TUTO-1")
def test_viewing_an_unknown_tutorial_is_refused(world: World) -> None:
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.record_view("tuto_missing", "visitor", "v1")
    assert code(refused) == ("not_found", "TUTO-1")
    assert state_of(world.store) == before


# --- TUTO-2: one star per 100 counted views, each threshold once -----------------------------


@pytest.mark.rule("TUTO-2")
def test_the_hundredth_counted_view_pays_one_star_and_the_publisher_is_told(
    world: World,
) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    notices(service)
    _views(world, tutorial, 99)
    assert service.balance(ann).available == 10
    assert notices(service, "TutorialThresholdPaid") == []
    _views(world, tutorial, 1, prefix="hundredth")
    assert service.balance(ann).available == 11
    [paid] = notices(service, "TutorialThresholdPaid")
    assert (paid.rule, paid.recipients) == ("TUTO-2", (ann,))
    assert paid.facts_map == {"tutorial": tutorial, "views": 100, "stars": 1}
    _views(world, tutorial, 100, prefix="more")
    assert _payouts(world, ann) == 2
    assert [n.fact("views") for n in notices(service, "TutorialThresholdPaid")] == [200]
    assert service.supply().issued_by_kind["tutorial_payout"] == 2


@pytest.mark.rule("TUTO-2")
def test_edits_never_pay_a_threshold_twice(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    _views(world, tutorial, 100)
    service.edit_tutorial(ann, tutorial, title="Renamed", domain="Baking")
    service.edit_tutorial(ann, tutorial, youtube_url=f"https://youtu.be/{VIDEO}")  # same video
    assert _payouts(world, ann) == 1
    other = "abcdefghijk"
    service.edit_tutorial(ann, tutorial, youtube_url=f"https://youtu.be/{other}",
                          rights_attested=True)
    _views(world, tutorial, 99, prefix="on-other")
    assert _payouts(world, ann) == 1  # the other video's own count is 99
    service.edit_tutorial(ann, tutorial, youtube_url=WATCH, rights_attested=True)
    _views(world, tutorial, 99, prefix="back")  # the first video continues from 100
    assert _payouts(world, ann) == 1
    _views(world, tutorial, 1, prefix="last")
    assert _payouts(world, ann) == 2
    [line] = service.my_tutorials(ann)
    assert (line.views, line.stars_earned, line.video_views, line.video_stars) == (
        299, 2, 200, 2)


@pytest.mark.rule("TUTO-2")
def test_delete_and_republish_continues_the_old_count_and_never_re_earns(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    first = _publish(world, ann)
    _views(world, first, 150)
    service.delete_tutorial(ann, first)
    again = _publish(world, ann, f"https://www.youtube.com/shorts/{VIDEO}", title="Again")
    assert again != first
    _views(world, again, 49, prefix="second")
    assert _payouts(world, ann) == 1  # 199 views of this video: the 100 threshold was paid
    _views(world, again, 1, prefix="two-hundredth")
    assert _payouts(world, ann) == 2
    [line] = service.my_tutorials(ann)
    assert (line.tutorial.id, line.views, line.stars_earned, line.video_views,
            line.video_stars) == (again, 50, 1, 200, 2)
    old = [s for s in service.my_tutorials(ann, include_deleted=True) if s.tutorial.id == first]
    assert (old[0].views, old[0].stars_earned) == (150, 1)


@pytest.mark.rule("TUTO-2")
def test_a_publisher_has_one_live_tutorial_per_video(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    _publish(world, ann)
    other = _publish(world, ann, "https://youtu.be/abcdefghijk")
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        _publish(world, ann, f"https://youtu.be/{VIDEO}")
    assert code(refused) == ("already_exists", "TUTO-2")
    with pytest.raises(SkilltrocError) as refused:
        service.edit_tutorial(ann, other, youtube_url=WATCH, rights_attested=True)
    assert code(refused) == ("already_exists", "TUTO-2")
    assert state_of(world.store) == before
    bob = signup_confirmed(service, "bob")  # another publisher has their own count
    assert service.tutorial(_publish(world, bob)).views == 0


@pytest.mark.rule("TUTO-2", "TUTO-4")
def test_a_retried_view_report_never_pays_again(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    _views(world, tutorial, 99)
    assert service.record_view(tutorial, "v-100", "report-100") is ViewVerdict.COUNTED
    before = state_of(world.store)
    for _ in range(3):
        assert service.record_view(tutorial, "v-100", "report-100") is ViewVerdict.COUNTED
    assert state_of(world.store) == before
    assert _payouts(world, ann) == 1


# --- TUTO-3: my tutorials --------------------------------------------------------------------


@pytest.mark.rule("TUTO-3")
def test_my_tutorials_lists_views_and_stars_per_tutorial(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    bread = _publish(world, ann)
    knots = service.publish_tutorial(ann, title="Knots", domain="Sailing",
                                     rights_attested=True, upload="up/knots.mp4")
    _views(world, bread, 120)
    _views(world, knots, 7)
    lines = {line.tutorial.id: line for line in service.my_tutorials(ann)}
    assert (lines[bread].views, lines[bread].stars_earned) == (120, 1)
    assert (lines[knots].views, lines[knots].stars_earned) == (7, 0)
    assert service.my_tutorials(signup_confirmed(service, "bob")) == []


# --- TUTO-4: once per viewer per 24 hours, never the publisher's own ---------------------------


@pytest.mark.rule("TUTO-4")
def test_a_viewer_counts_once_per_24_hours(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    bob = signup_confirmed(service, "bob")
    tutorial = _publish(world, ann)
    assert service.record_view(tutorial, bob, "v1") is ViewVerdict.COUNTED
    world.advance(timedelta(hours=23, minutes=59, seconds=59))
    assert service.record_view(tutorial, bob, "v2") is ViewVerdict.WITHIN_WINDOW
    world.advance(timedelta(seconds=1))  # exactly 24 hours after the counted view
    assert service.record_view(tutorial, bob, "v3") is ViewVerdict.COUNTED
    assert service.record_view(tutorial, "anonymous-7", "v4") is ViewVerdict.COUNTED
    assert service.tutorial(tutorial).views == 3


@pytest.mark.rule("TUTO-4", "TUTO-1")
def test_changing_a_tutorials_video_does_not_restart_a_viewers_24_hours(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED
    world.advance(timedelta(hours=1))
    service.edit_tutorial(ann, tutorial, youtube_url="https://youtu.be/abcdefghijk",
                          rights_attested=True)
    notices(service)
    assert service.record_view(tutorial, "visitor", "v2") is ViewVerdict.WITHIN_WINDOW
    service.edit_tutorial(ann, tutorial, youtube_url=WATCH, rights_attested=True)  # and back
    assert service.record_view(tutorial, "visitor", "v3") is ViewVerdict.WITHIN_WINDOW
    assert service.tutorial(tutorial).views == 1
    assert service.balance(ann) == (10, 0) and notices(service) == []
    world.advance(timedelta(hours=23))  # 24 hours after the counted view
    assert service.record_view(tutorial, "visitor", "v4") is ViewVerdict.COUNTED
    assert service.tutorial(tutorial).views == 2


@pytest.mark.rule("ACC-7", "TUTO-2")
def test_a_deactivated_publishers_tutorials_are_hidden_until_reactivation(
    world: World,
) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED
    service.deactivate(ann)
    notices(service)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        service.record_view(tutorial, "other-visitor", "v2")
    assert code(refused) == ("not_found", "TUTO-1")  # hidden: refused as if unknown
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED  # a replay
    assert state_of(world.store) == before and notices(service) == []
    service.reactivate(ann)
    assert service.record_view(tutorial, "other-visitor", "v2") is ViewVerdict.COUNTED
    assert service.tutorial(tutorial).views == 2
    assert service.balance(ann) == (10, 0)


@pytest.mark.rule("TUTO-4")
def test_the_publishers_own_views_never_count(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    for day in range(3):
        assert service.record_view(tutorial, ann, f"own-{day}") is ViewVerdict.OWN_VIEW
        world.advance(days=1)
    assert service.tutorial(tutorial).views == 0


@pytest.mark.rule("TUTO-4")
def test_a_repeated_view_id_is_ignored_and_cannot_be_reused_elsewhere(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    other = _publish(world, ann, "https://youtu.be/abcdefghijk")
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED
    world.advance(days=2)
    before = state_of(world.store)
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED
    assert state_of(world.store) == before
    with pytest.raises(SkilltrocError) as refused:
        service.record_view(other, "visitor", "v1")
    assert code(refused) == ("idempotency_conflict", "TUTO-4")
    assert state_of(world.store) == before
    assert service.tutorial(tutorial).views == 1


@pytest.mark.rule("TUTO-4")
def test_the_24_hours_span_a_delete_and_republish_of_the_same_video(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    first = _publish(world, ann)
    assert service.record_view(first, "visitor", "v1") is ViewVerdict.COUNTED
    service.delete_tutorial(ann, first)
    again = _publish(world, ann)
    assert service.record_view(again, "visitor", "v2") is ViewVerdict.WITHIN_WINDOW
    world.advance(timedelta(hours=24))
    assert service.record_view(again, "visitor", "v3") is ViewVerdict.COUNTED


@pytest.mark.rule("TUTO-4")
@pytest.mark.parametrize(("viewer", "view_id"), [("", "v1"), ("visitor", ""),
                                                 ("x" * 201, "v1"), (None, "v1")])
def test_a_view_needs_a_viewer_and_a_view_id(world: World, viewer: str, view_id: str) -> None:
    ann = signup_confirmed(world.service, "ann")
    tutorial = _publish(world, ann)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.record_view(tutorial, viewer, view_id)
    assert code(refused) == ("invalid_input", "TUTO-4")
    assert state_of(world.store) == before


# --- TUTO-5: the publisher attests the rights -------------------------------------------------


@pytest.mark.rule("TUTO-5")
def test_publishing_needs_the_rights_attestation(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    before = state_of(world.store)
    for attested in (False, None, "yes"):
        with pytest.raises(SkilltrocError) as refused:
            service.publish_tutorial(ann, title="T", domain="D",
                                     rights_attested=attested,  # type: ignore[arg-type]
                                     youtube_url=WATCH)
        assert code(refused) == ("rights_not_attested", "TUTO-5")
    assert state_of(world.store) == before
    assert service.tutorial(_publish(world, ann)).rights_attested is True


@pytest.mark.rule("TUTO-5")
def test_changing_the_video_needs_the_attestation_again(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        service.edit_tutorial(ann, tutorial, upload="up/other.mp4")
    assert code(refused) == ("rights_not_attested", "TUTO-5")
    assert state_of(world.store) == before
    edited = service.edit_tutorial(ann, tutorial, upload="up/other.mp4", rights_attested=True)
    assert edited.source.key == "upload:up/other.mp4"


# --- ACC-7: a purged publisher's tutorials ------------------------------------------------------


@pytest.mark.rule("ACC-7")
def test_a_purged_publishers_tutorials_are_deleted_and_their_titles_erased(
    world: World,
) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann, title="Ann's secret sourdough")
    _views(world, tutorial, 5)
    service.deactivate(ann)
    world.advance(days=15)
    service.run_due()
    gone = service.tutorial(tutorial)
    assert (gone.state, gone.title, gone.views) == (TutorialState.DELETED, "", 5)
    with pytest.raises(SkilltrocError):
        service.record_view(tutorial, "visitor", "after-purge")


@pytest.mark.rule("TUTO-4")
def test_with_a_replay_window_a_view_id_is_kept_for_it_then_deleted_by_run_due() -> None:
    world = make_world(policy=attrs.evolve(CHEAP_POLICY, replay_window=timedelta(hours=168)))
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED
    key = "tutorial_view:v1"
    world.advance(timedelta(hours=24))
    service.run_due()  # a day later ...
    assert _stored(world, kinds.COMMAND_KEYS, key)  # ... deletes nothing still in force
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED  # replay
    assert service.record_view(tutorial, "visitor", "v2") is ViewVerdict.COUNTED
    world.advance(timedelta(hours=144))
    service.run_due()
    assert not _stored(world, kinds.COMMAND_KEYS, key)
    assert _stored(world, kinds.COMMAND_KEYS, "tutorial_view:v2")
    assert service.tutorial(tutorial).views == 2
    # forgotten, the id is a new report, days after the last counted one: counted
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED
    assert service.tutorial(tutorial).views == 3
    mark = viewer_mark_id(service.tutorial(tutorial).history, "visitor")
    assert _stored(world, VIEWER_MARKS, mark)  # marks are kept: one per viewer and video


def _stored(world: World, kind: EntityKind[Any], entity_id: str) -> bool:
    uow = world.store.begin()
    try:
        return uow.get(kind, entity_id) is not None
    finally:
        uow.rollback()


@pytest.mark.rule("TUTO-4")
def test_by_default_a_view_id_and_the_viewer_marks_are_kept_for_good(world: World) -> None:
    service = world.service
    ann = signup_confirmed(service, "ann")
    tutorial = _publish(world, ann)
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED
    world.advance(days=400)
    service.run_due()
    assert service.record_view(tutorial, "visitor", "v1") is ViewVerdict.COUNTED  # replayed
    assert service.tutorial(tutorial).views == 1
    mark = viewer_mark_id(service.tutorial(tutorial).history, "visitor")
    assert _stored(world, VIEWER_MARKS, mark)


@pytest.mark.rule("TUTO-2", "ACC-7")
@pytest.mark.parametrize("where", ["memory", "sqlite"])
def test_a_video_history_id_spells_no_reference_and_a_purge_erases_every_reference(
    where: str, tmp_path: Path,
) -> None:
    """Payout histories have ids of their own (not the upload's name, which also went
    into ledger keys); the same video published again finds its history whatever the
    host's secret key; a purge erases the reference of every video the member ever
    published, one edited away included."""
    policy = attrs.evolve(CHEAP_POLICY, views_per_tutorial_star=2)

    memory, clock = MemoryStore(), ManualClock(START)

    def app(key: bytes) -> Skilltroc:
        store = memory if where == "memory" else SQLiteStore(tmp_path / "s.db")
        return Skilltroc(store, clock, policy=policy, secret_key=key)

    first_app = app(TEST_SECRET_KEY)
    kim = first_app.signup(email_of("kim"), provider="google").member_id
    first = first_app.publish_tutorial(kim, title="Knots", domain="sailing",
                                       rights_attested=True, upload="uploads/kim-knots.mp4")
    for viewer in ("v1", "v2", "v3"):
        first_app.record_view(first, viewer, f"view-{viewer}")
    history = first_app.tutorial(first).history
    assert "knots" not in history and kim not in history
    first_app.delete_tutorial(kim, first)
    first_app.store.close()

    other = app(b"another host secret key, 32 bytes or more")  # the key plays no part
    again = other.publish_tutorial(kim, title="Knots again", domain="sailing",
                                   rights_attested=True, upload="uploads/kim-knots.mp4")
    assert other.tutorial(again).history == history
    with pytest.raises(SkilltrocError):  # one live tutorial per video (TUTO-2)
        other.publish_tutorial(kim, title="Twice", domain="sailing", rights_attested=True,
                               upload="uploads/kim-knots.mp4")
    other.record_view(again, "v4", "view-v4")  # the 4th counted view: a second star
    assert other.balance(kim).available == CHEAP_POLICY.signup_bonus + 2
    other.edit_tutorial(kim, again, upload="uploads/kim-second.mp4", rights_attested=True)
    other.deactivate(kim)
    clock.advance(days=CHEAP_POLICY.account_retention_days)
    assert other.run_due() >= 1
    with other.query() as tx:
        left = [h for h in tx.find(VIDEO_HISTORIES, "publisher", kim) if h.video]
        tutorials = [tx.get(TUTORIALS, t) for t in (first, again)]
    assert left == [] and all(t is not None and t.source.ref == "" for t in tutorials)
    other.store.close()
    if where == "sqlite":
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert b"kim-knots" not in raw and b"kim-second" not in raw


# --- the limits of what is stored ------------------------------------------------------------


@pytest.mark.rule("TUTO-1")
def test_a_video_link_has_at_most_2048_characters_and_a_refusal_names_200() -> None:
    longest = f"{WATCH}&x=" + "p" * (2048 - len(WATCH) - 3)
    assert len(longest) == 2048
    assert youtube_source(longest) == youtube_source(WATCH)
    with pytest.raises(SkilltrocError) as refused:
        youtube_source(longest + "p")
    assert code(refused) == ("invalid_video", "TUTO-1")
    # named by its first 200 characters, without its query (it may hold a token)
    assert refused.value.facts == {"url": WATCH.split("?")[0]}


@pytest.mark.rule("TUTO-1")
def test_an_upload_reference_has_at_most_500_printable_characters() -> None:
    assert upload_source(" my video.mp4 ").ref == "my video.mp4"
    assert upload_source("v" * 500).ref == "v" * 500
    for bad in ("v" * 501, "clip\x01.mp4", "clip\x1f.mp4"):
        with pytest.raises(SkilltrocError) as refused:
            upload_source(bad)
        assert code(refused) == ("invalid_video", "TUTO-1")


@pytest.mark.rule("TUTO-4")
def test_a_viewer_or_view_id_has_at_most_200_characters() -> None:
    assert check_viewer("v" * 200) == "v" * 200
    with pytest.raises(SkilltrocError) as refused:
        check_viewer("v" * 201, "view id")
    assert code(refused) == ("invalid_input", "TUTO-4")
    assert str(refused.value).startswith("a view id is non-empty text of at most 200")


@pytest.mark.rule("TUTO-2")
@pytest.mark.parametrize(("per_star", "stars"), [(0, 0), (1, 3), (2, 1)])
def test_the_views_per_star_set_by_the_policy_pay_that_often_and_never_when_zero(
    per_star: int, stars: int
) -> None:
    world = make_world(policy=attrs.evolve(CHEAP_POLICY, views_per_tutorial_star=per_star))
    ann = signup_confirmed(world.service, "ann")
    tutorial = _publish(world, ann)
    _views(world, tutorial, 3)
    assert _payouts(world, ann) == stars
    assert world.service.tutorial(tutorial).views == 3
    world.service.check_invariants(deep=True)


@pytest.mark.rule("TUTO-1")
def test_a_tutorial_title_has_at_most_160_characters_when_published_or_edited(
    world: World,
) -> None:
    publisher = signup_confirmed(world.service, "ann")
    tutorial = _publish(world, publisher, title="t" * 160)
    assert world.service.tutorial(tutorial).title == "t" * 160
    world.service.edit_tutorial(publisher, tutorial, title="e" * 160)
    assert world.service.tutorial(tutorial).title == "e" * 160
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.edit_tutorial(publisher, tutorial, title="e" * 161)
    assert code(refused) == ("invalid_input", "TUTO-1")
    assert state_of(world.store) == before
