"""Properties of serving (AD-5, AD-7, AD-8) and of tutorial payouts (TUTO-2, TUTO-4).

- A stateful machine sets up campaigns, edits them (locked fields or creative), serves
  pages of three domains with page view ids that repeat, and moves the clock. A naive
  model predicts every refusal and which campaign each page shows (a linear scan for the
  one furthest behind its goal); after every step no campaign has one impression beyond
  its goal, the model matches, and every domain's stored heap is sound.
- Fairness: campaigns that start together on one domain never drift apart by more than
  one impression's share of the smallest goal.
- Payouts: a stateful machine reports views (viewers repeating within and across 24
  hours, the publisher's own, retried view ids), edits, deletes and re-publishes the same
  video; the stars paid always equal floor(counted views / views per star).

One star buys one impression here (policy ``impressions_per_ad_star=1``), and the
machine's minimum budget is 2 stars, so goals are reached within a few steps; the order
and the bounds do not depend on that scale.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from skilltroc_core.ads import CampaignState
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import TransferKind
from skilltroc_core.tutorials import ViewVerdict

from .ads_support import WATCH, launch, professional, statement_kinds
from .members_support import CHEAP_POLICY, make_world, signup_confirmed

SMALL = attrs.evolve(CHEAP_POLICY, impressions_per_ad_star=1)
#: The machine's campaigns have goals of 2 to 5 impressions, so they complete often.
TINY = attrs.evolve(SMALL, min_campaign_stars=2)
DOMAINS = ["cooking", "baking", "sewing"]
PICK = st.integers(0, 1_000)
OFFSETS = st.sampled_from([0, 0, 20, 45, 90])  # minutes after now
FUNDS = 100_000


@attrs.define
class ModelCampaign:
    id: str
    budget: int
    start: datetime
    domains: frozenset[str]
    impressions: int = 0

    @property
    def goal(self) -> int:
        return self.budget  # one impression per star in this policy

    @property
    def completed(self) -> bool:
        return self.impressions >= self.goal


class ServingMachine(RuleBasedStateMachine):
    """Serves, edits and clock moves against a naive model of AD-5/7/8."""

    def __init__(self) -> None:
        super().__init__()
        self.world = make_world(policy=TINY)
        self.service = self.world.service
        self.owner = professional(self.service, "shop", FUNDS)
        self.campaigns: dict[str, ModelCampaign] = {}
        self.pages: dict[str, tuple[str, str]] = {}  # page view -> (domain, campaign)
        self.hidden = False  # the owner's account is deactivated (ACC-7)

    def _now(self) -> datetime:
        return self.world.clock.now()

    def _pick(self, pick: int) -> ModelCampaign | None:
        if not self.campaigns:
            return None
        return list(self.campaigns.values())[pick % len(self.campaigns)]

    def _refusal(self, call: object) -> str | None:
        assert callable(call)
        try:
            call()
        except SkilltrocError as exc:
            return exc.code
        return None

    @rule(budget=st.integers(2, 5), offset=OFFSETS,
          domains=st.sets(st.sampled_from(DOMAINS), min_size=1))
    def set_up(self, budget: int, offset: int, domains: set[str]) -> None:
        start = self._now() + timedelta(minutes=offset)
        if self.hidden:
            assert self._refusal(lambda: launch(self.service, self.owner, start=start)) == (
                "account_deactivated")
            return
        campaign = launch(self.service, self.owner, start=start, budget=budget,
                          domains=sorted(domains))
        self.campaigns[campaign] = ModelCampaign(id=campaign, budget=budget, start=start,
                                                 domains=frozenset(domains))

    @rule(pick=PICK, budget=st.integers(1, 6), offset=OFFSETS,
          domains=st.sets(st.sampled_from(DOMAINS), min_size=1))
    def edit_locked_fields(self, pick: int, budget: int, offset: int,
                           domains: set[str]) -> None:
        model = self._pick(pick)
        if model is None:
            return
        start = self._now() + timedelta(minutes=offset)
        started = model.start <= self._now()
        unchanged = (budget, start, frozenset(domains)) == (
            model.budget, model.start, model.domains)
        if budget < TINY.min_campaign_stars:
            expected: str | None = "invalid_campaign_budget"
        elif self.hidden:
            expected = "account_deactivated"
        elif started and model.completed:
            expected = "state_conflict"
        elif started and not unchanged:
            expected = "campaign_field_locked"
        else:
            expected = None
        refused = self._refusal(lambda: self.service.edit_campaign(
            self.owner, model.id, budget=budget, start=start, domains=sorted(domains)))
        assert refused == expected
        if expected is None and not started:
            model.budget, model.start, model.domains = budget, start, frozenset(domains)

    @rule(pick=PICK, text=st.sampled_from(["Hello", "20% off", "New"]))
    def edit_creative(self, pick: int, text: str) -> None:
        model = self._pick(pick)
        if model is None:
            return
        refused = self._refusal(lambda: self.service.edit_campaign(
            self.owner, model.id, text=text, link="https://shop.example.org"))
        assert refused == ("account_deactivated" if self.hidden else
                           "state_conflict" if model.completed else None)

    @rule(domain=st.sampled_from(DOMAINS), page=st.integers(0, 60))
    def serve(self, domain: str, page: int) -> None:
        page_view = f"page-{page}"
        seen = self.pages.get(page_view)
        if seen is not None:
            if seen[0] != domain:
                assert self._refusal(lambda: self.service.serve(domain, page_view)) == (
                    "idempotency_conflict")
                return
            again = self.service.serve(domain, page_view)
            assert again is not None and again.id == seen[1]
            return
        now = self._now()
        eligible = [c for c in self.campaigns.values()  # none while the owner is hidden
                    if c.start <= now and not c.completed and domain in c.domains
                    and not self.hidden]
        expected = min(eligible, key=lambda c: (Fraction(c.impressions, c.goal), c.start, c.id),
                       default=None)
        shown = self.service.serve(domain, page_view)
        assert (shown.id if shown else None) == (expected.id if expected else None)
        if expected is not None:
            expected.impressions += 1
            self.pages[page_view] = (domain, expected.id)

    @rule()
    def deactivate_or_reactivate(self) -> None:
        """ACC-7: the owner's running campaigns leave the queues and come back."""
        if self.hidden:
            self.service.reactivate(self.owner)
        else:
            self.service.deactivate(self.owner)
        self.hidden = not self.hidden

    @rule(minutes=st.sampled_from([0, 5, 30, 60]))
    def move_the_clock(self, minutes: int) -> None:
        self.world.advance(timedelta(minutes=minutes))

    @rule()
    def run_due(self) -> None:
        self.service.run_due()

    @invariant()
    def impressions_never_exceed_the_goal_and_match_the_model(self) -> None:
        now = self._now()
        for progress in self.service.my_campaigns(self.owner):
            model = self.campaigns[progress.campaign_id]
            assert progress.impressions <= progress.goal
            assert (progress.impressions, progress.goal) == (model.impressions, model.goal)
            if model.completed:
                assert progress.state is CampaignState.COMPLETED
            elif model.start <= now:
                assert progress.state is CampaignState.RUNNING
            else:
                assert progress.state is CampaignState.SCHEDULED
        spent = sum(c.budget for c in self.campaigns.values())
        assert self.service.balance(self.owner).available == FUNDS - spent

    @invariant()
    def the_stores_heaps_and_ledger_are_sound(self) -> None:
        self.service.check_ad_queues()
        self.service.check_invariants()


