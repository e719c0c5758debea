"""The catalogue of refusals: every key raised exists, every entry is raised, both
languages say the same with the same facts, and the rules cited exist."""

from __future__ import annotations

import ast
import gettext
import io
import string
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skilltroc_core import errors
from skilltroc_core.accounts import AccountStatus
from skilltroc_core.ads import CampaignState
from skilltroc_core.booking import Attendance, RegistrationState, SessionState, WorkshopState
from skilltroc_core.catalogue import rules, state_name, state_names
from skilltroc_core.errors import InvalidInputError, SkilltrocError
from skilltroc_core.gifts import GiftState
from skilltroc_core.ledger import HoldState
from skilltroc_core.ports import EntityKind
from skilltroc_core.refusals import (
    LANGUAGES,
    REFUSALS,
    error_codes,
    refusal,
    render,
    shown,
    shown_id,
    shown_link,
)
from skilltroc_core.service import ads as service_ads
from skilltroc_core.service import kinds
from skilltroc_core.service import tutorials as service_tutorials
from skilltroc_core.tools.docsgen import errors_po
from skilltroc_core.tutorials import TutorialState

SOURCE = Path(__file__).resolve().parents[1] / "src" / "skilltroc_core"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _string_constants() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if path.name in ("refusals.py", "errors.py"):  # errors.py: codes, not reasons
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def _raised_keys() -> set[str]:
    """The first argument of every ``refusal("...")`` call in the package."""
    keys: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "refusal" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                keys.add(str(node.args[0].value))
    return keys


def test_every_key_raised_is_in_the_catalogue() -> None:
    assert _raised_keys() - set(REFUSALS) == set()


def _refusal_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "refusal" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                calls.append((f"{path.name}:{node.lineno}", node))
    return calls


def test_every_call_names_a_rule_its_refusal_cites_and_the_facts_it_shows() -> None:
    """A ``rule=`` written at a call site is one the refusal lists (a shared check of a
    field may cite the field's rule); a call without ``**facts`` gives every fact its
    templates show."""
    wrong = []
    for where, call in _refusal_calls():
        entry = REFUSALS[str(call.args[0].value)]  # type: ignore[attr-defined]
        named = {k.arg: k.value for k in call.keywords if k.arg is not None}
        rule = named.get("rule")
        if isinstance(rule, ast.Constant) and rule.value not in entry.rules and not (
                entry.per_field):
            wrong.append(f"{where}: {entry.key} does not cite {rule.value!r}")
        if all(k.arg is not None for k in call.keywords):
            missing = entry.fields() - set(named)
            if missing:
                wrong.append(f"{where}: {entry.key} lacks {sorted(missing)}")
    assert wrong == []


def _required_kinds() -> set[str]:
    """The names of the entity kinds some ``tx.require(KIND, ...)`` in the package asks
    for: each needs its refusal ``unknown_<kind>``."""
    known = {name: value for module in (kinds, service_ads, service_tutorials)
             for name, value in vars(module).items() if isinstance(value, EntityKind)}
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "require" and node.args):
                target = node.args[0]
                name = target.attr if isinstance(target, ast.Attribute) else getattr(
                    target, "id", None)
                if name in known:
                    found.add(known[name].name)
    return found


def test_every_kind_a_unit_requires_has_its_unknown_refusal() -> None:
    required = _required_kinds()
    assert {"member", "workshop", "session", "registration", "gift", "tutorial",
            "ad_campaign"} <= required  # the scan sees the calls
    assert {f"unknown_{kind}" for kind in required} - set(REFUSALS) == set()


def test_every_refusal_of_the_catalogue_is_raised_somewhere() -> None:
    named = _string_constants()
    # Tx.require raises ``unknown_<kind>`` for the kind it was asked for
    required = {f"unknown_{kind}" for kind in _required_kinds() | {"member"}}
    # a scenario refusal that can suggest a name has its twin ``<key>_near``
    near = {key for key in REFUSALS if key.endswith("_near") and key[:-5] in named}
    assert set(REFUSALS) - named - required - near == set()


@pytest.mark.parametrize("key", sorted(REFUSALS))
def test_both_languages_use_the_same_facts(key: str) -> None:
    entry = REFUSALS[key]
    assert entry.en.strip() and entry.fr.strip()
    assert entry.en != entry.fr
    assert _fields(entry.en) == _fields(entry.fr) == entry.fields()


def test_every_rule_cited_exists() -> None:
    known = {rule.id for rule in rules()}
    cited = {rule for entry in REFUSALS.values() for rule in entry.rules}
    assert cited - known == set()


def test_every_error_class_sits_in_the_documented_tree() -> None:
    codes = {code.error for code in error_codes()}
    assert codes == {getattr(errors, name) for name in errors.__all__}
    assert len({code.code for code in error_codes()}) == len(codes)  # codes are unique
    for code in error_codes():
        assert 400 <= code.http_status < 600


@pytest.mark.rule("BOOK-12")
def test_a_refusal_renders_its_facts_in_each_language() -> None:
    refused = refusal("seats_for_session", low=1, high=4, got="7")
    assert isinstance(refused, InvalidInputError)
    assert (refused.code, refused.rule, refused.reason) == ("invalid_input", "BOOK-12",
                                                        "seats_for_session")
    assert refused.facts == {"low": 1, "high": 4, "got": "7"}
    assert refused.message == "a request for this session is for 1 to 4 seats, not 7"
    assert refused.message_in("en") == refused.message
    assert refused.message_in("fr") == (
        "une demande pour cette session porte sur 1 à 4 places, pas 7")
    assert refused.message_in("de") == refused.message  # a language the library lacks
    assert set(LANGUAGES) == {"en", "fr"}


