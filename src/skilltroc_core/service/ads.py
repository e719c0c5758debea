"""Ad campaign commands (AD-1..9): set up, edit, (refuse to) delete, serve, follow.

Serving (AD-7) keeps, for every skill domain, a 4-ary min-heap of the running campaigns
that target it, ordered by :func:`~skilltroc_core.ads.goes_before` (furthest behind its
goal in proportion first, then earliest start, then id). The heap lives in the store
like everything else, through the ordinary entity port: one ``ad_slot`` entity per heap
position (``"<position>#<domain>"``: the campaign and its ordering key), one
``ad_position`` entity per (campaign, domain) saying where the campaign sits, and one
``ad_queue`` entity per domain holding the heap's size. A serve reads the root of the
domain's heap and, after counting the impression, sifts the campaign down in each of
its domains' heaps: O(d log n) entity reads and writes for a campaign with d domains
among n running ones, each O(1) in memory and one indexed row in SQL, so no store needs
a new capability and rollback covers the heap like any other write.

Why not an index whose key encodes a progress bucket: the port's ``find`` matches a key
exactly and has no "first key in order" query, so finding the lowest non-empty bucket
would cost O(buckets) lookups, and buckets would make the order approximate, which the
fairness bound (delivered fractions within one impression of the smallest goal) does not
tolerate. The heap compares fractions exactly (cross-multiplied integers).

Campaigns enter their domains' heaps when they start (the ``campaign_start`` timer, or at
once when set up or moved to start now) and leave them in the same unit of work as the
impression that reaches their goal, so no domain can count one impression more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, NoReturn

import attrs

from ..accounts import Member
from ..ads import (
    Campaign,
    CampaignNotDeletableError,
    CampaignProgress,
    CampaignState,
    ProfessionalsOnlyError,
    ServeKey,
    VisualNotRightsFreeError,
    check_budget,
    check_link,
    check_start,
    check_text,
    goal_for,
    goes_before,
    skill_domain,
    target_domains,
)
from ..codec import instant_text
from ..errors import InvalidInputError, InvariantViolationError, NotAllowedError
from ..instants import require_aware
from ..ledger import AD_SPEND, TransferKind
from ..ports import EntityKind, Index, Timer
from ._base import ServiceBase, Tx

__all__ = [
    "AD_POSITIONS",
    "AD_QUEUES",
    "AD_SLOTS",
    "CAMPAIGNS",
    "CAMPAIGN_START",
    "AdCommands",
    "AdPosition",
    "AdQueue",
    "AdSlot",
]

CAMPAIGN_START: Final = "campaign_start"
#: Children per heap node. A sift moves one entry per level and each move is two writes,
#: while reads are cheaper: four children per node halve the levels, and the writes.
ARITY: Final = 4
_UNSET: Final = object()
_MAX_VISUAL: Final = 2048
_MAX_PAGE_VIEW: Final = 200


@attrs.frozen(kw_only=True)
class AdQueue:
    """The number of running campaigns in one domain's heap."""

    size: int


@attrs.frozen(kw_only=True)
class AdSlot:
    """One heap position: the campaign there and the key it is ordered by."""

    campaign: str
    impressions: int
    goal: int
    start: datetime

    @property
    def key(self) -> ServeKey:
        return ServeKey(self.impressions, self.goal, self.start, self.campaign)

    @classmethod
    def of(cls, campaign: Campaign) -> AdSlot:
        return cls(campaign=campaign.id, impressions=campaign.impressions, goal=campaign.goal,
                   start=campaign.start)


@attrs.frozen(kw_only=True)
class AdPosition:
    """Where a campaign sits in one domain's heap."""

    position: int


CAMPAIGNS: EntityKind[Campaign] = EntityKind(
    name="ad_campaign", type=Campaign,
    indexes=(
        Index(name="owner", keys=lambda c: (c.owner,)),
        Index(name="state", keys=lambda c: (c.state.value,)),
    ),
)
AD_QUEUES: EntityKind[AdQueue] = EntityKind(name="ad_queue", type=AdQueue)
AD_SLOTS: EntityKind[AdSlot] = EntityKind(name="ad_slot", type=AdSlot)
AD_POSITIONS: EntityKind[AdPosition] = EntityKind(name="ad_position", type=AdPosition)


def _slot_before(a: AdSlot, b: AdSlot) -> bool:
    """:func:`~skilltroc_core.ads.goes_before` on two slots' keys, without building them."""
    left, right = a.impressions * b.goal, b.impressions * a.goal
    if left != right:
        return left < right
    return (a.start, a.campaign) < (b.start, b.campaign)


def _slot_id(domain: str, position: int) -> str:
    return f"{position}#{domain}"


def _position_id(campaign: str, domain: str) -> str:
    return f"{len(campaign)}:{campaign}|{domain}"


