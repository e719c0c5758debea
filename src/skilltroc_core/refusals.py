"""Every refusal the library gives, and the catalogue of error codes built from them.

A refusal is one way a command can be refused: a stable ``key``, the error class (and so
the ``code`` hosts match on and the HTTP status), the rules it may cite, and its message
in English and in French, as templates filled from the error's ``facts``. Code raises
``refusal(key, **facts)``; the message a person reads is rendered from the template, so
a host may show the facts its own way or ask for the text in French
(``error.message_in("fr")``). :func:`error_codes` gathers, for each code, its class,
HTTP status, rules and refusals: docs/errors.md is written from it.

Facts are plain values (text, numbers, instants, lists of text), never a password, a
token, a hash or an email address. In a template, ``{name}`` is a fact; a list shows
as its items joined by commas.
"""

from __future__ import annotations

import gettext
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from skilltroc_core import errors as e
from skilltroc_core.errors import SkilltrocError

__all__ = [
    "LANGUAGES",
    "REFUSALS",
    "ErrorCode",
    "Refusal",
    "error_codes",
    "language_of",
    "refusal",
    "render",
    "shown",
    "shown_id",
    "shown_link",
]

#: the languages every refusal is written in; the first is the default
LANGUAGES = ("en", "fr")


@attrs.frozen
class Refusal:
    """One way a command can be refused: its key, class, rules and messages."""

    key: str
    error: type[SkilltrocError]
    #: the rules this refusal may cite, the default first; () for a platform requirement
    rules: tuple[str, ...]
    en: str
    fr: str
    #: a check of one field that several commands share (a text's length, an instant):
    #: it cites the rule of the field checked, which the caller names
    per_field: bool = False

    @property
    def code(self) -> str:
        return self.error.code

    def template(self, language: str) -> str:
        return self.fr if language_of(language) == "fr" else self.en

    def fields(self) -> frozenset[str]:
        """The facts its templates use (both languages use the same ones)."""
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.en)
                         if name)


def language_of(tag: str) -> str:
    """The library's language for a language tag: "fr", "fr-FR", "fr_CA" and "FR" are
    French; anything else is English."""
    return "fr" if isinstance(tag, str) and tag[:2].casefold() == "fr" else "en"


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, datetime) and not format_spec:
            return value.isoformat()
        if isinstance(value, (list, tuple)) and not format_spec:
            return ", ".join(str(item) for item in value)
        try:
            return str(super().format_field(value, format_spec))
        except ValueError:  # an int too long to show (Python's 4,300-digit limit)
            return f"<{type(value).__name__}>"


_FORMATTER = _Formatter()


def shown(value: object, limit: int = 60) -> str:
    """A bad value as a message shows it: its repr, cut to ``limit`` characters (a value
    that cannot be shown, such as an int too long for text, by its type)."""
    try:
        text = repr(value)
    except Exception:  # a host's object whose repr fails, an int past Python's limit
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ID = re.compile(r"[A-Za-z0-9_.:-]{1,80}")


def shown_id(value: object) -> str:
    """An id as a refusal names it: as given when it looks like an id, else by its type,
    so that a wrong argument (an email address, a long text) is never echoed."""
    if isinstance(value, str) and _ID.fullmatch(value):
        return value
    return f"<{type(value).__name__}>"


_USER_INFO = re.compile(r"(?<=//)[^/?#]*@")


def shown_link(value: object, limit: int = 200) -> str:
    """A link as a refusal shows it: without its user, password, query and fragment
    (they may hold credentials or tokens), cut to ``limit`` characters."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    return re.split(r"[?#]", _USER_INFO.sub("", value), maxsplit=1)[0][:limit]


def refusal(key: str, /, *, rule: str | None = None, **facts: Any) -> SkilltrocError:
    """The error for refusal ``key``, its English message filled from ``facts``.

    ``rule`` picks one of the refusal's rules when it lists several (a check several
    rules share), or names the rule of the field a shared check looks at; by default
    the refusal's first rule. (tests/test_refusals.py checks that every ``rule`` a call
    site names is one the refusal lists.)
    """
    entry = REFUSALS[key]
    if rule is None:
        rule = entry.rules[0] if entry.rules else None
    message = _FORMATTER.vformat(entry.en, (), facts)
    return entry.error(message, rule=rule, reason=key, **facts)


def render(key: str, facts: Mapping[str, Any], language: str,
           translations: gettext.NullTranslations | None = None) -> str:
    """Refusal ``key``'s message in ``language``, filled from ``facts``: from the host's
    ``translations`` when they have this refusal in a form its facts fill, else from the
    library's own template in that language (English for a language it lacks)."""
    entry = REFUSALS[key]
    if language_of(language) == "fr":
        facts = _in_french(facts)
    if translations is not None:
        theirs = translations.pgettext(key, entry.en)
        if theirs != entry.en:
            try:
                return _FORMATTER.vformat(theirs, (), dict(facts))
            except (KeyError, IndexError, ValueError, AttributeError):
                pass  # a template naming facts this refusal lacks: the library's own
    return _FORMATTER.vformat(entry.template(language), (), dict(facts))


#: the facts that hold a state's code, shown by its name in French
_STATE_FACTS = frozenset({"state", "attendance"})


def _in_french(facts: Mapping[str, Any]) -> dict[str, Any]:
    # the catalogue reads its data files: imported here, when a message is asked for
    from skilltroc_core.catalogue import state_name  # noqa: PLC0415

    return {name: state_name(value, "fr") if name in _STATE_FACTS and isinstance(value, str)
            else value for name, value in facts.items()}


@attrs.frozen
class ErrorCode:
    """One error code: its class, where it sits, its HTTP status, rules and refusals."""

    code: str
    error: type[SkilltrocError]
    #: the code of the class it specializes (None for the root)
    parent: str | None
    http_status: int
    rules: tuple[str, ...]
    refusals: tuple[Refusal, ...]


def error_codes() -> tuple[ErrorCode, ...]:
    """Every error code, parents before children, with the refusals that raise it."""
    classes = [getattr(e, name) for name in e.__all__]
    ordered: list[type[SkilltrocError]] = []

    def visit(cls: type[SkilltrocError]) -> None:
        ordered.append(cls)
        for child in sorted((c for c in classes if c.__bases__[0] is cls),
                            key=lambda c: c.code):
            visit(child)

    visit(SkilltrocError)
    codes = []
    for cls in ordered:
        own = tuple(r for r in REFUSALS.values() if r.error is cls)
        rules = tuple(sorted({rule for r in own for rule in r.rules}, key=_rule_order))
        parent = cls.__bases__[0]
        codes.append(ErrorCode(
            code=cls.code, error=cls,
            parent=parent.code if issubclass(parent, SkilltrocError) else None,
            http_status=cls.http_status, rules=rules, refusals=own))
    return tuple(codes)


def _rule_order(rule: str) -> tuple[str, int]:
    family, _, number = rule.rpartition("-")
    return family, int(number)


def _catalogue(*entries: Refusal | Iterable[Refusal]) -> Mapping[str, Refusal]:
    found: dict[str, Refusal] = {}
    for item in entries:
        for entry in (item,) if isinstance(item, Refusal) else item:
            if entry.key in found:
                raise AssertionError(f"refusal {entry.key!r} is defined twice")
            found[entry.key] = entry
    return found


def _r(key: str, error: type[SkilltrocError], rules: str | Sequence[str] | None,
       en: str, fr: str, *, per_field: bool = False) -> Refusal:
    cited = () if rules is None else (rules,) if isinstance(rules, str) else tuple(rules)
    return Refusal(key=key, error=error, rules=cited, en=en, fr=fr, per_field=per_field)


def _field(key: str, error: type[SkilltrocError], en: str, fr: str) -> Refusal:
    return _r(key, error, None, en, fr, per_field=True)



