"""Hypothesis strategies for hosts' own property tests: inputs the service accepts, and
whole command sequences.

Valid inputs (each one accepted by a fresh service, see ``tests/test_testing_kit.py``):

- :func:`emails`: email addresses (ACC-6), mixed case;
- :func:`passwords`: passwords long enough for the policy (ACC-4);
- :func:`member_signups`: keyword arguments of :meth:`Skilltroc.signup` (password or
  provider, individual or professional with a category);
- :func:`workshops`: keyword arguments of :meth:`Skilltroc.create_workshop` after the
  member id (title, description, domain, cost, capacity, duration, mode, locality);
- :func:`session_starts`: session starts after ``now``; :func:`instants`: aware
  instants in a few time zones;
- :func:`star_amounts`: purchase, gift or hold amounts (whole stars > 0).

Commands: :func:`commands` draws :class:`~skilltroc_core.testing.steps.Command`
descriptions over members, purchases, gifts, workshops, sessions, requests and their
answers, the aftermath of sessions, tutorials, ads, clock moves and ``run_due``; run
them with :func:`~skilltroc_core.testing.steps.apply`. Most commands can succeed;
some are meant to be refused (a wrong member, a bad amount, a stale state), and a
refusal must raise a :class:`~skilltroc_core.errors.SkilltrocError` and change nothing.

Example::

    @given(st.lists(commands(), max_size=30))
    def test_my_store_survives_any_commands(batch):
        app, ids = Skilltroc(MyStore(), ManualClock(T0)), KnownIds()
        for command in batch:
            try:
                apply(app, command, ids)
            except SkilltrocError:
                pass
        app.check_invariants(deep=True)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hypothesis import strategies as st

from ..accounts import ProCategory
from ..instants import time_zone
from ..refusals import refusal
from ..rules import DEFAULT_POLICY, Policy
from .steps import AREAS, NAMES, Command

__all__ = [
    "EMAIL_POOL",
    "commands",
    "emails",
    "instants",
    "member_signups",
    "passwords",
    "session_starts",
    "star_amounts",
    "workshops",
]

#: The addresses :func:`commands` signs up and sends gifts to: few, so that an address
#: already in use, a gift to someone who signs up later and a sponsor by email all happen.
EMAIL_POOL: Final = tuple(f"{name}@example.org" for name in (
    "ann", "ben", "cat", "dan", "eve", "fay", "xav", "yul"))
_VIDEOS: Final = ("https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                  "https://youtu.be/dQw4w9WgXcQ", "https://youtu.be/aaaaaaaaaaa",
                  "uploads/knots.mp4", "uploads/bread.mp4")
_DOMAINS: Final = ("cooking", "sailing", "Cooking ", "woodwork")
_VISITORS: Final = ("visitor-1", "visitor-2")
_PICK = st.one_of(st.just(-1), st.integers(0, 50))  # -1: the latest of its kind
_WHO = st.integers(0, 50)  # members: any of them, the latest no more than others
_MOSTLY = st.sampled_from([True, True, True, False])
_ZONES: Final = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Pacific/Auckland")


def _words(max_words: int = 3, max_size: int = 12) -> st.SearchStrategy[str]:
    """Non-blank text: letters and digits of any script, words separated by spaces."""
    word = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=max_size)
    return st.lists(word, min_size=1, max_size=max_words).map(" ".join)


def emails() -> st.SearchStrategy[str]:
    """Valid email addresses (ACC-6), in mixed case: the service keeps them lower-cased."""
    local = st.from_regex(r"[A-Za-z0-9]{1,12}([._+-][A-Za-z0-9]{1,8}){0,2}", fullmatch=True)
    label = st.from_regex(r"[A-Za-z0-9]{1,12}(-[A-Za-z0-9]{1,6})?", fullmatch=True)
    domain = st.tuples(st.lists(label, min_size=1, max_size=2),
                       st.sampled_from(["org", "net", "com", "fr", "example"]))
    return st.builds(lambda name, where: f"{name}@{'.'.join([*where[0], where[1]])}",
                     local, domain)


def passwords(policy: Policy = DEFAULT_POLICY) -> st.SearchStrategy[str]:
    """Passwords the policy accepts (ACC-4): any text of the minimum length or more
    (valid Unicode without NUL characters, as every text the service takes)."""
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                   min_size=policy.password_min_length,
                   max_size=max(policy.password_min_length, 40))


def member_signups(addresses: st.SearchStrategy[str] | None = None,
                   policy: Policy = DEFAULT_POLICY) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments of :meth:`Skilltroc.signup` (no sponsor): ``app.signup(**kwargs)``.

    Password signups (confirmed later with the returned token) and provider signups;
    individuals, or professionals with a category (ACC-3); sometimes a display name.
    ``addresses`` draws the email (default: :func:`emails`).
    """
    address = addresses if addresses is not None else emails()
    how = st.one_of(st.fixed_dictionaries({"password": passwords(policy)}),
                    st.fixed_dictionaries({"provider": st.sampled_from(["google", "facebook"])}))
    who = st.one_of(st.just({"kind": "individual"}), st.fixed_dictionaries({
        "kind": st.just("professional"),
        "category": st.sampled_from([c.value for c in ProCategory])}))
    name: st.SearchStrategy[dict[str, Any]] = st.one_of(
        st.just({}), st.fixed_dictionaries({"display_name": _words()}))
    return st.builds(lambda email, *parts: {"email": email, **_merge(parts)},
                     address, how, who, name)