class _DomainHeap:
    """One domain's running campaigns as a 4-ary min-heap stored slot by slot."""

    __slots__ = ("domain", "size", "uow")

    def __init__(self, tx: Tx, domain: str) -> None:
        self.uow = tx.uow
        self.domain = domain
        found = self.uow.get(AD_QUEUES, domain)
        self.size = found.size if found is not None else 0

    def slot(self, position: int) -> AdSlot:
        found = self.uow.get(AD_SLOTS, _slot_id(self.domain, position))
        if found is None:  # pragma: no cover - a store that lost a slot is corrupt
            raise InvariantViolationError(f"ad queue {self.domain!r} lost slot {position}",
                                          rule="AD-7")
        return found

    def position(self, campaign: str) -> int:
        found = self.uow.get(AD_POSITIONS, _position_id(campaign, self.domain))
        if found is None:  # pragma: no cover - see slot()
            raise InvariantViolationError(
                f"campaign {campaign} is missing from ad queue {self.domain!r}", rule="AD-7")
        return found.position

    def top(self) -> AdSlot | None:
        return self.slot(0) if self.size else None

    def _place(self, position: int, slot: AdSlot) -> None:
        self.uow.put(AD_SLOTS, _slot_id(self.domain, position), slot)
        self.uow.put(AD_POSITIONS, _position_id(slot.campaign, self.domain),
                     AdPosition(position=position))

    def _resize(self, size: int) -> None:
        self.size = size
        if size:
            self.uow.put(AD_QUEUES, self.domain, AdQueue(size=size))
        else:
            self.uow.delete(AD_QUEUES, self.domain)

    def _sift_up(self, position: int, slot: AdSlot) -> None:
        key = slot.key
        while position:
            parent = (position - 1) // ARITY
            above = self.slot(parent)
            if not goes_before(key, above.key):
                break
            self._place(position, above)
            position = parent
        self._place(position, slot)

    def _sift_down(self, position: int, slot: AdSlot) -> None:
        # The hot loop of every serve: slots compare directly (no ServeKey built per read).
        size = self.size
        read = self.slot
        while True:
            first = ARITY * position + 1
            if first >= size:
                break
            child, best = first, read(first)
            for other in range(first + 1, min(first + ARITY, size)):
                found = read(other)
                if _slot_before(found, best):
                    child, best = other, found
            if not _slot_before(best, slot):
                break
            self._place(position, best)
            position = child
        self._place(position, slot)

    def push(self, slot: AdSlot) -> None:
        position = self.size
        self._resize(position + 1)
        self._sift_up(position, slot)

    def moved_back(self, slot: AdSlot) -> None:
        """The campaign's key grew (one more impression): it sinks to its place."""
        self._sift_down(self.position(slot.campaign), slot)

    def remove(self, campaign: str) -> None:
        position = self.position(campaign)
        last = self.size - 1
        self.uow.delete(AD_POSITIONS, _position_id(campaign, self.domain))
        moved = self.slot(last) if position != last else None
        self.uow.delete(AD_SLOTS, _slot_id(self.domain, last))
        self._resize(last)
        if moved is None:
            return
        if position and goes_before(moved.key, self.slot((position - 1) // ARITY).key):
            self._sift_up(position, moved)
        else:
            self._sift_down(position, moved)


class AdCommands(ServiceBase):
    """Professionals' ad campaigns: budget, creative, start, domains; fair delivery."""

    def _register_timers(self) -> None:
        super()._register_timers()
        self._timer_handlers[CAMPAIGN_START] = self._campaign_start_due
        self._purge_hooks.append(self._purge_campaigns)

    # ------------------------------------------------------------------ helpers
    def _owner(self, tx: Tx, member_id: object, rule: str) -> Member:
        """AD-1 / PROF-6: an active professional with a complete profile."""
        member = tx.actor(member_id, rule)
        if not member.is_professional:
            raise ProfessionalsOnlyError(
                f"{member.display} is an individual: only professionals launch ad campaigns"
            )
        member.require_complete_profile("launching ad campaigns")
        return member

    def _own_campaign(self, tx: Tx, member: Member, campaign_id: object, rule: str
                      ) -> Campaign:
        campaign = tx.require(CAMPAIGNS, campaign_id, rule)
        if campaign.owner != member.id:
            raise NotAllowedError(f"campaign {campaign.id} is not {member.display}'s",
                                  rule=rule)
        return campaign

    def _start_or_schedule(self, tx: Tx, campaign: Campaign) -> Campaign:
        if campaign.start > tx.now:
            tx.schedule(CAMPAIGN_START, campaign.id, campaign.start)
            return campaign
        tx.cancel_timer(CAMPAIGN_START, campaign.id)
        return self._start(tx, campaign)

    def _start(self, tx: Tx, campaign: Campaign) -> Campaign:
        """AD-7: the campaign becomes eligible in each of its domains; the owner is told."""
        started = campaign.started(tx.now)
        tx.put(CAMPAIGNS, started.id, started)
        slot = AdSlot.of(started)
        for domain in started.domains:
            _DomainHeap(tx, domain).push(slot)
        tx.notify("CampaignStarted", recipients=(started.owner,), campaign=started.id,
                  goal=started.goal, budget=started.budget, start=started.start)
        return started

    def _campaign_start_due(self, tx: Tx, timer: Timer) -> None:
        campaign = tx.get(CAMPAIGNS, timer.ref)
        if campaign is None or campaign.state is not CampaignState.SCHEDULED:
            return
        self._start(tx, campaign)

    # ------------------------------------------------------------------ commands
    def create_campaign(
        self,
        member_id: str,
        *,
        budget: int,
        visual: str,
        visual_rights_free: bool,
        text: str,
        start: datetime,
        domains: list[str] | tuple[str, ...],
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
        picture = check_text(visual, "a campaign visual", _MAX_VISUAL)
        if visual_rights_free is not True:
            raise VisualNotRightsFreeError("the owner must attest the visual is rights-free")
        words = check_text(text, "a campaign text", policy.max_bio_length)
        url = check_link(link)
        targets = target_domains(domains)
        begins = require_aware(start, "campaign start")
        with self.command() as tx:
            owner = self._owner(tx, member_id, "AD-1")
            fingerprint = repr((owner.id, stars, picture, words, url, instant_text(begins),
                                targets))
            replayed = tx.replay(key, "create_campaign", fingerprint, "AD-4")
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
            tx.remember(key, "create_campaign", fingerprint, campaign_id)
            return campaign_id

    def edit_campaign(
        self,
        member_id: str,
        campaign_id: str,
        *,
        budget: object = _UNSET,
        visual: object = _UNSET,
        visual_rights_free: bool = False,
        text: object = _UNSET,
        link: object = _UNSET,
        start: object = _UNSET,
        domains: object = _UNSET,
    ) -> Campaign:
        """AD-5: before the start every field; from the start only visual, text and link.

        A budget change before the start debits the owner the difference (ad spend) or
        refunds it (``AD_BUDGET_REFUND``), never below the 10-star minimum. A new visual
        needs the rights-free attestation again. Passing a locked field with its current
        value is not a change. ``link=None`` removes the link.
        """
        policy = self.policy
        changes: dict[str, object] = {}
        if budget is not _UNSET:
            changes["budget"] = check_budget(budget, policy)
        if visual is not _UNSET:
            changes["visual"] = check_text(visual, "a campaign visual", _MAX_VISUAL)
        if text is not _UNSET:
            changes["text"] = check_text(text, "a campaign text", policy.max_bio_length)
        if link is not _UNSET:
            changes["link"] = check_link(link)
        if domains is not _UNSET:
            changes["domains"] = target_domains(domains)
        if start is not _UNSET:
            changes["start"] = require_aware(start, "campaign start")
        with self.command() as tx:
            owner = tx.actor(member_id, "AD-5")
            campaign = self._own_campaign(tx, owner, campaign_id, "AD-5")
            if changes.get("visual", campaign.visual) != campaign.visual and (
                visual_rights_free is not True
            ):
                raise VisualNotRightsFreeError(
                    "the owner must attest the new visual is rights-free"
                )
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

    def delete_campaign(self, member_id: str, campaign_id: str) -> NoReturn:
        """AD-6: a campaign can never be deleted; this always refuses and changes nothing."""
        raise CampaignNotDeletableError(
            f"campaign {campaign_id} cannot be deleted: ad campaigns are never deleted, "
            "they stop by themselves at their goal", campaign=str(campaign_id),
        )

    def serve(self, domain: str, page_view_id: str) -> Campaign | None:
        """AD-7: the campaign to show on a page of ``domain``, its impression counted.

        Among the running campaigns of the domain, the one furthest behind its goal in
        proportion (then the earliest start, then the smallest id); None when there is
        none. The impression that reaches a campaign's goal completes it everywhere and
        its owner is told (AD-8). The same ``page_view_id`` again counts nothing and
        returns the campaign it showed (the same id for another domain is refused).
        """
        where = skill_domain(domain)
        if not isinstance(page_view_id, str) or not page_view_id or (
            len(page_view_id) > _MAX_PAGE_VIEW
        ):
            raise InvalidInputError(
                f"a page view id is non-empty text of at most {_MAX_PAGE_VIEW} characters",
                rule="AD-7",
            )
        with self.command() as tx:
            key = f"page_view:{page_view_id}"
            replayed = tx.replay(key, "serve", where, "AD-7")
            if replayed is not None:
                return tx.require(CAMPAIGNS, replayed, "AD-7")
            heap = _DomainHeap(tx, where)
            top = heap.top()
            if top is None:
                return None
            campaign = tx.require(CAMPAIGNS, top.campaign, "AD-7")
            shown = campaign.shown(tx.now)
            tx.put(CAMPAIGNS, shown.id, shown)
            if shown.state is CampaignState.COMPLETED:
                for target in shown.domains:
                    (heap if target == where else _DomainHeap(tx, target)).remove(shown.id)
                tx.notify("CampaignEnded", recipients=(shown.owner,), campaign=shown.id,
                          impressions=shown.impressions, goal=shown.goal,
                          started_at=shown.started_at, ended_at=shown.ended_at)
            else:
                slot = AdSlot.of(shown)
                for target in shown.domains:
                    (heap if target == where else _DomainHeap(tx, target)).moved_back(slot)
            tx.remember(key, "serve", where, shown.id)
            return shown

    # ------------------------------------------------------------------ queries
    def campaign(self, campaign_id: str) -> Campaign:
        """A campaign as it stands (for the host's pages)."""
        with self.query() as tx:
            return tx.require(CAMPAIGNS, campaign_id, "AD-3")

    def campaign_progress(self, member_id: str, campaign_id: str) -> CampaignProgress:
        """AD-8/9: impressions, % of goal, duration so far and state, for the owner."""
        with self.query() as tx:
            owner = tx.member(member_id, "AD-8")
            return self._own_campaign(tx, owner, campaign_id, "AD-8").progress(tx.now)

    def my_campaigns(self, member_id: str) -> list[CampaignProgress]:
        """AD-8: the owner's campaigns, oldest first, each with its progress."""
        with self.query() as tx:
            owner = tx.member(member_id, "AD-8")
            return [c.progress(tx.now) for c in tx.find(CAMPAIGNS, "owner", owner.id)]

    def check_ad_queues(self) -> None:
        """Raise :class:`InvariantViolationError` unless every domain's heap holds exactly
        its running campaigns, with their current keys, in heap order. A diagnostic:
        O(running campaigns x domains)."""
        problems: list[str] = []
        with self._unit(self.now()) as tx:
            members: dict[str, list[Campaign]] = {}
            for campaign in tx.find(CAMPAIGNS, "state", CampaignState.RUNNING.value):
                for domain in campaign.domains:
                    members.setdefault(domain, []).append(campaign)
            for domain, running in members.items():
                heap = _DomainHeap(tx, domain)
                if heap.size != len(running):
                    problems.append(f"{domain!r}: size {heap.size}, {len(running)} running")
                for campaign in running:
                    found = tx.get(AD_POSITIONS, _position_id(campaign.id, domain))
                    slot = tx.get(AD_SLOTS, _slot_id(domain, found.position)) if found else None
                    if slot is None or slot != AdSlot.of(campaign):
                        problems.append(f"{domain!r}: {campaign.id} is not in its slot")
                for position in range(1, heap.size):
                    parent = tx.get(AD_SLOTS, _slot_id(domain, (position - 1) // ARITY))
                    child = tx.get(AD_SLOTS, _slot_id(domain, position))
                    if parent is None or child is None or goes_before(child.key, parent.key):
                        problems.append(f"{domain!r}: heap order broken at {position}")
                if tx.get(AD_SLOTS, _slot_id(domain, heap.size)) is not None:
                    problems.append(f"{domain!r}: a slot beyond the end")
            for state in (CampaignState.SCHEDULED, CampaignState.COMPLETED,
                          CampaignState.WITHDRAWN):
                for campaign in tx.find(CAMPAIGNS, "state", state.value):
                    for domain in campaign.domains:
                        if tx.get(AD_POSITIONS, _position_id(campaign.id, domain)):
                            problems.append(f"{state} campaign {campaign.id} is in {domain!r}")
        if problems:
            raise InvariantViolationError("ad queues broken: " + "; ".join(problems),
                                          rule="AD-7", problems=problems)

    # ------------------------------------------------------------------ purge
    def _purge_campaigns(self, tx: Tx, member: Member) -> None:
        """ACC-7 (DECISION): a purged owner's campaigns stop (withdrawn: no longer shown,
        no refund: the budget was spent at set-up, AD-4) and their creative is erased;
        the records and numbers stay, since a campaign is never deleted (AD-6)."""
        for campaign in tx.find(CAMPAIGNS, "owner", member.id):
            if campaign.state is CampaignState.RUNNING:
                for domain in campaign.domains:
                    _DomainHeap(tx, domain).remove(campaign.id)
            tx.cancel_timer(CAMPAIGN_START, campaign.id)
            tx.put(CAMPAIGNS, campaign.id, campaign.withdrawn(tx.now))
