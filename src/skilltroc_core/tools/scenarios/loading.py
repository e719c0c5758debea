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

from ...errors import ScenarioFormatError, SkilltrocError
from ...instants import require_aware
from ...listings import folded, words
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

    def bad(message: str, step: int | None = None, key: str | None = None) -> ScenarioFormatError:
        line = _line_of(lines, step, key)
        where = name + (f":{line}" if line else "") + (f", step {step}" if step else "") + (
            f", key '{key}'" if key else "")
        return ScenarioFormatError(f"{where}: {message}", file=name, step=step, key=key,
                                   line=line)

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise bad("no such file") from exc
    except IsADirectoryError as exc:
        raise bad("is a folder, not a scenario file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise bad(f"cannot be read ({exc})") from exc
    lines = text.splitlines()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise bad(f"is not valid TOML: {exc}") from exc
    for key in document:
        if key not in _TOP_KEYS:
            raise bad(f"unknown top-level key{_nearest(key, _TOP_KEYS)}", key=key)
    title = document.get("title", Path(name).stem)
    rules = document.get("rules", [])
    if not isinstance(title, str):
        raise bad("title is text", key="title")
    if not _type_ok(rules, STR_LIST):
        raise bad("rules is a list of rule IDs", key="rules")
    if known_rules is not None:
        for rule in rules:
            if rule not in known_rules:
                raise bad(f"{rule} is not a rule ID of the catalogue", key="rules")
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
    try:
        begins = require_aware(start, "start")
    except SkilltrocError as exc:
        raise bad(exc.message, key="start") from exc
    return Scenario(path=name, title=title, rules=tuple(rules), start=begins,
                    timezone=zone, steps=tuple(steps))


def _nearest(wrong: object, valid: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the valid name nearest ``wrong``, if one is near."""
    close = difflib.get_close_matches(str(wrong), list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
              bad: Callable[..., ScenarioFormatError]) -> None:
    command = raw["do"]
    spec = COMMANDS.get(command) if isinstance(command, str) else None
    if spec is None:
        raise bad(f"unknown command {command!r}{_nearest(command, COMMANDS)}", number, "do")
    for key, value in raw.items():
        if key in ("do", "fails", "error"):
            continue
        expected = spec.required.get(key) or spec.optional.get(key)
        if expected is None:
            raise bad(f"{command} has no key '{key}'"
                      f"{_nearest(key, {*spec.keys, 'fails', 'error'})}", number, key)
        if not _type_ok(value, expected):
            raise bad(f"'{key}' must be {expected}, not {value!r}", number, key)
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
            raise bad(f"unknown {alias_kind} alias {raw[key]!r}"
                      f"{_nearest(raw[key], declared[alias_kind])}", number, key)
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
            raise bad(f"unknown expectation '{key}'{_nearest(key, EXPECTATIONS)}", number, key)
        alias_kind = EXPECTATIONS[key]
        if alias_kind is None:
            if type(value) not in (int, float):
                raise bad(f"'{key}' is a number", number, key)
            continue
        if not isinstance(value, dict):
            raise bad(f"'{key}' maps aliases to values", number, key)
        for alias, expected in value.items():
            if alias_kind in TEXT_KEYED:
                problem = _text_key_problem(alias_kind, alias)
                if problem:
                    raise bad(f"'{key}' is keyed by a {alias_kind}: {problem}", number, key)
            elif alias not in declared[alias_kind]:
                raise bad(f"unknown {alias_kind} alias {alias!r}"
                          f"{_nearest(alias, declared[alias_kind])}", number, key)
            if key in ("notified", "not_notified"):
                if not (isinstance(expected, str) or _type_ok(expected, STR_LIST)):
                    raise bad(f"'{key}' takes a rule ID or a list of them", number, key)
            elif key == "level":
                if expected not in ("beginner", "intermediate", "experienced"):
                    raise bad("level is beginner, intermediate or experienced", number, key)
            elif key == "public":
                if not isinstance(expected, bool):
                    raise bad("public is true or false", number, key)
            elif key in LISTS:
                _check_list(key, expected, number, declared, bad)
            elif type(expected) not in (int, float) or isinstance(expected, bool):
                raise bad(f"'{key}' values are numbers", number, key)


def _text_key_problem(kind: str, text: str) -> str | None:
    """Why ``text`` cannot key a list of ``kind`` (the query would refuse it), or None."""
    longest = 100 if kind == PREFIX else 200
    if len(text) > longest:
        return f"{text[:20]!r}... is longer than {longest} characters"
    if kind == WORDS and not words(text):
        return f"{text!r} has no word to search for"
    if not folded(text).strip():
        return f"{text!r} has no letter to read a list by"
    return None


def _check_list(key: str, expected: object, number: int,
                declared: dict[str, dict[str, bool]],
                bad: Callable[..., ScenarioFormatError]) -> None:
    """A list expectation: aliases of the kinds it lists, each once, each unambiguous."""
    kinds, _ = LISTS[key]
    what = " or ".join(kinds)
    if not _type_ok(expected, STR_LIST):
        raise bad(f"{key} takes a list of {what} aliases", number, key)
    assert isinstance(expected, list)
    if len(set(expected)) != len(expected):
        raise bad(f"{key} names each alias once", number, key)
    for name in expected:
        named = [kind for kind in kinds if name in declared[kind]]
        if not named:
            raise bad(f"unknown {what} alias {name!r}", number, key)
        if len(named) > 1:
            raise bad(f"{name!r} names a {' and a '.join(named)}: {key} cannot tell them "
                      "apart (give them different aliases)", number, key)


#: The most an ``advance`` step moves the clock by, per key (about a century).
_LONGEST_ADVANCE: Final = {"days": 36_500, "hours": 876_000, "minutes": 52_560_000}


def _check_advance(raw: Mapping[str, Any], number: int,
                   bad: Callable[..., ScenarioFormatError]) -> None:
    if set(raw) != {"advance"} or not isinstance(raw["advance"], dict):
        raise bad("an advance step is one table: advance = { days = 1 }", number, "advance")
    for key, value in raw["advance"].items():
        if key not in ("days", "hours", "minutes"):
            raise bad(f"advance takes days, hours and minutes, not '{key}'", number, key)
        if type(value) is not int or not 0 <= value <= _LONGEST_ADVANCE[key]:
            raise bad(f"'{key}' is a whole number from 0 to {_LONGEST_ADVANCE[key]:,}, not "
                      f"{value!r}", number, key)
