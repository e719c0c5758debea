"""Contacts, follows and the feed (SOCIAL-1..3), and how deactivation hides a member
from them (ACC-7)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from skilltroc_core.errors import SkilltrocError
from skilltroc_core.listings import Page
from skilltroc_core.service import ContactMatch
from skilltroc_core.social import FeedMessage
from skilltroc_core.testing import state_of

from .members_support import (
    World,
    email_of,
    make_world,
    notices,
    signup_confirmed,
    signup_pending,
    signup_provider,
)


@pytest.fixture
def world() -> Iterator[World]:
    built = make_world()
    yield built
    built.service.check_invariants(deep=True)


def _refused(world: World, call: object, code: str, rule: str | None) -> None:
    assert callable(call)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        call()
    assert info.value.code == code
    assert info.value.rule == rule
    assert state_of(world.store) == before


# --- SOCIAL-1: contacts and follows -------------------------------------------------------


@pytest.mark.rule("SOCIAL-1")
def test_importing_contacts_finds_only_the_active_members_among_them(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    carol = signup_provider(service, "carol")
    service.update_profile(carol, display_name="Carol C.")
    signup_pending(service, "dave")
    eve = signup_confirmed(service, "eve")
    service.deactivate(eve)
    service.follow(alice, carol)
    before = state_of(world.store)
    found = service.import_contacts(alice, [
        "CAROL@example.org", email_of("zoe"), email_of("bob"), email_of("dave"),
        email_of("eve"), email_of("alice"), " carol@example.org ",
    ])
    assert found == [
        ContactMatch(email=email_of("carol"), member_id=carol, display_name="Carol C.",
                     followed=True),
        ContactMatch(email=email_of("bob"), member_id=bob, display_name="bob", followed=False),
    ]
    assert state_of(world.store) == before  # importing finds; it stores nothing
    assert service.import_contacts(alice, []) == []


@pytest.mark.rule("SOCIAL-1", "SOCIAL-2")
def test_a_member_follows_and_unfollows_any_other_member(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    carol = signup_provider(service, "carol", kind="professional", category="brand")
    service.follow(alice, bob)  # no import needed
    service.follow(alice, carol)
    service.follow(alice, bob)  # twice changes nothing
    assert service.following(alice) == [bob, carol]
    assert service.followers(bob) == [alice]
    assert service.followers(alice) == []
    service.unfollow(alice, bob)
    service.unfollow(alice, bob)  # not following already changes nothing
    assert service.following(alice) == [carol]
    assert service.followers(bob) == []
    assert service.import_contacts(alice, [email_of("bob")])[0].followed is False
    # Balances never move with follows.
    assert [service.balance(m).available for m in (alice, bob, carol)] == [10, 10, 10]


@pytest.mark.rule("SOCIAL-1")
def test_nobody_follows_themselves_an_unknown_or_unconfirmed_member(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    dave, _ = signup_pending(service, "dave")
    _refused(world, lambda: service.follow(alice, alice), "not_allowed", "SOCIAL-1")
    _refused(world, lambda: service.follow(alice, "mem_999999"), "not_found", "ACC-1")
    _refused(world, lambda: service.follow(alice, dave), "not_found", "ACC-1")
    assert service.following(alice) == []


# --- SOCIAL-2: who follows me -------------------------------------------------------------


@pytest.mark.rule("SOCIAL-2")
def test_a_member_sees_who_follows_them_oldest_first(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    fans = [signup_provider(service, f"fan{i}") for i in range(4)]
    for fan in reversed(fans):
        service.follow(fan, alice)
    assert service.followers(alice) == list(reversed(fans))
    assert service.profile(alice).followers == 4
    service.unfollow(fans[0], alice)
    assert service.followers(alice) == list(reversed(fans[1:]))
    assert service.profile(alice).followers == 3
    for fan in fans[1:]:
        assert service.following(fan) == [alice]


# --- SOCIAL-3: the feed -------------------------------------------------------------------


@pytest.mark.rule("SOCIAL-3")
def test_posting_a_message_notifies_every_follower(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    carol = signup_provider(service, "carol")
    dan = signup_provider(service, "dan")
    service.follow(bob, alice)
    service.follow(carol, alice)
    service.follow(alice, dan)  # alice follows dan: she is not told of her own posts
    notices(service)
    message = service.post_message(alice, "  Knitting tonight at 8  ")
    [notice] = notices(service)
    assert (notice.event, notice.rule) == ("MessagePosted", "SOCIAL-3")
    assert notice.recipients == (bob, carol)
    assert notice.emails == ()
    assert notice.facts_map == {"message": message, "author": alice}
    assert [m.text for m in service.feed(bob).items] == ["Knitting tonight at 8"]
    stored = world.store._entities["feed_message"][message]
    assert (stored.author, stored.text) == (alice, "Knitting tonight at 8")

    service.unfollow(carol, alice)
    service.post_message(alice, "Cancelled, sorry")
    [notice] = notices(service)
    assert notice.recipients == (bob,)
    service.post_message(bob, "Nobody follows me")  # nobody to tell: no notice
    assert notices(service) == []


@pytest.mark.rule("SOCIAL-3", "ACC-7")
def test_followers_read_the_messages_of_those_they_follow_newest_first(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    carol = signup_provider(service, "carol")
    service.follow(bob, alice)
    service.follow(bob, carol)
    first = service.post_message(alice, "Knitting tonight")
    world.advance(timedelta(hours=1))
    second = service.post_message(carol, "Bread on Sunday")
    world.advance(timedelta(hours=1))
    third = service.post_message(alice, "Bring needles")
    service.post_message(bob, "Not in my own feed")
    notices(service)
    before = state_of(world.store)
    assert [m.id for m in service.feed(bob).items] == [third, second, first]
    assert [m.id for m in service.feed(bob, limit=2).items] == [third, second]
    assert [(m.id, m.text) for m in service.messages(alice).items] == [
        (third, "Bring needles"), (first, "Knitting tonight")]
    assert service.feed(alice).items == ()  # she follows nobody
    assert state_of(world.store) == before and notices(service) == []
    service.deactivate(carol)  # hidden while deactivated, back on reactivation
    assert [m.id for m in service.feed(bob).items] == [third, first]
    _refused(world, lambda: service.messages(carol), "not_found", "ACC-1")
    service.reactivate(carol)
    assert [m.id for m in service.feed(bob).items] == [third, second, first]
    bad_limits: list[Any] = [0, 101, "10"]
    for bad in bad_limits:
        _refused(world, partial(service.feed, bob, limit=bad), "invalid_input", "SOCIAL-3")


@pytest.mark.rule("SOCIAL-3", "ACC-7")
def test_every_page_of_a_long_feed_is_reached_through_cursors(world: World) -> None:
    """Messages and feed pages walk the whole history, newest first, whatever its length;
    a cursor stays valid while messages come and go, and a purge erases them all."""
    service = world.service
    alice = signup_confirmed(service, "alice")
    carol = signup_confirmed(service, "carol")
    bob = signup_confirmed(service, "bob")
    service.follow(bob, alice)
    service.follow(bob, carol)
    page = service.policy.feed_page_size
    posted = []
    for i in range(page + 5):
        world.advance(timedelta(minutes=1))
        posted.append(service.post_message(alice if i % 3 else carol, f"note {i}"))
    newest = list(reversed(posted))

    def walk(read: Callable[..., Page[FeedMessage]], size: int) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            got = read(after=cursor, limit=size)
            seen += [m.id for m in got.items]
            if got.next is None:
                return seen
            assert len(got.items) == size
            cursor = got.next

    assert [m.id for m in service.messages(alice).items] == [
        m for m in newest if m not in posted[::3]][:page]  # a whole page by default
    for size in (1, 7, page):
        assert walk(partial(service.feed, bob), size) == newest
        assert walk(partial(service.messages, carol), size) == posted[::3][::-1]
    first = service.feed(bob, limit=4)
    world.advance(timedelta(minutes=1))
    service.post_message(alice, "newer: before the cursor, not in the next pages")
    rest = service.feed(bob, after=first.next, limit=page).items
    assert [m.id for m in (*first.items, *rest)] == newest[:4 + page]
    assert first.next is not None
    _refused(world, lambda: service.feed(bob, after=first.next[:-2]), "invalid_input",
             "SOCIAL-3")
    _refused(world, lambda: service.messages(alice, after=first.next), "invalid_input",
             "SOCIAL-3")  # a cursor of bob's feed
    service.deactivate(alice)
    world.advance(days=15)
    service.run_due()  # ACC-7: the purge erases her messages
    assert walk(partial(service.feed, bob), 5) == posted[::3][::-1]


@pytest.mark.rule("SOCIAL-3")
@pytest.mark.parametrize("text", ["", "   ", "m" * 1001])
def test_an_empty_or_oversized_message_is_refused(world: World, text: str) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    _refused(world, lambda: service.post_message(alice, text), "invalid_input", "SOCIAL-3")
    service.post_message(alice, "m" * 1000)  # at the limit is fine


# --- ACC-7: a deactivated member is hidden ------------------------------------------------


@pytest.mark.rule("ACC-7", "SOCIAL-1")
def test_a_deactivated_member_cannot_be_followed_or_found(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    service.deactivate(bob)
    _refused(world, lambda: service.follow(alice, bob), "not_found", "ACC-1")
    assert service.import_contacts(alice, [email_of("bob")]) == []
    with pytest.raises(SkilltrocError) as info:
        service.profile(bob)
    assert info.value.code == "not_found"
    service.reactivate(bob)
    service.follow(alice, bob)
    assert service.followers(bob) == [alice]


@pytest.mark.rule("ACC-7", "SOCIAL-2")
def test_regression_follower_lists_hide_deactivated_members(world: World) -> None:
    """A deactivated account is hidden (ACC-7): it once still showed in the followers
    and following lists (and the follower count) of the members it followed."""
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    carol = signup_confirmed(service, "carol")
    service.follow(bob, alice)
    service.follow(carol, alice)
    service.follow(alice, bob)
    service.deactivate(bob)
    assert service.followers(alice) == [carol]
    assert service.following(alice) == []
    assert service.profile(alice).followers == 1
    service.reactivate(bob)  # reactivation restores everything
    assert service.followers(alice) == [bob, carol]
    assert service.following(alice) == [bob]
    assert service.profile(alice).followers == 2


@pytest.mark.rule("ACC-7", "SOCIAL-3")
def test_a_purged_member_leaves_no_follow_and_no_feed_message(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    service.follow(alice, bob)
    service.follow(bob, alice)
    service.post_message(alice, "bye")
    service.post_message(bob, "hello")
    service.deactivate(alice)
    world.advance(days=15)
    service.run_due()
    assert service.followers(bob) == []
    assert service.following(bob) == []
    assert [m.author for m in world.store._entities["feed_message"].values()] == [bob]
    assert world.store._entities["follow"] == {}
    notices(service)
    service.post_message(bob, "anyone?")
    assert notices(service) == []
