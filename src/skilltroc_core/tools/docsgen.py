"""Docs generated from the code: rules, the refund matrix, lifecycles, glossary, errors.

``skilltroc docs [--out docs] [--check]`` writes Markdown that product owners read. Every
page is derived: rule texts and FAQ passages from the catalogue carried in the package,
policy values from :func:`~skilltroc_core.rules.policy_fields`, the refund matrix by
running every (stage, event) pair through the service, diagrams from the transition
tables, and the tests and examples naming each rule by scanning ``tests/`` under the
project root and the example scenarios the package carries (``skilltroc_core/examples``).
``--check`` fails when the committed pages differ from what the code generates now. In a
source checkout it also writes (or checks) the facade's operation lines
(:mod:`.facadegen`); from an installed copy, with no ``tests/`` beside it, the pages
leave out which tests name each rule rather than say none does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..accounts import ACCOUNT_LIFECYCLE
from ..ads import CAMPAIGN_LIFECYCLE
from ..booking import REGISTRATION_LIFECYCLE, SESSION_LIFECYCLE, WORKSHOP_LIFECYCLE
from ..catalogue import Rule, faq_lines, rules
from ..events import NOTIFICATION_RULES
from ..gifts import GIFT_LIFECYCLE
from ..refusals import error_codes
from ..rules import DEFAULT_POLICY, policy_fields
from ..service.registry import REGISTRY, by_area
from ..statemachine import TransitionTable
from ..tutorials import TUTORIAL_LIFECYCLE
from .facadegen import FACADE, refresh_facade
from .refund_matrix import EVENTS, STAGES, refund_matrix
from .scenarios import (
    COMMAND_SUMMARIES,
    COMMANDS,
    EXAMPLES,
    EXPECTATION_SUMMARIES,
    EXPECTATIONS,
    TEXT_KEYED,
    CommandSpec,
)

__all__ = ["LIFECYCLES", "generate", "project_root", "write_or_check"]

_ID = re.compile(r"\b([A-Z]+-\d+)\b")

#: Every lifecycle the docs draw. Modules that add one register it here.
LIFECYCLES: list[TransitionTable] = [  # type: ignore[type-arg]
    ACCOUNT_LIFECYCLE, GIFT_LIFECYCLE, WORKSHOP_LIFECYCLE, SESSION_LIFECYCLE,
    REGISTRATION_LIFECYCLE, TUTORIAL_LIFECYCLE, CAMPAIGN_LIFECYCLE,
]

GLOSSARY = (
    ("étoiles", "stars", "ledger (Transfer.amount, Balance)"),
    ("skilltroqueur", "member", "accounts.Member"),
    ("particulier", "individual", "MemberKind.INDIVIDUAL"),
    ("professionnel", "professional", "MemberKind.PROFESSIONAL"),
    ("catégorie professionnelle", "professional category", "accounts.ProCategory"),
    ("atelier", "workshop", "booking.Workshop"),
    ("session", "session", "booking.Session"),
    ("organisateur", "organizer", "Workshop.organizer"),
    ("demande d'inscription", "registration request", "booking.Registration (pending)"),
    ("inscrit", "registered", "RegistrationState.REGISTERED"),
    ("en attente de session / session future", "waitlisted / future session",
     "RegistrationState.WAITLISTED"),
    ("inscriptions validées", "validated registrations", "organizer_agenda().validated"),
    ("ateliers à planifier", "workshops to plan", "organizer_agenda().to_plan"),
    ("évaluation", "evaluation", "booking.Evaluation"),
    ("recommandation", "recommendation", "Evaluation.recommend"),
    ("niveau (débutant, intermédiaire, expérimenté)", "level (beginner, intermediate, "
     "experienced)", "Policy.level()"),
    ("tuto", "tutorial", "tutorials"),
    ("pub / campagne", "ad campaign", "ads"),
    ("affichage", "impression", "ads (impressions)"),
    ("parrain / filleul", "sponsor / referee", "Member.sponsor"),
    ("cadeau", "gift", "gifts.Gift"),
    ("domaine de savoir-faire", "skill domain", "Workshop.domain"),
    ("solde d'étoiles", "star statement and balance", "Ledger.statement(), Balance"),
    ("désinscription", "unsubscribe (deactivation)", "Skilltroc.deactivate()"),
)


def _named_in(root: Path, folder: str, suffixes: Iterable[str]) -> dict[str, list[str]]:
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


def _quote(rule: Rule) -> list[str]:
    lines = []
    for first, last in rule.seed:
        for number, text in faq_lines(first, last):
            if text.strip():
                lines.append(f"> L{number}: {text.strip()}")
    return lines


def project_root() -> Path | None:
    """The source checkout this package runs from (its tests and its facade's source),
    or None for an installed copy: found from the package's own place, never from the
    folder the command runs in (a host's project has a ``tests/`` of its own)."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / FACADE).is_file():
        return root
    return None


def rules_page(root: Path | None) -> str:
    tests = {} if root is None else _named_in(root, "tests", {".py"})
    with_tests = root is not None and (root / "tests").is_dir()
    examples = _named_in(EXAMPLES.parents[1], EXAMPLES.relative_to(EXAMPLES.parents[1]
                                                                  ).as_posix(), {".toml"})
    by_rule: dict[str, list[str]] = {}
    for field in policy_fields(DEFAULT_POLICY):
        by_rule.setdefault(field.rule, []).append(f"`{field.name}` = {field.value!r}")
    notices: dict[str, list[str]] = {}
    for event, rule_id in NOTIFICATION_RULES.items():
        notices.setdefault(rule_id, []).append(f"`{event}`")
    operations: dict[str, list[str]] = {}
    for declared in REGISTRY.values():
        for rule_id in declared.rules:
            operations.setdefault(rule_id, []).append(f"`{declared.name}`")
    out = ["# Skilltroc rules", "",
           "Generated by `skilltroc docs` from the rule catalogue, the FAQ, the policy, the",
           "commands, the notifications, the tests and the examples. Do not edit by hand.",
           ""]
    family = ""
    for rule in rules():
        if rule.family != family:
            family = rule.family
            out += [f"## {family}", ""]
        out += [f"### {rule.id}", "", rule.text, ""]
        quote = _quote(rule)
        if quote:
            out += ["From the FAQ:", "", *quote, ""]
        if rule.id in by_rule:
            out += ["Policy: " + ", ".join(by_rule[rule.id]), ""]
        if rule.id in operations:
            out += ["Commands and queries: " + ", ".join(operations[rule.id]), ""]
        if rule.id in notices:
            out += ["Notifications: " + ", ".join(notices[rule.id]), ""]
        named_tests = tests.get(rule.id, [])
        named_examples = examples.get(rule.id, [])
        if with_tests:  # an installed copy has no tests to name
            out += ["Tests: " + (", ".join(f"`{t}`" for t in named_tests) or "none yet"), ""]
        out += ["Examples: " + (", ".join(f"`{e}`" for e in named_examples) or "none yet"), ""]
    return "\n".join(out)


def refund_page() -> str:
    matrix = refund_matrix()
    out = ["# The refund matrix", "",
           "Generated by `skilltroc docs`: every (stage, event) pair was run through the",
           "service on the in-memory store and its outcome read from the ledger. Nothing",
           "here is written by hand. \"not allowed\" names the error code the command",
           "raised; \"keep holding\" means the stars stay held.", ""]
    for stage in STAGES:
        out += [f"## {stage}", "", "| event | outcome | rule | state after |",
                "|---|---|---|---|"]
        for event in EVENTS:
            outcome = matrix[(stage, event)]
            out.append(f"| {event} | {outcome.result} | {outcome.rule or ''} | "
                       f"{outcome.state} |")
        out.append("")
    return "\n".join(out)


def state_machines_page() -> str:
    out = ["# Lifecycles", "",
           "Generated by `skilltroc docs` from the transition tables the code runs on.", ""]
    for table in LIFECYCLES:
        out += [f"## {table.name}", "", "```mermaid", "stateDiagram-v2",
                f"    [*] --> {table.initial.value}"]
        for move in table:
            out.append(f"    {move.source.value} --> {move.target.value}: {move.trigger}")
        for state in sorted(table.final, key=lambda s: s.value):
            out.append(f"    {state.value} --> [*]")
        out += ["```", "", "| from | trigger | to | rule |", "|---|---|---|---|"]
        for move in table:
            out.append(f"| {move.source.value} | {move.trigger} | {move.target.value} | "
                       f"{move.rule} |")
        out.append("")
    return "\n".join(out)


def glossary_page() -> str:
    out = ["# Glossary", "", "Generated by `skilltroc docs`.", "",
           "| French (FAQ) | English (rules) | in the code |", "|---|---|---|"]
    out += [f"| {fr} | {en} | `{code}` |" for fr, en, code in GLOSSARY]
    return "\n".join(out) + "\n"


#: The scenario format in words, above the generated tables of scenario-format.md.
SCENARIO_FORMAT = """\
# Scenario files

A scenario is a TOML file showing rules at work: `skilltroc run FILE...` plays it on a
fresh store (SQLite by default, `--store memory` or a PostgreSQL DSN), narrates each step
with the stars it moved, and stops at the first step that does not hold (exit status 1;
`--quiet` prints only failures and the `N passed, N failed` line). Files written to this
format keep running: later versions may add commands, keys and expectations, never take
one away.

```toml
title = "A refused request gives the stars back"
rules = ["BOOK-14", "REFUND-1"]          # the rule IDs it shows (they must exist)
start = 2027-03-01T09:00:00+01:00        # the clock before the first step, with its offset
timezone = "Europe/Paris"                # optional: the platform time zone (this default)

[[step]]
do = "signup"
member = "alice"                         # an alias; her address is alice@example.org

[[step]]
do = "request"
member = "alice"
session = "s1"
seats = 2
as = "r1"                                # the alias of the request it makes

[[step]]
expect = { balance = { alice = 4 }, held = { alice = 6 } }

[[step]]
advance = { days = 7, hours = 2 }
```

- **Steps.** Each step is one of `do` (a command, below), `expect` (values to check),
  `advance` (move the clock by `days`, `hours`, `minutes`: calendar days first, at the
  same wall-clock time in the platform time zone) or `at` (set the clock to an instant,
  never backwards). Within a `do` step, `at` is the command's own key (a session's start).
  Whenever the clock moves, every deadline due by the new instant is applied, each at its
  own instant, in order.
- **Aliases** name the members, workshops, sessions, requests, gifts, tutorials and
  campaigns a scenario makes. One is bound when the command making the thing succeeds,
  is never bound again, and keeps naming the thing after it is deleted, ended or purged.
- **A wrong file** (an unknown key, command or alias, a value of the wrong TOML type, a
  step of two kinds) is refused before anything runs, naming the file, the step and the
  key. A value of the right type that the rules refuse (0 seats, -1 stars) is a refusal of
  the library, not a wrong file.
- **Refusals.** `fails = true` on a `do` step says the command must be refused, and then
  nothing may change: balances, holds, seats, states, deadlines, notices, aliases.
  `error = "CODE"` also names the refusal's code. A `do` step without `fails` that is
  refused fails the scenario.
- **Invariants.** After every step the ledger's invariants are checked (every account
  sums to zero, no member balance below zero).
- **Expectations** map aliases to values; only the aliases named are checked. `notified`
  and `not_notified` take a rule ID or a list: that member got (or did not get) a notice
  citing each, since the scenario began. `rating` compares to 2 decimals,
  `recommendation_rate` to the whole percent, rounded half up.
"""


def scenario_format_page() -> str:
    """The scenario format, then every command and expectation the runner accepts, from its
    own tables."""
    out = [SCENARIO_FORMAT,
           "## Commands (`do`)", "",
           "Generated by `skilltroc docs` from the runner's own tables. The commands after",
           "`browse` are read from the library's own commands (docs/commands.md): each id",
           "it takes is a key naming an alias, each other value a key of its type, and",
           "what it does is the command's own description.", "",
           "| command | what it does | keys | optional keys |", "|---|---|---|---|"]

    def keys(spec: Mapping[str, str], command: CommandSpec) -> str:
        shown = []
        for key, kind in spec.items():
            alias = command.refs.get(key) or (
                command.creates[1] if command.creates and command.creates[0] == key else None)
            if key in command.member_or_email:
                alias = "member alias or email"
            elif alias:
                alias = f"{alias} alias"
            shown.append(f"`{key}` ({alias or kind})")
        return ", ".join(shown)

    for name, command in COMMANDS.items():
        out.append(f"| `{name}` | {COMMAND_SUMMARIES[name]} | {keys(command.required, command)}"
                   f" | {keys(command.optional, command)} |")
    out += ["", "## Expectations (`expect`)", "", "| key | keyed by | checks |", "|---|---|---|"]
    for key, kind in EXPECTATIONS.items():
        keyed = "(a number)" if kind is None else kind if kind in TEXT_KEYED else (
            f"{kind} alias")
        out.append(f"| `{key}` | {keyed} | {EXPECTATION_SUMMARIES[key]} |")
    return "\n".join(out) + "\n"


#: Who may call an operation, as docs/commands.md says it.
_WHO = {"member": "an active member", "organizer": "the organizer",
        "requester": "the requester", "owner": "the owner", "host": "the host",
        "anyone": "anyone"}


def commands_page() -> str:
    """Every declared command and query (:mod:`skilltroc_core.service.registry`)."""
    out = ["# Commands and queries", "",
           "Generated by `skilltroc docs` from the declaration each operation carries in the",
           "code. A *command* changes state in one unit of work (refused: it changes",
           "nothing); a *query* only reads. *Who* is the role the operation checks: the",
           "member acting (any active member), the organizer, the requester or the owner of",
           "the thing named, the host application itself, or anyone (no actor checked).", ""]
    for area, declared_here in by_area().items():
        out += [f"## {area}", "", "| operation | kind | who | rules | parameters | what it does |",
                "|---|---|---|---|---|---|"]
        for declared in declared_here:
            parameters = ", ".join(
                f"`{p.name}{'' if p.required else '?'}: {p.type_text}`"
                for p in declared.parameters)
            who = " or ".join(_WHO[actor] for actor in declared.actors)
            cells = (f"`{declared.name}`", declared.kind, who, ", ".join(declared.rules),
                     parameters, declared.summary)
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def errors_page() -> str:
    """Every error code, where it sits in the tree, its HTTP status, rules and refusals
    with their messages in each language (:mod:`skilltroc_core.refusals`)."""
    codes = error_codes()
    by_code = {c.code: c for c in codes}
    out = ["# Error codes", "",
           "Generated by `skilltroc docs` from `skilltroc_core.refusals`. A refused command",
           "raises a `SkilltrocError` subclass and changes nothing. The error carries:", "",
           "- `code`: stable across versions; what a host and a scenario file match on;",
           "- `http_status`: the status a web host may answer with;",
           "- `reason`: which refusal it is (the tables below); `rule`: the rule it enforces;",
           "- `facts`: the values its message is built from (the `{names}` of the templates);",
           "- `message`: the English text; `message_in(\"fr\")`: the French one.",
           "  `message_in(language, translations)` takes a host's own gettext translations",
           "  (message context: the reason; message id: the English template): start from",
           "  [errors.pot](errors.pot), or see the French in [errors.fr.po](errors.fr.po).",
           "",
           "An error is also an instance of each code above it in the tree: `except",
           "NotAllowedError` catches `wrong_password` too.", "", "## The tree", ""]
    depth: dict[str, int] = {}
    for code in codes:
        depth[code.code] = 0 if code.parent is None else depth[code.parent] + 1
        out.append(f"{'  ' * depth[code.code]}- [`{code.code}`](#{code.code}): "
                   f"`{code.error.__name__}`, HTTP {code.http_status}")
    out.append("")
    for code in codes:
        doc = re.sub(r":\w+:`", "`", " ".join((code.error.__doc__ or "").split()))
        parent = (f"a kind of [`{code.parent}`](#{code.parent})"
                  if code.parent in by_code else "the root")
        out += [f'<a id="{code.code}"></a>', "", f"## `{code.code}`", "",
                f"`{code.error.__name__}`, {parent}; HTTP {code.http_status}"
                + ("; retryable" if code.error.retryable else "") + ".", ""]
        if doc:
            out += [doc, ""]
        if not code.refusals:
            out += ["Raised only through the codes below it.", ""]
            continue
        out += ["| refusal | rules | English | French |", "|---|---|---|---|"]
        for refused in code.refusals:
            rules_text = ("the rule of the field checked" if refused.per_field and
                          not refused.rules else ", ".join(refused.rules) or "none")
            out.append(f"| `{refused.key}` | {rules_text} | {_cell(refused.en)} | "
                       f"{_cell(refused.fr)} |")
        out.append("")
    return "\n".join(out)


def _po_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def errors_po(language: str | None) -> str:
    """The refusals' messages as a gettext catalogue: the template for translators
    (``language`` None: empty translations) or the library's own ``language``. The
    message context is the refusal's reason, the message id its English template: what
    ``SkilltrocError.message_in(language, translations)`` looks up."""
    out = ["# Messages of skilltroc-core's refusals (generated by `skilltroc docs`).",
           "# Context: the refusal's reason; id: its English template; {names}: its facts.",
           'msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"']
    if language is not None:
        out.append(f'"Language: {language}\\n"')
    for code in error_codes():
        for refused in code.refusals:
            out += ["", f"#. code {code.code}; rules: {', '.join(refused.rules) or 'none'}",
                    f"msgctxt {_po_text(refused.key)}", f"msgid {_po_text(refused.en)}",
                    "msgstr " + _po_text("" if language is None else
                                         refused.template(language))]
    return "\n".join(out) + "\n"


def generate(root: Path | None) -> dict[str, str]:
    """Every generated page: file name -> Markdown."""
    return {
        "rules.md": rules_page(root),
        "refund-matrix.md": refund_page(),
        "state-machines.md": state_machines_page(),
        "glossary.md": glossary_page(),
        "scenario-format.md": scenario_format_page(),
        "commands.md": commands_page(),
        "errors.md": errors_page(),
        "errors.pot": errors_po(None),
        "errors.fr.po": errors_po("fr"),
    }


def write_or_check(root: Path | None, out: Path, check: bool) -> list[str]:
    """Write the pages into ``out`` and, in a source checkout, the facade's operation
    lines (:mod:`.facadegen`); or with ``check`` list those that differ."""
    stale = [str(FACADE)] if root is not None and refresh_facade(root, check) else []
    for name, text in generate(root).items():
        path = out / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(name)
            if not check:
                out.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return stale
