"""The rule catalogue and the French FAQ it comes from, carried in the package.

The catalogue is the project's own data: one TOML file a family under ``rules/`` (in
family order), each rule with its ID, title, text in English and French, the DECISION the
library took where the FAQ is silent, vague or unsafe, the FAQ lines it comes from and
the :class:`~skilltroc_core.rules.Policy` fields that carry its numbers. :func:`rules`
reads it; :func:`faq_lines` returns FAQ lines by number; :func:`snapshot` is what a
release keeps of it (``releases/VERSION.json``) for the rule change log.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

import attrs

from ..rules import DEFAULT_POLICY, policy_fields

__all__ = [
    "LANGUAGES",
    "Family",
    "Rule",
    "Text",
    "families",
    "faq",
    "faq_lines",
    "release_snapshots",
    "rule_ids",
    "rules",
    "snapshot",
    "state_name",
    "state_names",
]

#: The languages every text of the catalogue is written in, the first the default.
LANGUAGES = ("en", "fr")
_LINES = re.compile(r"^L(\d+)(?:-(\d+))?$")


@attrs.frozen
class Text:
    """One text in each of :data:`LANGUAGES`."""

    en: str
    fr: str

    def in_(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@attrs.frozen(kw_only=True)
class Family:
    id: str
    title: Text
    faq: tuple[str, ...]  # the FAQ parts it comes from, L12-34
    intro: Text | None = None


@attrs.frozen(kw_only=True)
class Rule:
    id: str
    family: str
    title: Text
    text: Text
    decision: Text | None  # None: the FAQ says it all, the library chose nothing
    faq: tuple[str, ...]  # the FAQ lines it comes from: L12 or L12-15
    policy: tuple[str, ...]  # the Policy fields carrying its numbers

    @property
    def seed(self) -> tuple[tuple[int, int], ...]:
        """The FAQ line ranges it cites, ``(first, last)``."""
        return tuple(_range(ref) for ref in self.faq)


def _range(ref: str) -> tuple[int, int]:
    match = _LINES.match(ref)
    if match is None:
        raise ValueError(f"a FAQ reference is L12 or L12-15, not {ref!r}")
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def _text(value: dict[str, str]) -> Text:
    return Text(**{language: " ".join(value[language].split()) for language in LANGUAGES})


def _folder() -> Any:
    return resources.files(__package__)


@cache
def _catalogue() -> tuple[tuple[Family, ...], tuple[Rule, ...]]:
    found_families, found_rules = [], []
    files = sorted((f for f in _folder().joinpath("rules").iterdir() if f.name.endswith(
        ".toml")), key=lambda f: f.name)
    for file in files:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
        head = document["family"]
        found_families.append(Family(
            id=head["id"], title=_text(head["title"]), faq=tuple(head["faq"]),
            intro=_text(head["intro"]) if "intro" in head else None))
        for entry in document["rule"]:
            rule = Rule(
                id=entry["id"], family=head["id"], title=_text(entry["title"]),
                text=_text(entry["text"]),
                decision=_text(entry["decision"]) if "decision" in entry else None,
                faq=tuple(entry["faq"]), policy=tuple(entry["policy"]))
            rule.seed  # noqa: B018 - refuses a malformed FAQ reference at load
            found_rules.append(rule)
    return tuple(found_families), tuple(found_rules)


def families() -> tuple[Family, ...]:
    """Every family of rules, in catalogue order."""
    return _catalogue()[0]


def rules() -> tuple[Rule, ...]:
    """Every rule of the catalogue, in order."""
    return _catalogue()[1]


@cache
def rule_ids() -> frozenset[str]:
    return frozenset(rule.id for rule in rules())


@cache
def state_names() -> dict[str, str]:
    """Every state's code -> its French name (``catalogue/states.toml``)."""
    document = tomllib.loads(_folder().joinpath("states.toml").read_text(encoding="utf-8"))
    names: dict[str, str] = document["fr"]
    return names


def state_name(state: str, language: str) -> str:
    """A state's code (``pending``, ``held``...) as members read it in ``language``: in
    French its name from ``catalogue/states.toml``; in English the code itself."""
    return state_names().get(state, state) if language == "fr" else state


@cache
def policy_in_french() -> dict[str, str]:
    """What each :class:`~skilltroc_core.rules.Policy` field means, in French (its English
    is the field's own doc)."""
    document = tomllib.loads(_folder().joinpath("policy.toml").read_text(encoding="utf-8"))
    return {name: " ".join(text.split()) for name, text in document["fr"].items()}


@cache
def faq() -> tuple[str, ...]:
    """The French FAQ, line by line (line ``n`` is ``faq()[n - 1]``)."""
    return tuple(_folder().joinpath("skilltroc-faq-fr.txt").read_text(
        encoding="utf-8").splitlines())


def faq_lines(first: int, last: int) -> list[tuple[int, str]]:
    """FAQ lines ``first`` to ``last`` (1-based, inclusive), with their numbers."""
    lines = faq()
    return [(n, lines[n - 1]) for n in range(max(first, 1), min(last, len(lines)) + 1)]


def _fingerprint(text: str | None) -> str | None:
    if text is None:
        return None
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def snapshot(version: str) -> dict[str, Any]:
    """What release ``version`` keeps of the catalogue, for the rule change log: each
    rule's family, a fingerprint of each text, its FAQ references and its Policy values
    (their ``repr``)."""
    policy: dict[str, dict[str, str]] = {}
    for field in policy_fields(DEFAULT_POLICY):
        policy.setdefault(field.rule, {})[field.name] = repr(field.value)
    kept: dict[str, Any] = {}
    for rule in rules():
        kept[rule.id] = {
            "family": rule.family,
            "text": {language: _fingerprint(rule.text.in_(language)) for language in LANGUAGES},
            "decision": None if rule.decision is None else {
                language: _fingerprint(rule.decision.in_(language)) for language in LANGUAGES},
            "faq": sorted(set(rule.faq)),
            "policy": policy.get(rule.id, {}),
        }
    return {"version": version, "rules": kept}


def release_snapshots() -> list[tuple[str, dict[str, Any]]]:
    """``(version, snapshot)`` of every release the package carries, oldest first."""
    found = []
    for file in _folder().joinpath("releases").iterdir():
        if file.name.endswith(".json"):
            document = json.loads(file.read_text(encoding="utf-8"))
            found.append((document["version"], document))
    return sorted(found, key=lambda item: tuple(int(p) for p in item[0].split(".")))