TestServing = pytest.mark.rule("AD-5", "AD-7", "AD-8", "ACC-7")(ServingMachine.TestCase)


@pytest.mark.rule("AD-7")
@given(budgets=st.lists(st.integers(10, 40), min_size=2, max_size=5),
       serves=st.integers(0, 220), other_domain=st.booleans())
def test_campaigns_started_together_on_one_domain_stay_within_one_impression(
    budgets: list[int], serves: int, other_domain: bool
) -> None:
    world = make_world(policy=SMALL)
    service = world.service
    owner = professional(service, "shop", sum(budgets) + 10)
    ids = [launch(service, owner, start=world.clock.now(), budget=b) for b in budgets]
    if other_domain:  # traffic elsewhere must not disturb them
        launch(service, professional(service, "rival", 20), start=world.clock.now(),
               domains=["sewing"])
    bound = Fraction(1, min(budgets))
    for i in range(serves):
        service.serve("cooking", f"p{i}")
        if other_domain:
            service.serve("sewing", f"s{i}")
        fractions = [Fraction(p.impressions, p.goal) for p in service.my_campaigns(owner)
                     if p.campaign_id in ids]
        assert max(fractions) - min(fractions) <= bound
    total = sum(p.impressions for p in service.my_campaigns(owner))
    assert total == min(serves, sum(budgets))


# --- TUTO-2 / TUTO-4 ------------------------------------------------------------------------------

PER_STAR = 3
# view ids are forgotten after 3 days here, so that the machine reaches old reports
VIEW_POLICY = attrs.evolve(CHEAP_POLICY, views_per_tutorial_star=PER_STAR,
                           replay_window=timedelta(hours=72))


