"""Every way a command can be refused.

One root, :class:`SkilltrocError`. Each subclass has a stable ``code`` that hosts and
scenario files match on and an ``http_status`` a web host may answer with. Each refusal
the library gives is one entry of :mod:`skilltroc_core.refusals` (its ``reason``): it names
the rule the refusal enforces (``rule``), and its message, in English or French, is
rendered from its templates and the values in ``facts``. A command that raises changes
nothing. docs/errors.md lists every code, its refusals and their messages.
"""

from __future__ import annotations

import gettext
from typing import Any, ClassVar

__all__ = [
    "AccountDeactivatedError",
    "AccountNotConfirmedError",
    "AccountPurgedError",
    "AlreadyExistsError",
    "CampaignBudgetError",
    "CampaignLockedError",
    "CampaignNotDeletableError",
    "ConcurrencyError",
    "ConfigurationError",
    "DeadlinePassedError",
    "FloorBreachError",
    "HoldAlreadyEndedError",
    "IdempotencyConflictError",
    "IncompleteProfileError",
    "InsufficientStarsError",
    "InvalidAmountError",
    "InvalidEmailError",
    "InvalidInputError",
    "InvalidLinkError",
    "InvalidTokenError",
    "InvalidVideoError",
    "InvariantViolationError",
    "NaiveDatetimeError",
    "NoTargetDomainError",
    "NotAllowedError",
    "NotFoundError",
    "ProfessionalsOnlyError",
    "ProviderAccountError",
    "RightsNotAttestedError",
    "ScenarioFormatError",
    "SchemaTooNewError",
    "SkilltrocError",
    "StartInPastError",
    "StateConflictError",
    "StoreError",
    "TimeWentBackwardsError",
    "UnknownAccountError",
    "UnknownHoldError",
    "VisualNotRightsFreeError",
    "WrongPasswordError",
]


class SkilltrocError(Exception):
    """Root of every error the library raises on purpose.

    ``code`` is stable across versions; ``reason`` names the refusal in
    :mod:`skilltroc_core.refusals` (``None`` for an error a host made itself); ``rule``
    is the rule ID the refusal enforces (``None`` for platform requirements that no rule
    numbers, such as aware datetimes); ``facts`` carries the values the message is built
    from (amounts, limits, ids, states, instants), for a host to show its own way;
    ``message`` is the English text, :meth:`message_in` the text in another language.
    """

    code: ClassVar[str] = "skilltroc_error"
    #: what a web host may answer with (docs/errors.md lists them)
    http_status: ClassVar[int] = 400
    default_rule: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, rule: str | None = None, reason: str | None = None,
                 **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.rule = rule if rule is not None else self.default_rule
        self.facts: dict[str, Any] = facts

    def message_in(self, language: str,
                   translations: gettext.NullTranslations | None = None) -> str:
        """The message in ``language`` ("en" or "fr", see ``refusals.LANGUAGES``).

        A host with its own translations passes them as gettext ``translations``
        (message context = the refusal's ``reason``, message id = its English
        template): a template they lack falls back to the built-in text. An error a
        host made itself (no ``reason``) and a language the library lacks give the
        English message.
        """
        if self.reason is None:
            return self.message
        # the catalogue imports this module: read it when a message is asked for
        from skilltroc_core.refusals import render  # noqa: PLC0415

        return render(self.reason, self.facts, language, translations)

    def __str__(self) -> str:
        where = f" [{self.rule}]" if self.rule else ""
        return f"{self.message} ({self.code}{where})"


class InvalidInputError(SkilltrocError):
    """A value of the right type but out of its allowed range or shape."""

    code = "invalid_input"
    http_status = 422


class InvalidAmountError(InvalidInputError):
    """Stars are whole numbers greater than zero in every movement (STAR-4)."""

    code = "invalid_amount"
    default_rule = "STAR-4"


class NaiveDatetimeError(InvalidInputError):
    """Every instant must carry its time zone: a platform requirement no rule numbers."""

    code = "naive_datetime"


class TimeWentBackwardsError(InvalidInputError):
    """The clock went backwards: it shows an instant earlier than the last one used, by
    more than ``Policy.clock_tolerance`` for the service (a manual clock or a scenario
    asked to go back). Recorded instants never go backwards: statements stay in order
    and a session never ends before it starts (STAR-5). The command changed nothing; it
    works again once the clock has caught up (or is set right)."""

    code = "time_went_backwards"
    http_status = 503
    default_rule = "STAR-5"


class NotFoundError(SkilltrocError):
    """An id that names nothing the library knows."""

    code = "not_found"
    http_status = 404


class UnknownAccountError(NotFoundError):
    """No ledger account has this id."""

    code = "unknown_account"
    default_rule = "STAR-6"


class UnknownHoldError(NotFoundError):
    """No hold has this id."""

    code = "unknown_hold"
    default_rule = "REFUND-5"


class AlreadyExistsError(SkilltrocError):
    """Something was created twice under the same id or unique key."""

    code = "already_exists"
    http_status = 409


class NotAllowedError(SkilltrocError):
    """The acting member may not do this (wrong actor, deactivated account, ...)."""

    code = "not_allowed"
    http_status = 403


class StateConflictError(SkilltrocError):
    """The thing is not in a state that allows this command."""

    code = "state_conflict"
    http_status = 409


class DeadlinePassedError(StateConflictError):
    """The command came at or after the deadline that closed it."""

    code = "deadline_passed"


class InsufficientStarsError(SkilltrocError):
    """The member does not have enough available stars (STAR-4)."""

    code = "insufficient_stars"
    http_status = 409
    default_rule = "STAR-4"


class FloorBreachError(InsufficientStarsError):
    """The movement would leave the wallet below a required floor (GIFT-1)."""

    code = "floor_breach"
    default_rule = "GIFT-1"


