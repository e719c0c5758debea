"""The scenario format: the commands and expectations a file may use, each with its
keys and their types, and the parsed steps (what docs/scenario-format.md shows)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

# Types a key may have, as TOML gives them.
STR, INT, BOOL, INSTANT, TABLE, STR_LIST = "text", "integer", "boolean", "instant", "table", "list"
# Kinds of alias.
MEMBER, WORKSHOP, SESSION, REQUEST, GIFT, TUTORIAL, CAMPAIGN = (
    "member", "workshop", "session", "request", "gift", "tutorial", "campaign"
)
ALIAS_KINDS = (MEMBER, WORKSHOP, SESSION, REQUEST, GIFT, TUTORIAL, CAMPAIGN)


@attrs.frozen(kw_only=True)
class CommandSpec:
    """The keys of one ``do`` command: their types, which name aliases, which bind one."""

    required: Mapping[str, str]
    optional: Mapping[str, str] = attrs.field(factory=dict)
    refs: Mapping[str, str] = attrs.field(factory=dict)  # key -> alias kind it names
    creates: tuple[str, str] | None = None  # (key, alias kind) bound on success
    one_of: tuple[str, ...] = ()  # exactly one of these keys must be present
    member_or_email: tuple[str, ...] = ()  # keys that take a member alias or an email

    @property
    def keys(self) -> set[str]:
        return {*self.required, *self.optional}


def _member_cmd(**extra: str) -> CommandSpec:
    return CommandSpec(required={"member": STR, **extra}, refs={"member": MEMBER})


def _on(kind: str, key: str | None = None, **extra: str) -> CommandSpec:
    name = key or kind
    return CommandSpec(required={"member": STR, name: STR, **extra},
                       refs={"member": MEMBER, name: kind})


#: The commands written here; the others are derived from the command registry
#: (:mod:`.derived`), see :data:`COMMANDS`.
WRITTEN_COMMANDS: Mapping[str, CommandSpec] = {
    "signup": CommandSpec(
        required={"member": STR},
        optional={"email": STR, "kind": STR, "category": STR, "provider": STR,
                  "password": STR, "sponsor": STR, "confirmed": BOOL},
        creates=("member", MEMBER), member_or_email=("sponsor",),
    ),
    "confirm_email": _member_cmd(),
    "complete_profile": _member_cmd(),
    "buy_stars": _member_cmd(stars=INT, payment=STR),
    "deactivate": _member_cmd(),
    "reactivate": _member_cmd(),
    "follow": CommandSpec(required={"member": STR, "whom": STR},
                          refs={"member": MEMBER, "whom": MEMBER}),
    "post_message": _member_cmd(text=STR),
    "sign_in": CommandSpec(required={"member": STR}, optional={"password": STR},
                           refs={"member": MEMBER}),
    "request_password_reset": _member_cmd(),
    "reset_password": _member_cmd(password=STR),
    "change_password": CommandSpec(required={"member": STR, "password": STR},
                                   optional={"current": STR}, refs={"member": MEMBER}),
    "invite": _member_cmd(email=STR),
    "gift": CommandSpec(required={"member": STR, "to": STR, "stars": INT},
                        optional={"as": STR}, refs={"member": MEMBER},
                        creates=("as", GIFT), member_or_email=("to",)),
    "accept_gift": _on(GIFT),
    "create_workshop": CommandSpec(
        required={"member": STR, "workshop": STR, "cost": INT, "capacity": INT},
        optional={"mode": STR, "locality": STR, "domain": STR, "duration": TABLE,
                  "title": STR},
        refs={"member": MEMBER}, creates=("workshop", WORKSHOP),
    ),
    "delete_workshop": _on(WORKSHOP),
    "plan_session": CommandSpec(
        required={"member": STR, "workshop": STR, "session": STR, "at": INSTANT},
        optional={"capacity": INT}, refs={"member": MEMBER, "workshop": WORKSHOP},
        creates=("session", SESSION),
    ),
    "move_session": _on(SESSION, at=INSTANT),
    "set_capacity": _on(SESSION, capacity=INT),
    "cancel_session": _on(SESSION),
    "request": CommandSpec(
        required={"member": STR, "seats": INT}, optional={"session": STR, "workshop": STR,
                                                          "as": STR},
        refs={"member": MEMBER, "session": SESSION, "workshop": WORKSHOP},
        creates=("as", REQUEST), one_of=("session", "workshop"),
    ),
    **{name: _on(REQUEST) for name in (
        "cancel_request", "refuse", "accept", "accept_future", "leave_waitlist",
        "unregister", "cancel_transaction", "declare_absent", "confirm_attendance")},
    "join": CommandSpec(required={"member": STR, "request": STR, "session": STR},
                        refs={"member": MEMBER, "request": REQUEST, "session": SESSION}),
    "see_contact": _on(REQUEST),
    "confirm_held": _on(SESSION),
    "confirm_not_held": _on(SESSION),
    "evaluate": _on(REQUEST, satisfaction=INT, conformity=INT, teaching=INT, duration=INT,
                    recommend=BOOL),
    "publish_tutorial": CommandSpec(
        required={"member": STR, "tutorial": STR, "domain": STR},
        optional={"url": STR, "upload": STR, "rights": BOOL, "title": STR},
        refs={"member": MEMBER}, creates=("tutorial", TUTORIAL), one_of=("url", "upload"),
    ),
    "delete_tutorial": _on(TUTORIAL),
    "view_tutorial": CommandSpec(
        required={"tutorial": STR}, optional={"viewer": STR, "distinct_viewers": INT,
                                              "times": INT},
        refs={"tutorial": TUTORIAL, "viewer": MEMBER}, one_of=("viewer", "distinct_viewers"),
    ),
    "create_campaign": CommandSpec(
        required={"member": STR, "campaign": STR, "stars": INT, "starts": INSTANT,
                  "domains": STR_LIST, "text": STR},
        optional={"link": STR, "visual": STR},
        refs={"member": MEMBER}, creates=("campaign", CAMPAIGN),
    ),
    "edit_campaign": CommandSpec(
        required={"member": STR, "campaign": STR},
        optional={"stars": INT, "starts": INSTANT, "domains": STR_LIST, "text": STR,
                  "link": STR, "visual": STR},
        refs={"member": MEMBER, "campaign": CAMPAIGN},
    ),
    "browse": CommandSpec(required={"domain": STR, "times": INT}),
}

#: what each command does, for the generated page of the format (docs/scenario-format.md)
WRITTEN_SUMMARIES: Mapping[str, str] = {
    "signup": "sign up (password by default; `provider` for Google or Facebook; "
              "`confirmed = false` leaves the email unconfirmed)",
    "confirm_email": "click the link of the confirmation mail",
    "complete_profile": "fill every field a complete profile needs (PROF-6)",
    "buy_stars": "buy stars, idempotent by payment reference",
    "deactivate": "deactivate the account (purged 15 days later unless reactivated)",
    "reactivate": "reactivate a deactivated account before its purge",
    "follow": "follow another member's news",
    "post_message": "post a message to one's followers",
    "sign_in": "sign in with the member's password (or `password`)",
    "request_password_reset": "ask for a password reset link by mail",
    "reset_password": "set `password` through the link of the last reset mail",
    "change_password": "change to `password`, giving the current one (or `current`)",
    "invite": "invite someone who is not a member by `email`",
    "gift": "gift stars to a member or an email (held in escrow until accepted)",
    "accept_gift": "accept a gift",
    "create_workshop": "propose a workshop",
    "delete_workshop": "delete a workshop (its sessions are cancelled, stars refunded)",
    "plan_session": "plan a session of a workshop at `at`",
    "move_session": "move a session to `at`",
    "set_capacity": "change a session's capacity",
    "cancel_session": "cancel a session",
    "request": "ask for seats in a session or a future session of a workshop",
    "cancel_request": "the member withdraws an unanswered request",
    "refuse": "the organizer refuses a request",
    "accept": "the organizer accepts a request for its session",
    "accept_future": "the organizer accepts a request for a future session (waitlist)",
    "leave_waitlist": "the member leaves the waitlist",
    "unregister": "the member gives up a registration",
    "cancel_transaction": "the organizer cancels a registration",
    "declare_absent": "the member declares they did not attend",
    "confirm_attendance": "the member confirms they attended",
    "join": "a waitlisted member takes seats in a planned session",
    "see_contact": "one party of an accepted request reads the other's email",
    "confirm_held": "the organizer confirms the session was held",
    "confirm_not_held": "the organizer says the session was not held",
    "evaluate": "the member evaluates a held session they attended",
    "publish_tutorial": "publish a tutorial (a YouTube `url` or an `upload`)",
    "delete_tutorial": "delete a tutorial",
    "view_tutorial": "views of a tutorial by a member or by new anonymous visitors",
    "create_campaign": "set up an ad campaign paid with `stars`",
    "edit_campaign": "change a campaign",
    "browse": "anonymous page views in a domain, each of which may show one ad",
}


def _summarized(what: str, table: Mapping[str, object], summaries: Mapping[str, str]) -> None:
    """Refuse at import a command or expectation without its line in the docs (or a line
    for one that no longer exists)."""
    if set(summaries) != set(table):
        raise ImportError(f"scenario {what} and their summaries differ: "
                          f"{sorted(set(table) ^ set(summaries))}")


_summarized("commands", WRITTEN_COMMANDS, WRITTEN_SUMMARIES)

# What the lists of the catalogue are read with, instead of an alias.
DOMAIN, WORDS, PREFIX = "skill domain", "search words", "name prefix"
TEXT_KEYED = (DOMAIN, WORDS, PREFIX)
#: expectation key -> what its table is keyed by (a kind of alias, or a text of
#: TEXT_KEYED), or None for a plain number
EXPECTATIONS: Mapping[str, str | None] = {
    "balance": MEMBER, "held": MEMBER, "seats_left": SESSION, "level": MEMBER,
    "rating": MEMBER, "recommendation_rate": MEMBER, "earned": TUTORIAL, "views": TUTORIAL,
    "impressions": CAMPAIGN, "goal": CAMPAIGN, "notified": MEMBER, "not_notified": MEMBER,
    "total_stars": None, "attached": MEMBER, "public": MEMBER,
    "catalogue": DOMAIN, "search": WORDS, "members_found": PREFIX, "roster": SESSION,
    "waitlist": WORKSHOP,
}
#: The expectations that are lists of aliases: the kinds of alias they name, and whether
#: their order counts (a list read in the order the library gives it) or not.
LISTS: Mapping[str, tuple[tuple[str, ...], bool]] = {
    "attached": ((WORKSHOP, TUTORIAL, CAMPAIGN), False),
    "catalogue": ((SESSION,), True), "search": ((WORKSHOP, TUTORIAL), True),
    "members_found": ((MEMBER,), True), "roster": ((MEMBER,), False),
    "waitlist": ((MEMBER,), True),
}
EXPECTATION_SUMMARIES: Mapping[str, str] = {
    "balance": "stars the member can spend now",
    "held": "stars of the member held in requests, registrations and waitlist entries",
    "seats_left": "a session's capacity minus its registered seats",
    "level": "beginner, intermediate or experienced",
    "rating": "the member's overall rating (2 decimals)",
    "recommendation_rate": "whole percent of evaluations that recommend",
    "earned": "stars a tutorial paid its publisher",
    "views": "a tutorial's counted views",
    "impressions": "a campaign's impressions",
    "goal": "a campaign's impression goal",
    "notified": "rule IDs the member has a notice citing",
    "not_notified": "rule IDs the member has no notice citing",
    "total_stars": "all stars in balances, holds and gift escrow",
    "attached": "the workshops, tutorials and campaigns on the member's profile, in any "
                "order (PROF-2)",
    "public": "whether the member's profile is public (PROF-7)",
    "catalogue": "the sessions of a skill domain (case and accents aside; `all`: every "
                 "domain) planned and not started yet, soonest first (AD-7), every page",
    "search": "the workshops and tutorials whose title, description, domain or locality "
              "hold every word (case and accents aside), newest first (AD-7), every page",
    "members_found": "the active members whose display name starts with the prefix, in "
                     "name order (SOCIAL-1), every page",
    "roster": "the members registered for a session, in any order (BOOK-18)",
    "waitlist": "the members waiting for a session of a workshop, oldest request first "
                "(BOOK-22)",
}
_summarized("expectations", EXPECTATIONS, EXPECTATION_SUMMARIES)
_STEP_KINDS = ("do", "expect", "advance", "at")
_TOP_KEYS = {"title", "rules", "start", "timezone", "step"}


@attrs.frozen(kw_only=True)
class Step:
    number: int
    kind: str
    data: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Scenario:
    path: str
    title: str
    rules: tuple[str, ...]
    start: datetime
    timezone: str
    steps: tuple[Step, ...]




@attrs.frozen(kw_only=True)
class ScenarioResult:
    path: str
    title: str
    passed: bool
    failed_step: int | None = None
    message: str = ""



class StepFailedError(Exception):
    """A step did not hold: its message says what was expected and what was found."""
