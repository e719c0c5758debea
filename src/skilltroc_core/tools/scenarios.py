"""Scenario files: the rules as executable examples (the format of SCENARIOS.md).

A scenario is a TOML file of steps (``do`` a command, ``expect`` values, ``advance`` or
``at`` the clock). :func:`load_scenario` checks the whole file before anything runs: an
unknown key, command or alias, or a value of the wrong TOML type, is a
:class:`ScenarioFormatError` naming the file, the step and the key. :class:`Runner`
then plays it against a fresh service on any store, narrating each step, checking the
ledger invariants after every one, and stopping at the first step that does not hold.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO

import attrs

from ..adapters.clocks import ManualClock
from ..errors import InvariantViolationError, ScenarioFormatError, SkilltrocError
from ..events import Notification
from ..instants import require_aware, to_local
from ..keys import MIN_SECRET_BYTES
from ..ports import Store
from ..rules import DEFAULT_POLICY, Policy
from ..service import Skilltroc

__all__ = [
    "COMMANDS",
    "COMMAND_SUMMARIES",
    "EXPECTATIONS",
    "EXPECTATION_SUMMARIES",
    "Runner",
    "Scenario",
    "ScenarioFormatError",
    "ScenarioResult",
    "load_scenario",
]

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


COMMANDS: Mapping[str, CommandSpec] = {
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
COMMAND_SUMMARIES: Mapping[str, str] = {
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


_summarized("commands", COMMANDS, COMMAND_SUMMARIES)

#: expectation key -> (kind of alias its table is keyed by, or None for a plain number)
EXPECTATIONS: Mapping[str, str | None] = {
    "balance": MEMBER, "held": MEMBER, "seats_left": SESSION, "level": MEMBER,
    "rating": MEMBER, "recommendation_rate": MEMBER, "earned": TUTORIAL, "views": TUTORIAL,
    "impressions": CAMPAIGN, "goal": CAMPAIGN, "notified": MEMBER, "not_notified": MEMBER,
    "total_stars": None, "attached": MEMBER, "public": MEMBER,
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
}
_summarized("expectations", EXPECTATIONS, EXPECTATION_SUMMARIES)
#: the alias kinds a profile's attachments (PROF-2) are named by
_ATTACHABLE = (WORKSHOP, TUTORIAL, CAMPAIGN)
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


def _type_ok(value: object, expected: str) -> bool:
    if expected == STR:
        return isinstance(value, str)
    if expected == INT:
        return type(value) is int
    if expected == BOOL:
        return isinstance(value, bool)
    if expected == INSTANT:
        return isinstance(value, datetime) and value.tzinfo is not None
    if expected == TABLE:
        return isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def load_scenario(path: str | Path, known_rules: set[str] | None = None) -> Scenario:
    """Parse and check a scenario file; :class:`ScenarioFormatError` if it is malformed."""
    name = str(path)

    def bad(message: str, step: int | None = None, key: str | None = None) -> ScenarioFormatError:
        where = name + (f", step {step}" if step else "") + (f", key '{key}'" if key else "")
        return ScenarioFormatError(f"{where}: {message}", file=name, step=step, key=key)

    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise bad(f"cannot be read as TOML ({exc})") from exc
    for key in document:
        if key not in _TOP_KEYS:
            raise bad("unknown top-level key", key=key)
    title = document.get("title", Path(name).stem)
    rules = document.get("rules", [])
    if not isinstance(title, str):
        raise bad("title is text", key="title")
    if not _type_ok(rules, STR_LIST):
        raise bad("rules is a list of rule IDs", key="rules")
    if known_rules is not None:
        for rule in rules:
            if rule not in known_rules:
                raise bad(f"{rule} is not a rule ID of RULES.md", key="rules")
    start = document.get("start")
    if not _type_ok(start, INSTANT):
        raise bad("start is a date-time with its offset, e.g. 2027-03-01T09:00:00+01:00",
                  key="start")
    zone = document.get("timezone", DEFAULT_POLICY.timezone)
    if not isinstance(zone, str):
        raise bad("timezone is text", key="timezone")
    try:
        attrs.evolve(DEFAULT_POLICY, timezone=zone)
    except SkilltrocError as exc:
        raise bad(str(exc.message), key="timezone") from exc
    raw_steps = document.get("step", [])
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        raise bad("steps are [[step]] tables", key="step")

    declared: dict[str, dict[str, bool]] = {kind: {} for kind in ALIAS_KINDS}
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        kinds_here = [k for k in ("do", "expect", "advance") if k in raw]
        if "at" in raw and "do" not in raw:
            kinds_here.append("at")
        if len(kinds_here) != 1:
            raise bad("a step has exactly one of do, expect, advance, at", number)
        kind = kinds_here[0]
        if kind == "do":
            _check_do(raw, number, declared, bad)
        elif kind == "expect":
            _check_expect(raw, number, declared, bad)
        elif kind == "advance":
            _check_advance(raw, number, bad)
        else:
            if set(raw) != {"at"}:
                raise bad("an 'at' step has only 'at'", number, next(iter(set(raw) - {"at"})))
            if not _type_ok(raw["at"], INSTANT):
                raise bad("at is a date-time with its offset", number, "at")
        steps.append(Step(number=number, kind=kind, data=raw))
    return Scenario(path=name, title=title, rules=tuple(rules), start=require_aware(start),
                    timezone=zone, steps=tuple(steps))


def _check_do(raw: Mapping[str, Any], number: int, declared: dict[str, dict[str, bool]],
              bad: Callable[..., ScenarioFormatError]) -> None:
    command = raw["do"]
    spec = COMMANDS.get(command) if isinstance(command, str) else None
    if spec is None:
        raise bad(f"unknown command {command!r}", number, "do")
    for key, value in raw.items():
        if key in ("do", "fails", "error"):
            continue
        expected = spec.required.get(key) or spec.optional.get(key)
        if expected is None:
            raise bad(f"{command} has no key '{key}'", number, key)
        if not _type_ok(value, expected):
            raise bad(f"'{key}' must be {expected}", number, key)
    for key in spec.required:
        if key not in raw:
            raise bad(f"{command} needs '{key}'", number, key)
    if spec.one_of and sum(k in raw for k in spec.one_of) != 1:
        raise bad(f"{command} takes exactly one of {', '.join(spec.one_of)}", number,
                  spec.one_of[0])
    if "fails" in raw and not isinstance(raw["fails"], bool):
        raise bad("fails is true or false", number, "fails")
    if "error" in raw and not isinstance(raw["error"], str):
        raise bad("error is an error code (text)", number, "error")
    created_key = spec.creates[0] if spec.creates else None
    for key, alias_kind in spec.refs.items():
        if key in raw and key != created_key and raw[key] not in declared[alias_kind]:
            raise bad(f"unknown {alias_kind} alias {raw[key]!r}", number, key)
    for key in spec.member_or_email:
        value = raw.get(key)
        if isinstance(value, str) and "@" not in value and value not in declared[MEMBER]:
            raise bad(f"unknown member alias {value!r} (or write an email)", number, key)
    if spec.creates and spec.creates[0] in raw:
        key, alias_kind = spec.creates
        alias = raw[key]
        if declared[alias_kind].get(alias) is False:
            raise bad(f"{alias_kind} alias {alias!r} is already bound", number, key)
        declared[alias_kind][alias] = bool(raw.get("fails", False))


def _check_expect(raw: Mapping[str, Any], number: int, declared: dict[str, dict[str, bool]],
                  bad: Callable[..., ScenarioFormatError]) -> None:
    if set(raw) != {"expect"} or not isinstance(raw["expect"], dict):
        raise bad("an expect step is one table: expect = { ... }", number, "expect")
    for key, value in raw["expect"].items():
        if key not in EXPECTATIONS:
            raise bad(f"unknown expectation '{key}'", number, key)
        alias_kind = EXPECTATIONS[key]
        if alias_kind is None:
            if type(value) not in (int, float):
                raise bad(f"'{key}' is a number", number, key)
            continue
        if not isinstance(value, dict):
            raise bad(f"'{key}' maps aliases to values", number, key)
        for alias, expected in value.items():
            if alias not in declared[alias_kind]:
                raise bad(f"unknown {alias_kind} alias {alias!r}", number, key)
            if key in ("notified", "not_notified"):
                if not (isinstance(expected, str) or _type_ok(expected, STR_LIST)):
                    raise bad(f"'{key}' takes a rule ID or a list of them", number, key)
            elif key == "level":
                if expected not in ("beginner", "intermediate", "experienced"):
                    raise bad("level is beginner, intermediate or experienced", number, key)
            elif key == "public":
                if not isinstance(expected, bool):
                    raise bad("public is true or false", number, key)
            elif key == "attached":
                if not _type_ok(expected, STR_LIST):
                    raise bad("attached takes a list of workshop, tutorial or campaign "
                              "aliases", number, key)
                if len(set(expected)) != len(expected):
                    raise bad("attached names each alias once", number, key)
                for name in expected:
                    named = [kind for kind in _ATTACHABLE if name in declared[kind]]
                    if not named:
                        raise bad(f"unknown workshop, tutorial or campaign alias {name!r}",
                                  number, key)
                    if len(named) > 1:
                        raise bad(f"{name!r} names a {' and a '.join(named)}: attached cannot "
                                  "tell them apart (give them different aliases)", number, key)
            elif type(expected) not in (int, float) or isinstance(expected, bool):
                raise bad(f"'{key}' values are numbers", number, key)


def _check_advance(raw: Mapping[str, Any], number: int,
                   bad: Callable[..., ScenarioFormatError]) -> None:
    if set(raw) != {"advance"} or not isinstance(raw["advance"], dict):
        raise bad("an advance step is one table: advance = { days = 1 }", number, "advance")
    for key, value in raw["advance"].items():
        if key not in ("days", "hours", "minutes"):
            raise bad(f"advance takes days, hours and minutes, not '{key}'", number, key)
        if type(value) is not int or value < 0:
            raise bad(f"'{key}' is a whole number >= 0", number, key)


# ---------------------------------------------------------------------------- running
@attrs.frozen(kw_only=True)
class ScenarioResult:
    path: str
    title: str
    passed: bool
    failed_step: int | None = None
    message: str = ""


class StepFailedError(Exception):
    """A step did not hold: its message says what was expected and what was found."""


class Runner:
    """Plays one scenario on one store, writing the narrated timeline to ``out``."""

    def __init__(self, scenario: Scenario, store: Store, out: TextIO, *, quiet: bool = False,
                 policy: Policy | None = None) -> None:
        self.scenario = scenario
        base = policy or attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)
        self.policy = attrs.evolve(base, timezone=scenario.timezone)
        self.clock = ManualClock(scenario.start)
        # a scenario's store is its own and lives for one run: any secret key will do
        self.app = Skilltroc(store, self.clock, policy=self.policy,
                             secret_key=secrets.token_bytes(MIN_SECRET_BYTES))
        self.out = out
        self.quiet = quiet
        self.aliases: dict[str, dict[str, str]] = {kind: {} for kind in ALIAS_KINDS}
        self.tokens: dict[str, str] = {}  # member alias -> email confirmation token
        self.reset_tokens: dict[str, str] = {}  # member alias -> password reset token
        self.passwords: dict[str, str] = {}  # member alias -> their password now
        self.known_emails: dict[str, str] = {}
        self.log: list[Notification] = []
        self.anonymous = 0
        self.views = 0
        self.page_views = 0

    def say(self, text: str) -> None:
        if not self.quiet:
            self.out.write(text + "\n")

    # ------------------------------------------------------------------ plumbing
    def id_of(self, kind: str, alias: str) -> str:
        found = self.aliases[kind].get(alias)
        if found is None:
            raise StepFailedError(
                f"{kind} alias {alias!r} is not bound (the step that creates it failed)"
            )
        return found

    def email_of(self, value: str) -> str:
        if "@" in value:
            return value
        member = self.app.member(self.id_of(MEMBER, value))
        assert member.email is not None
        return member.email

    def _stars(self) -> dict[str, tuple[int, int]]:
        return {alias: tuple(self.app.balance(member_id))  # type: ignore[misc]
                for alias, member_id in self.aliases[MEMBER].items()}

    def drain(self) -> list[Notification]:
        """The notices of the outbox not yet seen; the log keeps them for ``expect``."""
        items = self.app.drain_notifications(10_000)
        self.app.ack([item.seq for item in items])
        fresh = [item.notification for item in items]
        self.log.extend(fresh)
        return fresh

    @staticmethod
    def _moves(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]
               ) -> str:
        parts = []
        for alias, (available, held) in after.items():
            old_available, old_held = before.get(alias, (0, 0))
            spent, locked = available - old_available, held - old_held
            if not spent and not locked:
                continue
            if spent == -locked:
                parts.append(f"{alias} {spent:+d} {'held' if spent < 0 else 'released'}")
            elif not spent:
                parts.append(f"{alias} held {locked:+d}")
            else:
                parts.append(f"{alias} {spent:+d}" + (f" (held {locked:+d})" if locked else ""))
        return ", ".join(parts)

    def local(self, instant: datetime) -> str:
        return to_local(instant, self.policy.timezone).strftime("%Y-%m-%d %H:%M")

    # ------------------------------------------------------------------ run
    def run(self) -> ScenarioResult:
        scenario = self.scenario
        self.say(f"== {scenario.title} ({scenario.path})")
        if scenario.rules:
            self.say(f"   rules: {', '.join(scenario.rules)}")
        self.say(f"   start: {self.local(self.clock.now())} {self.policy.timezone}")
        for step in scenario.steps:
            try:
                before = self._stars()
                text = self._step(step)
                self.app.check_invariants(deep=True)
                moves = self._moves(before, self._stars())
                self.say(f"{step.number:>4}  {text}" + (f"   [{moves}]" if moves else ""))
            except InvariantViolationError as exc:
                return self._fail(step, f"ledger invariants broken after this step: {exc}")
            except StepFailedError as exc:
                return self._fail(step, str(exc))
        self.say("   passed")
        return ScenarioResult(path=scenario.path, title=scenario.title, passed=True)

    def _fail(self, step: Step, message: str) -> ScenarioResult:
        what = step.data.get("do") or step.kind
        self.out.write(f"FAILED {self.scenario.path}, step {step.number} ({what}): {message}\n")
        return ScenarioResult(path=self.scenario.path, title=self.scenario.title, passed=False,
                              failed_step=step.number, message=message)

    def _step(self, step: Step) -> str:
        data = step.data
        if step.kind == "advance":
            move = data["advance"]
            target = self.policy.add_days(self.clock.now(), move.get("days", 0)) + timedelta(
                hours=move.get("hours", 0), minutes=move.get("minutes", 0))
            return self._set_clock(target)
        if step.kind == "at":
            target = require_aware(data["at"])
            if target < self.clock.now():
                raise StepFailedError(f"'at' {target.isoformat()} is before the clock")
            return self._set_clock(target)
        if step.kind == "expect":
            self.drain()
            checked = [self._expect(key, value) for key, value in data["expect"].items()]
            return "expect " + "; ".join(checked)
        return self._do(step)

    def _set_clock(self, target: datetime) -> str:
        self.clock.set(target)
        ran = self.app.run_due()
        self.drain()
        return f"clock -> {self.local(target)}" + (f" ({ran} deadlines applied)" if ran else "")

    def _do(self, step: Step) -> str:
        data = step.data
        command = data["do"]
        must_fail = data.get("fails", False)
        self.drain()
        fingerprint = self._fingerprint()
        try:
            detail = HANDLERS[command](self, data)
        except SkilltrocError as exc:
            if not must_fail:
                raise StepFailedError(f"{command} was refused: {exc}") from exc
            if "error" in data and data["error"] != exc.code:
                raise StepFailedError(
                    f"{command} was refused with {exc.code}, expected {data['error']}"
                ) from exc
            fresh = self.drain()
            if fresh or self._fingerprint() != fingerprint:
                raise StepFailedError(f"{command} was refused but changed something") from exc
            return f"{command} refused as expected: {exc.code} ({exc.message})"
        if must_fail:
            raise StepFailedError(f"{command} should have been refused, but it was accepted")
        self.drain()
        return f"{command} {detail}".rstrip()

    def _fingerprint(self) -> tuple[Any, ...]:
        supply = self.app.supply()
        return (tuple(sorted(self._stars().items())), supply.supply, supply.issued,
                supply.ad_spent, supply.returned)

    # ------------------------------------------------------------------ expectations
    def _expect(self, key: str, value: Any) -> str:
        if key == "total_stars":
            actual: Any = self.app.supply().supply
            self._compare(key, None, value, actual)
            return f"total_stars = {actual}"
        shown = []
        for alias, expected in value.items():
            alias_kind = EXPECTATIONS[key]
            assert alias_kind is not None
            target = self.id_of(alias_kind, alias)
            try:
                actual = EXPECTERS[key](self, target, expected)
            except StepFailedError as exc:
                raise StepFailedError(str(exc).replace(target, alias)) from exc
            except SkilltrocError as exc:  # e.g. the profile of a purged member
                raise StepFailedError(
                    f"{key} of {alias} cannot be read: {exc.code} ({exc.message})"
                    .replace(target, alias)) from exc
            if key in ("notified", "not_notified"):
                shown.append(f"{key} {alias} {expected}")
                continue
            # attached: a set of aliases, in any order
            self._compare(key, alias, sorted(expected) if isinstance(expected, list)
                          else expected, actual)
            shown.append(f"{key} {alias} = {actual}")
        return ", ".join(shown)

    @staticmethod
    def _compare(key: str, alias: str | None, expected: Any, actual: Any) -> None:
        if isinstance(expected, float) or isinstance(actual, float):
            # "compared to 2 decimals", rounding half up as people do (9.125 -> 9.13)
            same = actual is not None and _two_decimals(actual) == _two_decimals(expected)
        else:
            same = actual == expected
        if not same:
            who = f" of {alias}" if alias else ""
            raise StepFailedError(f"expected {key}{who} = {expected}, found {actual}")

    def notices_for(self, member_id: str) -> Iterator[Notification]:
        """Every notice so far to this member, by id or by the address they signed up with
        (a gift or invitation may reach them before they are a member)."""
        emails = {self.known_emails[alias] for alias, known in self.aliases[MEMBER].items()
                  if known == member_id and alias in self.known_emails}
        for notice in self.log:
            if member_id in notice.recipients or emails & set(notice.emails):
                yield notice


def _two_decimals(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _rules_of(expected: str | Sequence[str]) -> list[str]:
    return [expected] if isinstance(expected, str) else list(expected)


def _expect_notified(runner: Runner, member_id: str, expected: Any) -> Any:
    cited = {n.rule for n in runner.notices_for(member_id)}
    missing = [rule for rule in _rules_of(expected) if rule not in cited]
    if missing:
        raise StepFailedError(
            f"expected a notification citing {', '.join(missing)} for {member_id}; "
            f"it has {', '.join(sorted(cited)) or 'none'}"
        )
    return expected


def _expect_not_notified(runner: Runner, member_id: str, expected: Any) -> Any:
    cited = {n.rule for n in runner.notices_for(member_id)}
    present = [rule for rule in _rules_of(expected) if rule in cited]
    if present:
        raise StepFailedError(
            f"expected no notification citing {', '.join(present)} for {member_id}"
        )
    return expected


def _profile_number(field: str) -> Callable[[Runner, str, Any], Any]:
    def read(runner: Runner, member_id: str, expected: Any) -> Any:
        stats = runner.app.profile_stats(member_id)
        value = getattr(stats, field)
        if value is None:
            raise StepFailedError(f"{member_id} has no evaluation: no {field.replace('_', ' ')}")
        return value

    return read


EXPECTERS: dict[str, Callable[[Runner, str, Any], Any]] = {
    "balance": lambda r, m, e: r.app.balance(m).available,
    "held": lambda r, m, e: r.app.balance(m).held,
    "seats_left": lambda r, s, e: r.app.seats_left(s),
    "level": lambda r, m, e: r.app.profile_stats(m).level,
    "rating": _profile_number("rating"),
    "recommendation_rate": _profile_number("recommendation_rate"),
    "notified": _expect_notified,
    "not_notified": _expect_not_notified,
}


# ---------------------------------------------------------------------------- commands
Handler = Callable[[Runner, Mapping[str, Any]], str]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        HANDLERS[name] = function
        return function

    return register


def _bind(runner: Runner, kind: str, alias: str | None, value: str) -> None:
    if alias is not None:
        if alias in runner.aliases[kind]:
            raise StepFailedError(f"{kind} alias {alias!r} is already bound")
        runner.aliases[kind][alias] = value


def _m(runner: Runner, data: Mapping[str, Any], key: str = "member") -> str:
    return runner.id_of(MEMBER, data[key])


@handler("signup")
def _signup(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    if alias in runner.aliases[MEMBER]:
        raise StepFailedError(f"member alias {alias!r} is already bound")
    email = data.get("email", f"{alias}@example.org")
    provider = data.get("provider")
    password = None if provider else data.get("password", "correct horse battery staple")
    sponsor = data.get("sponsor")
    if sponsor is not None and "@" not in sponsor:
        sponsor = runner.id_of(MEMBER, sponsor)
    result = runner.app.signup(
        email, password=password, provider=provider, kind=data.get("kind", "individual"),
        category=data.get("category"), display_name=alias.title(), sponsor=sponsor,
    )
    _bind(runner, MEMBER, alias, result.member_id)
    if password is not None:
        runner.passwords[alias] = password
    runner.known_emails[alias] = email.strip().lower()
    if result.confirmation_token:
        runner.tokens[alias] = result.confirmation_token
        if data.get("confirmed", True):
            runner.app.confirm_email(result.member_id, result.confirmation_token)
    return f"{alias} ({result.member_id}, {email})"


@handler("confirm_email")
def _confirm(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    runner.app.confirm_email(_m(runner, data), runner.tokens.get(alias, "no-token"))
    return alias


@handler("complete_profile")
def _complete(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    member_id = _m(runner, data)
    member = runner.app.member(member_id)
    website = ({"website": f"https://{alias}.example.org"}
               if "website" in runner.policy.profile_required_fields else {})
    runner.app.update_profile(
        member_id, display_name=alias.title(), photo=f"photos/{alias}.jpg",
        description=f"{alias.title()} shares know-how on Skilltroc.", locality="Lyon",
        bio=f"About {alias.title()}.", **website,
        **({} if member.category or not member.is_professional else {"category": "company"}),
    )
    return alias


@handler("buy_stars")
def _buy(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.buy_stars(_m(runner, data), data["stars"], data["payment"])
    return f"{data['member']} buys {data['stars']} (payment {data['payment']})"


@handler("deactivate")
def _deactivate(runner: Runner, data: Mapping[str, Any]) -> str:
    purge = runner.app.deactivate(_m(runner, data))
    return f"{data['member']} (purge on {runner.local(purge)})"


@handler("reactivate")
def _reactivate(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.reactivate(_m(runner, data))
    return str(data["member"])


@handler("follow")
def _follow(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.follow(_m(runner, data), _m(runner, data, "whom"))
    return f"{data['member']} follows {data['whom']}"


@handler("post_message")
def _post(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.post_message(_m(runner, data), data["text"])
    return str(data["member"])


def _address(runner: Runner, data: Mapping[str, Any]) -> str:
    """The email the member signed up with (the one they sign in with)."""
    _m(runner, data)  # a member whose signup failed has no address
    return runner.known_emails[str(data["member"])]


@handler("sign_in")
def _sign_in(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    password = data.get("password", runner.passwords.get(alias, ""))
    runner.app.sign_in(_address(runner, data), password)
    return alias


@handler("request_password_reset")
def _request_password_reset(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    runner.app.request_password_reset(_address(runner, data))
    for notice in runner.drain():  # the host derives the link's token from its mail
        if notice.event == "PasswordResetRequested" and notice.fact("nonce") is not None:
            runner.reset_tokens[alias] = runner.app.link_token(notice)
    return f"{alias} (a reset link is mailed)"


@handler("reset_password")
def _reset_password(runner: Runner, data: Mapping[str, Any]) -> str:
    """With the token of the member's last reset request (the link of its mail)."""
    alias = str(data["member"])
    runner.app.reset_password(_address(runner, data), runner.reset_tokens.get(alias, "none"),
                              data["password"])
    runner.passwords[alias] = data["password"]
    return alias


