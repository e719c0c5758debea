"""Ad campaign commands (AD-1..9): set up, edit, (refuse to) delete, serve, follow.

Serving (AD-7) keeps, for every skill domain, the running campaigns that target it in
one of the store's ordered queues (named ``"ad:<domain>"``), each at its
:func:`~skilltroc_core.ads.serve_rank`: text that sorts exactly like
:func:`~skilltroc_core.ads.goes_before` (furthest behind its goal in proportion first,
then earliest start, then id). A serve reads the first member of the domain's queue and,
after counting the impression, puts the campaign back at its new rank in each of its
domains' queues: O(d log n) for a campaign with d domains among n running ones (a heap
in memory, an ordered index in SQL), and rollback covers the queues like any other write.

Campaigns enter their domains' queues when they start (the ``campaign_start`` timer, or
at once when set up or moved to start now) and leave them in the same unit of work as
the impression that reaches their goal, so no domain can count one impression more.
While the owner's account is deactivated (ACC-7) their running campaigns are out of the
queues, hidden; reactivation puts them back at their rank, a purge withdraws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import attrs

from ..accounts import AccountStatus, Member
from ..ads import (
    Campaign,
    CampaignProgress,
    CampaignState,
    check_budget,
    check_link,
    check_start,
    check_text,
    goal_for,
    goes_before,
    skill_domain,
    target_domains,
)
from ..instants import instant_text, require_aware
from ..ledger import AD_SPEND, TransferKind
from ..ports import EntityKind, Index, IndexKey, Timer, UnitOfWork
from ..refusals import refusal
from ..unset import UNSET, Unset
from .context import Area, ServiceContext
from .registry import ANYONE, HOST, MEMBER, OWNER, command, query
from .units import Tx, host_key

__all__ = ["CAMPAIGNS", "CAMPAIGN_START", "AdService", "ad_queue", "attached_campaigns"]

CAMPAIGN_START: Final = "campaign_start"
_MAX_VISUAL: Final = 2048
_MAX_PAGE_VIEW: Final = 200


_STATE_KEYS = {state: state.value for state in CampaignState}  # read on every serve


def _campaign_keys(c: Campaign) -> tuple[IndexKey, ...]:
    return ((0, c.owner), (1, _STATE_KEYS[c.state]))


CAMPAIGNS: EntityKind[Campaign] = EntityKind(
    name="ad_campaign", type=Campaign,
    indexes=(
        Index(name="owner", keys=lambda c: (c.owner,)),
        Index(name="state", keys=lambda c: (_STATE_KEYS[c.state],)),
    ),
    # written on every serve; kept: without it a serve takes 4.6% more instructions and
    # about 9% more CPU time (bench ads, 2026-12)
    all_keys=_campaign_keys,
)


def ad_queue(domain: str) -> str:
    """The name of the store queue holding ``domain``'s running campaigns."""
    return f"ad:{domain}"


def _enqueue(uow: UnitOfWork, campaign: Campaign, *, later: bool = False) -> None:
    """Put ``campaign`` at its current rank in each of its domains' queues (``later``:
    it is there already, and an impression only moves it back)."""
    rank = campaign.serve_rank
    for domain in campaign.domains:
        uow.queue_put(ad_queue(domain), campaign.id, rank, later=later)


def _dequeue(uow: UnitOfWork, campaign: Campaign) -> None:
    for domain in campaign.domains:
        uow.queue_remove(ad_queue(domain), campaign.id)


def _owner_shown(tx: Tx, campaign: Campaign) -> bool:
    """ACC-7 (DECISION): a deactivated owner's running campaigns are hidden, not shown,
    until the account is reactivated (then they go on from where they stood) or purged
    (then they are withdrawn)."""
    return tx.shown(campaign.owner)


def attached_campaigns(tx: Tx, member_id: str) -> tuple[str, ...]:
    """PROF-2 (DECISION): every campaign a member launched, scheduled, running or
    completed, oldest first; only a purge withdraws them from the profile."""
    return tuple(c.id for c in tx.find(CAMPAIGNS, "owner", member_id)
                 if c.state is not CampaignState.WITHDRAWN)


