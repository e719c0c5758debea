"""Loading a scenario file: every key, command, alias and type checked before anything
runs; a wrong file is a :class:`~skilltroc_core.errors.ScenarioFormatError` naming the
file, the step and the key."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import attrs

from ...errors import SkilltrocError
from ...instants import require_aware
from ...listings import folded, words
from ...refusals import refusal, shown
from ...rules import DEFAULT_POLICY
from .derived import COMMANDS
from .format import (
    _TOP_KEYS,
    ALIAS_KINDS,
    BOOL,
    EXPECTATIONS,
    INSTANT,
    INT,
    LISTS,
    MEMBER,
    PREFIX,
    STR,
    STR_LIST,
    TABLE,
    TEXT_KEYED,
    WORDS,
    Scenario,
    Step,
)

#: The example scenarios the package carries (``skilltroc run --examples``).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_files() -> list[Path]:
    """The example scenario files, by name."""
    return sorted(EXAMPLES.glob("*.toml"))


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
    lines: list[str] = []

    def bad(key: str, step: int | None = None, field: str | None = None, *,
            nearest: tuple[object, Iterable[str]] | None = None,
            **facts: Any) -> SkilltrocError:
        """Refusal ``key`` at ``field`` of step ``step`` (or of the file), its line
        found in the text: ``place`` is the file and that line. ``nearest``, a wrong
        name and the valid ones, suggests the valid name nearest it, if one is near."""
        if nearest is not None:
            key, suggestion = _nearest(key, *nearest)
            facts.update(suggestion)
        line = _line_of(lines, step, field)
        place = name + (f":{line}" if line else "")
        return refusal(key, place=place, file=name, line=line, step=step, field=field,
                       **facts)

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise bad("scenario_file_missing") from exc
    except IsADirectoryError as exc:
        raise bad("scenario_file_is_folder") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise bad("scenario_file_unreadable", problem=str(exc)) from exc
    lines = text.splitlines()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise bad("scenario_not_toml", problem=str(exc)) from exc
    for key in document:
        if key not in _TOP_KEYS:
            raise bad("scenario_unknown_top_key", field=key, nearest=(key, _TOP_KEYS))
    title = document.get("title", Path(name).stem)
    rules = document.get("rules", [])
    if not isinstance(title, str):
        raise bad("scenario_title_not_text", field="title")
    if not _type_ok(rules, STR_LIST):
        raise bad("scenario_rules_not_list", field="rules")
    if known_rules is not None:
        for rule in rules:
            if rule not in known_rules:
                raise bad("scenario_rule_unknown", field="rules", rule_id=rule)
    start = document.get("start")
    if not _type_ok(start, INSTANT):
        raise bad("scenario_start_not_instant", field="start")
    zone = document.get("timezone", DEFAULT_POLICY.timezone)
    if not isinstance(zone, str):
        raise bad("scenario_timezone_not_text", field="timezone")
    try:
        attrs.evolve(DEFAULT_POLICY, timezone=zone)  # refuses only an unknown zone
    except SkilltrocError as exc:
        raise bad("scenario_timezone_unknown", field="timezone", zone=zone) from exc
    raw_steps = document.get("step", [])
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        raise bad("scenario_steps_not_tables", field="step")

    declared: dict[str, dict[str, bool]] = {kind: {} for kind in ALIAS_KINDS}
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        kinds_here = [k for k in ("do", "expect", "advance") if k in raw]
        if "at" in raw and "do" not in raw:
            kinds_here.append("at")
        if len(kinds_here) != 1:
            raise bad("scenario_step_kind", number)
        kind = kinds_here[0]
        if kind == "do":
            _check_do(raw, number, declared, bad)
        elif kind == "expect":
            _check_expect(raw, number, declared, bad)
        elif kind == "advance":
            _check_advance(raw, number, bad)
        else:
            if set(raw) != {"at"}:
                raise bad("scenario_at_step_extra", number, next(iter(set(raw) - {"at"})))
            if not _type_ok(raw["at"], INSTANT):
                raise bad("scenario_at_not_instant", number, "at")
        steps.append(Step(number=number, kind=kind, data=raw))
    try:
        begins = require_aware(start, "start")  # aware: refuses only what UTC cannot hold
    except SkilltrocError as exc:
        raise bad("scenario_start_out_of_range", field="start", start=str(start)) from exc
    return Scenario(path=name, title=title, rules=tuple(rules), start=begins,
                    timezone=zone, steps=tuple(steps))


def _nearest(key: str, wrong: object, valid: Iterable[str]) -> tuple[str, dict[str, str]]:
    """Refusal ``key`` about the wrong name ``wrong``, or, when a valid name is near it,
    its twin ``key_near`` with that name as the fact ``suggestion``."""
    close = difflib.get_close_matches(str(wrong), list(valid), n=1, cutoff=0.6)
    return (f"{key}_near", {"suggestion": close[0]}) if close else (key, {})


def _line_of(lines: list[str], step: int | None, key: str | None) -> int | None:
    """The line (from 1) of ``key`` in step ``step`` (or at the top of the file), as near
    as the text shows it; None when it cannot be found."""
    headers = [n for n, line in enumerate(lines) if line.strip().startswith("[[step]]")]
    if step is not None:
        if not 0 < step <= len(headers):
            return None
        start = headers[step - 1]
        end = headers[step] if step < len(headers) else len(lines)
    else:
        start, end = 0, headers[0] if headers else len(lines)
    if key is not None:
        own = re.compile(rf"""\s*["']?{re.escape(key)}["']?\s*=""")
        for n in range(start, end):
            if own.match(lines[n]):
                return n + 1
        for n in range(start, end):
            if key in lines[n]:
                return n + 1
    return start + 1 if step is not None else None


def _check_do(raw: Mapping[str, Any], number: int, declared: dict[str, dict[str, bool]],
              bad: Callable[..., SkilltrocError]) -> None:
    command = raw["do"]
    spec = COMMANDS.get(command) if isinstance(command, str) else None
    if spec is None:
        raise bad("scenario_unknown_command", number, "do", got=shown(command),
                  nearest=(command, COMMANDS))
    for key, value in raw.items():
        if key in ("do", "fails", "error"):
            continue
        expected = spec.required.get(key) or spec.optional.get(key)
        if expected is None:
            raise bad("scenario_command_has_no_key", number, key, command=command,
                      nearest=(key, {*spec.keys, "fails", "error"}))
        if not _type_ok(value, expected):
            raise bad("scenario_value_type", number, key, expected=expected,
                      got=shown(value))
    for key in spec.required:
        if key not in raw:
            raise bad("scenario_command_needs_key", number, key, command=command)
    if spec.one_of and sum(k in raw for k in spec.one_of) != 1:
        raise bad("scenario_command_one_of", number, spec.one_of[0], command=command,
                  keys=list(spec.one_of))
    if "fails" in raw and not isinstance(raw["fails"], bool):
        raise bad("scenario_fails_not_bool", number, "fails")
    if "error" in raw and not isinstance(raw["error"], str):
        raise bad("scenario_error_not_text", number, "error")
    created_key = spec.creates[0] if spec.creates else None
    for key, alias_kind in spec.refs.items():
        if key in raw and key != created_key and raw[key] not in declared[alias_kind]:
            raise bad("scenario_unknown_alias", number, key, kinds=[alias_kind],
                      got=shown(raw[key]), nearest=(raw[key], declared[alias_kind]))
    for key in spec.member_or_email:
        value = raw.get(key)
        if isinstance(value, str) and "@" not in value and value not in declared[MEMBER]:
            raise bad("scenario_unknown_member_alias", number, key, got=shown(value))
    if spec.creates and spec.creates[0] in raw:
        key, alias_kind = spec.creates
        alias = raw[key]
        if declared[alias_kind].get(alias) is False:
            raise bad("scenario_alias_bound", number, key, kind=alias_kind,
                      got=shown(alias))
        declared[alias_kind][alias] = bool(raw.get("fails", False))


def _check_expect(raw: Mapping[str, Any], number: int, declared: dict[str, dict[str, bool]],
                  bad: Callable[..., SkilltrocError]) -> None:
    if set(raw) != {"expect"} or not isinstance(raw["expect"], dict):
        raise bad("scenario_expect_not_table", number, "expect")
    for key, value in raw["expect"].items():
        if key not in EXPECTATIONS:
            raise bad("scenario_unknown_expectation", number, key,
                      nearest=(key, EXPECTATIONS))
        alias_kind = EXPECTATIONS[key]
        if alias_kind is None:
            if type(value) not in (int, float):
                raise bad("scenario_expectation_not_number", number, key)
            continue
        if not isinstance(value, dict):
            raise bad("scenario_expectation_not_map", number, key)
        for alias, expected in value.items():
            if alias_kind in TEXT_KEYED:
                problem = _text_key_problem(alias_kind, alias)
                if problem:
                    refused, facts = problem
                    raise bad(refused, number, key, kind=alias_kind, **facts)
            elif alias not in declared[alias_kind]:
                raise bad("scenario_unknown_alias", number, key, kinds=[alias_kind],
                          got=shown(alias), nearest=(alias, declared[alias_kind]))
            if key in ("notified", "not_notified"):
                if not (isinstance(expected, str) or _type_ok(expected, STR_LIST)):
                    raise bad("scenario_notified_not_rules", number, key)
            elif key == "level":
                if expected not in ("beginner", "intermediate", "experienced"):
                    raise bad("scenario_level_invalid", number, key)
            elif key == "public":
                if not isinstance(expected, bool):
                    raise bad("scenario_public_not_bool", number, key)
            elif key in LISTS:
                _check_list(key, expected, number, declared, bad)
            elif type(expected) not in (int, float) or isinstance(expected, bool):
                raise bad("scenario_values_not_numbers", number, key)


def _text_key_problem(kind: str, text: str) -> tuple[str, dict[str, Any]] | None:
    """Why ``text`` cannot key a list of ``kind`` (the query would refuse it): the
    refusal's key and facts; None if it can."""
    longest = 100 if kind == PREFIX else 200
    if len(text) > longest:
        return "scenario_text_key_too_long", {"got": shown(text, 24), "limit": longest}
    if kind == WORDS and not words(text):
        return "scenario_text_key_no_word", {"got": shown(text)}
    if not folded(text).strip():
        return "scenario_text_key_no_letter", {"got": shown(text)}
    return None


def _check_list(key: str, expected: object, number: int,
                declared: dict[str, dict[str, bool]],
                bad: Callable[..., SkilltrocError]) -> None:
    """A list expectation: aliases of the kinds it lists, each once, each unambiguous."""
    kinds, _ = LISTS[key]
    if not _type_ok(expected, STR_LIST):
        raise bad("scenario_list_not_aliases", number, key, kinds=list(kinds))
    assert isinstance(expected, list)
    if len(set(expected)) != len(expected):
        raise bad("scenario_list_alias_twice", number, key)
    for name in expected:
        named = [kind for kind in kinds if name in declared[kind]]
        if not named:
            raise bad("scenario_unknown_alias", number, key, kinds=list(kinds),
                      got=shown(name))
        if len(named) > 1:
            raise bad("scenario_list_alias_ambiguous", number, key, kinds=named,
                      got=shown(name))


#: The most an ``advance`` step moves the clock by, per key (about a century).
_LONGEST_ADVANCE: Final = {"days": 36_500, "hours": 876_000, "minutes": 52_560_000}


def _check_advance(raw: Mapping[str, Any], number: int,
                   bad: Callable[..., SkilltrocError]) -> None:
    if set(raw) != {"advance"} or not isinstance(raw["advance"], dict):
        raise bad("scenario_advance_not_table", number, "advance")
    for key, value in raw["advance"].items():
        if key not in ("days", "hours", "minutes"):
            raise bad("scenario_advance_unknown_key", number, key)
        if type(value) is not int or not 0 <= value <= _LONGEST_ADVANCE[key]:
            raise bad("scenario_advance_out_of_range", number, key,
                      maximum=_LONGEST_ADVANCE[key], got=shown(value))
