"""Ad campaigns (AD-1..9): set-up, budget, edits, no deletion, serving, progress, the end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from skilltroc_core.ads import Campaign, CampaignState, check_link, check_text, skill_domain
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import TransferKind
from skilltroc_core.ports import Timer
from skilltroc_core.service import kinds
from skilltroc_core.service.ads import CAMPAIGN_START
from skilltroc_core.testing import state_of

from .ads_support import code, launch, member_with, professional, statement_kinds
from .members_support import CHEAP_POLICY, World, make_world, notices

#: 1 star buys 1 impression in most tests here, so goals are reached in a few serves.
SMALL = attrs.evolve(CHEAP_POLICY, impressions_per_ad_star=1)


@pytest.fixture
def world() -> Iterator[World]:
    built = make_world()
    yield built
    built.service.check_invariants(deep=True)
    built.service.check_ad_queues()


@pytest.fixture
def small() -> Iterator[World]:
    built = make_world(policy=SMALL)
    yield built
    built.service.check_invariants(deep=True)
    built.service.check_ad_queues()


def _later(world: World, hours: float = 1) -> datetime:
    return world.clock.now() + timedelta(hours=hours)


def _serve_all(world: World, domain: str, count: int, tag: str = "pv") -> list[str | None]:
    shown = []
    for i in range(count):
        campaign = world.service.serve(domain, f"{tag}-{domain}-{i}")
        shown.append(campaign.id if campaign else None)
    return shown


# --- AD-1: professionals with a complete profile ------------------------------------------------


@pytest.mark.rule("AD-1")
def test_individuals_cannot_launch_campaigns(world: World) -> None:
    ann = member_with(world.service, "ann", 50)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        launch(world.service, ann, start=_later(world))
    assert code(refused) == ("professionals_only", "AD-1")
    assert state_of(world.store) == before


@pytest.mark.rule("AD-1", "PROF-6")
def test_a_professional_needs_a_complete_profile(world: World) -> None:
    shop = professional(world.service, "shop", 50, complete=False)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        launch(world.service, shop, start=_later(world))
    assert code(refused) == ("profile_incomplete", "PROF-6")
    assert "photo" in str(refused.value)
    assert state_of(world.store) == before


# --- AD-2: at least 10 whole stars, 100 impressions each -----------------------------------------


@pytest.mark.rule("AD-2")
@pytest.mark.parametrize("budget", [9, 0, -10, 10.0, 12.5, "10", True, None])
def test_a_budget_is_a_whole_number_of_at_least_ten_stars(world: World, budget: Any) -> None:
    shop = professional(world.service, "shop", 50)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.create_campaign(shop, budget=budget, visual="ad.png",
                                      visual_rights_free=True, text="Hi",
                                      start=_later(world), domains=["cooking"])
    assert code(refused) == ("invalid_campaign_budget", "AD-2")
    assert state_of(world.store) == before


@pytest.mark.rule("AD-2")
def test_the_goal_is_one_hundred_impressions_per_star(world: World) -> None:
    shop = professional(world.service, "shop", 50)
    ten = launch(world.service, shop, start=_later(world), budget=10)
    more = launch(world.service, shop, start=_later(world), budget=25)
    assert world.service.campaign_progress(shop, ten).goal == 1_000
    assert world.service.campaign_progress(shop, more).goal == 2_500


# --- AD-3: creative, link, start, domains ---------------------------------------------------------


@pytest.mark.rule("AD-3")
def test_the_visual_must_be_attested_rights_free(world: World) -> None:
    shop = professional(world.service, "shop", 50)
    before = state_of(world.store)
    for attested in (False, None, "yes"):
        with pytest.raises(SkilltrocError) as refused:
            world.service.create_campaign(shop, budget=10, visual="ad.png",
                                          visual_rights_free=attested,  # type: ignore[arg-type]
                                          text="Hi", start=_later(world), domains=["cooking"])
        assert code(refused) == ("visual_not_rights_free", "AD-3")
    assert state_of(world.store) == before


@pytest.mark.rule("AD-3")
@pytest.mark.parametrize("link", [
    "ftp://example.org/file", "javascript:alert(1)", "example.org", "http://",
    "https://exa mple.org", "mailto:shop@example.org", "https://user:pw@example.org",
    "https://localhost", "https://-bad-.org", "", 42, "https://shop@example.org",
    "https://example.org/a b", "https://example.org/\x01x", "http://[::1",
])
def test_a_link_must_be_an_http_or_https_address(world: World, link: Any) -> None:
    shop = professional(world.service, "shop", 50)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        launch(world.service, shop, start=_later(world), link=link)
    assert code(refused) == ("invalid_link", "AD-3")
    assert state_of(world.store) == before


@pytest.mark.rule("AD-3")
@pytest.mark.parametrize("link", [None, "http://shop.example.org", "https://example.org/#!/shop",
                                  "https://www.facebook.com/shop?ref=ad",
                                  "https://example.org:8443/profile/shop"])
def test_the_link_is_optional_and_may_point_anywhere_on_the_web(
    world: World, link: str | None
) -> None:
    shop = professional(world.service, "shop", 50)
    campaign = launch(world.service, shop, start=_later(world), link=link)
    assert world.service.campaign(campaign).link == link


@pytest.mark.rule("AD-3")
def test_a_campaign_cannot_start_in_the_past(world: World) -> None:
    shop = professional(world.service, "shop", 50)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        launch(world.service, shop, start=world.clock.now() - timedelta(microseconds=1))
    assert code(refused) == ("start_in_past", "AD-3")
    with pytest.raises(SkilltrocError) as refused:
        launch(world.service, shop, start=datetime(2030, 1, 1))  # noqa: DTZ001 - naive on purpose
    assert code(refused) == ("naive_datetime", None)
    assert state_of(world.store) == before


@pytest.mark.rule("AD-3")
@pytest.mark.parametrize(("domains", "expected"), [
    ([], "no_target_domain"), ((), "no_target_domain"), ("cooking", "invalid_input"),
    (["cooking", "  "], "invalid_input"), (None, "invalid_input"),
])
def test_a_campaign_targets_one_or_more_domains(
    world: World, domains: Any, expected: str
) -> None:
    shop = professional(world.service, "shop", 50)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.create_campaign(shop, budget=10, visual="ad.png",
                                      visual_rights_free=True, text="Hi",
                                      start=_later(world), domains=domains)
    assert code(refused) == (expected, "AD-3")
    assert state_of(world.store) == before


@pytest.mark.rule("AD-3")
def test_domains_are_matched_whatever_their_case_and_spacing(small: World) -> None:
    shop = professional(small.service, "shop", 50)
    campaign = launch(small.service, shop, start=small.clock.now(),
                      domains=[" Cooking  Basics", "cooking basics", "Baking"])
    assert small.service.campaign(campaign).domains == ("cooking basics", "baking")
    shown = small.service.serve("COOKING BASICS", "pv-1")
    assert shown is not None and shown.id == campaign


@pytest.mark.rule("AD-3")
@pytest.mark.parametrize("field", ["visual", "text"])
def test_a_campaign_needs_a_visual_and_a_text(world: World, field: str) -> None:
    shop = professional(world.service, "shop", 50)
    arguments: dict[str, Any] = {"visual": "ad.png", "text": "Hi", field: "  "}
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.create_campaign(shop, budget=10, visual_rights_free=True,
                                      start=_later(world), domains=["cooking"], **arguments)
    assert code(refused) == ("invalid_input", "AD-3")
    assert state_of(world.store) == before


@pytest.mark.rule("AD-3")
def test_a_skill_domain_has_at_most_200_characters_once_its_spaces_are_collapsed() -> None:
    assert skill_domain("x" * 200) == "x" * 200
    assert skill_domain(" A  " + "b" * 198 + "  ") == "a " + "b" * 198
    for bad in ("x" * 201, "a " + "b" * 199):
        with pytest.raises(SkilltrocError) as refused:
            skill_domain(bad)
        assert code(refused) == ("invalid_input", "AD-3")


@pytest.mark.rule("AD-3")
def test_a_text_is_kept_trimmed_up_to_its_limit_and_refused_beyond() -> None:
    assert check_text("  " + "t" * 10 + " ", "a campaign text", 10) == "t" * 10
    with pytest.raises(SkilltrocError) as refused:
        check_text("t" * 11, "a campaign text", 10)
    assert code(refused) == ("invalid_input", "AD-3")
    assert str(refused.value).startswith("a campaign text has at most 10 characters")


@pytest.mark.rule("AD-3")
@pytest.mark.parametrize(("field", "limit"), [("visual", 2048), ("text", 1000)])
def test_a_campaign_visual_and_text_have_a_length_limit(
    world: World, field: str, limit: int
) -> None:
    shop = professional(world.service, "shop", 50)
    arguments: dict[str, Any] = {"visual": "ad.png", "text": "Hi"}
    campaign = world.service.create_campaign(
        shop, budget=10, visual_rights_free=True, start=_later(world), domains=["cooking"],
        **{**arguments, field: "v" * limit})
    assert getattr(world.service.campaign(campaign), field) == "v" * limit
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        world.service.create_campaign(
            shop, budget=10, visual_rights_free=True, start=_later(world),
            domains=["cooking"], **{**arguments, field: "v" * (limit + 1)})
    assert code(refused) == ("invalid_input", "AD-3")
    with pytest.raises(SkilltrocError) as refused:
        too_long: dict[str, Any] = {field: "v" * (limit + 1)}
        world.service.edit_campaign(shop, campaign, visual_rights_free=True, **too_long)
    assert code(refused) == ("invalid_input", "AD-3")
    assert state_of(world.store) == before


@pytest.mark.rule("AD-3")
def test_a_refused_link_is_named_by_its_first_200_characters() -> None:
    link = "ftp://" + "x" * 300
    with pytest.raises(SkilltrocError) as refused:
        check_link(link)
    assert refused.value.facts == {"link": link[:200]}


@pytest.mark.rule("AD-3")
def test_the_owner_attests_the_visual_and_the_campaign_keeps_the_attestation(
    world: World,
) -> None:
    shop = professional(world.service, "shop", 50)
    campaign = launch(world.service, shop, start=_later(world))
    assert world.service.campaign(campaign).visual_rights_free is True


@pytest.mark.rule("AD-3")
def test_a_link_has_at_most_2048_characters() -> None:
    base = "https://example.org/"
    longest = base + "p" * (2048 - len(base))
    assert check_link(longest) == longest
    assert check_link(f"  {longest} ") == longest
    with pytest.raises(SkilltrocError) as refused:
        check_link(longest + "p")
    assert code(refused) == ("invalid_link", "AD-3")


@pytest.mark.rule("AD-3")
@pytest.mark.parametrize(("port", "valid"), [
    ("0", False), ("1", True), ("65535", True), ("65536", False), ("99999", False),
    ("-1", False), ("x", False),
])
def test_a_link_port_is_between_1_and_65535(port: str, valid: bool) -> None:
    link = f"https://example.org:{port}/shop"
    if valid:
        assert check_link(link) == link
        return
    with pytest.raises(SkilltrocError) as refused:
        check_link(link)
    assert code(refused) == ("invalid_link", "AD-3")


# --- AD-4: the budget is spent at set-up -----------------------------------------------------


@pytest.mark.rule("AD-4")
def test_the_budget_leaves_the_wallet_as_ad_spend_when_the_campaign_is_set_up(
    world: World,
) -> None:
    service = world.service
    shop = professional(service, "shop", 30)
    campaign = launch(service, shop, start=_later(world, 48), budget=12)
    assert service.balance(shop).available == 18
    assert statement_kinds(service, shop)[-1] == (TransferKind.AD_BUDGET, -12)
    assert service.statement(shop).items[-1].reference == f"campaign:{campaign}"
    assert service.supply().ad_spent == 12


@pytest.mark.rule("AD-4")
def test_a_campaign_needs_the_stars_of_its_budget(world: World) -> None:
    shop = professional(world.service, "shop", 14)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        launch(world.service, shop, start=_later(world), budget=15)
    assert code(refused) == ("insufficient_stars", "AD-4")
    assert refused.value.facts == {"member": shop, "available": 14, "amount": 15}
    assert state_of(world.store) == before


@pytest.mark.rule("AD-4")
def test_a_retried_set_up_with_the_same_key_spends_once(world: World) -> None:
    service = world.service
    shop = professional(service, "shop", 50)
    start = _later(world)
    first = service.create_campaign(shop, budget=10, visual="ad.png", visual_rights_free=True,
                                    text="Hi", start=start, domains=["cooking"], key="k1")
    before = state_of(world.store)
    again = service.create_campaign(shop, budget=10, visual="ad.png", visual_rights_free=True,
                                    text="Hi", start=start, domains=["cooking"], key="k1")
    assert again == first
    assert state_of(world.store) == before
    with pytest.raises(SkilltrocError) as refused:
        service.create_campaign(shop, budget=11, visual="ad.png", visual_rights_free=True,
                                text="Hi", start=start, domains=["cooking"], key="k1")
    assert code(refused) == ("idempotency_conflict", "AD-4")
    assert service.balance(shop).available == 40


# --- AD-5: what can change, and when ---------------------------------------------------------


@pytest.mark.rule("AD-5")
def test_before_the_start_a_budget_change_debits_or_refunds_the_difference(
    world: World,
) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=_later(world), budget=20)
    assert service.edit_campaign(shop, campaign, budget=25).goal == 2_500
    assert service.balance(shop).available == 15
    assert service.edit_campaign(shop, campaign, budget=10).goal == 1_000
    assert service.balance(shop).available == 30
    assert statement_kinds(service, shop)[-3:] == [
        (TransferKind.AD_BUDGET, -20), (TransferKind.AD_BUDGET, -5),
        (TransferKind.AD_BUDGET_REFUND, 15)]
    assert service.supply().ad_spent == 10
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        service.edit_campaign(shop, campaign, budget=9)
    assert code(refused) == ("invalid_campaign_budget", "AD-2")
    with pytest.raises(SkilltrocError) as refused:
        service.edit_campaign(shop, campaign, budget=41)
    assert code(refused) == ("insufficient_stars", "AD-5")
    assert state_of(world.store) == before
    service.edit_campaign(shop, campaign, budget=11)  # one star more, then one less
    assert service.balance(shop).available == 29
    service.edit_campaign(shop, campaign, budget=10)
    assert service.balance(shop).available == 30
    assert statement_kinds(service, shop)[-2:] == [
        (TransferKind.AD_BUDGET, -1), (TransferKind.AD_BUDGET_REFUND, 1)]


@pytest.mark.rule("AD-5")
def test_before_the_start_every_field_can_change(world: World) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=_later(world, 5))
    new_start = _later(world, 10)
    edited = service.edit_campaign(
        shop, campaign, visual="new.png", visual_rights_free=True, text="New text",
        link="https://shop.example.org", start=new_start, domains=["Baking", "Sewing"])
    assert (edited.visual, edited.text, edited.link, edited.start, edited.domains) == (
        "new.png", "New text", "https://shop.example.org", new_start, ("baking", "sewing"))
    assert edited.state is CampaignState.SCHEDULED
    world.advance(timedelta(hours=5))
    assert service.serve("cooking", "pv-1") is None
    assert service.serve("baking", "pv-2") is None  # the start moved to 10 hours
    world.advance(timedelta(hours=5))
    shown = service.serve("sewing", "pv-3")
    assert shown is not None and shown.id == campaign


@pytest.mark.rule("AD-5", "AD-3")
def test_a_start_moved_into_the_past_is_refused_and_moved_to_now_starts_at_once(
    world: World,
) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=_later(world, 5))
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        service.edit_campaign(shop, campaign, start=world.clock.now() - timedelta(seconds=1))
    assert code(refused) == ("start_in_past", "AD-3")
    assert state_of(world.store) == before
    started = service.edit_campaign(shop, campaign, start=world.clock.now())
    assert started.state is CampaignState.RUNNING
    assert [n.event for n in notices(service)][-1] == "CampaignStarted"
    world.advance(timedelta(hours=6))
    assert service.run_due() == 0  # the old start timer was cancelled
    assert notices(service, "CampaignStarted") == []


@pytest.mark.rule("AD-5")
def test_after_the_start_only_the_visual_the_text_and_the_link_can_change(
    world: World,
) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=world.clock.now(), budget=10,
                      domains=["cooking", "baking"], link="https://a.example.org")
    before = state_of(world.store)
    for locked in ({"budget": 20}, {"budget": 10, "start": _later(world)},
                   {"domains": ["cooking"]}, {"text": "ok", "domains": ["sewing"]}):
        with pytest.raises(SkilltrocError) as refused:
            service.edit_campaign(shop, campaign, **locked)
        assert code(refused) == ("campaign_field_locked", "AD-5")
    assert state_of(world.store) == before
    edited = service.edit_campaign(
        shop, campaign, visual="v2.png", visual_rights_free=True, text="Now 20% off",
        link=None, budget=10, domains=["Baking", "cooking"])  # unchanged values are no change
    assert (edited.visual, edited.text, edited.link, edited.budget) == (
        "v2.png", "Now 20% off", None, 10)
    assert edited.domains == ("cooking", "baking")
    assert service.balance(shop).available == 30


@pytest.mark.rule("AD-5", "AD-3")
def test_a_new_visual_needs_the_rights_free_attestation_again(world: World) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=world.clock.now())
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        service.edit_campaign(shop, campaign, visual="other.png")
    assert code(refused) == ("visual_not_rights_free", "AD-3")
    assert state_of(world.store) == before
    assert service.edit_campaign(shop, campaign, text="Same visual").visual == "ad.png"


@pytest.mark.rule("AD-5", "AD-8")
def test_a_completed_campaign_no_longer_changes(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=small.clock.now(), budget=10)
    _serve_all(small, "cooking", 10)
    before = state_of(small.store)
    with pytest.raises(SkilltrocError) as refused:
        service.edit_campaign(shop, campaign, text="Again")
    assert code(refused) == ("state_conflict", "AD-5")
    assert state_of(small.store) == before


@pytest.mark.rule("AD-5")
def test_only_the_owner_edits_a_campaign(world: World) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    rival = professional(service, "rival", 40)
    campaign = launch(service, shop, start=_later(world))
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        service.edit_campaign(rival, campaign, text="Mine")
    assert code(refused) == ("not_allowed", "AD-5")
    with pytest.raises(SkilltrocError) as refused:
        service.campaign_progress(rival, campaign)
    assert code(refused) == ("not_allowed", "AD-8")
    assert state_of(world.store) == before


# --- AD-6: never deleted -------------------------------------------------------------------------


@pytest.mark.rule("AD-6")
def test_a_campaign_can_never_be_deleted(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    scheduled = launch(service, shop, start=_later(small))
    running = launch(service, shop, start=small.clock.now())
    before = state_of(small.store)
    for campaign in (scheduled, running, "ad_unknown"):
        with pytest.raises(SkilltrocError) as refused:
            service.delete_campaign(shop, campaign)
        assert code(refused) == ("campaign_not_deletable", "AD-6")
        assert "never deleted" in str(refused.value)
    assert state_of(small.store) == before


# --- AD-7: shown from the start, furthest behind first --------------------------------------------


@pytest.mark.rule("AD-7")
def test_a_campaign_is_shown_from_its_start_and_its_owner_is_told(world: World) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=_later(world, 2))
    notices(service)
    assert service.serve("cooking", "pv-early") is None
    assert service.campaign_progress(shop, campaign).impressions == 0
    world.advance(timedelta(hours=2))
    assert service.run_due() == 1
    [started] = notices(service, "CampaignStarted")
    assert (started.rule, started.recipients, started.at) == ("AD-7", (shop,),
                                                              world.clock.now())
    assert started.facts_map["campaign"] == campaign
    assert started.facts_map["goal"] == 1_000
    shown = service.serve("cooking", "pv-on-time")
    assert shown is not None and shown.id == campaign
    assert service.serve("sewing", "pv-other-domain") is None


@pytest.mark.rule("AD-7")
def test_a_command_applies_the_start_without_run_due(world: World) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=_later(world, 2))
    world.advance(timedelta(hours=3))
    shown = service.serve("cooking", "pv-1")
    assert shown is not None and shown.id == campaign
    assert shown.started_at == shown.start == world.clock.now() - timedelta(hours=1)


@pytest.mark.rule("AD-7")
def test_the_campaign_furthest_behind_its_goal_in_proportion_goes_first(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 100)
    big = launch(service, shop, start=small.clock.now(), budget=30)
    little = launch(service, shop, start=small.clock.now(), budget=10)
    # Equal fractions (0): the earlier start wins, then the smaller id: big first.
    assert _serve_all(small, "cooking", 4) == [big, little, big, big]
    # big 3/30 = 0.1, little 1/10 = 0.1: a tie again, so big (same start, smaller id);
    # then little (0.1 < 4/30), then big twice (4/30 and 5/30 < 2/10).
    assert _serve_all(small, "cooking", 4, tag="next") == [big, little, big, big]
    progress = {p.campaign_id: p.impressions for p in service.my_campaigns(shop)}
    assert progress == {big: 6, little: 2}


@pytest.mark.rule("AD-7")
def test_on_a_tie_the_earliest_start_goes_first(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 100)
    later = launch(service, shop, start=_later(small, 1))
    earlier = launch(service, shop, start=small.clock.now())
    small.advance(timedelta(hours=1))
    assert later < earlier  # so the id alone would put it first
    assert _serve_all(small, "cooking", 4) == [earlier, later, earlier, later]


@pytest.mark.rule("AD-7")
def test_a_repeated_page_view_counts_nothing_twice(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    first = launch(service, shop, start=small.clock.now())
    second = launch(service, shop, start=small.clock.now())
    shown = service.serve("cooking", "page-1")
    assert shown is not None and shown.id == first
    before = state_of(small.store)
    again = service.serve("Cooking", "page-1")
    assert again is not None and again.id == first
    assert state_of(small.store) == before
    with pytest.raises(SkilltrocError) as refused:
        service.serve("baking", "page-1")
    assert code(refused) == ("idempotency_conflict", "AD-7")
    assert state_of(small.store) == before
    other = service.serve("cooking", "page-2")
    assert other is not None and other.id == second


@pytest.mark.rule("AD-7")
@pytest.mark.parametrize(("domain", "page_view"), [("", "p"), ("cooking", ""),
                                                   ("cooking", "p" * 201), (None, "p")])
def test_a_page_view_needs_a_domain_and_an_id(small: World, domain: Any, page_view: Any) -> None:
    before = state_of(small.store)
    with pytest.raises(SkilltrocError) as refused:
        small.service.serve(domain, page_view)
    assert code(refused) == ("invalid_input", ("AD-3" if not domain else "AD-7"))
    assert state_of(small.store) == before


# --- AD-8: progress, and the end exactly at the goal ----------------------------------------------


@pytest.mark.rule("AD-8")
def test_the_owner_follows_impressions_percent_and_duration(world: World) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=_later(world, 1), budget=12)
    progress = service.campaign_progress(shop, campaign)
    assert (progress.state, progress.impressions, progress.goal, progress.percent,
            progress.duration) == (CampaignState.SCHEDULED, 0, 1_200, 0.0, timedelta(0))
    world.advance(timedelta(hours=1))
    _serve_all(world, "cooking", 25)
    world.advance(timedelta(minutes=90))
    progress = service.campaign_progress(shop, campaign)
    assert (progress.state, progress.impressions, progress.percent, progress.duration) == (
        CampaignState.RUNNING, 25, 2.08, timedelta(minutes=90))
    assert service.my_campaigns(shop) == [progress]


@pytest.mark.rule("AD-8")
def test_a_campaign_stops_exactly_at_its_goal_and_its_owner_is_told_once(
    world: World,
) -> None:
    service = world.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=world.clock.now(), budget=10)
    notices(service)
    world.advance(timedelta(minutes=5))
    shown = _serve_all(world, "cooking", 1_003)
    assert shown.count(campaign) == 1_000
    assert shown[-3:] == [None, None, None]
    progress = service.campaign_progress(shop, campaign)
    assert (progress.state, progress.impressions, progress.percent) == (
        CampaignState.COMPLETED, 1_000, 100.0)
    [ended] = notices(service, "CampaignEnded")
    assert (ended.rule, ended.recipients) == ("AD-8", (shop,))
    assert (ended.fact("impressions"), ended.fact("goal")) == (1_000, 1_000)
    world.advance(days=3)
    assert service.campaign_progress(shop, campaign).duration == timedelta(minutes=5)


@pytest.mark.rule("AD-8", "AD-7")
def test_a_campaign_on_several_domains_stops_exactly_at_its_goal(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=small.clock.now(), budget=11,
                      domains=["cooking", "baking", "sewing"])
    counted = 0
    for i in range(30):
        shown = service.serve(["cooking", "baking", "sewing"][i % 3], f"pv-{i}")
        counted += shown is not None
    assert counted == 11
    assert service.campaign(campaign).impressions == 11
    assert len(notices(service, "CampaignEnded")) == 1


# --- AD-9: the duration depends on traffic --------------------------------------------------------


@pytest.mark.rule("AD-9")
def test_the_duration_depends_on_traffic_and_there_is_no_end_date(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    busy = launch(service, shop, start=small.clock.now(), domains=["cooking"])
    quiet = launch(service, shop, start=small.clock.now(), domains=["knitting"])
    _serve_all(small, "cooking", 10)
    small.advance(days=400)
    assert service.serve("knitting", "pv-late") is not None
    progress = {p.campaign_id: p for p in service.my_campaigns(shop)}
    assert (progress[busy].state, progress[busy].duration) == (CampaignState.COMPLETED,
                                                               timedelta(0))
    assert progress[quiet].state is CampaignState.RUNNING
    assert progress[quiet].duration > timedelta(days=399)


# --- PROF-2: a professional's campaigns and tutorials are attached to their profile -------


@pytest.mark.rule("PROF-2", "TUTO-1", "AD-8")
def test_a_professionals_tutorials_and_campaigns_are_attached_to_their_profile(
    small: World,
) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    rival = professional(service, "rival", 40)
    viewer = member_with(service, "viewer", 10)
    assert (service.profile_stats(shop).tutorials, service.profile_stats(shop).campaigns) == (
        (), ())
    first = service.publish_tutorial(shop, title="Bread", domain="Cooking",
                                     rights_attested=True, upload="videos/bread.mp4")
    second = service.publish_tutorial(shop, title="Buns", domain="Cooking",
                                      rights_attested=True, upload="videos/buns.mp4")
    service.publish_tutorial(rival, title="Cakes", domain="Cooking", rights_attested=True,
                             upload="videos/cakes.mp4")
    service.delete_tutorial(shop, first)
    completed = launch(service, shop, start=small.clock.now())
    scheduled = launch(service, shop, start=small.clock.now() + timedelta(days=3))
    launch(service, rival, start=small.clock.now() + timedelta(days=3))
    _serve_all(small, "cooking", 10)  # 1 impression a star: the running one completes
    assert service.campaign(completed).state is CampaignState.COMPLETED
    notices(service)
    before = state_of(small.store)

    seen = service.profile_stats(shop)

    assert seen.tutorials == (second,)  # the deleted one is no longer attached
    assert seen.campaigns == (completed, scheduled)  # completed ones stay, oldest first
    assert service.profile_stats(viewer).campaigns == service.profile_stats(viewer).tutorials == ()
    assert service.balance(shop) == (20, 0)  # 40 - 2 budgets of 10; reading moves nothing
    assert state_of(small.store) == before and notices(service) == []


# --- ACC-7: a deactivated owner's campaigns are hidden ------------------------------------


@pytest.mark.rule("ACC-7", "AD-7")
def test_a_deactivated_owners_campaigns_are_hidden_until_reactivation(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    rival = professional(service, "rival", 40)
    running = launch(service, shop, start=small.clock.now(), budget=10)
    later = launch(service, shop, start=small.clock.now() + timedelta(days=2), budget=10)
    theirs = launch(service, rival, start=small.clock.now(), budget=20)
    assert _serve_all(small, "cooking", 2) == [running, theirs]
    service.deactivate(shop)
    service.check_ad_queues()
    notices(service)
    assert _serve_all(small, "cooking", 3, tag="hidden") == [theirs] * 3
    small.advance(days=2)  # the scheduled one starts, but hidden with its owner
    service.run_due()
    assert service.campaign(later).state is CampaignState.RUNNING
    service.check_ad_queues()
    assert _serve_all(small, "cooking", 2, tag="still") == [theirs] * 2
    assert [n.event for n in notices(service)] == ["CampaignStarted"]
    assert (service.campaign(running).impressions, service.campaign(later).impressions) == (
        1, 0)
    service.reactivate(shop)  # back where they stood: furthest behind in proportion first
    service.check_ad_queues()
    assert _serve_all(small, "cooking", 3, tag="back") == [later, running, later]
    assert service.balance(shop) == (20, 0) and service.supply().ad_spent == 40


# --- ACC-7: a purged owner's campaigns ------------------------------------------------------------


@pytest.mark.rule("ACC-7", "AD-6")
def test_a_purged_owners_campaigns_stop_and_lose_their_creative_but_stay_recorded(
    small: World,
) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    rival = professional(service, "rival", 40)
    running = launch(service, shop, start=small.clock.now(), domains=["cooking", "baking"],
                     text="Shop's own words", link="https://shop.example.org")
    scheduled = launch(service, shop, start=small.clock.now() + timedelta(days=20))
    theirs = launch(service, rival, start=small.clock.now())
    _serve_all(small, "cooking", 2)
    service.deactivate(shop)
    small.advance(days=15)
    service.run_due()
    for campaign_id in (running, scheduled):
        gone = service.campaign(campaign_id)
        assert (gone.state, gone.text, gone.visual, gone.link) == (
            CampaignState.WITHDRAWN, "", "", None)
    assert service.campaign(running).impressions == 1
    assert _serve_all(small, "cooking", 3, tag="after") == [theirs, theirs, theirs]
    assert service.serve("baking", "after-baking") is None
    small.advance(days=10)
    service.run_due()
    assert service.campaign(scheduled).state is CampaignState.WITHDRAWN
    assert service.supply().ad_spent == 30


WINDOW = timedelta(hours=168)


@pytest.fixture
def bounded() -> Iterator[World]:
    """A platform that bounds storage: page-view ids remembered for 168 hours."""
    built = make_world(policy=attrs.evolve(SMALL, replay_window=WINDOW))
    yield built
    built.service.check_invariants(deep=True)
    built.service.check_ad_queues()


@pytest.mark.rule("AD-7")
def test_by_default_a_page_view_id_is_remembered_for_good(small: World) -> None:
    service = small.service
    shop = professional(service, "shop", 40)
    launch(service, shop, start=small.clock.now())
    service.serve("cooking", "page-1")
    small.advance(days=400)
    assert service.serve("cooking", "page-1").impressions == 1  # type: ignore[union-attr]
    assert service.run_due() == 0 and _kept(small, "page_view:page-1")


@pytest.mark.rule("AD-7")
def test_a_page_view_id_is_remembered_for_the_replay_window_then_forgotten(
        bounded: World) -> None:
    """DECISION (Policy.replay_window, set here to 168 hours): within it the same id gets
    its first answer; after it the id is forgotten, so storage does not grow with
    traffic, and it counts as a new page view."""
    service = bounded.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=bounded.clock.now())
    assert service.serve("cooking", "page-1").id == campaign  # type: ignore[union-attr]
    bounded.advance(WINDOW - timedelta(seconds=1))
    assert service.serve("cooking", "page-1").impressions == 1  # type: ignore[union-attr]
    assert _kept(bounded, "page_view:page-1")
    bounded.advance(timedelta(seconds=1))
    assert service.run_due() == 0  # no deadline: the forgetting is not counted as one
    assert not _kept(bounded, "page_view:page-1")
    again = service.serve("baking", "page-1")  # no longer a conflict: a new page view
    assert again is None
    assert service.serve("cooking", "page-1").impressions == 2  # type: ignore[union-attr]


@pytest.mark.rule("AD-7")
def test_an_expired_id_waiting_for_run_due_is_already_a_new_page_view(bounded: World) -> None:
    service = bounded.service
    shop = professional(service, "shop", 40)
    campaign = launch(service, shop, start=bounded.clock.now())
    service.serve("cooking", "page-1")
    bounded.advance(WINDOW)
    assert _kept(bounded, "page_view:page-1")  # run_due has not run: still stored ...
    assert service.serve("cooking", "page-1").impressions == 2  # type: ignore[union-attr]
    service.run_due()  # ... and remembered again, for a new window: not deleted
    assert _kept(bounded, "page_view:page-1")
    assert service.serve("cooking", "page-1").impressions == 2  # type: ignore[union-attr]
    assert service.campaign(campaign).impressions == 2


def _kept(world: World, key: str) -> bool:
    uow = world.store.begin()
    try:
        return uow.get(kinds.COMMAND_KEYS, key) is not None
    finally:
        uow.rollback()


@pytest.mark.rule("AD-7")
def test_an_id_remembered_again_when_its_window_would_pass_year_9999_is_kept_for_good() -> None:
    world = make_world(start=datetime(9999, 12, 20, tzinfo=UTC),
                       policy=attrs.evolve(SMALL, replay_window=WINDOW))
    service = world.service
    shop = professional(service, "shop", 40)
    launch(service, shop, start=world.clock.now())
    service.serve("cooking", "page-1")
    world.advance(WINDOW)  # forgotten; remembered again, its window would end past 9999
    assert service.serve("cooking", "page-1").impressions == 2  # type: ignore[union-attr]
    world.advance(timedelta(days=3))
    service.run_due()
    assert _kept(world, "page_view:page-1")  # no deletion left behind from the first time
    assert service.serve("cooking", "page-1").impressions == 2  # type: ignore[union-attr]


# --- the campaign value itself --------------------------------------------------------------

AT = datetime(2027, 3, 1, 9, tzinfo=UTC)


def _campaign(**changes: Any) -> Campaign:
    base = Campaign(id="ad-1", owner="shop", budget=10, goal=1_000, visual="v.png", text="Hi",
                    link=None, start=AT, domains=("cooking",), created_at=AT)
    return attrs.evolve(base, **changes)


@pytest.mark.rule("AD-8", "AD-9")
def test_progress_counts_no_time_before_the_start_and_none_before_it_began() -> None:
    scheduled = _campaign()
    assert scheduled.progress(AT + timedelta(days=3)).duration == timedelta(0)
    running = scheduled.started(AT + timedelta(hours=1))
    assert running.progress(AT + timedelta(hours=4)).duration == timedelta(hours=3)
    assert running.progress(AT).duration == timedelta(0)  # asked for before it began


@pytest.mark.rule("AD-8")
def test_progress_is_a_percentage_of_the_goal_rounded_down_and_none_without_a_goal() -> None:
    assert _campaign(impressions=333).progress(AT).percent == 33.3
    assert _campaign(impressions=1, goal=3).progress(AT).percent == 33.33
    assert _campaign(goal=0).progress(AT).percent == 0.0


@pytest.mark.rule("ACC-7", "AD-8")
def test_a_withdrawn_campaign_ends_at_the_purge_unless_it_had_already_ended() -> None:
    purge = AT + timedelta(days=20)
    running = _campaign().started(AT)
    assert running.withdrawn(purge).ended_at == purge
    completed = attrs.evolve(running, goal=1).shown(AT + timedelta(days=1))
    assert completed.state is CampaignState.COMPLETED
    kept = completed.withdrawn(purge)
    assert (kept.state, kept.ended_at, kept.text) == (
        CampaignState.COMPLETED, AT + timedelta(days=1), "")


@pytest.mark.rule("AD-7")
def test_a_page_view_id_has_at_most_200_characters(small: World) -> None:
    shop = professional(small.service, "shop", 50)
    campaign = launch(small.service, shop, start=small.clock.now())
    shown = small.service.serve("cooking", "p" * 200)
    assert shown is not None and shown.id == campaign
    before = state_of(small.store)
    with pytest.raises(SkilltrocError) as refused:
        small.service.serve("cooking", "p" * 201)
    assert code(refused) == ("invalid_input", "AD-7")
    assert state_of(small.store) == before


@pytest.mark.rule("AD-7")
def test_a_start_left_behind_for_a_running_campaign_changes_nothing(small: World) -> None:
    shop = professional(small.service, "shop", 50)
    campaign = launch(small.service, shop, start=small.clock.now())
    before = state_of(small.store)
    uow = small.store.begin()
    uow.schedule(Timer(kind=CAMPAIGN_START, ref=campaign, due=small.clock.now()))
    uow.commit()
    assert small.service.run_due() == 1
    assert state_of(small.store) == before
