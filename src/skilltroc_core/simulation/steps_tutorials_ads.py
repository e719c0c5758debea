"""The simulator's steps for tutorials and ad campaigns: publishing and deleting
tutorials, view reports, creating and editing campaigns, and serving ads on page views."""

from __future__ import annotations

import itertools
from typing import Any

from ..ports import EntityKind
from ..service.ads import CAMPAIGNS
from ..service.tutorials import TUTORIALS
from .context import DOMAINS, WINDOW, AreaSteps, pick, recent
from .model import ACTIVE, DEACTIVATED
from .workload import Step

__all__ = ["TutorialAdSteps"]

_VIDEOS = tuple(f"sim{n:08d}" for n in range(24))


class TutorialAdSteps(AreaSteps):
    """Tutorials (views pay their publisher) and ad campaigns (impressions)."""

    def do_publish_tutorial(self, step: Step) -> None:
        model = self.model
        publisher = self._member(step.args[0])
        if publisher is None:
            self.ctx.skip()
        video = _VIDEOS[step.args[1] % len(_VIDEOS)]
        member = model.members[publisher]
        taken = (publisher, f"{video[:11]:0<11}") in model.live_videos
        tutorial_id = self.ctx.command("publish_tutorial", lambda: self.app.publish_tutorial(
            publisher, title="How to", domain=DOMAINS[step.args[2] % len(DOMAINS)],
            rights_attested=True, youtube_url=f"https://youtu.be/{video[:11]:0<11}"),
            expect=(not member.pro or member.complete) and not taken, members=[publisher])
        model.publishing.publish(tutorial_id, publisher, f"{video[:11]:0<11}")

    def do_delete_tutorial(self, step: Step) -> None:
        tutorial = pick(recent(self.model.tutorials, lambda t: t.live), step.args[0])
        if tutorial is None:
            self.ctx.skip()
        actor = self._actor(tutorial.publisher, step)
        self.ctx.command("delete_tutorial", lambda: self.app.delete_tutorial(actor, tutorial.id),
                         expect=actor == tutorial.publisher and self._is_active(actor),
                         entities=[(TUTORIALS, tutorial.id)])
        self.model.publishing.unpublish(tutorial.id)

    def do_view(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        model = self.model
        tutorials = recent(model.tutorials)
        if a3 % 10 == 0 and model.view_ids:
            view_id = pick(list(itertools.islice(reversed(model.view_ids), WINDOW)), a3) or ""
            tutorial_id, viewer, *_ = model.view_ids[view_id]
            tutorial = model.tutorials[tutorial_id]
        else:
            picked = pick([t for t in tutorials if t.live] if a0 % 20 else tutorials, a0)
            if picked is None:
                self.ctx.skip()
            tutorial = picked
            viewer = (self._member(a1) or "visitor-0") if a2 % 3 else f"visitor-{a1 % 60}"
            view_id = self.ctx.next_id("view-")
        # ACC-7 hides a deactivated publisher's tutorials
        expect = model.publishing.remembers_view(view_id) or (
            tutorial.live and model.members[tutorial.publisher].status != DEACTIVATED)
        verdict = self.ctx.command("view", lambda: self.app.record_view(
            tutorial.id, viewer, view_id).value, expect=expect, members=[tutorial.publisher],
            entities=[(TUTORIALS, tutorial.id)], keyed=True)
        expected = model.publishing.view(tutorial.id, viewer, view_id)
        if verdict != expected:
            raise self.ctx.fail("model", f"view {view_id} of {tutorial.id} by {viewer}: "
                                f"{verdict}, the rules say {expected}")

    # ------------------------------------------------------------------ campaigns
    def do_create_campaign(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        model = self.model
        pros = [m.id for m in recent(model.members, lambda m: m.pro and m.complete
                                     and m.status == ACTIVE and m.available >= 10)]
        owner = pick(pros, a0) if a3 % 6 else self._member(a0)
        if owner is None:
            self.ctx.skip()
        member = model.members[owner]
        budget = 10 + a1 % 4 if a1 % 13 else 5
        now = self.clock.now()
        start = now if a2 % 2 else now + self._offset(a2, 5, 3 * 24 * 60)
        domains = tuple(dict.fromkeys((DOMAINS[a2 % 3], DOMAINS[a3 % 3])))
        expect = (member.pro and member.complete and budget >= 10
                  and member.available >= budget)
        campaign_id = self.ctx.command("create_campaign", lambda: self.app.create_campaign(
            owner, budget=budget, visual="img-1", visual_rights_free=True, text="Come along",
            start=start, domains=domains, key=f"campaign-{a1}-{a2}-{self.ctx.counter}"),
            expect=expect, members=[owner], keyed=True)
        model.advertising.create_campaign(campaign_id, owner, budget, start, domains)

    def do_edit_campaign(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        campaign = pick(recent(model.campaigns), a0)
        if campaign is None:
            self.ctx.skip()
        actor = self._actor(campaign.owner, step)
        right = actor == campaign.owner and self._is_active(actor)
        entities: list[tuple[EntityKind[Any], str]] = [(CAMPAIGNS, campaign.id)]
        if a1 % 3 == 0:
            budget = 10 + a2 % 6
            difference = budget - campaign.budget
            expect: bool | None = None
            if campaign.state == "scheduled":
                expect = right and model.members[campaign.owner].available >= difference
            elif campaign.state == "running" and difference:
                expect = False
            self.ctx.command("edit_campaign", lambda: self.app.edit_campaign(
                actor, campaign.id, budget=budget), expect=expect,
                members=[campaign.owner], entities=entities)
            model.advertising.edit_budget(campaign.id, budget)
        else:
            self.ctx.command("edit_campaign", lambda: self.app.edit_campaign(
                actor, campaign.id, text=f"New text {a2 % 7}"),
                expect=right if campaign.state in ("scheduled", "running") else None,
                members=[campaign.owner], entities=entities)
            model.advertising.edit_text(campaign.id)

    def do_serve(self, step: Step) -> None:
        a0, _, _, a3 = step.args
        model = self.model
        if a3 % 10 == 0 and model.page_views:
            page_view = pick(list(itertools.islice(reversed(model.page_views), WINDOW)),
                             a3) or ""
            domain = model.page_views[page_view][0]
        else:
            domain = DOMAINS[a0 % len(DOMAINS)]
            page_view = self.ctx.next_id("page-")
        shown = self.ctx.command("serve", lambda: self.app.serve(domain, page_view),
                                 expect=True, keyed=True)
        expected = model.advertising.serve(domain, page_view)
        got = shown.id if shown is not None else None
        if got != expected:
            raise self.ctx.fail("model", f"page view {page_view} in {domain!r} showed {got}, "
                                f"the rules say {expected}")
        if got is not None:
            self.ctx.scope_members.append(model.campaigns[got].owner)