class HoldAlreadyEndedError(StateConflictError):
    """A hold ends exactly once, by post or by void (REFUND-5)."""

    code = "hold_already_ended"
    default_rule = "REFUND-5"


class IdempotencyConflictError(SkilltrocError):
    """An idempotency key was reused with other arguments (STAR-2)."""

    code = "idempotency_conflict"
    http_status = 422
    default_rule = "STAR-2"


class ConcurrencyError(SkilltrocError):
    """Another writer won a race and retries ran out; the command may be sent again.

    ``nothing_written`` says whether the store knows that nothing of the unit of work
    was written (a conflict, a deadlock, a connection lost before the commit): the
    service then runs the whole command again by itself. When it is False (the
    connection was lost during the commit itself) the command may have been applied:
    the host retries it with the same idempotency key or payment reference.
    """

    code = "concurrency_conflict"
    http_status = 503
    retryable = True

    def __init__(self, message: str, *, rule: str | None = None, reason: str | None = None,
                 nothing_written: bool = True, **facts: Any) -> None:
        super().__init__(message, rule=rule, reason=reason, **facts)
        self.nothing_written = nothing_written


class StoreError(SkilltrocError):
    """The store cannot be used: not a database, another program's, or unreachable."""

    code = "store_error"
    http_status = 503


class ConfigurationError(SkilltrocError):
    """The host configured the service wrongly (e.g. no secret key for a store that keeps
    its data): raised when the service is built or first needs the setting."""

    code = "configuration"
    http_status = 500


class SchemaTooNewError(StoreError):
    """The store was written by a newer version of the library."""

    code = "schema_too_new"
    http_status = 500


class InvariantViolationError(SkilltrocError):
    """A ledger invariant does not hold: a bug, never a user mistake (STAR-6)."""

    code = "invariant_violated"
    http_status = 500
    default_rule = "STAR-6"


# Accounts and profiles (ACC, PROF) -----------------------------------------------------


class InvalidEmailError(InvalidInputError):
    """Not an email address (syntax only: no network check)."""

    code = "invalid_email"
    default_rule = "ACC-6"


class IncompleteProfileError(NotAllowedError):
    """A professional must complete their profile first (PROF-6)."""

    code = "profile_incomplete"
    default_rule = "PROF-6"


class AccountNotConfirmedError(NotAllowedError):
    """An account acts only once its email address is confirmed (ACC-1)."""

    code = "account_not_confirmed"
    default_rule = "ACC-1"


class AccountDeactivatedError(NotAllowedError):
    """A deactivated account cannot act until it is reactivated (ACC-7)."""

    code = "account_deactivated"
    default_rule = "ACC-7"


class AccountPurgedError(NotAllowedError):
    """The account was deleted for good, 15 days after its deactivation (ACC-7)."""

    code = "account_purged"
    default_rule = "ACC-7"


# Passwords and links (ACC-1, ACC-4, ACC-5) ---------------------------------------------


class InvalidTokenError(NotAllowedError):
    """A confirmation or reset link that is wrong, used, or expired."""

    code = "invalid_token"


class ProviderAccountError(NotAllowedError):
    """The account signs in through Google or Facebook and has no password (ACC-4)."""

    code = "provider_account"
    default_rule = "ACC-4"


class WrongPasswordError(NotAllowedError):
    """The email address or the password is wrong (ACC-4, ACC-5): which one is never said."""

    code = "wrong_password"
    http_status = 401
    default_rule = "ACC-5"


# Tutorials (TUTO) ----------------------------------------------------------------------


class InvalidVideoError(InvalidInputError):
    """Not a YouTube video link (or an empty upload reference) (TUTO-1)."""

    code = "invalid_video"
    default_rule = "TUTO-1"


class RightsNotAttestedError(NotAllowedError):
    """Publishing needs the publisher's attestation that they hold the rights (TUTO-5)."""

    code = "rights_not_attested"
    default_rule = "TUTO-5"


# Ad campaigns (AD) ---------------------------------------------------------------------


class ProfessionalsOnlyError(NotAllowedError):
    """Only professionals launch ad campaigns (AD-1)."""

    code = "professionals_only"
    default_rule = "AD-1"


class CampaignBudgetError(InvalidAmountError):
    """A campaign budget is a whole number of stars, at least the minimum (AD-2)."""

    code = "invalid_campaign_budget"
    default_rule = "AD-2"


class VisualNotRightsFreeError(NotAllowedError):
    """The owner must attest the visual is rights-free (AD-3)."""

    code = "visual_not_rights_free"
    default_rule = "AD-3"


class InvalidLinkError(InvalidInputError):
    """A campaign's link is an http or https address (AD-3)."""

    code = "invalid_link"
    default_rule = "AD-3"


class StartInPastError(InvalidInputError):
    """A campaign cannot start in the past (AD-3)."""

    code = "start_in_past"
    default_rule = "AD-3"


class NoTargetDomainError(InvalidInputError):
    """A campaign targets one or more skill domains (AD-3)."""

    code = "no_target_domain"
    default_rule = "AD-3"


class CampaignLockedError(StateConflictError):
    """From its start a campaign's budget, start and domains cannot change (AD-5)."""

    code = "campaign_field_locked"
    default_rule = "AD-5"


class CampaignNotDeletableError(NotAllowedError):
    """A campaign can never be deleted (AD-6)."""

    code = "campaign_not_deletable"
    default_rule = "AD-6"


# Tools -----------------------------------------------------------------------------------


class ScenarioFormatError(SkilltrocError):
    """A scenario file is itself wrong (see docs/scenario-format.md): it does not run at
    all."""

    code = "scenario_malformed"
    http_status = 400
