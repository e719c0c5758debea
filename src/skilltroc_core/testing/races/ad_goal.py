"""One ad campaign served by several processes at once: exactly its goal, never more."""

from __future__ import annotations

from ...ads import CampaignState
from ...service import Skilltroc
from .processes import StoreFactory, race_service, run_workers

__all__ = ["DOMAIN", "ad_goal_race", "serve_pages"]

#: The one domain the campaign is shown in.
DOMAIN = "pottery"


def serve_pages(app: Skilltroc, worker: int, pages: int) -> int:
    """A worker: ``pages`` page views of :data:`DOMAIN`; how many showed an ad."""
    return sum(app.serve(DOMAIN, f"w{worker}-page-{i}") is not None for i in range(pages))


def ad_goal_race(factory: StoreFactory, *, workers: int = 8, pages: int = 150) -> None:
    """AD-7, AD-8: one campaign of the smallest budget (its goal in impressions), then
    ``workers`` processes serving ``pages`` pages each (more than the goal in all):
    exactly the goal is delivered, never more, and the campaign completes once."""
    with race_service(factory) as app:
        shop = app.signup("shop@example.org", provider="google", kind="professional",
                          category="craftsperson").member_id
        app.update_profile(shop, display_name="Shop", description="Pots", photo="p.jpg",
                           locality="Lyon")
        budget = app.policy.min_campaign_stars
        app.buy_stars(shop, budget, "pay-ads")
        campaign = app.create_campaign(shop, budget=budget, visual="a.png",
                                       visual_rights_free=True, text="Pots",
                                       start=app.now(), domains=[DOMAIN])
        goal = budget * app.policy.impressions_per_ad_star
    assert workers * pages > goal
    outputs = run_workers(factory, "serve_pages", [(w, pages) for w in range(workers)],
                          out=True)
    shown = sum(int(out) for out in outputs)
    with race_service(factory) as app:
        ended = app.campaign(campaign)
        assert shown == ended.impressions == goal
        assert ended.state is CampaignState.COMPLETED
        told = [i.notification.event for i in app.drain_notifications(1000)]
        assert told.count("CampaignEnded") == 1
        assert app.serve(DOMAIN, "one-more") is None
        app.check_ad_queues()
        app.check_invariants(deep=True)