class AdService(Area):
    """Professionals' ad campaigns: budget, creative, start, domains; fair delivery."""

    def register(self, context: ServiceContext) -> None:
        context.timer_handlers[CAMPAIGN_START] = self._campaign_start_due
        context.purge_hooks.append(self._purge_campaigns)
        context.visibility_hooks.append(self._show_or_hide_campaigns)

    def _owner(self, tx: Tx, member_id: object, rule: str) -> Member:
        """AD-1 / PROF-6: an active professional with a complete profile."""
        member = tx.actor(member_id)
        if not member.is_professional:
            raise refusal("professionals_only", member=member.id)
        member.require_complete_profile(
            "profile_incomplete_for_campaigns", self.policy.profile_required_fields)
        return member

    def _own_campaign(self, tx: Tx, member: Member, campaign_id: object, rule: str
                      ) -> Campaign:
        campaign = tx.require(CAMPAIGNS, campaign_id)
        if campaign.owner != member.id:
            raise refusal("not_campaign_owner", rule=rule, campaign=campaign.id,
                          member=member.id)
        return campaign

    def _start_or_schedule(self, tx: Tx, campaign: Campaign) -> Campaign:
        if campaign.start > tx.now:
            tx.schedule(CAMPAIGN_START, campaign.id, campaign.start)
            return campaign
        tx.cancel_timer(CAMPAIGN_START, campaign.id)
        return self._start(tx, campaign)

    def _start(self, tx: Tx, campaign: Campaign) -> Campaign:
        """AD-7: the campaign becomes eligible in each of its domains; the owner is told.
        (While the owner's account is deactivated it waits, hidden, ACC-7.)"""
        started = campaign.started(tx.now)
        tx.put(CAMPAIGNS, started.id, started)
        if _owner_shown(tx, started):
            _enqueue(tx.uow, started)
        tx.notify("CampaignStarted", recipients=(started.owner,), campaign=started.id,
                  goal=started.goal, budget=started.budget, start=started.start)
        return started

    def _campaign_start_due(self, tx: Tx, timer: Timer) -> None:
        campaign = tx.get(CAMPAIGNS, timer.ref)
        if campaign is None or campaign.state is not CampaignState.SCHEDULED:
            return
        self._start(tx, campaign)

    @command(actor=MEMBER, rules=("AD-1", "AD-2", "AD-3", "AD-4"))
    def create_campaign(
        self,
        member_id: str,
        *,
        budget: int,
        visual: str,
        visual_rights_free: bool,
        text: str,
        start: datetime,
        domains: Sequence[str],
        link: str | None = None,
        key: str | None = None,
    ) -> str:
        """AD-1..4: set up a campaign; its budget leaves the owner's wallet as ad spend.

        ``budget`` is a whole number of stars, at least 10; the goal is budget x 100
        impressions. ``visual`` is the host's reference to an image the owner attests is
        rights-free; ``link`` an optional http(s) address; ``start`` an instant not in
        the past (now starts at once); ``domains`` one or more skill domains. A retry
        with the same ``key`` and arguments returns the first campaign id.
        """
        policy = self.policy
        stars = check_budget(budget, policy)
        picture = check_text(visual, "visual", _MAX_VISUAL)
        if visual_rights_free is not True:
            raise refusal("visual_not_rights_free")
        words = check_text(text, "text", policy.max_bio_length)
        url = check_link(link)
        targets = target_domains(domains)
        begins = require_aware(start, "start", "AD-3")
        with self.command() as tx:
            owner = self._owner(tx, member_id, "AD-1")
            fingerprint = repr((owner.id, stars, picture, words, url, instant_text(begins),
                                targets))
            stored_key = host_key(key, "AD-4")
            replayed = tx.replay(stored_key, "create_campaign", fingerprint, "AD-4")
            if replayed is not None:
                return replayed
            check_start(begins, tx.now)
            tx.require_stars(owner, stars, rule="AD-4")
            campaign_id = tx.new_id("ad")
            tx.ledger.transfer(TransferKind.AD_BUDGET, owner.id, AD_SPEND, stars,
                               reference=f"campaign:{campaign_id}", at=tx.now)
            campaign = Campaign(
                id=campaign_id, owner=owner.id, budget=stars, goal=goal_for(stars, policy),
                visual=picture, text=words, link=url, start=begins, domains=targets,
                created_at=tx.now,
            )
            tx.put(CAMPAIGNS, campaign_id, campaign)
            self._start_or_schedule(tx, campaign)
            tx.remember(stored_key, "create_campaign", fingerprint, campaign_id)
            return campaign_id

    @command(actor=OWNER, rules=("AD-5",))
    def edit_campaign(
        self,
        member_id: str,
        campaign_id: str,
        *,
        budget: int | Unset = UNSET,
        visual: str | Unset = UNSET,
        visual_rights_free: bool = False,
        text: str | Unset = UNSET,
        link: str | Unset | None = UNSET,
        start: datetime | Unset = UNSET,
        domains: Sequence[str] | Unset = UNSET,
    ) -> Campaign:
        """AD-5: before the start every field; from the start only visual, text and link.

        A budget change before the start debits the owner the difference (ad spend) or
        refunds it (``AD_BUDGET_REFUND``), never below the 10-star minimum. A new visual
        needs the rights-free attestation again. Passing a locked field with its current
        value is not a change. ``link=None`` removes the link.
        """
        policy = self.policy
        changes: dict[str, object] = {}
        if budget is not UNSET:
            changes["budget"] = check_budget(budget, policy)
        if visual is not UNSET:
            changes["visual"] = check_text(visual, "visual", _MAX_VISUAL)
        if text is not UNSET:
            changes["text"] = check_text(text, "text", policy.max_bio_length)
        if link is not UNSET:
            changes["link"] = check_link(link)
        if domains is not UNSET:
            changes["domains"] = target_domains(domains)
        if start is not UNSET:
            changes["start"] = require_aware(start, "start", "AD-3")
        with self.command() as tx:
            owner = tx.actor(member_id)
            campaign = self._own_campaign(tx, owner, campaign_id, "AD-5")
            if changes.get("visual", campaign.visual) != campaign.visual and (
                visual_rights_free is not True
            ):
                raise refusal("visual_not_rights_free")
            edited = campaign.edited(tx.now, **changes)
            if campaign.state is CampaignState.SCHEDULED:
                if edited.start != campaign.start:
                    check_start(edited.start, tx.now)
                edited = attrs.evolve(edited, goal=goal_for(edited.budget, policy))
                difference = edited.budget - campaign.budget
                reference = f"campaign:{campaign.id}"
                if difference > 0:
                    tx.require_stars(owner, difference, rule="AD-5")
                    tx.ledger.transfer(TransferKind.AD_BUDGET, owner.id, AD_SPEND, difference,
                                       reference=reference, at=tx.now)
                elif difference < 0:
                    tx.ledger.transfer(TransferKind.AD_BUDGET_REFUND, AD_SPEND, owner.id,
                                       -difference, reference=reference, at=tx.now)
                tx.put(CAMPAIGNS, edited.id, edited)
                return self._start_or_schedule(tx, edited)
            tx.put(CAMPAIGNS, edited.id, edited)
            return edited

    @command(actor=OWNER, rules=("AD-6",))
    def delete_campaign(self, member_id: str, campaign_id: str) -> None:
        """AD-6: a campaign can never be deleted; this always refuses and changes nothing."""
        raise refusal("campaign_not_deletable", campaign=str(campaign_id))

    @command(actor=HOST, rules=("AD-7",))
    def serve(self, domain: str, page_view_id: str) -> Campaign | None:
        """AD-7: the campaign to show on a page of ``domain``, its impression counted.

        Among the running campaigns of the domain, the one furthest behind its goal in
        proportion (then the earliest start, then the smallest id); None when there is
        none. The impression that reaches a campaign's goal completes it everywhere and
        its owner is told (AD-8). The same ``page_view_id`` again counts nothing and
        returns the campaign it showed (the same id for another domain is refused), for
        good, or within ``Policy.replay_window`` when the host sets one.
        """
        where = skill_domain(domain)
        if not isinstance(page_view_id, str) or not page_view_id or (
            len(page_view_id) > _MAX_PAGE_VIEW
        ):
            raise refusal("page_view_invalid", limit=_MAX_PAGE_VIEW)
        with self.command() as tx:
            key = f"page_view:{page_view_id}"
            replayed = tx.replay(key, "serve", where, "AD-7")
            if replayed is not None:
                return tx.require(CAMPAIGNS, replayed)
            queue = ad_queue(where)
            first = tx.uow.queue_first(queue)
            if first is None:
                return None
            campaign = tx.require(CAMPAIGNS, first)
            # another unit serving it elsewhere may have moved it while this one waited
            # for it: once it is this unit's, the first of the queue is read again
            while (again := tx.uow.queue_first(queue)) != first:
                if again is None:
                    return None
                first, campaign = again, tx.require(CAMPAIGNS, again)
            shown = campaign.shown(tx.now)
            tx.put(CAMPAIGNS, shown.id, shown)
            if shown.state is CampaignState.COMPLETED:
                _dequeue(tx.uow, shown)
                tx.notify("CampaignEnded", recipients=(shown.owner,), campaign=shown.id,
                          impressions=shown.impressions, goal=shown.goal,
                          started_at=shown.started_at, ended_at=shown.ended_at)
            else:
                _enqueue(tx.uow, shown, later=True)
            tx.remember(key, "serve", where, shown.id, keep_for=self.policy.replay_window)
            return shown

    @query(actor=ANYONE, rules=("AD-3",))
    def campaign(self, campaign_id: str) -> Campaign:
        """A campaign as it stands (for the host's pages)."""
        with self.query() as tx:
            return tx.require(CAMPAIGNS, campaign_id)

    @query(actor=OWNER, rules=("AD-8", "AD-9"))
    def campaign_progress(self, member_id: str, campaign_id: str) -> CampaignProgress:
        """AD-8/9: impressions, % of goal, duration so far and state, for the owner."""
        with self.query() as tx:
            owner = tx.member(member_id)
            return self._own_campaign(tx, owner, campaign_id, "AD-8").progress(tx.now)

    @query(actor=ANYONE, rules=("AD-8",))
    def my_campaigns(self, member_id: str) -> list[CampaignProgress]:
        """AD-8: the owner's campaigns, oldest first, each with its progress."""
        with self.query() as tx:
            owner = tx.member(member_id)
            return [c.progress(tx.now) for c in tx.find(CAMPAIGNS, "owner", owner.id)]

    @query(actor=HOST, rules=("AD-7",))
    def check_ad_queues(self) -> None:
        """Raise :class:`InvariantViolationError` unless, in every domain a campaign
        targets, the queue holds the running campaigns at their current ranks (but
        those of a deactivated owner, hidden, ACC-7) and no other campaign, is empty
        when none runs, and serves first the one :func:`~skilltroc_core.ads.goes_before`
        puts first. A diagnostic: O(campaigns x domains)."""
        problems: list[str] = []
        with self.query(apply_due=False) as tx:  # the queues as they are
            uow = tx.uow
            running: dict[str, list[Campaign]] = {}
            for campaign in tx.find(CAMPAIGNS, "state", CampaignState.RUNNING.value):
                if not _owner_shown(tx, campaign):  # hidden with its owner's account
                    for domain in campaign.domains:
                        if uow.queue_key(ad_queue(domain), campaign.id) is not None:
                            problems.append(f"{campaign.id} of a hidden owner is in "
                                            f"{domain!r}")
                    continue
                rank = campaign.serve_rank
                for domain in campaign.domains:
                    running.setdefault(domain, []).append(campaign)
                    found = uow.queue_key(ad_queue(domain), campaign.id)
                    if found != rank:
                        problems.append(f"{domain!r}: {campaign.id} is at {found!r}, "
                                        f"not at its rank {rank!r}")
            for state in (CampaignState.SCHEDULED, CampaignState.COMPLETED,
                          CampaignState.WITHDRAWN):
                for campaign in tx.find(CAMPAIGNS, "state", state.value):
                    for domain in campaign.domains:
                        if uow.queue_key(ad_queue(domain), campaign.id) is not None:
                            problems.append(f"{state} campaign {campaign.id} is in {domain!r}")
                        elif domain not in running and uow.queue_first(ad_queue(domain)):
                            problems.append(f"{domain!r} has no running campaign but a "
                                            "queue that is not empty")
            for domain, campaigns in running.items():
                best = campaigns[0]
                for campaign in campaigns[1:]:
                    if goes_before(campaign.serve_key, best.serve_key):
                        best = campaign
                first = uow.queue_first(ad_queue(domain))
                if first != best.id:
                    problems.append(f"{domain!r} serves {first} first, not {best.id}")
        if problems:
            raise refusal("ad_queues_broken", problems=problems)

    @command(actor=HOST, rules=("AD-7",))
    def rebuild_ad_queues(self) -> int:
        """Put every running campaign of an active owner in its domains' queues at its
        current rank, and take those of deactivated owners out (ACC-7); returns how many
        are queued. For a SQL store migrated from schema version 2, whose ad heaps were
        dropped, and for one written before a deactivated owner's campaigns left them.
        O(campaigns x domains); running it again changes nothing."""
        with self.command() as tx:
            queued = 0
            for campaign in tx.find(CAMPAIGNS, "state", CampaignState.RUNNING.value):
                if _owner_shown(tx, campaign):
                    _enqueue(tx.uow, campaign)
                    queued += 1
                else:
                    _dequeue(tx.uow, campaign)
            return queued

    def _show_or_hide_campaigns(self, tx: Tx, member: Member) -> None:
        """ACC-7: a deactivated owner's running campaigns leave the ad queues; they come
        back, at their rank, when the account is reactivated."""
        shown = member.status is AccountStatus.ACTIVE
        for campaign in tx.find(CAMPAIGNS, "owner", member.id):
            if campaign.state is CampaignState.RUNNING:
                (_enqueue if shown else _dequeue)(tx.uow, campaign)

    def _purge_campaigns(self, tx: Tx, member: Member) -> None:
        """ACC-7 (DECISION): a purged owner's campaigns stop (withdrawn: no longer shown,
        no refund: the budget was spent at set-up, AD-4) and their creative is erased;
        the records and numbers stay, since a campaign is never deleted (AD-6)."""
        for campaign in tx.find(CAMPAIGNS, "owner", member.id):
            if campaign.state is CampaignState.RUNNING:
                _dequeue(tx.uow, campaign)
            tx.cancel_timer(CAMPAIGN_START, campaign.id)
            tx.put(CAMPAIGNS, campaign.id, campaign.withdrawn(tx.now))