# Stars and the ledger (STAR, REFUND, GIFT-1) -------------------------------------------
_STARS = (
    _r("amount_not_whole", e.InvalidAmountError, "STAR-4",
       "an amount is a whole number of stars greater than zero, not {got}",
       "un montant est un nombre entier d'étoiles supérieur à zéro, pas {got}"),
    _r("amount_too_large", e.InvalidAmountError, "STAR-4",
       "one movement carries at most {maximum} stars, not {amount}",
       "un mouvement porte au plus {maximum} étoiles, pas {amount}"),
    _r("insufficient_stars", e.InsufficientStarsError,
       ("STAR-4", "BOOK-11", "AD-4", "AD-5", "GIFT-1"),
       "{member} has {available} stars available; {amount} are needed",
       "{member} a {available} étoiles disponibles ; il en faut {amount}"),
    _r("floor_breach", e.FloorBreachError, "GIFT-1",
       "{member} has {available} stars and must keep at least {floor}: at most {spendable} "
       "can go, not {amount}",
       "{member} a {available} étoiles et doit en garder au moins {floor} : il peut en "
       "partir au plus {spendable}, pas {amount}"),
    _r("keep_at_least_invalid", e.InvalidAmountError, ("STAR-4", "GIFT-1"),
       "the stars to keep are a whole number from 0, not {got}",
       "les étoiles à garder sont un nombre entier à partir de 0, pas {got}"),
    _r("platform_account_balance", e.InvalidInputError, None,
       "{account} is a platform account: its balance moves with transfers only",
       "{account} est un compte de la plateforme : son solde ne bouge que par des virements"),
    _r("ledger_text_missing", e.InvalidInputError, None,
       "{field} is non-empty text, not {got}",
       "« {field} » est un texte non vide, pas {got}"),
    _r("platform_member_id", e.InvalidInputError, None,
       "{member} cannot be a member id: member ids may not start with 'platform:'",
       "{member} ne peut pas être un identifiant de membre : ils ne commencent pas par "
       "« platform: »"),
    _r("wallet_exists", e.AlreadyExistsError, "STAR-6",
       "{member} already has a wallet", "{member} a déjà un portefeuille"),
    _r("unknown_account", e.UnknownAccountError, "STAR-6",
       "no account {account}", "aucun compte {account}"),
    _r("not_a_wallet", e.InvalidInputError, None,
       "{account} is not a member's wallet", "{account} n'est pas le portefeuille d'un membre"),
    _r("unknown_wallet", e.UnknownAccountError, "STAR-6",
       "no wallet for member {account}", "aucun portefeuille pour le membre {account}"),
    _r("unknown_transfer", e.InvalidInputError, "STAR-5",
       "no transfer {seq}", "aucun virement {seq}"),
    _r("transfer_kind_is_hold", e.InvalidInputError, None,
       "{kind} transfers go through hold, post and void",
       "les virements {kind} passent par blocage, paiement et libération"),
    _r("transfer_wrong_debit", e.InvalidInputError, None,
       "{kind} transfers are debited from {account}",
       "les virements {kind} sont débités du compte {account}"),
    _r("transfer_wrong_credit", e.InvalidInputError, None,
       "{kind} transfers are credited to {account}",
       "les virements {kind} sont crédités sur le compte {account}"),
    _r("hold_exists", e.AlreadyExistsError, "REFUND-5",
       "a hold {hold_id} already exists", "un blocage {hold_id} existe déjà"),
    _r("unknown_hold", e.UnknownHoldError, "REFUND-5",
       "no hold {hold_id}", "aucun blocage {hold_id}"),
    _r("hold_paid_to_its_member", e.InvalidInputError, None,
       "hold {hold_id} cannot be paid to its own member",
       "le blocage {hold_id} ne peut pas être payé à son propre membre"),
    _r("void_reason_unknown", e.InvalidInputError, None,
       "{got} is not a reason to release a hold",
       "{got} n'est pas un motif de libération d'un blocage"),
    _r("hold_already_ended", e.HoldAlreadyEndedError, "REFUND-5",
       "hold {hold_id} already ended ({state}); a hold ends exactly once",
       "le blocage {hold_id} est déjà terminé ({state}) ; un blocage se termine une seule "
       "fois"),
    _r("statement_page_invalid", e.InvalidInputError, None,
       "a statement page starts at 0 or later and holds at least 1 line",
       "une page de relevé commence à 0 ou plus loin et tient au moins 1 ligne"),
    _r("replayed_record_missing", e.InvariantViolationError, "STAR-6",
       "an idempotency record names {what} {id}, which the ledger lacks",
       "un enregistrement d'idempotence nomme {what} {id}, absent du registre"),
    _r("ledger_invariants_broken", e.InvariantViolationError, ("STAR-6", "STAR-4", "REFUND-5"),
       "ledger invariants broken: {problems}", "invariants du registre rompus : {problems}"),
    _r("idempotency_key_reused", e.IdempotencyConflictError, "STAR-2",
       "idempotency key {key} was already used for another call; it cannot be reused for "
       "{call}",
       "la clé d'idempotence {key} a déjà servi pour un autre appel ; elle ne peut pas "
       "resservir pour {call}", per_field=True),
)

# Time (instants, time zones, calendar days) ----------------------------------------------
_TIME = (
    _r("naive_datetime", e.NaiveDatetimeError, None,
       "{field} must be a timezone-aware datetime, not {got}",
       "« {field} » doit être une date et heure avec fuseau horaire, pas {got}"),
    _field("instant_out_of_range", e.InvalidInputError,
           "{field} {wall} is out of range: in UTC it falls outside years 1 to 9999",
           "« {field} » {wall} est hors limites : en UTC il tombe hors des années 1 à 9999"),
    _field("instant_bad_offset", e.InvalidInputError,
           "{field} {wall} has a time zone that gives no valid UTC offset",
           "« {field} » {wall} a un fuseau horaire qui ne donne aucun décalage UTC valide"),
    _field("instant_too_late", e.InvalidInputError,
           "{field} {instant} is too close to the end of year 9999: a deadline after it "
           "cannot be represented",
           "« {field} » {instant} est trop proche de la fin de l'an 9999 : une échéance "
           "après lui ne peut pas être représentée"),
    _r("unknown_time_zone", e.InvalidInputError, None,
       "unknown time zone {zone}", "fuseau horaire inconnu : {zone}"),
    _r("instant_not_shown_in_zone", e.InvalidInputError, None,
       "instant {instant} cannot be shown in {zone}: it falls outside years 1 to 9999 there",
       "l'instant {instant} ne peut pas être montré dans le fuseau {zone} : il y tombe hors "
       "des années 1 à 9999"),
    _field("days_not_whole", e.InvalidInputError,
           "days are a whole number, not {got}",
           "les jours sont un nombre entier, pas {got}"),
    _field("calendar_edge", e.InvalidInputError,
           "{field} {instant} is too close to the edge of the calendar: moved by {days} "
           "calendar days in {zone}, it falls outside years 1 to 9999",
           "« {field} » {instant} est trop près du bord du calendrier : déplacé de {days} "
           "jours dans le fuseau {zone}, il tombe hors des années 1 à 9999"),
)

# State machines ------------------------------------------------------------------------
_STATES = (
    _field("transition_not_allowed", e.StateConflictError,
           "{subject} is {state}: {trigger!r} is not possible now (possible now: {allowed})",
           "{subject} est dans l'état {state} : « {trigger} » n'est pas possible maintenant "
           "(possible maintenant : {allowed})"),
    _field("transition_from_final_state", e.StateConflictError,
           "{subject} is {state}: {trigger!r} is not possible any more",
           "{subject} est dans l'état {state} : « {trigger} » n'est plus possible"),
)

