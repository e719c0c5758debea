"""Ad campaigns in the reference model: their budgets, start, and the page views they get."""

from __future__ import annotations

from datetime import datetime

from .part import Part
from .records import ACTIVE, MCampaign

__all__ = ["Advertising"]


class Advertising(Part):
    """Campaigns paid for up front (AD-5), started at their start, shown on the page views
    of their domains (the one furthest behind its goal first, AD-7) until the goal."""

    def create_campaign(self, campaign_id: str, owner: str, budget: int, start: datetime,
                        domains: tuple[str, ...]) -> None:
        model = self.model
        campaign = MCampaign(campaign_id, owner, budget,
                             budget * self.policy.impressions_per_ad_star, start, domains)
        model.campaigns[campaign_id] = campaign
        model.campaigns_of.setdefault(owner, []).append(campaign)
        model.debit(model.members[owner], budget)
        model.ad_spend += budget
        self._start_or_schedule(campaign)

    def _start_or_schedule(self, campaign: MCampaign) -> None:
        if campaign.start > self.model.at:
            self.model.set_deadline("campaign", campaign.id, campaign.start)
        else:
            self.model.drop_deadline("campaign", campaign.id)
            self._start(campaign)

    def due_campaign(self, ref: str) -> None:
        campaign = self.model.campaigns[ref]
        if campaign.state == "scheduled":
            self._start(campaign)

    def _start(self, campaign: MCampaign) -> None:
        campaign.state = "running"
        self.model.running[campaign.id] = campaign
        self.model.note("CampaignStarted", [campaign.owner])

    def edit_budget(self, campaign_id: str, budget: int) -> None:
        model = self.model
        campaign = model.campaigns[campaign_id]
        if campaign.state != "scheduled":
            return  # locked once started (AD-5): the service refuses a change
        owner = model.members[campaign.owner]
        difference = budget - campaign.budget
        if difference > 0:
            model.debit(owner, difference)
        elif difference < 0:
            model.credit(owner, -difference)
        model.ad_spend += difference
        campaign.budget = budget
        campaign.goal = budget * self.policy.impressions_per_ad_star
        self._start_or_schedule(campaign)

    def edit_text(self, campaign_id: str) -> None:
        campaign = self.model.campaigns[campaign_id]
        if campaign.state == "scheduled":
            self._start_or_schedule(campaign)

    def withdraw_all(self, member_id: str) -> None:
        """A purge: the member's campaigns stop (no stars move)."""
        for campaign in self.model.campaigns_of.get(member_id, []):
            if campaign.state in ("scheduled", "running"):
                campaign.state = "withdrawn"
                self.model.running.pop(campaign.id, None)
            self.model.drop_deadline("campaign", campaign.id)

    def remembers_page_view(self, page_view: str) -> bool:
        """Whether ``page_view`` now only gets the campaign it showed first (AD-7)."""
        seen = self.model.page_views.get(page_view)
        return seen is not None and self.model.remembered(seen[2])

    def serve(self, domain: str, page_view: str) -> str | None:
        """The campaign the rules show on this page view (AD-7), its impression counted."""
        model = self.model
        if self.remembers_page_view(page_view):
            return model.page_views[page_view][1]
        best: MCampaign | None = None
        for campaign in model.running.values():
            if domain not in campaign.domains or (
                model.members[campaign.owner].status != ACTIVE  # hidden (ACC-7)
            ):
                continue
            if best is None or _goes_before(campaign, best):
                best = campaign
        if best is None:
            return None
        best.impressions += 1
        if best.impressions >= best.goal:
            best.state = "completed"
            del model.running[best.id]
            model.note("CampaignEnded", [best.owner])
        model.page_views[page_view] = (domain, best.id, model.at)
        return best.id


def _goes_before(a: MCampaign, b: MCampaign) -> bool:
    left, right = a.impressions * b.goal, b.impressions * a.goal
    if left != right:
        return left < right
    return (a.start, a.id) < (b.start, b.id)
