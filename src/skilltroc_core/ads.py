"""Ad campaigns (AD-1..9): budget and goal, creative, start, target domains, delivery.

Pure domain: the campaign value and its lifecycle as a transition table, the checks of
every input, and the serving order (:func:`goes_before`). The service layer keeps one
priority queue per skill domain and applies them (:mod:`skilltroc_core.service.ads`).

A campaign is bought with a whole number of stars, at least 10 (AD-2); its goal is
budget x 100 impressions. The budget leaves the owner's wallet as ad spend when the
campaign is set up (AD-4). Before its start every field can change, a budget change
debiting or refunding the difference; from the start only the visual, the text and the
link (AD-5). It is never deleted (AD-6). From its start it is shown on pages of its
domains, the campaign furthest behind its goal in proportion first (AD-7), and it
completes exactly at its goal (AD-8).

Skill domains are compared case-insensitively with runs of spaces collapsed
(DECISION): ``" Cooking  Basics"`` and ``"cooking basics"`` are one domain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, NamedTuple
from urllib.parse import urlsplit

import attrs

from .errors import (
    CampaignBudgetError,
    CampaignLockedError,
    CampaignNotDeletableError,
    InvalidLinkError,
    NoTargetDomainError,
    ProfessionalsOnlyError,
    SkilltrocError,
    StartInPastError,
    VisualNotRightsFreeError,
)
from .frozen import evolve
from .instants import microseconds_since_year_one, require_aware
from .ledger import at_most_max_stars
from .refusals import refusal, shown, shown_link
from .rules import Policy
from .statemachine import Move, TransitionTable, transition

__all__ = [
    "CAMPAIGN_LIFECYCLE",
    "LOCKED_AT_START",
    "MAX_GOAL",
    "Campaign",
    "CampaignBudgetError",
    "CampaignLockedError",
    "CampaignNotDeletableError",
    "CampaignProgress",
    "CampaignState",
    "InvalidLinkError",
    "NoTargetDomainError",
    "ProfessionalsOnlyError",
    "ServeKey",
    "StartInPastError",
    "VisualNotRightsFreeError",
    "check_budget",
    "check_link",
    "check_start",
    "check_text",
    "goal_for",
    "goes_before",
    "serve_rank",
    "skill_domain",
    "target_domains",
]

_MAX_URL: Final = 2048
#: The largest goal the serving order ranks exactly (AD-7), refused above (AD-2): far
#: above real budgets (one purchase of ``ledger.MAX_STARS`` buys 10**14 impressions).
MAX_GOAL: Final = 10**20
_RANK_SCALE: Final = MAX_GOAL**2  # a rank has at most 41 digits (10**40 at the goal)
_START_SCALE: Final = 10**18  # microseconds from year 1 to year 9999 are fewer
_MAX_DOMAIN: Final = 200
_HOST: Final = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


class CampaignState(StrEnum):
    SCHEDULED = "scheduled"  # set up and paid, before its start
    RUNNING = "running"  # eligible for impressions until its goal (AD-7)
    COMPLETED = "completed"  # goal reached (AD-8)
    WITHDRAWN = "withdrawn"  # its owner's account was purged (ACC-7)


C = CampaignState
CAMPAIGN_LIFECYCLE: TransitionTable[CampaignState] = TransitionTable(
    "campaign", CampaignState, C.SCHEDULED, frozenset({C.COMPLETED, C.WITHDRAWN}),
    [
        Move(source=C.SCHEDULED, trigger="edit", target=C.SCHEDULED, rule="AD-5"),
        Move(source=C.SCHEDULED, trigger="start", target=C.RUNNING, rule="AD-7"),
        Move(source=C.RUNNING, trigger="edit_creative", target=C.RUNNING, rule="AD-5"),
        Move(source=C.RUNNING, trigger="show", target=C.RUNNING, rule="AD-7"),
        Move(source=C.RUNNING, trigger="complete", target=C.COMPLETED, rule="AD-8"),
        Move(source=C.SCHEDULED, trigger="withdraw", target=C.WITHDRAWN, rule="ACC-7"),
        Move(source=C.RUNNING, trigger="withdraw", target=C.WITHDRAWN, rule="ACC-7"),
    ],
)

#: The fields that may change only before the start; the others (creative) any time (AD-5).
LOCKED_AT_START: Final = ("budget", "start", "domains")


# ---------------------------------------------------------------------- checks
def skill_domain(value: object) -> str:
    """A skill domain as a matching key: trimmed, spaces collapsed, case-folded."""
    if not isinstance(value, str) or not value.strip():
        raise refusal("skill_domain_empty", got=shown(value))
    key = " ".join(value.split()).casefold()
    if len(key) > _MAX_DOMAIN:
        raise refusal("skill_domain_too_long", limit=_MAX_DOMAIN)
    return key


def target_domains(domains: object) -> tuple[str, ...]:
    """One or more skill domains, normalised, duplicates dropped, in the order given."""
    if isinstance(domains, str) or not isinstance(domains, Iterable):
        raise refusal("target_domains_not_list", got=shown(domains))
    keys = tuple(dict.fromkeys(skill_domain(d) for d in domains))
    if not keys:
        raise refusal("no_target_domain")
    return keys


def check_budget(stars: object, policy: Policy) -> int:
    """AD-2: a whole number of stars, at least ``policy.min_campaign_stars`` (10)."""
    if type(stars) is not int or stars < max(policy.min_campaign_stars, 1):
        raise refusal("campaign_budget_invalid", got=shown(stars),
                      amount=stars if type(stars) is int else None,
                      minimum=policy.min_campaign_stars)
    at_most_max_stars(stars)
    if goal_for(stars, policy) > MAX_GOAL:
        raise refusal("campaign_goal_too_large", maximum=MAX_GOAL, amount=stars)
    return stars


def check_link(link: object) -> str | None:
    """AD-3: an optional http or https address (None for no link), trimmed: at most 2,048
    characters, no space or control character, no user or password, a host name with a
    dot, a port (if any) from 1 to 65535."""
    if link is None:
        return None
    if not isinstance(link, str):
        raise refusal("link_not_text", got=type(link).__name__)
    text = link.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # not a URL, or a port that is not a number from 0 to 65535
        raise _not_a_link(link) from None
    if not text or len(text) > _MAX_URL or any(c.isspace() or ord(c) < 32 for c in text) or (
        port == 0 or parts.scheme.lower() not in ("http", "https")
    ) or parts.username is not None or parts.password is not None or not _HOST.match(
        (parts.hostname or "").lower()
    ):
        raise _not_a_link(link)
    return text


def _not_a_link(link: str) -> SkilltrocError:
    return refusal("link_invalid", link=shown_link(link))


def check_start(start: object, now: datetime) -> datetime:
    """AD-3: an aware instant, not before ``now`` (exactly now starts at once)."""
    instant = require_aware(start, "start", "AD-3")
    if instant < now:
        raise refusal("start_in_past", start=instant, now=now)
    return instant


def check_text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise refusal("text_required", rule="AD-3", field=what)
    text = value.strip()
    if len(text) > limit:
        raise refusal("text_too_long", rule="AD-3", field=what, limit=limit, length=len(text))
    return text


def goal_for(budget: int, policy: Policy) -> int:
    """AD-2: budget x impressions per star (10 stars = 1,000 impressions)."""
    return budget * policy.impressions_per_ad_star


# ---------------------------------------------------------------------- serving order
class ServeKey(NamedTuple):
    """What orders a campaign among those eligible for a domain (AD-7)."""

    impressions: int
    goal: int
    start: datetime
    campaign: str


def goes_before(a: ServeKey, b: ServeKey) -> bool:
    """True if ``a`` is shown before ``b``: further behind its goal in proportion, then
    the earlier start, then the smaller id (AD-7). Fractions compare exactly."""
    left, right = a[0] * b[1], b[0] * a[1]
    if left != right:
        return left < right
    return (a[2], a[3]) < (b[2], b[3])


def serve_rank(impressions: int, goal: int, start: datetime, campaign: str) -> str:
    """The serving order (:func:`goes_before`) as text that sorts the same way (AD-7).

    ``"<R: 41 digits><S: 18 digits>|<id>"`` where R = floor(impressions x N**2 / goal)
    with N = :data:`MAX_GOAL`, and S = the start in microseconds since year 1 (UTC).
    R is exact: if i/g < j/h with g, h <= N, then j/h - i/g >= 1/(g*h) >= 1/N**2, so
    j*N**2/h >= i*N**2/g + 1 and the floors differ in the same direction; equal
    fractions give equal floors. R and S are fixed-width digits, so the text compares
    R, then S, then the id: the order of :func:`goes_before`. One number is formatted
    (R x 10**18 + S), as each serve ranks its campaign again.
    """
    # A goal of 0 (a policy of 0 impressions per star) counts as reached: served last.
    rank = impressions * _RANK_SCALE // goal if goal > 0 else _RANK_SCALE
    started = microseconds_since_year_one(start)
    return f"{rank * _START_SCALE + started:059d}|{campaign}"  # 41 + 18 digits


# ---------------------------------------------------------------------- the campaign
@attrs.frozen(kw_only=True)
class CampaignProgress:
    """AD-8: what the owner follows live."""

    campaign_id: str
    state: CampaignState
    impressions: int
    goal: int
    percent: float  # of the goal, rounded down to 0.01
    duration: timedelta  # from the start until now, or until the end
    budget: int
    start: datetime
    domains: tuple[str, ...]
    ended_at: datetime | None


@attrs.frozen(kw_only=True)
class Campaign:
    """An ad campaign: paid budget, goal, creative, start, domains and its delivery."""

    id: str
    owner: str
    budget: int
    goal: int
    visual: str
    text: str
    link: str | None
    start: datetime
    domains: tuple[str, ...]
    created_at: datetime
    visual_rights_free: bool = True  # AD-3: never stored without the attestation
    state: CampaignState = CampaignState.SCHEDULED
    impressions: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    edited_at: datetime | None = None

    def _to(self, trigger: str, rule: str) -> CampaignState:
        move = CAMPAIGN_LIFECYCLE.move(self.state, trigger)
        if move is not None:  # every serve passes here: the refusal's text only when refused
            return move.target
        return transition(CAMPAIGN_LIFECYCLE, self.state, trigger, what=f"campaign {self.id}",
                          rule=rule)

    @property
    def serve_key(self) -> ServeKey:
        return ServeKey(self.impressions, self.goal, self.start, self.id)

    @property
    def serve_rank(self) -> str:
        """Its place in its domains' serving queues (:func:`serve_rank`)."""
        return serve_rank(self.impressions, self.goal, self.start, self.id)

    def edited(self, now: datetime, **changes: object) -> Campaign:
        """New field values: any before the start; only the creative after it (AD-5)."""
        if self.state is CampaignState.SCHEDULED:
            state = self._to("edit", "AD-5")
        else:
            locked = [name for name in LOCKED_AT_START
                      if name in changes and not self._same(name, changes[name])]
            if locked and self.state is CampaignState.RUNNING:
                raise refusal("campaign_field_locked", campaign=self.id, start=self.start,
                              fields=locked)
            state = self._to("edit_creative", "AD-5")
            changes = {k: v for k, v in changes.items() if k not in LOCKED_AT_START}
        return attrs.evolve(self, state=state, edited_at=now, **changes)  # type: ignore[arg-type]

    def _same(self, name: str, value: object) -> bool:
        """Whether ``value`` leaves field ``name`` as it is (domains compare as a set)."""
        current = getattr(self, name)
        if name == "domains" and isinstance(value, tuple):
            return set(value) == set(current)
        return bool(value == current)

    def started(self, now: datetime) -> Campaign:
        return attrs.evolve(self, state=self._to("start", "AD-7"), started_at=now)

    def shown(self, now: datetime) -> Campaign:
        """One more impression; at the goal the campaign completes (AD-7, AD-8)."""
        state = self._to("show", "AD-7")
        impressions = self.impressions + 1
        if impressions >= self.goal:
            return evolve(self, state=self._to("complete", "AD-8"),
                                impressions=impressions, ended_at=now)
        return evolve(self, state=state, impressions=impressions)

    def withdrawn(self, now: datetime) -> Campaign:
        """ACC-7: the owner's account is purged; the campaign stops, its creative erased."""
        state = self.state
        if state in (CampaignState.SCHEDULED, CampaignState.RUNNING):
            state = self._to("withdraw", "ACC-7")
        return attrs.evolve(self, state=state, visual="", text="", link=None,
                            ended_at=self.ended_at or now)

    def progress(self, now: datetime) -> CampaignProgress:
        """AD-8/9: impressions, % of goal and duration so far (it depends on traffic)."""
        duration = timedelta(0)
        if self.started_at is not None:  # never negative, even asked for before the start
            duration = max((self.ended_at or now) - self.started_at, timedelta(0))
        percent = (self.impressions * 10_000 // self.goal) / 100 if self.goal else 0.0
        return CampaignProgress(
            campaign_id=self.id, state=self.state, impressions=self.impressions,
            goal=self.goal, percent=percent, duration=duration,
            budget=self.budget, start=self.start, domains=self.domains,
            ended_at=self.ended_at,
        )