# Configuration (policy, secret keys) -----------------------------------------------------
_CONFIGURATION = (
    _field("policy_not_whole", e.InvalidInputError,
           "policy {field} must be a whole number from 0, not {got}",
           "la valeur {field} de la politique doit être un nombre entier à partir de 0, pas {got}"),
    _field("policy_not_duration", e.InvalidInputError,
           "policy {field} must be a duration from 0, not {got}",
           "la valeur {field} de la politique doit être une durée à partir de 0, pas {got}"),
    _r("policy_profile_fields", e.InvalidInputError, "PROF-6",
       "policy profile_required_fields is a tuple of profile fields among {allowed}",
       "la valeur profile_required_fields de la politique est un tuple de champs du profil "
       "parmi {allowed}"),
    _r("policy_levels_order", e.InvalidInputError, "PROF-5",
       "policy level thresholds are out of order: experienced above {experienced}, "
       "intermediate from {intermediate}",
       "les seuils de niveau sont dans le désordre : confirmé au-delà de {experienced}, "
       "intermédiaire à partir de {intermediate}"),
    _field("policy_below_one", e.InvalidInputError,
           "policy {field} must be at least 1, not {got}",
           "la valeur {field} de la politique doit valoir au moins 1, pas {got}"),
    _field("policy_page_size", e.InvalidInputError,
           "policy {field} must be from 1 to {limit}, not {got}",
           "la valeur {field} de la politique doit aller de 1 à {limit}, pas {got}"),
    _r("policy_argon2_costs", e.InvalidInputError, "ACC-4",
       "policy argon2 costs: at least 1 pass, 1 lane and 8 KiB of memory per lane",
       "coûts argon2 de la politique : au moins 1 passe, 1 voie et 8 Kio de mémoire par voie"),
    _r("policy_score_range", e.InvalidInputError, "BOOK-41",
       "policy score range is empty: from {low} to {high}",
       "l'échelle des notes de la politique est vide : de {low} à {high}"),
    _r("secret_key_not_hex", e.ConfigurationError, "ACC-4",
       "{field} given as text is hex (what `skilltroc secret new` prints); give other keys "
       "as bytes",
       "« {field} » donnée en texte s'écrit en hexadécimal (ce qu'affiche `skilltroc secret "
       "new`) ; donnez les autres clés en octets"),
    _r("secret_key_type", e.ConfigurationError, "ACC-4",
       "{field} is bytes or hex text, not {got}",
       "« {field} » est en octets ou en texte hexadécimal, pas {got}"),
    _r("secret_key_short", e.ConfigurationError, "ACC-4",
       "{field} has {length} bytes; it needs at least {minimum} random bytes (e.g. "
       "secrets.token_hex(32))",
       "« {field} » a {length} octets ; il en faut au moins {minimum} tirés au hasard (par "
       "exemple secrets.token_hex(32))"),
    _r("previous_keys_not_list", e.ConfigurationError, "ACC-4",
       "previous secret keys are a list of keys, newest first",
       "les anciennes clés secrètes sont une liste de clés, la plus récente d'abord"),
    _r("previous_keys_without_current", e.ConfigurationError, "ACC-4",
       "previous secret keys need a current one",
       "les anciennes clés secrètes vont avec une clé courante"),
    _r("secret_key_needed", e.ConfigurationError, "ACC-4",
       "a store that keeps its data needs the host's secret key: Skilltroc(store, clock, "
       "secret_key=...) with at least 32 random bytes kept outside the store (see the "
       "hosting guide)",
       "un stockage qui garde ses données a besoin de la clé secrète de l'hôte : "
       "Skilltroc(store, clock, secret_key=...) avec au moins 32 octets tirés au hasard, "
       "gardés hors du stockage (voir le guide d'hébergement)"),
    _r("secret_key_in_store", e.ConfigurationError, "STAR-1",
       "this store still holds the key of its email fingerprints, as earlier versions kept "
       "it: run `skilltroc secret take-out` on it and add the key it prints to "
       "previous_secret_keys",
       "ce stockage garde encore la clé de ses empreintes d'adresses, comme les versions "
       "précédentes : lancez `skilltroc secret take-out` dessus et ajoutez la clé affichée "
       "à previous_secret_keys"),
    _r("link_key_retired", e.ConfigurationError, "ACC-4",
       "this link was made with a secret key the service no longer has: add it back to "
       "previous_secret_keys, or ask the member to request a new link",
       "ce lien a été fait avec une clé secrète que le service n'a plus : remettez-la dans "
       "previous_secret_keys, ou invitez le membre à demander un nouveau lien"),
    _r("unknown_notification", e.InvalidInputError, None,
       "{event} is not a notification the rules define",
       "{event} n'est pas une notification que les règles prévoient"),
)

# Accounts and profiles (ACC, PROF) -----------------------------------------------------
_ACCOUNTS = (
    _r("email_not_text", e.InvalidEmailError, "ACC-6",
       "an email address is text, not {got}", "une adresse e-mail est un texte, pas {got}"),
    _r("email_invalid", e.InvalidEmailError, "ACC-6",
       "this is not a valid email address", "ce n'est pas une adresse e-mail valide"),
    _r("profile_incomplete_for_workshops", e.IncompleteProfileError, "PROF-6",
       "{member} must complete their profile before creating workshops: missing {missing}",
       "{member} doit compléter son profil avant de créer des ateliers : il manque "
       "{missing}"),
    _r("profile_incomplete_for_tutorials", e.IncompleteProfileError, "PROF-6",
       "{member} must complete their profile before publishing tutorials: missing {missing}",
       "{member} doit compléter son profil avant de publier des tutos : il manque {missing}"),
    _r("profile_incomplete_for_campaigns", e.IncompleteProfileError, "PROF-6",
       "{member} must complete their profile before launching ad campaigns: missing "
       "{missing}",
       "{member} doit compléter son profil avant de lancer des campagnes de pub : il manque "
       "{missing}"),
    _r("account_not_confirmed", e.AccountNotConfirmedError, "ACC-1",
       "{member} must confirm their email address before acting",
       "{member} doit confirmer son adresse e-mail avant d'agir"),
    _r("account_deactivated", e.AccountDeactivatedError, "ACC-7",
       "{member}'s account is deactivated; reactivate it to act",
       "le compte de {member} est désactivé ; réactivez-le pour agir"),
    _r("account_purged", e.AccountPurgedError, "ACC-7",
       "account {member_id} was deleted", "le compte {member_id} a été supprimé"),
)

# Ad campaigns (AD) ---------------------------------------------------------------------
_ADS = (
    _r("skill_domain_empty", e.InvalidInputError, ("AD-3", "BOOK-1", "TUTO-1"),
       "a skill domain is non-empty text, not {got}",
       "un domaine de savoir-faire est un texte non vide, pas {got}"),
    _r("skill_domain_too_long", e.InvalidInputError, ("AD-3", "BOOK-1", "TUTO-1"),
       "a skill domain has at most {limit} characters",
       "un domaine de savoir-faire a au plus {limit} caractères"),
    _r("target_domains_not_list", e.InvalidInputError, "AD-3",
       "target domains are a list of skill domains, not {got}",
       "les domaines visés sont une liste de domaines de savoir-faire, pas {got}"),
    _r("no_target_domain", e.NoTargetDomainError, "AD-3",
       "a campaign targets at least one skill domain",
       "une campagne vise au moins un domaine de savoir-faire"),
    _r("campaign_budget_invalid", e.CampaignBudgetError, "AD-2",
       "a campaign budget is a whole number of stars, at least {minimum}, not {got}",
       "le budget d'une campagne est un nombre entier d'étoiles, au moins {minimum}, pas "
       "{got}"),
    _r("campaign_goal_too_large", e.CampaignBudgetError, "AD-2",
       "a campaign goal is at most {maximum} impressions; {amount} stars buy more",
       "l'objectif d'une campagne est d'au plus {maximum} affichages ; {amount} étoiles en "
       "achètent plus"),
    _r("link_not_text", e.InvalidLinkError, "AD-3",
       "a link is text, not {got}", "un lien est un texte, pas {got}"),
    _r("link_invalid", e.InvalidLinkError, ("AD-3", "PROF-6"),
       "{link!r} is not a link a campaign can show: http or https to a named host, "
       "without a user or password",
       "{link!r} n'est pas un lien qu'une campagne peut montrer : http ou https vers un "
       "hôte nommé, sans utilisateur ni mot de passe"),
    _r("start_in_past", e.StartInPastError, "AD-3",
       "a campaign cannot start in the past: {start} is before {now}",
       "une campagne ne peut pas commencer dans le passé : {start} est avant {now}"),
    _r("campaign_field_locked", e.CampaignLockedError, "AD-5",
       "campaign {campaign} started at {start}: its {fields} can no longer change (only the "
       "visual, the text and the link can)",
       "la campagne {campaign} a commencé le {start} : ses champs {fields} ne peuvent plus "
       "changer (seuls le visuel, le texte et le lien le peuvent)"),
)

# Tutorials (TUTO) ----------------------------------------------------------------------
_TUTORIALS = (
    _r("video_link_not_text", e.InvalidVideoError, "TUTO-1",
       "a video link is text, not {got}", "un lien de vidéo est un texte, pas {got}"),
    _r("video_link_shape", e.InvalidVideoError, "TUTO-1",
       "{url} is not a YouTube video link: it is empty, too long or holds spaces",
       "{url} n'est pas un lien de vidéo YouTube : il est vide, trop long ou contient des "
       "espaces"),
    _r("video_link_malformed", e.InvalidVideoError, "TUTO-1",
       "{url} is not a YouTube video link: it is malformed",
       "{url} n'est pas un lien de vidéo YouTube : il est mal formé"),
    _r("video_link_scheme", e.InvalidVideoError, "TUTO-1",
       "{url} is not a YouTube video link: it must start with https://",
       "{url} n'est pas un lien de vidéo YouTube : il doit commencer par https://"),
    _r("video_link_credentials", e.InvalidVideoError, "TUTO-1",
       "{url} is not a YouTube video link: it holds credentials or a port",
       "{url} n'est pas un lien de vidéo YouTube : il contient des identifiants ou un port"),
    _r("video_link_watch_parameter", e.InvalidVideoError, "TUTO-1",
       "{url} is not a YouTube video link: a watch link needs exactly one v= parameter",
       "{url} n'est pas un lien de vidéo YouTube : un lien watch demande exactement un "
       "paramètre v="),
    _r("video_link_not_youtube", e.InvalidVideoError, "TUTO-1",
       "{url} is not a YouTube video link: not a watch, youtu.be, shorts or embed link on "
       "YouTube",
       "{url} n'est pas un lien de vidéo YouTube : ni watch, ni youtu.be, ni shorts, ni "
       "embed sur YouTube"),
    _r("video_id_invalid", e.InvalidVideoError, "TUTO-1",
       "{url} is not a YouTube video link: the video id {video} is not 11 characters of "
       "A-Z a-z 0-9 _ -",
       "{url} n'est pas un lien de vidéo YouTube : l'identifiant {video} n'est pas fait de "
       "11 caractères parmi A-Z a-z 0-9 _ -"),
    _r("upload_reference_empty", e.InvalidVideoError, "TUTO-1",
       "an upload reference is non-empty text, not {got}",
       "une référence de vidéo envoyée est un texte non vide, pas {got}"),
    _r("upload_reference_too_long", e.InvalidVideoError, "TUTO-1",
       "an upload reference has at most {limit} printable characters",
       "une référence de vidéo envoyée a au plus {limit} caractères imprimables"),
    _r("viewer_invalid", e.InvalidInputError, "TUTO-4",
       "a {field} is non-empty text of at most {limit} characters, not {got}",
       "« {field} » est un texte non vide d'au plus {limit} caractères, pas {got}"),
    _r("tutorial_deleted", e.StateConflictError, "TUTO-1",
       "tutorial {tutorial} was deleted: its views no longer count",
       "le tuto {tutorial} a été supprimé : ses vues ne comptent plus"),
    _r("history_mismatch", e.InvalidInputError, "TUTO-2",
       "history {history} is not tutorial {tutorial}'s",
       "l'historique {history} n'est pas celui du tuto {tutorial}"),
)

