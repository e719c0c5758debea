"""The rule catalogue (``skilltroc_core/catalogue/rules/*.toml``) is the project's own data,
checked against the reference spec ``../shared/RULES.md`` so the two cannot drift: the same
rule IDs in the same order, the same FAQ references, the same DECISION flags; its Policy
fields are those ``rules.Policy`` gives each rule; its texts are its own words.

Where the reference spec is not beside the checkout (a clone on its own, CI), its index
recorded in ``tests/reference_index.json`` (each rule's ID, FAQ references and DECISION
flag, no text) stands for it; where it is, the index is checked against it first."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from skilltroc_core.catalogue import (
    LANGUAGES,
    families,
    faq,
    policy_in_french,
    release_snapshots,
    rule_ids,
    rules,
    snapshot,
)
from skilltroc_core.rules import DEFAULT_POLICY, policy_fields

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "RULES.md"
_RULE = re.compile(r"^- ([A-Z]+-\d+) (.*?)(?=^- [A-Z]+-\d+ |^## |^\| |\Z)", re.M | re.S)
_REF = re.compile(r"L\d+(?:-\d+)?")
#: the longest run of words a catalogue text may share with the reference spec
_LONGEST_SHARED_RUN = 13


def _reference() -> dict[str, str]:
    if not REFERENCE.is_file():
        pytest.skip(f"the reference spec {REFERENCE} is absent (an installed copy or a clone "
                    "without the shared folder): nothing to compare the catalogue with")
    return {m.group(1): " ".join(m.group(2).split())
            for m in _RULE.finditer(REFERENCE.read_text(encoding="utf-8"))}


INDEX = Path(__file__).with_name("reference_index.json")


def _index() -> list[dict[str, Any]]:
    index: list[dict[str, Any]] = json.loads(INDEX.read_text(encoding="utf-8"))
    return index


def test_the_recorded_index_is_the_reference_specs() -> None:
    assert _index() == [
        {"id": rule_id, "faq": sorted(set(_REF.findall(text))), "decision": "DECISION" in text}
        for rule_id, text in _reference().items()]


def test_the_catalogue_has_the_reference_ids_in_its_order() -> None:
    assert [rule.id for rule in rules()] == [entry["id"] for entry in _index()]


def test_each_rule_cites_the_faq_lines_the_reference_cites() -> None:
    reference = {entry["id"]: set(entry["faq"]) for entry in _index()}
    wrong = {rule.id: (sorted(set(rule.faq)), sorted(reference[rule.id]))
             for rule in rules() if set(rule.faq) != reference[rule.id]}
    assert not wrong, f"rule: (catalogue, reference) FAQ references differ: {wrong}"


def test_each_rule_has_a_decision_exactly_when_the_reference_marks_one() -> None:
    reference = {entry["id"]: entry["decision"] for entry in _index()}
    wrong = [rule.id for rule in rules() if (rule.decision is not None) != reference[rule.id]]
    assert not wrong, f"DECISION flags differ from the reference: {wrong}"


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def test_the_texts_are_the_projects_own_words() -> None:
    reference = " ".join(_words(" ".join(_reference().values())))
    n = _LONGEST_SHARED_RUN + 1
    copied = []
    for rule in rules():
        for text in (rule.text.en, rule.decision.en if rule.decision else ""):
            words = _words(text)
            copied += [f"{rule.id}: {' '.join(words[i:i + n])}" for i in range(len(words) - n + 1)
                       if " ".join(words[i:i + n]) in reference][:1]
    assert not copied, f"copied from the reference spec: {copied}"


def test_every_rule_is_written_in_both_languages() -> None:
    for rule in rules():
        for text in (rule.title, rule.text, *([rule.decision] if rule.decision else [])):
            assert all(text.in_(language) for language in LANGUAGES), rule.id
            assert text.en != text.fr or len(text.en) < 12, (rule.id, text.en)
    assert [family.id for family in families()] == list(dict.fromkeys(
        rule.family for rule in rules()))
    assert all(rule.id.startswith(rule.family + "-") for rule in rules())
    assert len(rule_ids()) == len(rules())


def test_the_policy_fields_of_each_rule_are_those_the_policy_gives_it() -> None:
    by_rule: dict[str, list[str]] = {}
    for field in policy_fields(DEFAULT_POLICY):
        by_rule.setdefault(field.rule, []).append(field.name)
    assert {rule.id: sorted(rule.policy) for rule in rules() if rule.policy} == {
        rule: sorted(names) for rule, names in by_rule.items()}


def test_every_policy_field_has_its_meaning_in_french() -> None:
    names = [field.name for field in policy_fields(DEFAULT_POLICY)]
    assert sorted(policy_in_french()) == sorted(names)
    assert all(policy_in_french().values())


def test_every_faq_reference_is_a_line_of_the_faq() -> None:
    for rule in rules():
        for first, last in rule.seed:
            assert 1 <= first <= last <= len(faq()), (rule.id, first, last)
            assert any(line.strip() for line in faq()[first - 1:last]), (rule.id, first)


def test_the_release_snapshots_read_and_the_current_one_has_every_rule() -> None:
    versions = [version for version, _ in release_snapshots()]
    assert versions and versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))))
    assert set(snapshot("next")["rules"]) == rule_ids()
