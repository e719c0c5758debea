"""What the rule pages say of each rule beyond its catalogue entry, read from the code.

Shared by the Markdown pages of ``docs/`` (:mod:`.docsgen`) and the site (:mod:`.site`):
the Policy values of each rule, the commands and notices citing it, the tests and example
scenarios naming it, the rules it relates to, which rules cite each FAQ line, the rule
change log between releases, the error codes, and the narrated run of an example.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from ..adapters.memory import MemoryStore
from ..catalogue import Rule, faq, faq_lines, release_snapshots, rule_ids, rules, snapshot
from ..events import NOTIFICATION_RULES
from ..rules import DEFAULT_POLICY, PolicyField, policy_fields
from ..service.registry import REGISTRY
from .scenarios import EXAMPLES, Runner, example_files, load_scenario

__all__ = [
    "Change", "Release", "citations", "faq_passage", "link_ids",
    "named_in", "narrated", "notices_by_rule", "operations_by_rule", "policy_by_rule",
    "related", "rule_changes", "shown", "write_snapshot",
]

_ID = re.compile(r"\b([A-Z]+-\d+)\b")


def named_in(root: Path, folder: str, suffixes: Iterable[str]) -> dict[str, list[str]]:
    """Rule ID -> files under ``root/folder`` that name it."""
    found: dict[str, list[str]] = {}
    base = root / folder
    if not base.is_dir():
        return found
    for path in sorted(base.rglob("*")):
        if path.is_file() and path.suffix in suffixes:
            text = path.read_text(encoding="utf-8", errors="replace")
            for rule_id in sorted(set(_ID.findall(text))):
                found.setdefault(rule_id, []).append(path.relative_to(root).as_posix())
    return found


def examples_by_rule() -> dict[str, list[str]]:
    """Rule ID -> the example scenarios naming it (``skilltroc_core/examples/NAME.toml``)."""
    return named_in(EXAMPLES.parents[1], EXAMPLES.relative_to(EXAMPLES.parents[1]).as_posix(),
                    {".toml"})


def policy_by_rule() -> dict[str, list[PolicyField]]:
    found: dict[str, list[PolicyField]] = {}
    for field in policy_fields(DEFAULT_POLICY):
        found.setdefault(field.rule, []).append(field)
    return found


def operations_by_rule() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for declared in REGISTRY.values():
        for rule_id in declared.rules:
            found.setdefault(rule_id, []).append(declared.name)
    return found


def notices_by_rule() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event, rule_id in NOTIFICATION_RULES.items():
        found.setdefault(rule_id, []).append(event)
    return found


#: The units a policy duration is shown in, in each language.
_UNITS = {"en": ("none", "day", "hour", "minute", "second"),
          "fr": ("aucune", "jour", "heure", "minute", "seconde")}


def shown(value: Any, language: str = "en") -> str:
    """A policy value as a person reads it: ``1 hour``, ``7 days`` (``7 jours``), ``none``."""
    nothing, *units = _UNITS[language]
    if value is None:
        return nothing
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in zip(units, (86_400, 3_600, 60, 1), strict=True):
            if seconds % size == 0:
                count = seconds // size
                return f"{count} {unit}{'s' if count > 1 else ''}"
    if isinstance(value, frozenset | set | tuple | list):
        return ", ".join(sorted(str(item) for item in value))
    return str(value)


def faq_passage(rule: Rule) -> list[tuple[tuple[int, ...], str]]:
    """The non-blank FAQ lines a rule cites, in order, each text once: a line the FAQ
    repeats word for word (its parts for individuals and for professionals repeat each
    other) comes with every number it has, e.g. ``((69, 448), text)``."""
    lines: dict[int, str] = {}
    for first, last in sorted(rule.seed):
        for number, text in faq_lines(first, last):
            if text.strip():
                lines[number] = text.strip()
    numbers: dict[str, list[int]] = {}
    for number, text in sorted(lines.items()):
        numbers.setdefault(text, []).append(number)
    return [(tuple(found), text) for text, found in numbers.items()]


def related(rule: Rule) -> list[str]:
    """The rules this one names in its texts, those naming it, and those citing one of
    its FAQ lines, in catalogue order."""
    def named(other: Rule) -> set[str]:
        texts = [other.text.en, other.decision.en if other.decision else ""]
        return set(_ID.findall(" ".join(texts))) & rule_ids()

    def cited(of: Rule) -> set[int]:
        return {number for numbers, _ in faq_passage(of) for number in numbers}

    lines = cited(rule)
    linked = named(rule) | {other.id for other in rules() if rule.id in named(other) or (
        lines & cited(other))}
    return [other.id for other in rules() if other.id in linked - {rule.id}]


def link_ids(text: str, href: Callable[[str], str]) -> str:
    """``text`` with every known rule ID a Markdown link to ``href(ID)``."""
    known = rule_ids()
    return _ID.sub(lambda m: f"[{m.group(1)}]({href(m.group(1))})" if m.group(1) in known
                   else m.group(1), text)


def citations() -> dict[int, list[str]]:
    """FAQ line number -> the rules citing it, in catalogue order."""
    cited: dict[int, list[str]] = {}
    for rule in rules():
        for first, last in rule.seed:
            for number in range(first, min(last, len(faq())) + 1):
                if rule.id not in cited.setdefault(number, []):
                    cited[number].append(rule.id)
    return cited


@attrs.frozen(kw_only=True)
class Change:
    """What changed in one rule between two releases."""

    rule: str
    kind: str  # "added", "removed", "changed"
    what: tuple[str, ...] = ()  # text-en, text-fr, decision-added, ..., policy lines


@attrs.frozen(kw_only=True)
class Release:
    version: str  # "Unreleased" for the catalogue as it is now
    since: str | None  # the release it is compared with; None for the first
    changes: tuple[Change, ...]


def _differences(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    what: list[str] = []
    for part in ("text", "decision"):
        before, after = old[part], new[part]
        if before is None or after is None:
            if before != after:
                what.append(f"{part}-{'added' if before is None else 'removed'}")
            continue
        for language, fingerprint in after.items():
            if before.get(language) != fingerprint:
                what.append(f"{part}-{language}" if before.get(language) else (
                    f"{part}-{language}-added"))
    if old["faq"] != new["faq"]:
        what.append("faq")
    for name in sorted(set(old["policy"]) | set(new["policy"])):
        before_value, after_value = old["policy"].get(name), new["policy"].get(name)
        if before_value != after_value:
            what.append(f"policy {name}: {before_value or '-'} -> {after_value or '-'}")
    return tuple(what)


def write_snapshot(folder: Path, version: str) -> Path:
    """Keep what release ``version`` holds of the catalogue in ``folder/VERSION.json``
    (in a source checkout, ``src/skilltroc_core/catalogue/releases``), for the rule
    change log of the releases after it."""
    path = folder / f"{version}.json"
    path.write_text(json.dumps(snapshot(version), ensure_ascii=False, indent=1,
                               sort_keys=True) + "\n", encoding="utf-8")
    return path


def rule_changes() -> list[Release]:
    """Every release with the rules it added, changed or removed, newest first; the
    catalogue as it is now comes first as ``Unreleased`` when it differs from the last."""
    order = {rule.id: index for index, rule in enumerate(rules())}
    kept = [(version, document["rules"]) for version, document in release_snapshots()]
    now = snapshot("Unreleased")["rules"]
    if not kept or kept[-1][1] != now:
        kept.append(("Unreleased", now))
    found = []
    previous: tuple[str, dict[str, Any]] | None = None
    for version, current in kept:
        before = previous[1] if previous else {}
        changes = [Change(rule=rule_id, kind="added") for rule_id in current
                   if rule_id not in before]
        changes += [Change(rule=rule_id, kind="removed") for rule_id in before
                    if rule_id not in current]
        changes += [Change(rule=rule_id, kind="changed", what=what) for rule_id in current
                    if rule_id in before
                    and (what := _differences(before[rule_id], current[rule_id]))]
        changes.sort(key=lambda c: (order.get(c.rule, len(order)), c.rule))
        found.append(Release(version=version, since=previous[0] if previous else None,
                             changes=tuple(changes)))
        previous = (version, current)
    return found[::-1]


def narrated(path: Path) -> str:
    """The narrated run of the example scenario at ``path`` (what ``skilltroc run``
    prints), on a fresh in-memory store."""
    out = io.StringIO()
    scenario = load_scenario(path, known_rules=set(rule_ids()))
    store = MemoryStore()
    try:
        Runner(scenario, store, out).run()
    finally:
        store.close()
    return out.getvalue().replace(str(path), path.name).rstrip() + "\n"


def example_paths() -> dict[str, Path]:
    """``skilltroc_core/examples/NAME.toml`` -> its file."""
    base = EXAMPLES.parents[1]
    return {path.relative_to(base).as_posix(): path for path in example_files()}