# Workshops and sessions (BOOK) -----------------------------------------------------------
_BOOKING = (
    _field("session_not_changeable", e.StateConflictError,
       "session {session} has already started or ended ({state}); it can no longer be "
       "changed",
       "la session {session} a déjà commencé ou est finie ({state}) ; elle ne peut plus "
       "changer"),
    _r("score_invalid", e.InvalidInputError, "BOOK-41",
       "{field} is a whole score from {low} to {high}, not {got}",
       "« {field} » est une note entière de {low} à {high}, pas {got}"),
)

# The service's commands and queries ---------------------------------------------------
_SERVICE = (
    _r("text_unstorable", e.InvalidInputError, None,
       "{argument} must be valid Unicode text without NUL characters, and hold no instant "
       "without a valid time zone",
       "« {argument} » doit être un texte Unicode valide sans caractère NUL, et ne contenir "
       "aucun instant sans fuseau horaire valide"),
    _r("password_hash_malformed", e.StoreError, "ACC-4",
       "a stored password hash is malformed", "une empreinte de mot de passe stockée est "
       "mal formée"),
    # shared checks of one field: they cite the rule of the field checked
    _field("text_not_text", e.InvalidInputError,
           "{field} must be text, not {got}", "« {field} » doit être un texte, pas {got}"),
    _field("text_required", e.InvalidInputError,
           "{field} cannot be empty", "« {field} » ne peut pas être vide"),
    _field("text_too_long", e.InvalidInputError,
           "{field} has at most {limit} characters", "« {field} » a au plus {limit} caractères"),
    _field("choice_unknown", e.InvalidInputError,
           "this is not one of: {choices}", "ce n'est pas l'une des valeurs : {choices}"),
    _field("whole_number_too_small", e.InvalidAmountError,
           "{field} must be a whole number of at least {low}, not {got}",
           "« {field} » doit être un nombre entier d'au moins {low}, pas {got}"),
    _field("flag_not_bool", e.InvalidInputError,
           "{field} is True or False, not {got}", "« {field} » vaut True ou False, pas {got}"),
    _field("idempotency_key_invalid", e.InvalidInputError,
           "an idempotency key is a non-empty string, not {got}",
           "une clé d'idempotence est un texte non vide, pas {got}"),
    # who exists (each kind cites the rule by which such things exist)
    _r("unknown_member", e.NotFoundError, "ACC-1",
       "no member {id}", "aucun membre {id}"),
    _r("member_gone", e.NotFoundError, "ACC-7",
       "member {id} no longer exists", "le membre {id} n'existe plus"),
    _r("unknown_workshop", e.NotFoundError, "BOOK-1",
       "no workshop {id}", "aucun atelier {id}"),
    _r("unknown_session", e.NotFoundError, "BOOK-2",
       "no session {id}", "aucune session {id}"),
    _r("unknown_registration", e.NotFoundError, "BOOK-13",
       "no request {id}", "aucune demande d'inscription {id}"),
    _r("unknown_gift", e.NotFoundError, "GIFT-1", "no gift {id}", "aucun cadeau {id}"),
    _r("unknown_tutorial", e.NotFoundError, "TUTO-1", "no tutorial {id}", "aucun tuto {id}"),
    _r("unknown_tutorial_video_history", e.NotFoundError, "TUTO-2",
       "no video history {id}", "aucun historique de vidéo {id}"),
    _r("unknown_ad_campaign", e.NotFoundError, "AD-3",
       "no ad campaign {id}", "aucune campagne de pub {id}"),
    _r("unknown_sponsor", e.NotFoundError, "SPONSOR-4",
       "the sponsor named is not a member", "le parrain indiqué n'est pas membre"),
    # accounts (ACC, SPONSOR)
    _r("category_missing", e.InvalidInputError, "ACC-3",
       "a professional account needs a category",
       "un compte professionnel doit avoir une catégorie"),
    _r("category_for_individual", e.InvalidInputError, "ACC-3",
       "only professional accounts have a category",
       "seuls les comptes professionnels ont une catégorie"),
    _r("signup_how", e.InvalidInputError, "ACC-2",
       "sign up either with a password or through an identity provider",
       "l'inscription se fait soit avec un mot de passe, soit par un fournisseur d'identité"),
    _r("email_taken", e.AlreadyExistsError, "ACC-6",
       "an account already uses this email address",
       "un compte utilise déjà cette adresse e-mail"),
    _r("password_not_text", e.InvalidInputError, "ACC-4",
       "a password is text", "un mot de passe est un texte"),
    _r("password_too_short", e.InvalidInputError, "ACC-4",
       "a password has at least {minimum} characters",
       "un mot de passe doit comporter au moins {minimum} caractères"),
    _r("password_too_long", e.InvalidInputError, "ACC-4",
       "a password has at most {limit} characters",
       "un mot de passe a au plus {limit} caractères"),
    _r("password_surrogates", e.InvalidInputError, "ACC-4",
       "a password is text without lone surrogates",
       "un mot de passe est un texte sans substituts isolés"),
    _r("self_sponsor", e.NotAllowedError, "SPONSOR-4",
       "nobody can sponsor themselves", "personne ne peut être son propre parrain"),
    _r("confirmation_link_invalid", e.InvalidTokenError, "ACC-1",
       "this confirmation link is not valid", "ce lien de confirmation n'est pas valide"),
    _r("wrong_email_or_password", e.WrongPasswordError, "ACC-4",
       "wrong email or password", "adresse e-mail ou mot de passe incorrect"),
    _r("sign_in_unconfirmed", e.AccountNotConfirmedError, "ACC-1",
       "{member} must confirm their email address first: the link is in the confirmation "
       "mail",
       "{member} doit d'abord confirmer son adresse e-mail : le lien est dans l'e-mail de "
       "confirmation"),
    _r("notice_without_link", e.InvalidInputError, "ACC-4",
       "only an EmailConfirmationRequested notice or a PasswordResetRequested notice of a "
       "password account carries a link",
       "seuls un avis EmailConfirmationRequested ou un avis PasswordResetRequested d'un "
       "compte à mot de passe portent un lien"),
    _r("reset_link_invalid", e.InvalidTokenError, "ACC-4",
       "this reset link is not valid or was used",
       "ce lien de réinitialisation n'est pas valide ou a déjà servi"),
    _r("reset_link_expired", e.DeadlinePassedError, "ACC-4",
       "this reset link expired at {expired_at}",
       "ce lien de réinitialisation a expiré le {expired_at}"),
    _r("no_password", e.ProviderAccountError, ("ACC-5", "ACC-4"),
       "this account has no password: it signs in through its identity provider",
       "ce compte n'a pas de mot de passe : il se connecte par son fournisseur d'identité"),
    _r("current_password_wrong", e.WrongPasswordError, "ACC-5",
       "the current password is wrong", "le mot de passe actuel est incorrect"),
    _r("password_changed_meanwhile", e.ConcurrencyError, "ACC-5",
       "{member}'s password changed during the change; nothing was written: retry",
       "le mot de passe de {member} a changé pendant la modification ; rien n'a été écrit : "
       "recommencez"),
    _r("website_invalid", e.InvalidInputError, "PROF-6",
       "a website is an http or https address", "un site web est une adresse http ou https"),
    _r("purchase_invalid", e.InvalidAmountError, "STAR-2",
       "a purchase is a whole number of stars, at least 1, not {got}",
       "un achat est un nombre entier d'étoiles, au moins 1, pas {got}"),
    # gifts (GIFT)
    _r("gift_invalid", e.InvalidAmountError, "GIFT-1",
       "a gift is a whole number of stars, at least {minimum}, not {got}",
       "un cadeau est un nombre entier d'étoiles, au moins {minimum}, pas {got}"),
    _r("gift_to_self", e.NotAllowedError, "GIFT-2",
       "a member cannot gift stars to themselves",
       "un membre ne peut pas s'offrir des étoiles à lui-même"),
    _r("gift_not_theirs", e.NotAllowedError, "GIFT-3",
       "gift {gift} is not addressed to {member}", "le cadeau {gift} n'est pas adressé à {member}"),
    # contacts, follows, messages, invitations (SOCIAL, SPONSOR)
    _r("contacts_not_list", e.InvalidInputError, ("SOCIAL-1", "SPONSOR-1"),
       "contacts are a list of email addresses, not {kind}",
       "les contacts sont une liste d'adresses e-mail, pas {kind}"),
    _r("follow_self", e.NotAllowedError, "SOCIAL-1",
       "a member cannot follow themselves", "un membre ne peut pas se suivre lui-même"),
    _r("already_member", e.AlreadyExistsError, "SPONSOR-1",
       "this address is already a member's", "cette adresse est déjà celle d'un membre"),
    # workshops and sessions (BOOK)
    _r("duration_invalid", e.InvalidInputError, "BOOK-1",
       "a duration is a positive whole number of minutes, not {got}",
       "une durée est un nombre entier positif de minutes, pas {got}"),
    _r("mode_invalid", e.InvalidInputError, "BOOK-1",
       "mode is 'online' or 'face_to_face', not {got}",
       "le mode vaut « online » ou « face_to_face », pas {got}"),
    _r("media_invalid", e.InvalidInputError, "BOOK-1",
       "media are a list of references (non-empty text)",
       "les médias sont une liste de références (textes non vides)"),
    _r("workshop_deleted", e.StateConflictError, "BOOK-5",
       "workshop {workshop} was deleted", "l'atelier {workshop} a été supprimé"),
    _field("not_workshop_organizer", e.NotAllowedError,
           "only the organizer of workshop {workshop} may do this",
           "seul l'organisateur de l'atelier {workshop} peut faire cela"),
    _field("not_session_organizer", e.NotAllowedError,
           "only the organizer of session {session} may do this",
           "seul l'organisateur de la session {session} peut faire cela"),
    _field("not_requester", e.NotAllowedError,
           "request {registration} is not {member}'s",
           "la demande {registration} n'est pas celle de {member}"),
    _field("not_request_organizer", e.NotAllowedError,
           "only the organizer may answer request {registration}",
           "seul l'organisateur peut répondre à la demande {registration}"),
    _field("session_start_not_later", e.InvalidInputError,
           "a session must start after now ({now}), not at {start}",
           "une session doit commencer après maintenant ({now}), pas le {start}"),
    _r("capacity_below_taken", e.StateConflictError, "BOOK-7",
       "{taken} seats are taken: the capacity cannot drop to {capacity}",
       "{taken} places sont prises : la capacité ne peut pas descendre à {capacity}"),
    # requests, waitlist, aftermath (BOOK)
    _r("request_target", e.InvalidInputError, "BOOK-13",
       "a request names either a session or a workshop",
       "une demande nomme soit une session, soit un atelier"),
    _r("requests_closed", e.StateConflictError, "BOOK-16",
       "session {session} has started or is over: requests close at its start ({start})",
       "la session {session} a commencé ou est finie : les demandes ferment à son début "
       "({start})"),
    _r("own_workshop_request", e.NotAllowedError, "BOOK-3",
       "an organizer cannot register for their own workshop ({workshop})",
       "un organisateur ne peut pas s'inscrire à son propre atelier ({workshop})"),
    _r("seats_for_session", e.InvalidInputError, "BOOK-12",
       "a request for this session is for {low} to {high} seats, not {got}",
       "une demande pour cette session porte sur {low} à {high} places, pas {got}"),
    _r("seats_for_future_session", e.InvalidInputError, "BOOK-12",
       "a request for a future session is for {low} to {high} seats, not {got}",
       "une demande pour une session future porte sur {low} à {high} places, pas {got}"),
    _r("live_request_exists", e.StateConflictError, "BOOK-4",
       "{member} already has a live request ({registration}) here",
       "{member} a déjà une demande en cours ({registration}) ici"),
    _r("accept_future_request", e.StateConflictError, "BOOK-14",
       "this request is for a future session: accept it for a future session",
       "cette demande porte sur une session future : acceptez-la pour une session future"),
    _r("seats_short_accept_future", e.StateConflictError, "BOOK-14",
       "only {left} seats are left for {asked} asked: accept for a future session instead",
       "il ne reste que {left} places pour {asked} demandées : acceptez plutôt pour une "
       "session future"),
    _r("seats_enough_accept_session", e.StateConflictError, "BOOK-14",
       "session {session} has {left} seats left for the {asked} asked: accept the request "
       "for it",
       "la session {session} a encore {left} places, pour {asked} demandées : acceptez la "
       "demande pour elle"),
    _r("future_seats_too_many", e.StateConflictError, "BOOK-12",
       "a future session takes at most {limit} seats, and this request is for {asked}: "
       "refuse it; the member may ask again for fewer",
       "une session future prend au plus {limit} places, et cette demande en compte "
       "{asked} : refusez-la ; le membre pourra redemander pour moins"),
    _r("already_waiting", e.StateConflictError, "BOOK-4",
       "this member already waits for a future session of this workshop ({registration})",
       "ce membre attend déjà une session future de cet atelier ({registration})"),
    _r("session_of_other_workshop", e.InvalidInputError, "BOOK-23",
       "session {session} belongs to another workshop",
       "la session {session} appartient à un autre atelier"),
    _r("join_seats_short", e.StateConflictError, "BOOK-23",
       "session {session} has {left} seats left; {needed} are needed",
       "la session {session} a encore {left} places ; il en faut {needed}"),
    _r("request_for_session_exists", e.StateConflictError, "BOOK-4",
       "{member} already has a request for this session ({registration})",
       "{member} a déjà une demande pour cette session ({registration})"),
    _field("registration_not_paid", e.StateConflictError,
           "request {registration} is {state}: only a registration in a session confirmed "
           "held can do this",
           "la demande {registration} est dans l'état {state} : seule une inscription à une "
           "session confirmée comme tenue le peut"),
    _field("attendance_given", e.StateConflictError,
           "attendance was already given ({attendance})",
           "la présence a déjà été indiquée ({attendance})"),
    _r("session_not_ended", e.StateConflictError, "BOOK-30",
       "session {session} ends at {end}: the organizer answers from its end until {days} "
       "days after",
       "la session {session} finit le {end} : l'organisateur répond de sa fin jusqu'à "
       "{days} jours après"),
    _r("recommend_not_bool", e.InvalidInputError, "BOOK-41",
       "recommend is yes or no (True or False), not {got}",
       "la recommandation vaut oui ou non (True ou False), pas {got}"),
    _r("evaluation_not_allowed", e.StateConflictError, "BOOK-40",
       "only a member who confirmed attending a session confirmed held may evaluate it",
       "seul un membre qui a confirmé sa présence à une session confirmée comme tenue peut "
       "l'évaluer"),
    _r("already_evaluated", e.StateConflictError, "BOOK-40",
       "this registration was already evaluated", "cette inscription a déjà été évaluée"),
    _r("contacts_parties_only", e.NotAllowedError, "BOOK-15",
       "only the two parties of a request see its contacts",
       "seules les deux parties d'une demande voient ses contacts"),
    _r("contacts_before_acceptance", e.NotAllowedError, "BOOK-15",
       "emails are exchanged only once the request is accepted",
       "les adresses e-mail ne s'échangent qu'une fois la demande acceptée"),
    _r("video_source_choice", e.InvalidVideoError, "TUTO-1",
       "a tutorial is either a YouTube link or an uploaded video",
       "un tuto est soit un lien YouTube, soit une vidéo envoyée"),
    _r("not_tutorial_publisher", e.NotAllowedError, "TUTO-1",
       "only the publisher of tutorial {tutorial} may change it",
       "seul l'auteur du tuto {tutorial} peut le modifier"),
    _r("video_already_published", e.AlreadyExistsError, "TUTO-2",
       "tutorial {tutorial} of the same publisher already shows this video",
       "le tuto {tutorial} du même auteur montre déjà cette vidéo"),
    _r("rights_not_attested", e.RightsNotAttestedError, "TUTO-5",
       "the publisher must attest holding the rights to this video",
       "l'auteur doit attester détenir les droits de cette vidéo"),
    # ad campaigns (AD)
    _r("professionals_only", e.ProfessionalsOnlyError, "AD-1",
       "{member} is an individual: only professionals launch ad campaigns",
       "{member} est un particulier : seuls les professionnels lancent des campagnes de pub"),
    _field("not_campaign_owner", e.NotAllowedError,
           "campaign {campaign} is not {member}'s",
           "la campagne {campaign} n'est pas celle de {member}"),
    _r("visual_not_rights_free", e.VisualNotRightsFreeError, "AD-3",
       "the owner must attest the visual is rights-free",
       "le propriétaire doit attester que le visuel est libre de droits"),
    _r("campaign_not_deletable", e.CampaignNotDeletableError, "AD-6",
       "campaign {campaign} cannot be deleted: ad campaigns are never deleted, they stop by "
       "themselves at their goal",
       "la campagne {campaign} ne peut pas être supprimée : une campagne ne l'est jamais, "
       "elle s'arrête d'elle-même à son objectif"),
    _r("page_view_invalid", e.InvalidInputError, "AD-7",
       "a page view id is non-empty text of at most {limit} characters",
       "un identifiant d'affichage de page est un texte non vide d'au plus {limit} "
       "caractères"),
    _r("ad_queues_broken", e.InvariantViolationError, "AD-7",
       "ad queues broken: {problems}", "files de diffusion des campagnes rompues : {problems}"),
    # catalogue, search and pages (read side)
    _field("filter_text_invalid", e.InvalidInputError,
           "{field} is a text of 1 to 200 characters, not {got}",
           "« {field} » est un texte de 1 à 200 caractères, pas {got}"),
    _field("filter_text_only_accents", e.InvalidInputError,
           "{field} {got} is empty once case and accents are set aside: it would match "
           "every entry without one",
           "« {field} » {got} est vide une fois la casse et les accents mis de côté : il "
           "retiendrait toute entrée qui n'en a pas"),
    _field("filter_count_invalid", e.InvalidInputError,
           "{field} is a whole number from 0, not {got}",
           "« {field} » est un nombre entier à partir de 0, pas {got}"),
    _r("start_range_empty", e.InvalidInputError, "AD-7",
       "the range of start instants is empty: {starts_before} is not after {starts_from}",
       "l'intervalle des débuts est vide : {starts_before} n'est pas après {starts_from}"),
    _r("organizer_filter_invalid", e.InvalidInputError, "BOOK-1",
       "organizer is a member id, not {got}",
       "organizer est un identifiant de membre, pas {got}"),
    _r("tutorial_order_invalid", e.InvalidInputError, "AD-7",
       "order is one of {choices}, not {got}", "order vaut l'une de {choices}, pas {got}"),
    _r("search_too_long", e.InvalidInputError, "AD-7",
       "a search is a text of at most {limit} characters",
       "une recherche est un texte d'au plus {limit} caractères"),
    _r("search_without_words", e.InvalidInputError, "AD-7",
       "a search needs at least one word", "une recherche doit contenir au moins un mot"),
    _r("name_prefix_invalid", e.InvalidInputError, "SOCIAL-1",
       "a name prefix is a text of 1 to {limit} characters",
       "un début de nom est un texte de 1 à {limit} caractères"),
    _r("name_prefix_without_letter", e.InvalidInputError, "SOCIAL-1",
       "{got} has no letter to find a name by",
       "{got} n'a aucune lettre pour chercher un nom"),
    _r("change_position_invalid", e.InvalidInputError, "AD-7",
       "after is the position of a change, not {got}",
       "after est la position d'un changement, pas {got}"),
    _r("rebuild_batch_invalid", e.InvalidInputError, "AD-7",
       "a batch is a whole number from 1 to {limit}, not {got}",
       "un lot est un nombre entier de 1 à {limit}, pas {got}"),
    _field("cursor_invalid", e.InvalidInputError,
           "this is not a cursor of {listing}: pass back the `next` of the page before, "
           "unchanged",
           "ce n'est pas un curseur de {listing} : renvoyez tel quel le `next` de la page "
           "précédente"),
    _field("cursor_of_other_list", e.InvalidInputError,
           "this cursor belongs to another list than {listing} with these filters: read that "
           "list again from its first page",
           "ce curseur appartient à une autre liste que {listing} avec ces filtres : relisez "
           "cette liste depuis sa première page"),
    _field("page_limit_invalid", e.InvalidInputError,
           "a page holds a whole number of items from 1 to {most}, not {got}",
           "une page tient un nombre entier d'éléments de 1 à {most}, pas {got}"),
    _r("feed_change_unreadable", e.StoreError, "AD-7",
       "a change in the change feed cannot be read by this version: a newer version wrote "
       "it",
       "un changement du flux des changements ne peut pas être lu par cette version : une "
       "version plus récente l'a écrit"),
    # the host's calls (platform)
    _r("drain_limit_invalid", e.InvalidInputError, None,
       "a drain limit is a whole number from 1 to {limit}, not {got}",
       "une limite de lecture est un nombre entier de 1 à {limit}, pas {got}"),
    _r("ack_not_list", e.InvalidInputError, None,
       "ack takes a list of notification seqs, not {got}",
       "ack prend une liste de numéros de notifications, pas {got}"),
    _r("ack_seq_invalid", e.InvalidInputError, None,
       "notification seqs are whole numbers greater than 0, not {got}",
       "les numéros de notifications sont des nombres entiers supérieurs à 0, pas {got}"),
    _r("attempts_invalid", e.InvalidInputError, None,
       "a command is tried 1 to 1000 times, not {got}",
       "une commande est essayée de 1 à 1000 fois, pas {got}"),
    _r("clock_went_backwards", e.TimeWentBackwardsError, "STAR-5",
       "the clock says {now}, {behind} before {last}, the last instant this service used or "
       "found recorded: more than the {tolerance} tolerated (clock_tolerance). Recorded "
       "instants never go backwards: nothing was done; set the clock right, or wait until "
       "it passes that instant",
       "l'horloge indique {now}, {behind} avant {last}, le dernier instant que ce service a "
       "utilisé ou trouvé enregistré : plus que les {tolerance} tolérés (clock_tolerance). "
       "Les instants enregistrés ne reculent jamais : rien n'a été fait ; remettez "
       "l'horloge à l'heure, ou attendez qu'elle dépasse cet instant"),
    _r("run_due_in_future", e.InvalidInputError, None,
       "run_due applies what is due by now ({now}), not by a later instant ({until})",
       "run_due applique ce qui est dû maintenant ({now}), pas à un instant plus tard "
       "({until})"),
)

