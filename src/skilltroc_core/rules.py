"""The numbers and DECISIONs of the rule catalogue, as one frozen, overridable policy value.

Every figure a rule uses lives here as a named field with its rule ID, the FAQ line it
comes from (``seed``) and a sentence saying what it means; code never buries such a
literal. A host changes a default with ``attrs.evolve(DEFAULT_POLICY, field=value)``;
the generated rule docs list each field beside its rule (``policy_fields()``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs

from .instants import add_calendar_days, time_zone
from .refusals import refusal, shown

__all__ = ["DEFAULT_POLICY", "Policy", "PolicyField", "policy_fields"]


def _rule(default: Any, rule: str, seed: str, doc: str) -> Any:
    return attrs.field(default=default, metadata={"rule": rule, "seed": seed, "doc": doc})


def _positive(instance: Policy, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise refusal("policy_not_whole", rule=attribute.metadata.get("rule"),
                      field=attribute.name, got=shown(value))


#: what a professional's profile is made of (accounts.Profile's fields and the category)
_PROFILE_FIELDS = frozenset({"display_name", "category", "photo", "bio", "description",
                             "locality", "website"})


@attrs.frozen(kw_only=True)
class Policy:
    """Every tunable number and default choice of the rule catalogue."""

    # Time
    timezone: str = _rule(
        "Europe/Paris", "BOOK-24", "L156",
        "Platform time zone: 'N days' deadlines are calendar days at the same local "
        "wall-clock time in this zone (BOOK-24; DECISION).",
    )
    clock_tolerance: timedelta | None = _rule(
        timedelta(minutes=1), "STAR-5", "L54",
        "How far the clock may go back before commands are refused (DECISION). A service "
        "never records an instant earlier than the last one it used (nor, at its first "
        "command, than the newest the star ledger recorded), so that statements stay in "
        "order: a clock behind that by at most this much is read as that last instant; "
        "further behind, every command and query is refused (time_went_backwards) and "
        "changes nothing until the clock catches up. None: the clock is taken as it is "
        "(a replay of several processes' commands in one service).",
    )

    # STAR
    signup_bonus: int = _rule(
        10, "STAR-1", "L48", "Stars credited once per email address when signup completes."
    )

    # ACC
    password_min_length: int = _rule(
        8, "ACC-4", "L71", "Shortest password accepted at signup or change (DECISION)."
    )
    argon2_time_cost: int = _rule(
        2, "ACC-4", "L73",
        "argon2id passes over memory for a password hash; OWASP's minimum is 2 with "
        "19 MiB (DECISION).",
    )
    argon2_memory_kib: int = _rule(
        19 * 1024, "ACC-4", "L73", "argon2id memory for a password hash, in KiB (DECISION)."
    )
    argon2_parallelism: int = _rule(1, "ACC-4", "L73", "argon2id lanes (DECISION).")
    reset_token_lifetime: timedelta = _rule(
        timedelta(hours=1), "ACC-4", "L73",
        "How long a password reset link stays usable; it is single-use (DECISION).",
    )
    account_retention_days: int = _rule(
        15, "ACC-7", "L85",
        "Calendar days a deactivated account is kept, and can be reactivated, before "
        "its data is purged for good.",
    )
    max_name_length: int = _rule(
        80, "PROF-1", "L105", "Longest display name accepted (DECISION)."
    )
    max_bio_length: int = _rule(
        1000, "PROF-1", "L105", "Longest profile bio or description accepted (DECISION)."
    )
    max_email_length: int = _rule(
        254, "ACC-6", "L62", "Longest email address accepted (RFC 5321 path limit)."
    )

    # PROF
    profile_required_fields: tuple[str, ...] = _rule(
        ("display_name", "category", "description", "photo", "locality"), "PROF-6", "L471",
        "What a professional profile needs to be complete, before workshops, tutorials "
        "or ad campaigns; the website stays optional (L483; DECISION).",
    )
    level_intermediate_from: int = _rule(
        5, "PROF-5", "L97",
        "Sessions held (organized or attended) from which a member is intermediate; "
        "fewer is beginner.",
    )
    level_experienced_above: int = _rule(
        10, "PROF-5", "L99", "A member with more sessions held than this is experienced."
    )

    # BOOK
    min_workshop_cost: int = _rule(
        0, "BOOK-1", "L118", "Lowest star cost per seat an organizer may set (DECISION)."
    )
    min_capacity: int = _rule(1, "BOOK-1", "L118", "Smallest seat capacity (DECISION).")
    min_seats: int = _rule(1, "BOOK-12", "L229", "Fewest seats a request may ask for.")
    max_future_seats: int = _rule(
        10, "BOOK-12", "L229", "Most seats a request for a future session may ask for."
    )
    future_request_due_days: int = _rule(
        7, "BOOK-16", "L138",
        "Calendar days after which an unanswered future-session request is cancelled "
        "and refunded (DECISION).",
    )
    waitlist_window_days: int = _rule(
        15, "BOOK-24", "L156",
        "Calendar days from acceptance during which a waitlisted member may join a "
        "session; then the entry is cancelled and refunded.",
    )
    confirmation_window_days: int = _rule(
        7, "BOOK-32", "L203",
        "Calendar days after a session's end during which the organizer may say whether "
        "it was held; silence counts as not held.",
    )
    score_min: int = _rule(0, "BOOK-41", "L209", "Lowest evaluation score (DECISION).")
    score_max: int = _rule(10, "BOOK-41", "L209", "Highest evaluation score ('sur 10').")

    # SPONSOR
    referral_reward: int = _rule(
        5, "SPONSOR-3", "L342",
        "Stars paid once to the sponsor at the referee's first held workshop or first "
        "star purchase.",
    )

    # GIFT
    gift_floor: int = _rule(
        10, "GIFT-1", "L363", "Stars a member must keep after a gift; a gift needs more."
    )
    min_gift: int = _rule(1, "GIFT-1", "L363", "Smallest gift (DECISION).")
    gift_expiry_days: int | None = _rule(
        None, "GIFT-4", "L370",
        "Calendar days after which an unaccepted gift goes to the platform's issuance "
        "account; None (the default) means gifts wait forever (DECISION).",
    )

    # TUTO
    views_per_tutorial_star: int = _rule(
        100, "TUTO-2", "L326", "Counted views per star paid to a tutorial's publisher."
    )
    view_dedup_window: timedelta = _rule(
        timedelta(hours=24), "TUTO-4", "L326",
        "A viewer's views of one tutorial count once per this window (DECISION).",
    )

    replay_window: timedelta | None = _rule(
        None, "TUTO-4", "L326",
        "None (the default): a page view id (AD-7) or view report id (TUTO-4) is "
        "remembered for good, so the same id again never counts twice, and storage grows "
        "with traffic. A duration bounds storage: the same id within it still gets its "
        "first answer, after it the id is forgotten and counts as new (DECISION).",
    )

    # AD
    impressions_per_ad_star: int = _rule(
        100, "AD-2", "L713", "Impressions bought by one star (10 stars = 1,000)."
    )
    min_campaign_stars: int = _rule(
        10, "AD-2", "L713", "Smallest campaign budget, in whole stars."
    )

    # Paging
    statement_page_size: int = _rule(
        50, "STAR-5", "L54", "Statement lines per page when the caller names no limit."
    )
    statement_page_limit: int = _rule(
        10_000, "STAR-5", "L54",
        "Most statement lines one page may hold (DECISION: a page costs its size).",
    )
    catalogue_page_size: int = _rule(
        20, "AD-7", "L716",
        "Items in one page of the catalogue, a search or a member search when the caller "
        "names no limit (DECISION).",
    )
    catalogue_page_limit: int = _rule(
        100, "AD-7", "L716",
        "Most items one page of the catalogue, a search or a member search may hold "
        "(DECISION: a page costs its size, so hosts cannot ask for the whole catalogue).",
    )
    feed_page_size: int = _rule(
        100, "SOCIAL-3", "L356",
        "Most messages one feed read returns; each author keeps the ids of this many of "
        "their newest messages at hand for it (DECISION).",
    )

    def __attrs_post_init__(self) -> None:
        time_zone(self.timezone)  # refuses an unknown zone name at construction
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if field.type in ("int", int) or (field.type == "int | None" and value is not None):
                _positive(self, field, value)
            elif (field.type in ("timedelta", timedelta) or (
                    field.type == "timedelta | None" and value is not None)) and (
                not isinstance(value, timedelta) or value < timedelta(0)
            ):
                raise refusal("policy_not_duration", rule=field.metadata.get("rule"),
                              field=field.name, got=shown(value))
        required = self.profile_required_fields
        if not isinstance(required, tuple) or not all(
            isinstance(name, str) and name in _PROFILE_FIELDS for name in required
        ):
            raise refusal("policy_profile_fields", allowed=sorted(_PROFILE_FIELDS))
        if self.level_experienced_above < self.level_intermediate_from:
            raise refusal("policy_levels_order", experienced=self.level_experienced_above,
                          intermediate=self.level_intermediate_from)
        for name, limit in (("feed_page_size", None),
                            ("statement_page_size", self.statement_page_limit),
                            ("catalogue_page_size", self.catalogue_page_limit)):
            size = getattr(self, name)
            rule = attrs.fields_dict(Policy)[name].metadata["rule"]
            if limit is None and size < 1:
                raise refusal("policy_below_one", rule=rule, field=name, got=size)
            if limit is not None and not 1 <= size <= limit:
                raise refusal("policy_page_size", rule=rule, field=name, limit=limit, got=size)
        if self.argon2_time_cost < 1 or self.argon2_parallelism < 1 or (
                self.argon2_memory_kib < 8 * self.argon2_parallelism):
            raise refusal("policy_argon2_costs")
        if self.score_max <= self.score_min:
            raise refusal("policy_score_range", low=self.score_min, high=self.score_max)

    def add_days(self, instant: datetime, days: int, *, what: str = "instant",
                 rule: str | None = None) -> datetime:
        """``instant`` + ``days`` calendar days, same wall-clock time in the platform zone;
        past year 9999, an :class:`InvalidInputError` naming ``what``, with ``rule``."""
        return add_calendar_days(instant, days, self.timezone, what=what, rule=rule)

    def level(self, sessions_held: int) -> str:
        """PROF-5: 'beginner', 'intermediate' or 'experienced' for a count of sessions."""
        if sessions_held > self.level_experienced_above:
            return "experienced"
        if sessions_held >= self.level_intermediate_from:
            return "intermediate"
        return "beginner"


DEFAULT_POLICY = Policy()


@attrs.frozen(kw_only=True)
class PolicyField:
    """One policy value as the rule docs show it."""

    name: str
    value: Any
    rule: str
    seed: str
    doc: str


def policy_fields(policy: Policy = DEFAULT_POLICY) -> tuple[PolicyField, ...]:
    """Every policy field with its value, rule ID, seed line and meaning."""
    return tuple(
        PolicyField(
            name=field.name,
            value=getattr(policy, field.name),
            rule=field.metadata["rule"],
            seed=field.metadata["seed"],
            doc=field.metadata["doc"],
        )
        for field in attrs.fields(Policy)
    )
