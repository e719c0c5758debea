"""The pages of the rule site (``skilltroc docs --site``), as generated Markdown: every
rule on its family's page in English and French, the decision register, the FAQ
coverage, the rule change log; the test paths only on the developers' page. The built
site itself is opened in a browser by tests/test_site.py."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from skilltroc_core.catalogue import LANGUAGES, families, faq, rules
from skilltroc_core.tools.cli import EXIT_USAGE, main
from skilltroc_core.tools.rulebook import citations, rule_changes
from skilltroc_core.tools.site import site_pages

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return site_pages(ROOT)


def _localized(path: str, language: str) -> str:
    return path if language == LANGUAGES[0] else path.replace(".md", f".{language}.md")


def test_each_rule_is_on_its_familys_page_in_both_languages(pages: dict[str, str]) -> None:
    for rule in rules():
        for language in LANGUAGES:
            page = pages[_localized(f"rules/{rule.family.lower()}.md", language)]
            assert f"## {rule.id} · {rule.title.in_(language)} {{ #{rule.id.lower()} }}" in page
            assert (rule.decision is None) or 'warning "D' in page
    assert {path for path in pages if path.startswith("rules/")} == {
        _localized(f"rules/{family.id.lower()}.md", language)
        for family in families() for language in LANGUAGES}


def test_the_decision_register_has_every_decision_under_a_stable_anchor(
        pages: dict[str, str]) -> None:
    for language in LANGUAGES:
        anchors = re.findall(r"\{ #decision-([a-z]+-\d+) \}", pages[_localized(
            "decisions.md", language)])
        assert anchors == [rule.id.lower() for rule in rules() if rule.decision is not None]


def test_the_faq_coverage_marks_every_uncited_line_for_review(pages: dict[str, str]) -> None:
    cited = citations()
    page = pages["faq-coverage.md"]
    non_blank = [n for n, line in enumerate(faq(), start=1) if line.strip()]
    rows = [line for line in page.splitlines() if line.startswith('| <span id="l')]
    assert len(rows) == len(non_blank)
    uncited = [n for n in non_blank if n not in cited]
    assert sum(row.endswith("| **to review** |") for row in rows) == len(uncited)
    for line in (144, 521, 253, 268):  # not marketing: the review the issue asks for
        assert line in uncited
    assert f"{len(non_blank)} non-blank lines" in page


def test_the_rule_change_log_compares_each_release_with_the_one_before(
        pages: dict[str, str]) -> None:
    releases = rule_changes()
    first = releases[-1]
    assert first.since is None and {c.kind for c in first.changes} == {"added"}
    assert len(first.changes) == len(rules())
    assert "## 0.2.0 (first release)" in pages["changes.md"]
    for newer, older in itertools.pairwise(releases):
        assert newer.since == older.version


def test_test_paths_stay_on_the_developers_page(pages: dict[str, str]) -> None:
    assert "`tests/test_" in pages["traceability.md"]
    for path, text in pages.items():
        if path != "traceability.md":
            assert "tests/test_" not in text, path


def test_the_site_refuses_a_folder_holding_other_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mkdocs", reason="the rule site needs the docs extra")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["docs", "--site", str(tmp_path)]) == EXIT_USAGE
    assert "no earlier site" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_release_keeps_its_catalogue_for_the_next_change_log(tmp_path: Path) -> None:
    from skilltroc_core.tools.rulebook import write_snapshot  # noqa: PLC0415

    kept = json.loads(write_snapshot(tmp_path, "9.9.9").read_text(encoding="utf-8"))
    assert kept["version"] == "9.9.9" and set(kept["rules"]) == {r.id for r in rules()}
    assert kept["rules"]["BOOK-24"]["policy"]["waitlist_window_days"] == "15"