# Stores (memory, SQLite, PostgreSQL) ---------------------------------------------------
_STORES = (
    # what every store refuses
    _r("store_value_not_storable", e.InvalidInputError, None,
       "cannot store a {got}", "impossible de stocker une valeur de type {got}"),
    _r("store_text_not_unicode", e.InvalidInputError, None,
       "text that is not valid Unicode (it holds a lone surrogate) cannot be stored",
       "un texte qui n'est pas de l'Unicode valide (il contient un demi-caractère isolé) ne "
       "peut pas être stocké"),
    _r("store_queue_key_nul", e.InvalidInputError, None,
       "a queue key cannot contain the NUL character",
       "une clé de file d'attente ne peut pas contenir le caractère NUL"),
    _r("store_feed_position_invalid", e.InvalidInputError, None,
       "not a position of the change feed: {got}",
       "ce n'est pas une position du flux des changements : {got}"),
    _r("store_unique_key_taken", e.AlreadyExistsError, None,
       "another {kind} already has this {index}",
       "un autre élément de type {kind} a déjà cette valeur de « {index} »"),
    _r("store_query_writes", e.StateConflictError, None,
       "a query reads the store and never writes it",
       "une requête lit le stockage et ne l'écrit jamais"),
    _r("store_write_outside_unit", e.StateConflictError, None,
       "store writes happen inside a unit of work",
       "les écritures dans le stockage se font dans une unité de travail"),
    _r("memory_store_busy", e.StateConflictError, None,
       "the memory store is busy with another unit of work",
       "le stockage en mémoire est occupé par une autre unité de travail"),
    _r("store_attempts_invalid", e.InvalidInputError, None,
       "a store tries to start a unit of work 1 to {maximum} times, not {got}",
       "un stockage essaie de commencer une unité de travail de 1 à {maximum} fois, pas "
       "{got}"),
    _r("store_gave_up", e.ConcurrencyError, None,
       "{problem} (gave up after {attempts} attempts)",
       "{problem} (abandon après {attempts} tentatives)"),
    _r("store_gave_up_at_once", e.ConcurrencyError, None,
       "{problem} (gave up after 1 attempt)", "{problem} (abandon après 1 tentative)"),
    _r("store_deadline_came_in_meanwhile", e.ConcurrencyError, None,
       "a deadline due earlier than one this command applied came in meanwhile; nothing "
       "was written: retry",
       "une échéance antérieure à l'une de celles que cette commande a appliquées est "
       "arrivée entre-temps ; rien n'a été écrit : réessayez"),
    _r("store_foreign", e.StoreError, None,
       "{store} belongs to another program, not Skilltroc",
       "{store} appartient à un autre programme, pas à Skilltroc"),
    _r("store_schema_too_new", e.SchemaTooNewError, None,
       "{store} has schema version {version}; this library knows up to {known}: upgrade "
       "skilltroc-core",
       "{store} est à la version de schéma {version} ; cette bibliothèque connaît jusqu'à "
       "la version {known} : mettez skilltroc-core à jour"),
    _r("store_entity_damaged", e.StoreError, None,
       "the stored {kind} '{entity}' cannot be read (a damaged row: {problem}); restore it "
       "from a backup",
       "l'élément stocké de type {kind} « {entity} » est illisible (une ligne abîmée : "
       "{problem}) ; restaurez-le depuis une sauvegarde"),
    _r("store_notice_damaged", e.StoreError, None,
       "the notification {seq} of the outbox cannot be read (a damaged row: {problem}); "
       "acknowledge it or restore it from a backup",
       "la notification {seq} de la boîte d'envoi est illisible (une ligne abîmée : "
       "{problem}) ; acquittez-la ou restaurez-la depuis une sauvegarde"),
    _r("store_instant_damaged", e.StoreError, "STAR-6",
       "the newest transfers of the ledger hold an unreadable instant {got}; restore the "
       "store from a backup",
       "les derniers virements du registre contiennent un instant illisible {got} ; "
       "restaurez le stockage depuis une sauvegarde"),
    # the clocks
    _r("manual_clock_backwards", e.TimeWentBackwardsError, "STAR-5",
       "the clock is at {now}; it cannot go back to {requested}",
       "l'horloge est à {now} ; elle ne peut pas revenir à {requested}"),
    _r("manual_clock_advance_negative", e.InvalidInputError, None,
       "a clock advances by a duration of zero or more",
       "une horloge avance d'une durée nulle ou positive"),
    # SQLite
    _r("sqlite_synchronous_invalid", e.InvalidInputError, None,
       "synchronous is 'full' (durable commits) or 'normal', not {got}",
       "synchronous vaut « full » (validations durables) ou « normal », pas {got}"),
    _r("sqlite_path_is_directory", e.StoreError, None,
       "{path} is a directory, not a database file",
       "{path} est un dossier, pas un fichier de base de données"),
    _r("sqlite_unusable", e.StoreError, None,
       "{path} is not a usable Skilltroc database: {problem}",
       "{path} n'est pas une base de données Skilltroc utilisable : {problem}"),
    _r("sqlite_version_mismatch", e.StoreError, None,
       "{path} records schema version {version} but its tables are those of version "
       "{observed}: the file was changed by hand or damaged; restore it from a backup",
       "{path} indique la version de schéma {version} mais ses tables sont celles de la "
       "version {observed} : le fichier a été modifié à la main ou abîmé ; restaurez-le "
       "depuis une sauvegarde"),
    _r("sqlite_busy", e.ConcurrencyError, None,
       "the store is busy: {problem}; nothing was written, retry",
       "le stockage est occupé : {problem} ; rien n'a été écrit, réessayez"),
    _r("sqlite_failed", e.StoreError, None,
       "the SQLite store failed: {problem}; nothing of this command was written",
       "le stockage SQLite a échoué : {problem} ; rien de cette commande n'a été écrit"),
    # PostgreSQL
    _r("postgres_unreachable", e.StoreError, None,
       "cannot connect to PostgreSQL at {store}: {problem}",
       "impossible de se connecter à PostgreSQL sur {store} : {problem}"),
    _r("postgres_lost_at_setup", e.ConcurrencyError, None,
       "the connection to PostgreSQL was lost while being set up; nothing was written: "
       "retry ({problem})",
       "la connexion à PostgreSQL a été perdue pendant sa mise en place ; rien n'a été "
       "écrit : réessayez ({problem})"),
    _r("postgres_setup_failed", e.StoreError, None,
       "cannot set up the connection to {store}: {problem}",
       "impossible de mettre en place la connexion à {store} : {problem}"),
    _r("postgres_failed", e.StoreError, None,
       "{store} failed during {operation}: {problem}",
       "{store} a échoué pendant l'opération « {operation} » : {problem}"),
    _r("postgres_connection_lost", e.ConcurrencyError, None,
       "the connection to PostgreSQL was lost during {operation}; nothing of it was "
       "written: retry ({problem})",
       "la connexion à PostgreSQL a été perdue pendant l'opération « {operation} » ; rien "
       "n'en a été écrit : réessayez ({problem})"),
    _r("postgres_raced", e.ConcurrencyError, None,
       "another unit of work got in the way during {operation}; nothing of it was written: "
       "retry ({problem})",
       "une autre unité de travail s'est mise en travers pendant l'opération "
       "« {operation} » ; rien n'en a été écrit : réessayez ({problem})"),
    _r("postgres_busy", e.ConcurrencyError, None,
       "PostgreSQL could not run it now during {operation}; nothing of it was written: "
       "retry ({problem})",
       "PostgreSQL n'a pas pu l'exécuter maintenant pendant l'opération « {operation} » ; "
       "rien n'en a été écrit : réessayez ({problem})"),
    _r("postgres_too_old", e.StoreError, None,
       "{store} runs PostgreSQL {major}; the store needs PostgreSQL {minimum} or later (the "
       "change feed reads transaction ids with pg_current_xact_id)",
       "{store} fait tourner PostgreSQL {major} ; le stockage demande PostgreSQL {minimum} "
       "ou plus récent (le flux des changements lit les identifiants de transaction avec "
       "pg_current_xact_id)"),
    _r("postgres_no_schema", e.StoreError, None,
       "{store} has no schema to create tables in (search_path)",
       "{store} n'a aucun schéma où créer les tables (search_path)"),
    _r("postgres_version_unreadable", e.StoreError, None,
       "{store} records an unreadable schema version {got}",
       "{store} indique une version de schéma illisible : {got}"),
    _r("postgres_closed_in_unit", e.ConcurrencyError, None,
       "the store was closed during a unit of work",
       "le stockage a été fermé pendant une unité de travail"),
    _r("postgres_lost_in_commit", e.ConcurrencyError, None,
       "the connection to PostgreSQL was lost while committing: the command may or may not "
       "have been applied; retry it with the same idempotency key or payment reference "
       "({problem})",
       "la connexion à PostgreSQL a été perdue pendant la validation : la commande a pu être "
       "appliquée ou non ; réessayez-la avec la même clé d'idempotence ou la même référence "
       "de paiement ({problem})"),
    # the simulator and the testing kit
    _r("simulation_file_exists", e.InvalidInputError, None,
       "{path} exists; the simulator needs a new database file",
       "{path} existe déjà ; le simulateur demande un nouveau fichier de base de données"),
    _r("simulation_unknown_store", e.InvalidInputError, None,
       "unknown store {got} (memory, sqlite:PATH, postgresql://...)",
       "stockage inconnu : {got} (memory, sqlite:CHEMIN, postgresql://...)"),
    _r("replay_file_invalid", e.InvalidInputError, None,
       "{path} is not a simulator replay file: {problem}",
       "{path} n'est pas un fichier de rejeu du simulateur : {problem}"),
    _r("kit_unknown_command_areas", e.InvalidInputError, None,
       "unknown command areas {areas}; choose among {known}",
       "domaines de commandes inconnus : {areas} ; choisissez parmi {known}"),
    _r("kit_unknown_command", e.InvalidInputError, None,
       "there is no command {got}", "il n'y a pas de commande {got}"),
    _r("kit_clock_needs_manual_clock", e.InvalidInputError, None,
       "clock commands need a service on a ManualClock",
       "les commandes d'horloge demandent un service sur une ManualClock"),
)

