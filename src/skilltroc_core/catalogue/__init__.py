"""The rule catalogue (RULES.md) and the French FAQ it comes from, carried in the package.

Kept here so that scenario checks and generated docs work without the project's shared
folder. :func:`rules` parses the catalogue into rule IDs with their text and the FAQ
lines they cite; :func:`faq_lines` returns FAQ lines by number.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import attrs

__all__ = ["Rule", "faq_lines", "rule_ids", "rules"]

_RULE = re.compile(r"^- ([A-Z]+-\d+) (.*?)(?=^- [A-Z]+-\d+ |^## |^\| |\Z)", re.M | re.S)
_LINES = re.compile(r"L(\d+)(?:-(\d+))?")


@attrs.frozen(kw_only=True)
class Rule:
    id: str
    family: str
    text: str
    seed: tuple[tuple[int, int], ...]  # FAQ line ranges the rule cites


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def rules() -> tuple[Rule, ...]:
    """Every rule of the catalogue, in order."""
    found = []
    for match in _RULE.finditer(_read("RULES.md")):
        rule_id, text = match.group(1), " ".join(match.group(2).split())
        ranges = tuple(
            (int(a), int(b or a)) for a, b in _LINES.findall(text)
        )
        found.append(Rule(id=rule_id, family=rule_id.split("-")[0], text=text, seed=ranges))
    return tuple(found)


@cache
def rule_ids() -> frozenset[str]:
    return frozenset(rule.id for rule in rules())


@cache
def _faq() -> tuple[str, ...]:
    return tuple(_read("skilltroc-faq-fr.txt").splitlines())


def faq_lines(first: int, last: int) -> list[tuple[int, str]]:
    """FAQ lines ``first`` to ``last`` (1-based, inclusive), with their numbers."""
    lines = _faq()
    return [(n, lines[n - 1]) for n in range(max(first, 1), min(last, len(lines)) + 1)]