class PayoutMachine(RuleBasedStateMachine):
    """View reports, edits, deletions and re-publications against a naive view counter."""

    def __init__(self) -> None:
        super().__init__()
        self.world = make_world(policy=VIEW_POLICY)
        self.service = self.world.service
        self.publisher = signup_confirmed(self.service, "ann")
        self.viewers = [f"visitor-{i}" for i in range(4)] + [self.publisher]
        self.tutorial: str | None = self._publish()
        self.last_tutorial = self.tutorial
        self.counted = 0
        self.last_counted: dict[str, datetime] = {}
        # view id -> (tutorial, viewer, verdict, when): remembered for the replay window
        self.reports: dict[str, tuple[str, str, ViewVerdict, datetime]] = {}

    def _publish(self) -> str:
        return self.service.publish_tutorial(self.publisher, title="Bread", domain="Cooking",
                                             rights_attested=True, youtube_url=WATCH)

    @rule(viewer=st.integers(0, 4), report=st.integers(0, 40))
    def view(self, viewer: int, report: int) -> None:
        who, view_id = self.viewers[viewer], f"view-{report}"
        tutorial = self.tutorial or self.last_tutorial
        assert tutorial is not None
        now = self.world.clock.now()
        seen = self.reports.get(view_id)
        window = VIEW_POLICY.replay_window
        if seen is not None and window is not None and now >= seen[3] + window:
            seen = None  # forgotten: a new report (TUTO-4)
        if seen is not None and seen[:2] != (tutorial, who):
            with pytest.raises(SkilltrocError) as refused:
                self.service.record_view(tutorial, who, view_id)
            assert refused.value.code == "idempotency_conflict"
            return
        if seen is not None:
            assert self.service.record_view(tutorial, who, view_id) is seen[2]
            return
        if self.tutorial is None:
            with pytest.raises(SkilltrocError) as refused:
                self.service.record_view(tutorial, who, view_id)
            assert refused.value.code == "state_conflict"
            return
        last = self.last_counted.get(who)
        if who == self.publisher:
            expected = ViewVerdict.OWN_VIEW
        elif last is not None and now < last + timedelta(hours=24):
            expected = ViewVerdict.WITHIN_WINDOW
        else:
            expected = ViewVerdict.COUNTED
            self.counted += 1
            self.last_counted[who] = now
        assert self.service.record_view(tutorial, who, view_id) is expected
        self.reports[view_id] = (tutorial, who, expected, now)

    @rule(hours=st.sampled_from([1, 6, 23, 24, 30]))
    def move_the_clock(self, hours: int) -> None:
        self.world.advance(timedelta(hours=hours))

    @rule(title=st.sampled_from(["Bread", "Better bread"]))
    def edit(self, title: str) -> None:
        if self.tutorial is not None:
            self.service.edit_tutorial(self.publisher, self.tutorial, title=title)

    @rule()
    def delete(self) -> None:
        if self.tutorial is not None:
            self.service.delete_tutorial(self.publisher, self.tutorial)
            self.tutorial = None

    @rule()
    def publish_again(self) -> None:
        if self.tutorial is None:
            self.tutorial = self.last_tutorial = self._publish()

    @invariant()
    def payouts_equal_counted_views_divided_by_the_views_per_star(self) -> None:
        paid = sum(amount for kind, amount in statement_kinds(self.service, self.publisher)
                   if kind is TransferKind.TUTORIAL_PAYOUT)
        assert paid == self.counted // PER_STAR
        lines = self.service.my_tutorials(self.publisher, include_deleted=True)
        assert sum(line.views for line in lines) == self.counted
        assert sum(line.stars_earned for line in lines) == paid
        assert {(line.video_views, line.video_stars) for line in lines} == {(self.counted, paid)}


TestPayouts = pytest.mark.rule("TUTO-2", "TUTO-4")(PayoutMachine.TestCase)


@pytest.mark.rule("TUTO-2")
@given(reports=st.lists(st.tuples(st.integers(0, 149), st.sampled_from([0, 0, 0, 1, 25])),
                        max_size=400))
def test_payouts_are_counted_views_divided_by_one_hundred(
    reports: list[tuple[int, int]]
) -> None:
    world = make_world()
    service = world.service
    publisher = signup_confirmed(service, "ann")
    tutorial = service.publish_tutorial(publisher, title="Bread", domain="Cooking",
                                        rights_attested=True, youtube_url=WATCH)
    counted = 0
    for i, (viewer, hours) in enumerate(reports):
        world.advance(timedelta(hours=hours))
        counted += service.record_view(tutorial, f"v{viewer}", f"r{i}") is ViewVerdict.COUNTED
    assert service.tutorial(tutorial).views == counted
    assert service.balance(publisher).available - 10 == counted // 100
