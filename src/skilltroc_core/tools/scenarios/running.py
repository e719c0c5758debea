"""Running a scenario: a fresh service on any store, each step narrated, the ledger
invariants checked after every one, and the first step that does not hold stops it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any, TextIO, TypeVar

import attrs

from ...adapters.clocks import ManualClock
from ...errors import InvariantViolationError, SkilltrocError
from ...events import Notification
from ...instants import require_aware, to_local
from ...keys import MIN_SECRET_BYTES
from ...listings import Page, WorkshopCard
from ...ports import Store
from ...rules import DEFAULT_POLICY, Policy
from ...service import Skilltroc
from ...testing.snapshot import Scope, StoreState, state_of
from .commands import HANDLERS
from .format import (
    ALIAS_KINDS,
    EXPECTATIONS,
    LISTS,
    MEMBER,
    TEXT_KEYED,
    Scenario,
    ScenarioResult,
    Step,
    StepFailedError,
)

T = TypeVar("T")


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
            except SkilltrocError as exc:  # a clock or a value the library cannot take
                return self._fail(step, f"refused: {exc.code} ({exc.message})")
            except (OverflowError, ArithmeticError) as exc:  # a number beyond any instant
                return self._fail(step, f"a value out of range: {exc}")
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
        before = self._state()
        try:
            detail = HANDLERS[command](self, data)
        except SkilltrocError as exc:
            if not must_fail:
                raise StepFailedError(f"{command} was refused: {exc}") from exc
            if "error" in data and data["error"] != exc.code:
                raise StepFailedError(
                    f"{command} was refused with {exc.code}, expected {data['error']}"
                ) from exc
            changed = before.changes(self._state())
            if changed:
                raise StepFailedError(f"{command} was refused but changed the store: "
                                      + "; ".join(changed)) from exc
            return f"{command} refused as expected: {exc.code} ({exc.message})"
        if must_fail:
            raise StepFailedError(f"{command} should have been refused, but it was accepted")
        self.drain()
        return f"{command} {detail}".rstrip()

    def _state(self) -> StoreState:
        """Everything the store keeps (on a store that does not show it, what the port
        shows of the members, the supply, the next timer and the outbox)."""
        return state_of(self.app.store, Scope(accounts=self.aliases[MEMBER].values()))

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
            target = alias if alias_kind in TEXT_KEYED else self.id_of(alias_kind, alias)
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
            if key in LISTS and not LISTS[key][1]:  # a set of aliases, in any order
                self._compare(key, alias, sorted(expected), sorted(actual))
            else:
                self._compare(key, alias, expected, actual)
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


def _aliases(runner: Runner, key: str, ids: Iterable[str]) -> list[str]:
    """The aliases of ``ids`` among those ``key`` lists (an id with no alias as itself)."""
    names = {found: alias for kind in LISTS[key][0]
             for alias, found in runner.aliases[kind].items()}
    return [names.get(item, item) for item in ids]


def _every(read: Callable[..., Page[T]]) -> list[T]:
    """Every item of a list, page after page through its cursors."""
    items: list[T] = []
    cursor = None
    while True:
        page = read(after=cursor)
        items += page.items
        if page.next is None:
            return items
        cursor = page.next


def _expect_attached(runner: Runner, member_id: str, expected: Any) -> list[str]:
    """PROF-2: the aliases of what the member's profile shows, one per item."""
    stats = runner.app.profile_stats(member_id)
    return _aliases(runner, "attached", dict.fromkeys((
        *stats.workshops, *stats.recommended_workshops, *stats.tutorials, *stats.campaigns)))


def _expect_catalogue(runner: Runner, domain: str, expected: Any) -> list[str]:
    cards = _every(partial(runner.app.upcoming_sessions,
                           domain=None if domain == "all" else domain))
    return _aliases(runner, "catalogue", (card.session_id for card in cards))


def _expect_search(runner: Runner, text: str, expected: Any) -> list[str]:
    found = _every(partial(runner.app.search, text))
    return _aliases(runner, "search", (
        card.workshop.workshop_id if isinstance(card, WorkshopCard) else card.tutorial_id
        for card in found))


def _expect_roster(runner: Runner, session_id: str, expected: Any) -> list[str]:
    organizer = runner.app.session(session_id).organizer
    roster = runner.app.session_roster(organizer, session_id)
    return _aliases(runner, "roster", (entry.member_id for entry in roster.registered))


def _expect_waitlist(runner: Runner, workshop_id: str, expected: Any) -> list[str]:
    organizer = runner.app.workshop(workshop_id).organizer
    waiting = runner.app.workshop_waitlist(organizer, workshop_id)
    return _aliases(runner, "waitlist", (entry.member_id for entry in waiting))


EXPECTERS.update({
    "attached": _expect_attached,
    "catalogue": _expect_catalogue,
    "search": _expect_search,
    "members_found": lambda r, prefix, e: _aliases(r, "members_found", (
        card.member_id for card in _every(partial(r.app.find_members, prefix)))),
    "roster": _expect_roster,
    "waitlist": _expect_waitlist,
    "public": lambda r, m, e: r.app.profile(m).public,
    "earned": lambda r, t, e: r.app.tutorial(t).stars_earned,
    "views": lambda r, t, e: r.app.tutorial(t).views,
    "impressions": lambda r, c, e: r.app.campaign(c).impressions,
    "goal": lambda r, c, e: r.app.campaign(c).goal,
})
