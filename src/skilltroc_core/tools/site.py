"""The rule site product owners open in a browser: ``skilltroc docs --site DIR``.

Built with mkdocs and mkdocs-material (the ``docs`` extra) from pages generated here, in
English and French (``page.md`` and ``page.fr.md``; mkdocs-static-i18n switches between
them, and a page with no French version shows the English one): a page a family with each
rule (its text, the FAQ lines it comes from, its DECISION in a box, its Policy values,
the example scenarios showing it with their narrated run, the related rules), the
decision register, the refund matrix, the lifecycles drawn with Mermaid, the FAQ
coverage, the rule change log, the glossary, the error codes, the scenario format, and
for developers the traceability and the commands. Rule IDs are links everywhere.

The site works offline: Mermaid is vendored (``site_assets/mermaid.min.js``), the
search index ships with the pages (English and French stemming), the theme's fonts
are the browser's own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path

from ..catalogue import (
    LANGUAGES,
    Family,
    Rule,
    families,
    faq,
    policy_in_french,
    rules,
    state_name,
)
from .docsgen import (
    commands_page,
    errors_page,
    glossary_page,
    scenario_format_page,
    state_machines_page,
    traceability_page,
)
from .refund_matrix import EVENTS, STAGES, refund_matrix
from .rulebook import (
    citations,
    example_paths,
    examples_by_rule,
    faq_passage,
    link_ids,
    narrated,
    policy_by_rule,
    related,
    rule_changes,
    shown,
)
from .scenarios import load_scenario

__all__ = ["SiteError", "build_site", "site_pages"]

#: The words of the pages, in each language.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "site": "Skilltroc rules", "home": "Home", "rules": "Rules",
        "decisions": "Decision register", "refund": "Refund matrix",
        "lifecycles": "Lifecycles", "coverage": "FAQ coverage", "changes": "Rule changes",
        "glossary": "Glossary", "errors": "Error codes", "format": "Scenario format",
        "guide": "Writing scenarios",
        "developers": "For developers", "trace": "Traceability", "commands": "Commands",
        "from_faq": "From the FAQ", "decision": "DECISION", "policy": "Policy values",
        "value": "value", "meaning": "meaning", "field": "field",
        "examples": "Example scenarios (the narrated run of `skilltroc run`)",
        "related": "Related rules", "rule": "rule", "line": "line", "text": "text",
        "cited_by": "cited by", "to_review": "to review", "sign_off": "Sign-off",
        "colon": ":",
        "accepted": "accepted", "to_discuss": "to discuss", "event": "event",
        "outcome": "outcome", "state_after": "state after", "refused_with": "refused with",
        "added": "Added", "changed": "Changed", "removed": "Removed", "what": "what changed",
        "first_release": "first release", "compared_with": "compared with",
        "no_change": "No rule changed.", "rules_count": "rules", "decisions_count":
        "decisions", "faq_parts": "FAQ lines",
    },
    "fr": {
        "site": "Règles de Skilltroc", "home": "Accueil", "rules": "Règles",
        "decisions": "Registre des décisions", "refund": "Matrice des remboursements",
        "lifecycles": "Cycles de vie", "coverage": "Couverture de la FAQ",
        "changes": "Évolution des règles", "glossary": "Glossaire",
        "errors": "Codes d'erreur", "format": "Format des scénarios",
        "guide": "Écrire un scénario",
        "developers": "Pour les développeurs", "trace": "Traçabilité",
        "commands": "Commandes", "from_faq": "Dans la FAQ", "decision": "DÉCISION",
        "policy": "Valeurs de la politique", "value": "valeur", "meaning": "sens",
        "field": "champ",
        "examples": "Scénarios d'exemple (le déroulé commenté de `skilltroc run`)",
        "related": "Règles liées", "rule": "règle", "line": "ligne", "text": "texte",
        "cited_by": "citée par", "to_review": "à examiner", "sign_off": "Validation",
        "colon": "\u00a0:",  # French typography: a (no-break) space before a colon
        "accepted": "acceptée", "to_discuss": "à discuter", "event": "événement",
        "outcome": "effet", "state_after": "état après", "refused_with": "refusé avec",
        "added": "Ajoutées", "changed": "Modifiées", "removed": "Supprimées",
        "what": "ce qui change", "first_release": "première version",
        "compared_with": "par rapport à", "no_change": "Aucune règle n'a changé.",
        "rules_count": "règles", "decisions_count": "décisions", "faq_parts": "lignes de la FAQ",
    },
}

#: The refund matrix in French: its stages, events and outcomes.
FRENCH_MATRIX = {
    "pending (planned session)": "demande en attente (session planifiée)",
    "pending (future session)": "demande en attente (session future)",
    "registered, before the start": "inscrit, avant le début",
    "waitlisted": "en liste d'attente",
    "registered, session ended": "inscrit, session terminée",
    "paid (session confirmed held)": "payé (session déclarée tenue)",
    "member cancels the request": "le membre retire sa demande",
    "organizer refuses": "l'organisateur refuse",
    "organizer accepts": "l'organisateur accepte",
    "organizer accepts for a future session": "l'organisateur accepte pour une session future",
    "the session starts": "la session commence",
    "7 days pass": "7 jours passent",
    "15 days pass": "15 jours passent",
    "organizer moves the session": "l'organisateur déplace la session",
    "organizer cancels the session": "l'organisateur annule la session",
    "organizer deletes the workshop": "l'organisateur supprime l'atelier",
    "member unregisters": "le membre se désinscrit",
    "organizer cancels the transaction": "l'organisateur annule la transaction",
    "member leaves the waitlist": "le membre quitte la liste d'attente",
    "organizer confirms held": "l'organisateur confirme la session tenue",
    "organizer confirms not held": "l'organisateur déclare la session non tenue",
    "member declares absence": "le membre déclare son absence",
    "member's account is purged": "le compte du membre est purgé",
    "refund": "remboursement", "keep holding": "étoiles toujours bloquées",
    "pay organizer": "versé à l'organisateur", "already paid": "déjà versé",
    "not allowed": "refusé",
}

#: What a change of the rule change log means, in each language.
CHANGE_WORDS = {
    "en": {"text-en": "English text", "text-fr": "French text",
           "text-fr-added": "French text added", "text-en-added": "English text added",
           "decision-en": "DECISION (English)", "decision-fr": "DECISION (French)",
           "decision-fr-added": "DECISION in French added",
           "decision-en-added": "DECISION in English added",
           "decision-added": "DECISION added", "decision-removed": "DECISION removed",
           "text-added": "text added", "text-removed": "text removed",
           "faq": "FAQ references", "policy": "Policy value"},
    "fr": {"text-en": "texte anglais", "text-fr": "texte français",
           "text-fr-added": "texte français ajouté", "text-en-added": "texte anglais ajouté",
           "decision-en": "DÉCISION (anglais)", "decision-fr": "DÉCISION (français)",
           "decision-fr-added": "DÉCISION en français ajoutée",
           "decision-en-added": "DÉCISION en anglais ajoutée",
           "decision-added": "DÉCISION ajoutée", "decision-removed": "DÉCISION supprimée",
           "text-added": "texte ajouté", "text-removed": "texte supprimé",
           "faq": "références à la FAQ", "policy": "valeur de la politique"},
}

#: What the site carries instead of fetching it (``site_assets/``, each with its license).
ASSETS = ("mermaid.min.js", "iframe-worker-shim.js")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


class SiteError(Exception):
    """The site could not be built: what to install or fix, in one line."""


def _family_page(family_id: str) -> str:
    return f"rules/{family_id.lower()}.md"


def _href_from(here: str) -> Callable[[str], str]:
    """Links to rules, relative to the page ``here``."""
    depth = here.count("/")

    def href(rule_id: str) -> str:
        family = rule_id.split("-", maxsplit=1)[0]
        return "../" * depth + _family_page(family) + "#" + rule_id.lower()
    return href


def _link_outside_code(text: str, href: Callable[[str], str]) -> str:
    """Rule IDs as links, except in fenced code."""
    out, last = [], 0
    for fence in _FENCE.finditer(text):
        out += [link_ids(text[last:fence.start()], href), fence.group(0)]
        last = fence.end()
    return "".join([*out, link_ids(text[last:], href)])


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line if line else line for line in text.splitlines())


def _rule_block(rule: Rule, language: str, here: str,
                runs: dict[str, tuple[str, str]]) -> list[str]:
    words = WORDS[language]
    href = _href_from(here)
    out = [f"## {rule.id} · {rule.title.in_(language)} {{ #{rule.id.lower()} }}", "",
           link_ids(rule.text.in_(language), href), ""]
    if rule.decision:
        out += [f'!!! warning "{words["decision"]}"', "",
                _indent(link_ids(rule.decision.in_(language), href)), ""]
    passage = faq_passage(rule)
    if passage:
        coverage = "../" * here.count("/") + "faq-coverage.md"
        out += [f'???+ quote "{words["from_faq"]} ({", ".join(rule.faq)})"', ""]
        for numbers, text in passage:
            cited = " = ".join(f"[**L{n}**]({coverage}#l{n})" for n in numbers)
            out += [_indent(f"{cited} {text}"), ""]
    fields = policy_by_rule().get(rule.id, [])
    if fields:
        out += [f"**{words['policy']}**", "",
                f"| {words['value']} | {words['meaning']} | {words['field']} |", "|---|---|---|"]
        meanings = {f.name: f.doc for f in fields} if language == "en" else policy_in_french()
        out += [f"| {shown(f.value, language)} | "
                f"{link_ids(meanings[f.name].replace('|', '/'), href)} | `{f.name}` |"
                for f in fields]
        out.append("")
    shown_runs = [runs[name] for name in examples_by_rule().get(rule.id, []) if name in runs]
    if shown_runs:
        out += [f"**{words['examples']}**", ""]
        for title, run in shown_runs:
            out += [f'??? example "{title}"', "", "    ```text", _indent(run), "    ```", ""]
    linked = related(rule)
    if linked:
        out += [f"**{words['related']}**{words['colon']} " + ", ".join(
            f"[{other}]({href(other)})" for other in linked), ""]
    return out


def _family_text(family: Family, language: str, *, runs: dict[str, tuple[str, str]]) -> str:
    here = _family_page(family.id)
    words = WORDS[language]
    out = [f"# {family.id} · {family.title.in_(language)}", "",
           f"*{words['from_faq']}{words['colon']} {', '.join(family.faq)}*", ""]
    if family.intro:
        out += [link_ids(family.intro.in_(language), _href_from(here)), ""]
    for rule in rules():
        if rule.family == family.id:
            out += _rule_block(rule, language, here, runs)
    return "\n".join(out)


def _index_text(language: str) -> str:
    words = WORDS[language]
    if language == "fr":
        intro = ("Les règles que la bibliothèque `skilltroc_core` applique, famille par "
                 "famille, telles qu'elles sont écrites dans son catalogue : chaque règle "
                 "avec les lignes de la FAQ dont elle vient, la DÉCISION prise là où la FAQ "
                 "se tait, les valeurs de la politique et des scénarios d'exemple joués pas "
                 "à pas. Le sélecteur de langue (en haut) passe de l'anglais au français.")
    else:
        intro = ("The rules the `skilltroc_core` library enforces, family by family, as its "
                 "catalogue states them: each rule with the FAQ lines it comes from, the "
                 "DECISION the library took where the FAQ is silent, its Policy values and "
                 "example scenarios played step by step. The language selector (at the top) "
                 "switches between English and French.")
    out = [f"# {words['site']}", "", intro, "",
           f"| {words['rules']} | {words['rules_count']} | {words['decisions_count']} |",
           "|---|---|---|"]
    for family in families():
        members = [rule for rule in rules() if rule.family == family.id]
        out.append(f"| [{family.id} · {family.title.in_(language)}]({_family_page(family.id)}) "
                   f"| {len(members)} | {sum(rule.decision is not None for rule in members)} |")
    out += ["", f"- [{words['decisions']}](decisions.md)",
            f"- [{words['refund']}](refund-matrix.md)",
            f"- [{words['lifecycles']}](lifecycles.md)",
            f"- [{words['coverage']}](faq-coverage.md)",
            f"- [{words['changes']}](changes.md)", ""]
    return "\n".join(out)


def _decisions_text(language: str) -> str:
    words = WORDS[language]
    href = _href_from("decisions.md")
    if language == "fr":
        intro = ("Chaque DÉCISION du catalogue sur une page, là où la FAQ se tait, reste "
                 "vague ou n'est pas sûre, pour validation. Chaque décision a une ancre "
                 "stable, `#decision-` suivi de l'identifiant de sa règle (`#decision-book-14`).")
    else:
        intro = ("Every DECISION of the catalogue on one page, where the FAQ is silent, vague "
                 "or unsafe, for sign-off. Each has a stable anchor, `#decision-` and its "
                 "rule's ID (`#decision-book-14`).")
    out = [f"# {words['decisions']}", "", intro, ""]
    for rule in rules():
        if rule.decision is None:
            continue
        faq_refs = ", ".join(rule.faq) or "-"
        colon = words["colon"]
        out += [f"## {rule.id} · {rule.title.in_(language)} {{ #decision-{rule.id.lower()} }}",
                "", f"[{rule.id}]({href(rule.id)}) · {words['from_faq']}{colon} {faq_refs}", "",
                f'!!! warning "{words["decision"]}"', "",
                _indent(link_ids(rule.decision.in_(language), href)), "",
                f"{words['sign_off']}{colon} ☐ {words['accepted']} ☐ {words['to_discuss']}",
                ""]
    return "\n".join(out)


def _refund_text(language: str) -> str:
    words = WORDS[language]

    def said(text: str) -> str:
        return FRENCH_MATRIX.get(text, text) if language == "fr" else text

    if language == "fr":
        intro = ("Chaque paire (stade, événement) a été jouée par le service sur une base en "
                 "mémoire, et son effet lu dans le grand livre des étoiles : rien n'est écrit "
                 "à la main. Un refus laisse tout en l'état ; son code d'erreur est à part, "
                 "dans la dernière colonne.")
    else:
        intro = ("Every (stage, event) pair was played through the service on an in-memory "
                 "store and its outcome read from the star ledger: nothing here is written "
                 "by hand. A refusal changes nothing; its error code stands apart, in the "
                 "last column.")
    href = _href_from("refund-matrix.md")
    matrix = refund_matrix()
    out = [f"# {words['refund']}", "", intro, ""]
    for stage in STAGES:
        out += [f"## {said(stage)}", "",
                f"| {words['event']} | {words['outcome']} | {words['state_after']} | "
                f"{words['rule']} | {words['refused_with']} |", "|---|---|---|---|---|"]
        for event in EVENTS:
            outcome = matrix[(stage, event)]
            rule = link_ids(outcome.rule, href) if outcome.rule else ""
            error = f"`{outcome.error}`" if outcome.error else ""
            state = state_name(outcome.state, language)
            out.append(f"| {said(event)} | {said(outcome.result)} | {state} | {rule} "
                       f"| {error} |")
        out.append("")
    return "\n".join(out)


def _coverage_text(language: str) -> str:
    words = WORDS[language]
    href = _href_from("faq-coverage.md")
    cited = citations()
    lines = [(n, text.strip()) for n, text in enumerate(faq(), start=1) if text.strip()]
    uncited = sum(n not in cited for n, _ in lines)
    if language == "fr":
        intro = (f"La FAQ ligne par ligne, avec les règles qui citent chaque ligne. "
                 f"{len(lines)} lignes non vides, dont {len(lines) - uncited} citées et "
                 f"{uncited} citées par aucune règle, marquées « {words['to_review']} » : "
                 "souvent du discours commercial, parfois une règle à écrire.")
    else:
        intro = (f"The FAQ line by line, with the rules citing each line. {len(lines)} "
                 f"non-blank lines: {len(lines) - uncited} cited, {uncited} cited by no rule "
                 f"and marked \"{words['to_review']}\" (often marketing, sometimes a rule "
                 "still to write).")
    out = [f"# {words['coverage']}", "", intro, "",
           f"| {words['line']} | {words['text']} | {words['cited_by']} |", "|---|---|---|"]
    for number, text in lines:
        by = ", ".join(f"[{rule_id}]({href(rule_id)})" for rule_id in cited.get(number, []))
        marker = by or f"**{words['to_review']}**"
        out.append(f"| <span id=\"l{number}\">L{number}</span> | {text.replace('|', '/')} | "
                   f"{marker} |")
    return "\n".join(out) + "\n"


def _changes_text(language: str) -> str:
    words = WORDS[language]
    said = CHANGE_WORDS[language]
    href = _href_from("changes.md")
    if language == "fr":
        intro = ("Pour chaque version, les règles ajoutées, modifiées (texte, DÉCISION, "
                 "valeur de la politique, références à la FAQ) ou supprimées, obtenues en "
                 "comparant le catalogue avec celui de la version précédente (ce qu'en garde "
                 "`skilltroc_core/catalogue/releases/`).")
    else:
        intro = ("For each release, the rules added, changed (text, DECISION, Policy value, "
                 "FAQ references) or removed, found by comparing the catalogue with the one of "
                 "the release before (what `skilltroc_core/catalogue/releases/` keeps of it).")
    out = [f"# {words['changes']}", "", intro, ""]
    for release in rule_changes():
        since = (f"{words['compared_with']} {release.since}" if release.since
                 else words["first_release"])
        out += [f"## {release.version} ({since})", ""]
        if not release.changes:
            out += [words["no_change"], ""]
        for kind in ("added", "changed", "removed"):
            changes = [c for c in release.changes if c.kind == kind]
            if not changes:
                continue
            out += [f"### {words[kind]} ({len(changes)})", ""]
            if kind == "changed":
                out += [f"| {words['rule']} | {words['what']} |", "|---|---|"]
                for change in changes:
                    what = [said["policy"] + " " + item[len("policy "):].replace("->", "→")
                            if item.startswith("policy ") else said.get(item, item)
                            for item in change.what]
                    out.append(f"| [{change.rule}]({href(change.rule)}) | {'; '.join(what)} |")
            else:
                out.append(", ".join(f"[{c.rule}]({href(c.rule)})" if kind == "added"
                                     else c.rule for c in changes))
            out.append("")
    return "\n".join(out)


def _errors_text() -> str:
    """docs/errors.md (every code, its HTTP status and its refusals in both languages),
    rule IDs as links."""
    page = errors_page().replace("[errors.pot](errors.pot)", "`docs/errors.pot`").replace(
        "[errors.fr.po](errors.fr.po)", "`docs/errors.fr.po`")  # files of the repository
    return _link_outside_code(page, _href_from("errors.md"))


def _runs() -> dict[str, tuple[str, str]]:
    """``skilltroc_core/examples/NAME.toml`` -> (its title, its narrated run)."""
    return {name: (load_scenario(path).title, narrated(path))
            for name, path in example_paths().items()}


def site_pages(root: Path | None) -> dict[str, str]:
    """Every page of the site: path under the pages folder -> Markdown (``root``: the
    source checkout, whose tests the traceability page names, or None)."""
    runs = _runs()
    pages: dict[str, str] = {}

    def add(path: str, text_of: Callable[[str], str]) -> None:
        for language in LANGUAGES:
            name = path if language == LANGUAGES[0] else path.replace(".md", f".{language}.md")
            pages[name] = text_of(language)

    add("index.md", _index_text)
    for family in families():
        add(_family_page(family.id), partial(_family_text, family, runs=runs))
    add("decisions.md", _decisions_text)
    add("refund-matrix.md", _refund_text)
    add("faq-coverage.md", _coverage_text)
    add("changes.md", _changes_text)
    pages["lifecycles.md"] = _link_outside_code(state_machines_page(), _href_from("x"))
    pages["glossary.md"] = glossary_page()
    pages["errors.md"] = _errors_text()
    pages["scenario-format.md"] = _link_outside_code(scenario_format_page(), _href_from("x"))
    guide = None if root is None else root / "docs" / "scenarios.md"
    if guide is not None and guide.is_file():  # the hand-written guide of a source checkout
        pages["scenarios.md"] = _link_outside_code(guide.read_text(encoding="utf-8"),
                                                   _href_from("x"))
    pages["traceability.md"] = traceability_page(root, href=_href_from("x")).replace(
        "[rules.md](rules.md)", "[the rules](index.md)")  # the site has a page a family
    pages["commands.md"] = _link_outside_code(commands_page(), _href_from("x"))
    return pages


def _config(out: Path, pages: dict[str, str]) -> str:
    """mkdocs.yml: material, French and English, search in both, Mermaid vendored."""
    english, french = WORDS["en"], WORDS["fr"]
    nav = [
        {english["home"]: "index.md"},
        {english["rules"]: [{f"{f.id} · {f.title.en}": _family_page(f.id)}
                            for f in families()]},
        {english["decisions"]: "decisions.md"},
        {english["refund"]: "refund-matrix.md"},
        {english["lifecycles"]: "lifecycles.md"},
        {english["coverage"]: "faq-coverage.md"},
        {english["changes"]: "changes.md"},
        {english["glossary"]: "glossary.md"},
        {english["errors"]: "errors.md"},
        {english["format"]: [{english["guide"]: "scenarios.md"},
                             {english["format"]: "scenario-format.md"}]
         if "scenarios.md" in pages else "scenario-format.md"},
        {english["developers"]: [{english["trace"]: "traceability.md"},
                                 {english["commands"]: "commands.md"}]},
    ]
    translations = {english[key]: french[key] for key in (
        "home", "rules", "decisions", "refund", "lifecycles", "coverage", "changes",
        "glossary", "errors", "format", "guide", "developers", "trace", "commands")}
    translations |= {f"{f.id} · {f.title.en}": f"{f.id} · {f.title.fr}" for f in families()}
    config = {
        "site_name": english["site"],
        "docs_dir": "pages",
        "site_dir": str(out),
        "use_directory_urls": True,
        "theme": {"name": "material", "font": False, "language": "en",
                  "features": ["navigation.sections", "navigation.top", "search.highlight",
                               "toc.follow"]},
        "plugins": [
            {"search": {"lang": list(LANGUAGES)}},
            "offline",
            {"i18n": {"docs_structure": "suffix", "fallback_to_default": True,
                      "reconfigure_material": True, "reconfigure_search": True,
                      "languages": [
                          {"locale": "en", "default": True, "name": "English", "build": True},
                          {"locale": "fr", "name": "Français", "build": True,
                           "site_name": french["site"], "nav_translations": translations}]}},
        ],
        "markdown_extensions": [
            "admonition", "attr_list", "md_in_html", "tables", {"toc": {"permalink": True}},
            "pymdownx.details",
            {"pymdownx.superfences": {"custom_fences": [
                {"name": "mermaid", "class": "mermaid", "format": "@FENCE@"}]}},
        ],
        "extra_javascript": ["assets/javascripts/mermaid.min.js"],
        "extra_css": ["assets/stylesheets/site.css"],
        # the offline plugin's worker shim (search from file://), else fetched from unpkg
        "extra": {"polyfills": ["assets/javascripts/iframe-worker-shim.js"]},
        "nav": nav,
    }
    return json.dumps(config, ensure_ascii=False, indent=1).replace(
        '"@FENCE@"', "!!python/name:pymdownx.superfences.fence_code_format")


def build_site(out: Path, root: Path | None = None) -> None:
    """Generate the pages and build the site into ``out`` (replaced); ``root`` as for
    :func:`site_pages`."""
    missing = [name for name in ("mkdocs", "material", "mkdocs_static_i18n")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise SiteError(f"the site needs the docs extra ({', '.join(missing)} missing): "
                        "pip install 'skilltroc-core[docs]'")
    out = out.resolve()
    if out.is_dir() and any(out.iterdir()) and not (out / "search" / "search_index.json"
                                                    ).is_file():
        raise SiteError(f"{out} holds files and no earlier site: name a new or empty folder "
                        "(the build replaces what is in it)")
    with tempfile.TemporaryDirectory(prefix="skilltroc-site-") as folder:
        work = Path(folder)
        pages = site_pages(root)
        for name, text in pages.items():
            path = work / "pages" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assets = work / "pages" / "assets" / "javascripts"
        assets.mkdir(parents=True)
        for asset in ASSETS:
            with resources.as_file(resources.files(__package__).joinpath(
                    "site_assets", asset)) as vendored:
                shutil.copyfile(vendored, assets / asset)
        styles = work / "pages" / "assets" / "stylesheets"
        styles.mkdir(parents=True)
        # an error code in a table cell is one word: never broken across lines
        (styles / "site.css").write_text("td code { white-space: nowrap; }\n", encoding="utf-8")
        (work / "mkdocs.yml").write_text(_config(out, pages), encoding="utf-8")
        # --strict alone: with --quiet, mkdocs would not count the warnings it hides
        done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--clean",
                               "--strict", "-f", str(work / "mkdocs.yml")],
                              capture_output=True, text=True, check=False,
                              env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
        if done.returncode != 0:
            raise SiteError("mkdocs failed: " + (done.stderr or done.stdout).strip())