@handler("change_password")
def _change_password(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    current = data.get("current", runner.passwords.get(alias, ""))
    runner.app.change_password(_m(runner, data), current, data["password"])
    runner.passwords[alias] = data["password"]
    return alias


@handler("invite")
def _invite(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.invite(_m(runner, data), data["email"])
    return f"{data['member']} invites {data['email']}"


@handler("gift")
def _gift(runner: Runner, data: Mapping[str, Any]) -> str:
    gift_id = runner.app.gift(_m(runner, data), runner.email_of(data["to"]), data["stars"])
    _bind(runner, GIFT, data.get("as"), gift_id)
    return f"{data['member']} gifts {data['stars']} to {data['to']}"


@handler("accept_gift")
def _accept_gift(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.accept_gift(_m(runner, data), runner.id_of(GIFT, data["gift"]))
    return f"{data['member']} accepts {data['gift']}"


@handler("create_workshop")
def _create_workshop(runner: Runner, data: Mapping[str, Any]) -> str:
    length = data.get("duration", {"hours": 2})
    if set(length) - {"hours", "minutes"} or not all(type(v) is int for v in length.values()):
        raise ScenarioFormatError("duration takes whole hours and minutes", key="duration")
    workshop_id = runner.app.create_workshop(
        _m(runner, data), title=data.get("title", data["workshop"].title()),
        description=f"The {data['workshop']} workshop.", domain=data.get("domain", "general"),
        cost=data["cost"], capacity=data["capacity"],
        duration=timedelta(hours=length.get("hours", 0), minutes=length.get("minutes", 0)),
        mode=data.get("mode", "online"), locality=data.get("locality"),
    )
    _bind(runner, WORKSHOP, data["workshop"], workshop_id)
    return f"{data['workshop']} by {data['member']}: {data['cost']} stars a seat"


@handler("delete_workshop")
def _delete_workshop(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.delete_workshop(_m(runner, data), runner.id_of(WORKSHOP, data["workshop"]))
    return str(data["workshop"])


@handler("plan_session")
def _plan(runner: Runner, data: Mapping[str, Any]) -> str:
    session_id = runner.app.plan_session(
        _m(runner, data), runner.id_of(WORKSHOP, data["workshop"]), data["at"],
        data.get("capacity"),
    )
    _bind(runner, SESSION, data["session"], session_id)
    return f"{data['session']} of {data['workshop']} at {runner.local(data['at'])}"


@handler("move_session")
def _move(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.move_session(_m(runner, data), runner.id_of(SESSION, data["session"]), data["at"])
    return f"{data['session']} to {runner.local(data['at'])}"


@handler("set_capacity")
def _capacity(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.set_capacity(_m(runner, data), runner.id_of(SESSION, data["session"]),
                            data["capacity"])
    return f"{data['session']} to {data['capacity']} seats"


@handler("cancel_session")
def _cancel_session(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.cancel_session(_m(runner, data), runner.id_of(SESSION, data["session"]))
    return str(data["session"])


@handler("request")
def _request(runner: Runner, data: Mapping[str, Any]) -> str:
    if "session" in data:
        request_id = runner.app.request(_m(runner, data), seats=data["seats"],
                                        session_id=runner.id_of(SESSION, data["session"]))
        target = str(data["session"])
    else:
        request_id = runner.app.request(_m(runner, data), seats=data["seats"],
                                        workshop_id=runner.id_of(WORKSHOP, data["workshop"]))
        target = f"a future session of {data['workshop']}"
    _bind(runner, REQUEST, data.get("as"), request_id)
    return f"{data['member']} asks {data['seats']} seats in {target}"


def _on_request(name: str) -> None:
    @handler(name)
    def run(runner: Runner, data: Mapping[str, Any]) -> str:
        method = getattr(runner.app, name)
        method(_m(runner, data), runner.id_of(REQUEST, data["request"]))
        return f"{data['member']}: {data['request']}"


for _name in ("cancel_request", "refuse", "accept", "accept_future", "leave_waitlist",
              "unregister", "cancel_transaction", "declare_absent", "confirm_attendance"):
    _on_request(_name)


@handler("join")
def _join(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.join(_m(runner, data), runner.id_of(REQUEST, data["request"]),
                    runner.id_of(SESSION, data["session"]))
    return f"{data['member']}: {data['request']} joins {data['session']}"


def _on_session(name: str) -> None:
    @handler(name)
    def run(runner: Runner, data: Mapping[str, Any]) -> str:
        getattr(runner.app, name)(_m(runner, data), runner.id_of(SESSION, data["session"]))
        return f"{data['member']}: {data['session']}"


for _name in ("confirm_held", "confirm_not_held"):
    _on_session(_name)


@handler("see_contact")
def _see_contact(runner: Runner, data: Mapping[str, Any]) -> str:
    email = runner.app.contact_email(_m(runner, data), runner.id_of(REQUEST, data["request"]))
    return f"{data['member']} sees {email} on {data['request']}"


@handler("evaluate")
def _evaluate(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.evaluate(
        _m(runner, data), runner.id_of(REQUEST, data["request"]),
        satisfaction=data["satisfaction"], conformity=data["conformity"],
        teaching=data["teaching"], duration=data["duration"], recommend=data["recommend"],
    )
    return f"{data['member']}: {data['request']}"


# Tutorials and ads ----------------------------------------------------------------------
_PLACEHOLDER_VISUAL = "visuals/placeholder.png"


@handler("publish_tutorial")
def _publish(runner: Runner, data: Mapping[str, Any]) -> str:
    tutorial_id = runner.app.publish_tutorial(
        _m(runner, data), title=data.get("title", str(data["tutorial"]).title()),
        domain=data["domain"], rights_attested=data.get("rights", True),
        youtube_url=data.get("url"), upload=data.get("upload"),
    )
    _bind(runner, TUTORIAL, data["tutorial"], tutorial_id)
    return f"{data['tutorial']} by {data['member']}"


@handler("delete_tutorial")
def _delete_tutorial(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.delete_tutorial(_m(runner, data), runner.id_of(TUTORIAL, data["tutorial"]))
    return str(data["tutorial"])


@handler("view_tutorial")
def _view(runner: Runner, data: Mapping[str, Any]) -> str:
    tutorial_id = runner.id_of(TUTORIAL, data["tutorial"])
    times = data.get("times", 1)
    if type(times) is not int or times < 1:
        raise StepFailedError("times is a whole number of at least 1")
    if "viewer" in data:
        viewers = [_m(runner, data, "viewer")]
    else:
        count = data["distinct_viewers"]
        viewers = [f"visitor-{runner.anonymous + i}" for i in range(count)]
        runner.anonymous += count
    for viewer in viewers:
        for _ in range(times):
            runner.views += 1
            runner.app.record_view(tutorial_id, viewer, f"view-{runner.views}")
    who = data.get("viewer") or f"{len(viewers)} new visitors"
    return f"{data['tutorial']} watched by {who}" + (f", {times} times each" if times > 1 else "")


@handler("create_campaign")
def _create_campaign(runner: Runner, data: Mapping[str, Any]) -> str:
    campaign_id = runner.app.create_campaign(
        _m(runner, data), budget=data["stars"], visual=data.get("visual", _PLACEHOLDER_VISUAL),
        visual_rights_free=True, text=data["text"], start=data["starts"],
        domains=list(data["domains"]), link=data.get("link"),
    )
    _bind(runner, CAMPAIGN, data["campaign"], campaign_id)
    return f"{data['campaign']} by {data['member']}: {data['stars']} stars"


_CAMPAIGN_FIELDS = {"stars": "budget", "starts": "start", "domains": "domains", "text": "text",
                    "link": "link", "visual": "visual"}


@handler("edit_campaign")
def _edit_campaign(runner: Runner, data: Mapping[str, Any]) -> str:
    changes: dict[str, Any] = {
        name: (list(data[key]) if key == "domains" else data[key])
        for key, name in _CAMPAIGN_FIELDS.items() if key in data
    }
    if "visual" in changes:
        changes["visual_rights_free"] = True
    runner.app.edit_campaign(_m(runner, data), runner.id_of(CAMPAIGN, data["campaign"]),
                             **changes)
    return f"{data['campaign']}: {', '.join(sorted(k for k in data if k in _CAMPAIGN_FIELDS))}"


@handler("browse")
def _browse(runner: Runner, data: Mapping[str, Any]) -> str:
    if data["times"] < 0:
        raise StepFailedError("times is a whole number >= 0")
    shown = 0
    for _ in range(data["times"]):
        runner.page_views += 1
        if runner.app.serve(data["domain"], f"page-{runner.page_views}") is not None:
            shown += 1
    return f"{data['times']} page views in {data['domain']} ({shown} with an ad)"


def _expect_attached(runner: Runner, member_id: str, expected: Any) -> list[str]:
    """PROF-2: the aliases of what the member's profile shows, sorted, one per item (an
    item the scenario has no alias for shows as its id)."""
    stats = runner.app.profile_stats(member_id)
    names = {found: alias for kind in _ATTACHABLE
             for alias, found in runner.aliases[kind].items()}
    attached = dict.fromkeys((*stats.workshops, *stats.recommended_workshops,
                              *stats.tutorials, *stats.campaigns))
    return sorted(names.get(item, item) for item in attached)


EXPECTERS.update({
    "attached": _expect_attached,
    "public": lambda r, m, e: r.app.profile(m).public,
    "earned": lambda r, t, e: r.app.tutorial(t).stars_earned,
    "views": lambda r, t, e: r.app.tutorial(t).views,
    "impressions": lambda r, c, e: r.app.campaign(c).impressions,
    "goal": lambda r, c, e: r.app.campaign(c).goal,
})