def _merge(parts: tuple[Mapping[str, Any], ...]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    return merged


def workshops(policy: Policy = DEFAULT_POLICY) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments of :meth:`Skilltroc.create_workshop` after the member id (BOOK-1)."""
    mode = st.one_of(st.just({"mode": "online"}), st.fixed_dictionaries(
        {"mode": st.just("face_to_face"), "locality": _words(2)}))
    fields = st.fixed_dictionaries({
        "title": _words(), "description": _words(6), "domain": _words(2),
        "cost": st.integers(policy.min_workshop_cost, policy.min_workshop_cost + 12),
        "capacity": st.integers(policy.min_capacity, policy.min_capacity + 9),
        "duration": st.integers(15, 8 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    })
    return st.builds(lambda base, where: {**base, **where}, fields, mode)


def session_starts(now: datetime, *, within: timedelta = timedelta(days=30)
                   ) -> st.SearchStrategy[datetime]:
    """Session starts after ``now`` (BOOK-6), to the minute, at most ``within`` later."""
    return st.integers(1, max(1, within // timedelta(minutes=1))).map(
        lambda minutes: now + timedelta(minutes=minutes))


def instants(*, min_value: datetime = datetime(2026, 1, 1, tzinfo=UTC),
             max_value: datetime = datetime(2030, 12, 31, tzinfo=UTC),
             zones: tuple[str, ...] = _ZONES) -> st.SearchStrategy[datetime]:
    """Timezone-aware instants between the bounds, as wall-clock times of ``zones``
    (daylight-saving gaps never produced)."""
    low = min_value.astimezone(UTC).replace(tzinfo=None) + timedelta(days=1)
    high = max_value.astimezone(UTC).replace(tzinfo=None) - timedelta(days=1)
    return st.datetimes(min_value=low, max_value=high, allow_imaginary=False,
                        timezones=st.sampled_from([time_zone(z) for z in zones]))


def star_amounts(max_value: int = 100) -> st.SearchStrategy[int]:
    """Whole numbers of stars, from 1 to ``max_value`` (STAR-2, GIFT-1, BOOK-11)."""
    return st.integers(1, max_value)


# ---------------------------------------------------------------------- commands
def _command_arguments(policy: Policy) -> dict[str, dict[str, st.SearchStrategy[Any]]]:
    """The arguments of each command; picks (``member``, ``session``, ...) are indexes
    into the ids known when the command runs (-1: the latest)."""
    right = {"right": _MOSTLY, "who": _WHO}
    minutes = st.one_of(st.integers(60, 3 * 24 * 60), st.integers(24 * 60, 20 * 24 * 60),
                        st.integers(-600, 0))
    score = st.one_of(st.integers(policy.score_min, policy.score_max),
                      st.just(policy.score_max + 1))
    return {
        # members
        "signup": {"signup": member_signups(st.sampled_from(EMAIL_POOL), policy),
                   "sponsor": st.one_of(st.none(), st.none(), _WHO),
                   "sponsor_by_email": st.booleans()},
        "confirm_email": {"member": _WHO, "right": _MOSTLY},
        "complete_profile": {"member": _WHO, "display_name": _words(2)},
        "deactivate": {"member": _WHO, "fit": _MOSTLY},
        "reactivate": {"member": _WHO, "fit": _MOSTLY},
        # stars
        "buy_stars": {"member": _WHO,
                      "stars": st.one_of(star_amounts(40), st.sampled_from([0, -5])),
                      "reference": st.one_of(st.none(), st.none(),
                                             st.sampled_from(["pay-a", "pay-b"]))},
        "gift": {"member": _WHO, "to": st.one_of(_WHO, st.sampled_from(EMAIL_POOL)),
                 "stars": st.one_of(st.integers(1, 8), st.integers(-1, 40))},
        "accept_gift": {"gift": _PICK, **right},
        # workshops and sessions
        "create_workshop": {"member": _WHO, "workshop": workshops(policy)},
        "delete_workshop": {"workshop": _PICK, "right": st.sampled_from([True, False, False]),
                            "who": _WHO},
        "plan_session": {"workshop": _PICK, "minutes": minutes,
                         "capacity": st.one_of(st.none(), st.integers(0, 6)), **right},
        "move_session": {"session": _PICK, "minutes": minutes, **right},
        "set_capacity": {"session": _PICK, "capacity": st.integers(0, 8), **right},
        "cancel_session": {"session": _PICK, **right},
        # requests and answers
        "request": {"member": _WHO, "target": _PICK,
                    "future": st.sampled_from([False, False, True]),
                    "seats": st.sampled_from([1, 1, 2, 1, 3, 2, 0, 11])},
        "answer": {"registration": _PICK, "fit": _MOSTLY,
                   "how": st.sampled_from(["accept", "accept", "accept_future", "refuse"]),
                   **right},
        "withdraw": {"registration": _PICK, "fit": _MOSTLY,
                     "how": st.sampled_from(["cancel_request", "unregister", "leave_waitlist"]),
                     **right},
        "cancel_transaction": {"registration": _PICK, "fit": _MOSTLY, **right},
        "join": {"registration": _PICK, "session": _PICK, "fit": _MOSTLY, **right},
        # after a session
        "confirm_session": {"session": _PICK, "held": _MOSTLY, **right},
        "attendance": {"registration": _PICK, "absent": st.booleans(), "fit": _MOSTLY,
                       **right},
        "evaluate": {"registration": _PICK, "scores": st.tuples(score, score, score, score),
                     "recommend": st.booleans(), "fit": _MOSTLY, **right},
        # tutorials
        "publish_tutorial": {"member": _WHO, "title": _words(), "domain": _words(1),
                             "video": st.sampled_from(_VIDEOS), "rights": _MOSTLY},
        "edit_tutorial": {"tutorial": _PICK, "title": st.one_of(st.none(), _words()),
                          "video": st.one_of(st.none(), st.sampled_from(_VIDEOS)),
                          "rights": _MOSTLY, **right},
        "delete_tutorial": {"tutorial": _PICK, **right},
        "record_view": {"tutorial": _PICK,
                        "viewer": st.one_of(_WHO, st.sampled_from(_VISITORS)),
                        "view": st.one_of(st.none(), st.none(), st.just("view-a"))},
        # ads
        "create_campaign": {
            "member": _WHO,
            "budget": st.one_of(st.integers(policy.min_campaign_stars,
                                            policy.min_campaign_stars + 20),
                                st.just(policy.min_campaign_stars - 1)),
            "minutes": st.one_of(st.just(0), st.integers(1, 3 * 24 * 60), st.just(-30)),
            "domains": st.lists(st.sampled_from(_DOMAINS), min_size=1, max_size=2).map(tuple),
            "key": st.one_of(st.none(), st.just("campaign-key"))},
        "edit_campaign": {"campaign": _PICK,
                          "budget": st.one_of(st.none(), st.integers(
                              policy.min_campaign_stars, policy.min_campaign_stars + 20)),
                          "text": st.one_of(st.none(), _words()), **right},
        "serve": {"domain": st.sampled_from(_DOMAINS),
                  "page_view": st.one_of(st.none(), st.none(), st.just("page-a"))},
        # time
        # Mostly minutes to hours, so that sessions stay open to requests for a while.
        "advance": {"minutes": st.one_of(st.integers(1, 180), st.integers(1, 180),
                                         st.integers(1, 3 * 24 * 60),
                                         st.integers(1, 20 * 24 * 60)),
                    "days": st.sampled_from([0, 0, 0, 0, 1, 7, 15])},
        "next_deadline": {"offset": st.sampled_from([0, 0, 1, -1]),
                          "index": st.sampled_from([0, 0, 1, 2]), "fit": st.booleans()},
        "run_due": {},
    }


def commands(*areas: str, policy: Policy = DEFAULT_POLICY) -> st.SearchStrategy[Command]:
    """Commands of the given areas (all by default): ``members``, ``stars``,
    ``workshops``, ``requests``, ``withdrawals``, ``aftermath``, ``tutorials``, ``ads``,
    ``time``.

    ``policy`` bounds the amounts (costs, budgets, scores) so that most are valid.
    """
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        raise refusal("kit_unknown_command_areas", areas=[str(a) for a in unknown],
                      known=sorted(AREAS))
    names = [n for a in areas for n in AREAS[a]] if areas else list(NAMES)
    arguments = _command_arguments(policy)
    return st.one_of([_command(name, arguments[name])
                      for name in names for _ in range(_WEIGHTS.get(name, 1))])


#: How much more often than others a command is drawn: the ones that move a booking
#: along, so that requests get answered and sessions confirmed in short runs.
_WEIGHTS: Final = {"request": 3, "answer": 3, "plan_session": 2, "confirm_session": 3,
                   "attendance": 2, "next_deadline": 2}


def _command(name: str, arguments: dict[str, st.SearchStrategy[Any]]
             ) -> st.SearchStrategy[Command]:
    return st.builds(Command.of, st.just(name), **arguments)