# Tools (scenario files) ----------------------------------------------------------------
#: where in a scenario file a problem is: the file (and line), the step, the key
_IN_FILE = ("{place}: ", "{place} : ")
_AT_KEY = ("{place}, key '{field}': ", "{place}, clé « {field} » : ")
_AT_STEP = ("{place}, step {step}: ", "{place}, étape {step} : ")
_AT_STEP_KEY = ("{place}, step {step}, key '{field}': ",
                "{place}, étape {step}, clé « {field} » : ")


def _scenario(key: str, where: tuple[str, str], en: str, fr: str, *,
              near: bool = False) -> tuple[Refusal, ...]:
    """A scenario file's refusal at ``where``; with ``near``, also ``key_near``, which
    adds the valid name nearest the wrong one (the fact ``suggestion``)."""
    plain = _r(key, e.ScenarioFormatError, None, where[0] + en, where[1] + fr)
    if not near:
        return (plain,)
    return (plain, _r(f"{key}_near", e.ScenarioFormatError, None,
                      f"{plain.en} (did you mean '{{suggestion}}'?)",
                      f"{plain.fr} (vouliez-vous dire « {{suggestion}} » ?)"))


_TOOLS = (
    *_scenario("scenario_file_missing", _IN_FILE, "no such file", "fichier introuvable"),
    *_scenario("scenario_file_is_folder", _IN_FILE, "is a folder, not a scenario file",
               "c'est un dossier, pas un fichier de scénario"),
    *_scenario("scenario_file_unreadable", _IN_FILE, "cannot be read ({problem})",
               "illisible ({problem})"),
    *_scenario("scenario_not_toml", _IN_FILE, "is not valid TOML: {problem}",
               "ce n'est pas du TOML valide : {problem}"),
    *_scenario("scenario_unknown_top_key", _AT_KEY, "unknown top-level key",
               "clé de premier niveau inconnue", near=True),
    *_scenario("scenario_title_not_text", _AT_KEY, "title is text", "title est un texte"),
    *_scenario("scenario_rules_not_list", _AT_KEY, "rules is a list of rule IDs",
               "rules est une liste d'identifiants de règles"),
    *_scenario("scenario_rule_unknown", _AT_KEY, "{rule_id} is not a rule ID of the catalogue",
               "{rule_id} n'est pas un identifiant de règle du catalogue"),
    *_scenario("scenario_start_not_instant", _AT_KEY,
               "start is a date-time with its offset, e.g. 2027-03-01T09:00:00+01:00",
               "start est une date et heure avec son décalage horaire, par exemple "
               "2027-03-01T09:00:00+01:00"),
    *_scenario("scenario_start_out_of_range", _AT_KEY,
               "start {start} is out of range: in UTC it falls outside years 1 to 9999",
               "start {start} est hors limites : en UTC il tombe hors des années 1 à 9999"),
    *_scenario("scenario_timezone_not_text", _AT_KEY, "timezone is text",
               "timezone est un texte"),
    *_scenario("scenario_timezone_unknown", _AT_KEY, "unknown time zone {zone}",
               "fuseau horaire inconnu : {zone}"),
    *_scenario("scenario_steps_not_tables", _AT_KEY, "steps are [[step]] tables",
               "les étapes sont des tables [[step]]"),
    *_scenario("scenario_step_kind", _AT_STEP,
               "a step has exactly one of do, expect, advance, at",
               "une étape a exactement une clé parmi do, expect, advance, at"),
    *_scenario("scenario_at_step_extra", _AT_STEP_KEY, "an 'at' step has only 'at'",
               "une étape « at » n'a que « at »"),
    *_scenario("scenario_at_not_instant", _AT_STEP_KEY, "at is a date-time with its offset",
               "at est une date et heure avec son décalage horaire"),
    *_scenario("scenario_unknown_command", _AT_STEP_KEY, "unknown command {got}",
               "commande inconnue : {got}", near=True),
    *_scenario("scenario_command_has_no_key", _AT_STEP_KEY,
               "{command} has no key '{field}'", "{command} n'a pas de clé « {field} »",
               near=True),
    *_scenario("scenario_value_type", _AT_STEP_KEY, "'{field}' must be {expected}, not {got}",
               "« {field} » doit être de type {expected}, pas {got}"),
    *_scenario("scenario_command_needs_key", _AT_STEP_KEY, "{command} needs '{field}'",
               "{command} demande « {field} »"),
    *_scenario("scenario_command_one_of", _AT_STEP_KEY,
               "{command} takes exactly one of {keys}",
               "{command} prend exactement une clé parmi {keys}"),
    *_scenario("scenario_fails_not_bool", _AT_STEP_KEY, "fails is true or false",
               "fails vaut true ou false"),
    *_scenario("scenario_error_not_text", _AT_STEP_KEY, "error is an error code (text)",
               "error est un code d'erreur (un texte)"),
    *_scenario("scenario_unknown_alias", _AT_STEP_KEY, "unknown {kinds} alias {got}",
               "alias de type {kinds} inconnu : {got}", near=True),
    *_scenario("scenario_unknown_member_alias", _AT_STEP_KEY,
               "unknown member alias {got} (or write an email)",
               "alias de membre inconnu : {got} (ou écrivez une adresse e-mail)"),
    *_scenario("scenario_alias_bound", _AT_STEP_KEY, "{kind} alias {got} is already bound",
               "l'alias de type {kind} {got} est déjà pris"),
    *_scenario("scenario_expect_not_table", _AT_STEP_KEY,
               "an expect step is one table: expect = {{ ... }}",
               "une étape expect est une seule table : expect = {{ ... }}"),
    *_scenario("scenario_unknown_expectation", _AT_STEP_KEY, "unknown expectation '{field}'",
               "attente inconnue : « {field} »", near=True),
    *_scenario("scenario_expectation_not_number", _AT_STEP_KEY, "'{field}' is a number",
               "« {field} » est un nombre"),
    *_scenario("scenario_expectation_not_map", _AT_STEP_KEY, "'{field}' maps aliases to values",
               "« {field} » associe des valeurs à des alias"),
    *_scenario("scenario_text_key_too_long", _AT_STEP_KEY,
               "'{field}' is keyed by a {kind}: {got} is longer than {limit} characters",
               "« {field} » a pour clés des textes de type {kind} : {got} a plus de {limit} "
               "caractères"),
    *_scenario("scenario_text_key_no_word", _AT_STEP_KEY,
               "'{field}' is keyed by a {kind}: {got} has no word to search for",
               "« {field} » a pour clés des textes de type {kind} : {got} n'a aucun mot à "
               "chercher"),
    *_scenario("scenario_text_key_no_letter", _AT_STEP_KEY,
               "'{field}' is keyed by a {kind}: {got} has no letter to read a list by",
               "« {field} » a pour clés des textes de type {kind} : {got} n'a aucune lettre "
               "selon laquelle lire une liste"),
    *_scenario("scenario_notified_not_rules", _AT_STEP_KEY,
               "'{field}' takes a rule ID or a list of them",
               "« {field} » prend un identifiant de règle ou une liste d'identifiants"),
    *_scenario("scenario_level_invalid", _AT_STEP_KEY,
               "level is beginner, intermediate or experienced",
               "level vaut beginner, intermediate ou experienced"),
    *_scenario("scenario_public_not_bool", _AT_STEP_KEY, "public is true or false",
               "public vaut true ou false"),
    *_scenario("scenario_values_not_numbers", _AT_STEP_KEY, "'{field}' values are numbers",
               "les valeurs de « {field} » sont des nombres"),
    *_scenario("scenario_list_not_aliases", _AT_STEP_KEY,
               "{field} takes a list of {kinds} aliases",
               "« {field} » prend une liste d'alias de type {kinds}"),
    *_scenario("scenario_list_alias_twice", _AT_STEP_KEY, "{field} names each alias once",
               "« {field} » nomme chaque alias une seule fois"),
    *_scenario("scenario_list_alias_ambiguous", _AT_STEP_KEY,
               "{got} is an alias of several kinds ({kinds}): {field} cannot tell them apart "
               "(give them different aliases)",
               "{got} est l'alias de plusieurs types ({kinds}) : « {field} » ne peut pas les "
               "distinguer (donnez-leur des alias différents)"),
    *_scenario("scenario_advance_not_table", _AT_STEP_KEY,
               "an advance step is one table: advance = {{ days = 1 }}",
               "une étape advance est une seule table : advance = {{ days = 1 }}"),
    *_scenario("scenario_advance_unknown_key", _AT_STEP_KEY,
               "advance takes days, hours and minutes, not '{field}'",
               "advance prend days, hours et minutes, pas « {field} »"),
    *_scenario("scenario_advance_out_of_range", _AT_STEP_KEY,
               "'{field}' is a whole number from 0 to {maximum:,}, not {got}",
               "« {field} » est un nombre entier de 0 à {maximum}, pas {got}"),
    _r("scenario_duration_invalid", e.ScenarioFormatError, None,
       "duration takes whole hours and minutes, not {got}",
       "duration prend des heures et des minutes entières, pas {got}"),
)

REFUSALS: Mapping[str, Refusal] = _catalogue(
    _CONFIGURATION,
    _ACCOUNTS,
    _ADS,
    _TUTORIALS,
    _BOOKING,
    _SERVICE,
    _STORES,
    _TOOLS,
    _STARS,
    _TIME,
    _STATES,
)
