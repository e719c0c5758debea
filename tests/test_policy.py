"""The policy: every number of the rule catalogue as a named, documented, overridable value."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from skilltroc_core.accounts import Profile
from skilltroc_core.errors import InvalidInputError
from skilltroc_core.rules import _PROFILE_FIELDS, DEFAULT_POLICY, Policy, policy_fields

RULE_ID = re.compile(r"[A-Z]+-\d+")
SEED = re.compile(r"L\d+")
RULE_FAMILIES = {
    "STAR", "ACC", "PROF", "BOOK", "REFUND", "TUTO", "AD", "SPONSOR", "SOCIAL", "GIFT",
}


def _expect(name: str, value: object, *rules: str) -> Any:
    return pytest.param(name, value, rules[0], marks=pytest.mark.rule(*rules), id=name)


DEFAULTS = [
        _expect("signup_bonus", 10, "STAR-1"),
        _expect("gift_floor", 10, "GIFT-1"),
        _expect("min_gift", 1, "GIFT-1"),
        _expect("gift_expiry_days", None, "GIFT-4"),
        _expect("referral_reward", 5, "SPONSOR-3"),
        _expect("views_per_tutorial_star", 100, "TUTO-2"),
        _expect("view_dedup_window", timedelta(hours=24), "TUTO-4"),
        _expect("impressions_per_ad_star", 100, "AD-2"),
        _expect("min_campaign_stars", 10, "AD-2"),
        _expect("min_seats", 1, "BOOK-12"),
        _expect("max_future_seats", 10, "BOOK-12"),
        _expect("min_workshop_cost", 0, "BOOK-1"),
        _expect("min_capacity", 1, "BOOK-1"),
        _expect("waitlist_window_days", 15, "BOOK-24"),
        _expect("confirmation_window_days", 7, "BOOK-32", "BOOK-30"),
        _expect("future_request_due_days", 7, "BOOK-16"),
        _expect("account_retention_days", 15, "ACC-7"),
        _expect("level_intermediate_from", 5, "PROF-5"),
        _expect("level_experienced_above", 10, "PROF-5"),
        _expect("score_min", 0, "BOOK-41"),
        _expect("score_max", 10, "BOOK-41"),
        _expect("reset_token_lifetime", timedelta(hours=1), "ACC-4"),
        _expect("timezone", "Europe/Paris", "BOOK-24"),
        _expect("feed_page_size", 100, "SOCIAL-3"),
        _expect("profile_required_fields",
                ("display_name", "category", "description", "photo", "locality"), "PROF-6"),
        # the DECISIONs the catalogue leaves to the library, as docs/rules.md publishes them
        _expect("clock_tolerance", timedelta(minutes=1), "STAR-5"),
        _expect("replay_window", None, "TUTO-4"),
        _expect("statement_page_size", 50, "STAR-5"),
        _expect("statement_page_limit", 10_000, "STAR-5"),
        _expect("catalogue_page_size", 20, "AD-7"),
        _expect("catalogue_page_limit", 100, "AD-7"),
        _expect("password_min_length", 8, "ACC-4"),
        # argon2id at the OWASP minimum: 19 MiB, 2 passes, 1 lane
        _expect("argon2_memory_kib", 19 * 1024, "ACC-4"),
        _expect("argon2_time_cost", 2, "ACC-4"),
        _expect("argon2_parallelism", 1, "ACC-4"),
        _expect("max_name_length", 80, "PROF-1"),
        _expect("max_bio_length", 1000, "PROF-1"),
        _expect("max_email_length", 254, "ACC-6"),  # RFC 5321's longest path
]


@pytest.mark.parametrize(("name", "value", "rule"), DEFAULTS)
def test_the_default_policy_holds_the_number_rules_md_gives_and_cites_its_rule(
    name: str, value: object, rule: str
) -> None:
    assert getattr(DEFAULT_POLICY, name) == value
    cited = {field.name: field.rule for field in policy_fields()}
    assert cited[name] == rule


@pytest.mark.rule("STAR-5")
def test_every_policy_field_has_its_default_checked_above() -> None:
    assert {param.values[0] for param in DEFAULTS} == {f.name for f in attrs.fields(Policy)}


@pytest.mark.rule("ACC-4")
@pytest.mark.parametrize(("costs", "valid"), [
    ({"argon2_time_cost": 1, "argon2_parallelism": 1, "argon2_memory_kib": 8}, True),
    ({"argon2_time_cost": 0}, False),
    ({"argon2_parallelism": 0}, False),
    ({"argon2_parallelism": 2, "argon2_memory_kib": 16}, True),
    ({"argon2_parallelism": 2, "argon2_memory_kib": 15}, False),
    ({"argon2_parallelism": 1, "argon2_memory_kib": 7}, False),
])
def test_argon2_costs_need_a_pass_a_lane_and_8_kib_a_lane(
    costs: dict[str, Any], valid: bool
) -> None:
    if valid:
        assert attrs.evolve(DEFAULT_POLICY, **costs).argon2_time_cost >= 1
        return
    with pytest.raises(InvalidInputError, match="argon2 costs"):
        attrs.evolve(DEFAULT_POLICY, **costs)


@pytest.mark.rule("STAR-5", "ACC-4")
def test_a_duration_of_zero_is_accepted() -> None:
    policy = attrs.evolve(DEFAULT_POLICY, clock_tolerance=timedelta(0),
                          reset_token_lifetime=timedelta(0))
    assert (policy.clock_tolerance, policy.reset_token_lifetime) == (timedelta(0),) * 2


@pytest.mark.rule("PROF-5")
@pytest.mark.parametrize(
    ("sessions_held", "level"),
    [
        (0, "beginner"),
        (4, "beginner"),
        (5, "intermediate"),
        (10, "intermediate"),
        (11, "experienced"),
        (250, "experienced"),
    ],
)
def test_the_experience_level_follows_the_session_thresholds(
    sessions_held: int, level: str
) -> None:
    assert DEFAULT_POLICY.level(sessions_held) == level


@pytest.mark.rule("PROF-5")
def test_the_experience_level_follows_overridden_thresholds() -> None:
    policy = attrs.evolve(DEFAULT_POLICY, level_intermediate_from=3, level_experienced_above=6)
    levels = [policy.level(n) for n in (2, 3, 6, 7)]
    assert levels == ["beginner", "intermediate", "intermediate", "experienced"]


def test_policy_fields_lists_every_field_with_its_current_value() -> None:
    fields = policy_fields()
    assert [field.name for field in fields] == [a.name for a in attrs.fields(Policy)]
    for field in fields:
        assert field.value == getattr(DEFAULT_POLICY, field.name)


def test_every_policy_field_cites_a_rule_a_seed_line_and_a_meaning() -> None:
    for field in policy_fields():
        assert RULE_ID.fullmatch(field.rule), field
        assert field.rule.split("-")[0] in RULE_FAMILIES, field
        assert SEED.fullmatch(field.seed), field
        assert isinstance(field.doc, str), field
        assert field.doc.strip(), field


def test_policy_fields_shows_the_values_of_the_policy_it_is_given() -> None:
    policy = attrs.evolve(DEFAULT_POLICY, signup_bonus=25)
    shown = {field.name: field.value for field in policy_fields(policy)}
    assert shown["signup_bonus"] == 25


@pytest.mark.rule("BOOK-24", "STAR-1")
def test_evolve_overrides_chosen_values_and_leaves_the_default_policy_alone() -> None:
    policy = attrs.evolve(DEFAULT_POLICY, waitlist_window_days=20, signup_bonus=0)
    assert (policy.waitlist_window_days, policy.signup_bonus) == (20, 0)
    assert policy.gift_floor == DEFAULT_POLICY.gift_floor
    assert (DEFAULT_POLICY.waitlist_window_days, DEFAULT_POLICY.signup_bonus) == (15, 10)


def test_a_policy_cannot_be_changed_in_place() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        DEFAULT_POLICY.signup_bonus = 11  # type: ignore[misc]


def test_an_overridden_time_zone_is_the_one_add_days_uses() -> None:
    policy = attrs.evolve(DEFAULT_POLICY, timezone="America/New_York")
    est, edt = timezone(timedelta(hours=-5)), timezone(timedelta(hours=-4))
    # United States clocks spring forward on 2027-03-14; Paris's do not move that day.
    start = datetime(2027, 3, 13, 10, 0, tzinfo=est)
    assert policy.add_days(start, 1) == datetime(2027, 3, 14, 10, 0, tzinfo=edt)
    assert DEFAULT_POLICY.add_days(start, 1) == datetime(2027, 3, 14, 15, 0, tzinfo=UTC)


# --- invalid policies -----------------------------------------------------------------

INT_FIELDS = [
    a.name
    for a in attrs.fields(Policy)
    if isinstance(getattr(DEFAULT_POLICY, a.name), int)
]


def test_the_int_fields_cover_the_numbers_of_the_rules() -> None:
    assert {"signup_bonus", "gift_floor", "waitlist_window_days", "score_max"} <= set(
        INT_FIELDS
    )


@pytest.mark.parametrize("name", INT_FIELDS)
def test_a_negative_number_is_refused_for_every_whole_number_field(name: str) -> None:
    overrides: dict[str, Any] = {name: -1}
    with pytest.raises(InvalidInputError, match=name):
        Policy(**overrides)


@pytest.mark.parametrize("value", [1.5, 10.0, "10", True, None])
def test_a_value_that_is_not_a_whole_number_is_refused(value: object) -> None:
    overrides: dict[str, Any] = {"signup_bonus": value}
    with pytest.raises(InvalidInputError, match="signup_bonus"):
        Policy(**overrides)


@pytest.mark.rule("GIFT-4")
def test_a_negative_gift_expiry_is_refused_and_a_positive_one_accepted() -> None:
    with pytest.raises(InvalidInputError, match="gift_expiry_days"):
        Policy(gift_expiry_days=-1)
    assert Policy(gift_expiry_days=30).gift_expiry_days == 30


@pytest.mark.parametrize("name", ["reset_token_lifetime", "view_dedup_window"])
def test_a_negative_or_non_duration_lifetime_is_refused(name: str) -> None:
    for value in (timedelta(seconds=-1), 3600):
        overrides: dict[str, Any] = {name: value}
        with pytest.raises(InvalidInputError, match=name):
            Policy(**overrides)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Europe/Pariss", "", "  "])
def test_an_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="time zone"):
        Policy(timezone=name)


@pytest.mark.rule("PROF-5")
def test_level_thresholds_out_of_order_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="level thresholds"):
        Policy(level_intermediate_from=11, level_experienced_above=10)
    equal = Policy(level_intermediate_from=10, level_experienced_above=10)
    assert [equal.level(n) for n in (9, 10, 11)] == ["beginner", "intermediate", "experienced"]


@pytest.mark.rule("BOOK-41")
@pytest.mark.parametrize(("low", "high"), [(10, 10), (7, 3)])
def test_an_empty_score_range_is_refused(low: int, high: int) -> None:
    with pytest.raises(InvalidInputError, match="score range"):
        Policy(score_min=low, score_max=high)


@pytest.mark.rule("PROF-6")
@pytest.mark.parametrize("required", [("display_name", "shoe_size"), ["photo"], "photo",
                                      (["photo"],)])
def test_a_profile_requirement_names_profile_fields_in_a_tuple(required: Any) -> None:
    with pytest.raises(InvalidInputError, match="profile_required_fields"):
        attrs.evolve(DEFAULT_POLICY, profile_required_fields=required)


@pytest.mark.rule("SOCIAL-3")
def test_a_feed_page_holds_at_least_one_message() -> None:
    with pytest.raises(InvalidInputError, match="feed_page_size"):
        attrs.evolve(DEFAULT_POLICY, feed_page_size=0)
    assert attrs.evolve(DEFAULT_POLICY, feed_page_size=1).feed_page_size == 1


@pytest.mark.rule("STAR-5", "AD-7")
@pytest.mark.parametrize(("size", "limit"), [("statement_page_size", "statement_page_limit"),
                                             ("catalogue_page_size", "catalogue_page_limit")])
def test_a_default_page_size_is_from_1_to_its_limit(size: str, limit: str) -> None:
    most: int = getattr(DEFAULT_POLICY, limit)
    changed: dict[str, Any]
    for fine in (1, most):
        changed = {size: fine}
        assert getattr(attrs.evolve(DEFAULT_POLICY, **changed), size) == fine
    for wrong in (0, most + 1):
        changed = {size: wrong}
        with pytest.raises(InvalidInputError) as refused:
            attrs.evolve(DEFAULT_POLICY, **changed)
        assert (refused.value.reason, refused.value.facts["limit"]) == ("policy_page_size", most)


@pytest.mark.rule("PROF-6")
def test_the_profile_fields_a_policy_may_require_are_those_of_a_profile() -> None:
    # rules.py cannot import accounts.py (which imports it): the list is kept there and
    # checked here against the Profile it must match
    assert {f.name for f in attrs.fields(Profile)} | {"category"} == _PROFILE_FIELDS