def test_lists_and_instants_show_as_text() -> None:
    at = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    refused = refusal("start_in_past", start=at, now=at)
    assert "2027-03-01T09:30:00+00:00" in refused.message
    listed = refusal("policy_profile_fields", allowed=["bio", "photo"])
    assert listed.message.endswith("among bio, photo")
    assert listed.message_in("fr").endswith("parmi bio, photo")


class _German(gettext.NullTranslations):
    """A host's own translations, as gettext hands them out."""

    def pgettext(self, context: str, message: str) -> str:
        if context == "seats_for_session":
            return "eine Anfrage für diese Sitzung gilt für {low} bis {high} Plätze, nicht {got}"
        return message


@pytest.mark.rule("BOOK-12")
def test_a_host_translates_through_gettext() -> None:
    refused = refusal("seats_for_session", low=1, high=4, got="7")
    assert refused.message_in("de", _German()) == (
        "eine Anfrage für diese Sitzung gilt für 1 bis 4 Plätze, nicht 7")
    # a template the host lacks, or one naming facts the refusal does not have, falls
    # back to the library's own text in that language (English for one it lacks)
    other = refusal("request_target")
    assert other.message_in("de", _German()) == other.message
    assert other.message_in("fr-FR", _German()) == other.message_in("fr")
    assert refused.message_in("FR") == refused.message_in("fr") != refused.message
    broken = refusal("gift_invalid", minimum=1, got="0")
    assert broken.message_in("fr", _Broken()) == broken.message_in("fr")


class _Broken(gettext.NullTranslations):
    def pgettext(self, context: str, message: str) -> str:
        return "un cadeau de {stars} étoiles"  # a fact this refusal does not have


def test_a_value_too_long_to_show_is_shown_by_its_type() -> None:
    huge = 10**5000
    refused = refusal("amount_too_large", amount=huge, maximum=10**12)
    assert refused.message == "one movement carries at most 1000000000000 stars, not <int>"
    assert shown(huge) == "<int>" and shown_id("ann@example.org") == "<str>"
    assert shown_link("https://ann:secret@example.org/a?token=t#x") == "https://example.org/a"


def test_an_error_a_host_made_keeps_its_message() -> None:
    made = SkilltrocError("the host's own words")
    assert made.reason is None and made.message_in("fr") == "the host's own words"


def test_render_is_the_message_of_the_error() -> None:
    refused = refusal("gift_invalid", minimum=1, got="0")
    for language in LANGUAGES:
        assert render("gift_invalid", refused.facts, language) == refused.message_in(language)


def _po_entries(text: str) -> dict[str, str]:
    """The translations of a .po file as gettext keys them: ``context\\x04id``."""
    entries: dict[str, str] = {}
    fields: dict[str, str] = {}
    current = ""
    for line in [*text.splitlines(), ""]:
        if line.startswith(("msgctxt ", "msgid ", "msgstr ")):
            current, _, literal = line.partition(" ")
            fields[current] = ast.literal_eval(literal)
        elif line.startswith('"'):
            fields[current] += ast.literal_eval(line)
        elif not line.strip() and "msgid" in fields:
            key = fields["msgid"] if "msgctxt" not in fields else (
                f"{fields['msgctxt']}\x04{fields['msgid']}")
            entries[key] = fields["msgstr"]
            fields = {}
    return entries


def _mo(entries: dict[str, str]) -> bytes:
    """A compiled gettext catalogue (the GNU .mo format, as msgfmt writes it)."""
    keys = sorted(entries)
    ids = strs = b""
    offsets = []
    for key in keys:
        raw_id, raw_str = key.encode(), entries[key].encode()
        offsets.append((len(ids), len(raw_id), len(strs), len(raw_str)))
        ids += raw_id + b"\0"
        strs += raw_str + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    table = [n for o1, l1, _, _ in offsets for n in (l1, o1 + key_start)]
    table += [n for _, _, o2, l2 in offsets for n in (l2, o2 + value_start)]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + len(keys) * 8,
                         0, 0)
    return header + struct.pack(f"{len(table)}i", *table) + ids + strs


def test_the_french_catalogue_compiled_by_gettext_says_what_message_in_says() -> None:
    """docs/errors.fr.po (written by `skilltroc docs`) is a real gettext catalogue: once
    compiled, gettext gives every refusal the French that ``message_in("fr")`` gives."""
    french = gettext.GNUTranslations(io.BytesIO(_mo(_po_entries(errors_po("fr")))))
    template = _po_entries(errors_po(None))
    assert {key.split("\x04")[0] for key in template if key} == set(REFUSALS)
    for key, entry in REFUSALS.items():
        facts: dict[str, object] = {name: f"<{name}>" for name in entry.fields()}
        facts.update(maximum=1000)  # the one fact a template formats as a number
        assert render(key, facts, "xx", french) == render(key, facts, "fr"), key
        assert render(key, facts, "xx", french) != render(key, facts, "en"), key


def test_every_state_a_member_sees_has_its_french_name() -> None:
    enums = (RegistrationState, SessionState, WorkshopState, AccountStatus, CampaignState,
             TutorialState, GiftState, HoldState, Attendance)
    named = state_names()
    for enum in enums:
        for state in enum:
            assert state.value in named, (enum.__name__, state.value)
            assert state_name(state.value, "fr") == named[state.value]
            assert state_name(state.value, "en") == state.value


@pytest.mark.rule("REFUND-5")
def test_a_state_shows_by_its_french_name_in_french() -> None:
    refused = refusal("hold_already_ended", hold_id="h1", state="voided")
    assert refused.facts["state"] == "voided" and "(voided)" in refused.message
    assert refused.message_in("fr") == (
        "le blocage h1 est déjà terminé (libéré) ; un blocage se termine une seule fois")
