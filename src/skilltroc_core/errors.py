"""Every way a command can be refused.

One root, :class:`SkilltrocError`. Each subclass has a stable ``code`` that hosts and
scenario files match on, the rule ID it enforces (``rule``; a raise may name a more
precise rule than the class default) and a message a person understands, with the
numbers involved. A command that raises changes nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExistsError",
    "ConcurrencyError",
    "ConfigurationError",
    "DeadlinePassedError",
    "FloorBreachError",
    "HoldAlreadyEndedError",
    "IdempotencyConflictError",
    "InsufficientStarsError",
    "InvalidAmountError",
    "InvalidInputError",
    "InvariantViolationError",
    "NaiveDatetimeError",
    "NotAllowedError",
    "NotFoundError",
    "SchemaTooNewError",
    "SkilltrocError",
    "StateConflictError",
    "StoreError",
    "TimeWentBackwardsError",
    "UnknownAccountError",
    "UnknownHoldError",
]


class SkilltrocError(Exception):
    """Root of every error the library raises on purpose.

    ``code`` is stable across versions; ``rule`` is the RULES.md ID the refusal enforces
    (``None`` for platform requirements that no rule numbers, such as aware datetimes);
    ``facts`` carries the values a host may want to show (amounts, ids, instants).
    """

    code: ClassVar[str] = "skilltroc_error"
    default_rule: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, rule: str | None = None, **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule if rule is not None else self.default_rule
        self.facts: dict[str, Any] = facts

    def __str__(self) -> str:
        where = f" [{self.rule}]" if self.rule else ""
        return f"{self.message} ({self.code}{where})"


class InvalidInputError(SkilltrocError):
    """A value of the right type but out of its allowed range or shape."""

    code = "invalid_input"


class InvalidAmountError(InvalidInputError):
    """Stars are whole numbers greater than zero in every movement (STAR-4)."""

    code = "invalid_amount"
    default_rule = "STAR-4"


class NaiveDatetimeError(InvalidInputError):
    """Every instant must carry its time zone (RULES.md, Time)."""

    code = "naive_datetime"


class TimeWentBackwardsError(InvalidInputError):
    """The clock went backwards: it shows an instant earlier than the last one used, by
    more than ``Policy.clock_tolerance`` for the service (a manual clock or a scenario
    asked to go back). Recorded instants never go backwards: statements stay in order
    and a session never ends before it starts (STAR-5). The command changed nothing; it
    works again once the clock has caught up (or is set right)."""

    code = "time_went_backwards"
    default_rule = "STAR-5"


class NotFoundError(SkilltrocError):
    """An id that names nothing the library knows."""

    code = "not_found"


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


class NotAllowedError(SkilltrocError):
    """The acting member may not do this (wrong actor, deactivated account, ...)."""

    code = "not_allowed"


class StateConflictError(SkilltrocError):
    """The thing is not in a state that allows this command."""

    code = "state_conflict"


class DeadlinePassedError(StateConflictError):
    """The command came at or after the deadline that closed it."""

    code = "deadline_passed"


class InsufficientStarsError(SkilltrocError):
    """The member does not have enough available stars (STAR-4)."""

    code = "insufficient_stars"
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
    retryable = True

    def __init__(self, message: str, *, rule: str | None = None,
                 nothing_written: bool = True, **facts: Any) -> None:
        super().__init__(message, rule=rule, **facts)
        self.nothing_written = nothing_written


class StoreError(SkilltrocError):
    """The store cannot be used: not a database, another program's, or unreachable."""

    code = "store_error"


class ConfigurationError(SkilltrocError):
    """The host configured the service wrongly (e.g. no secret key for a store that keeps
    its data): raised when the service is built or first needs the setting."""

    code = "configuration"


class SchemaTooNewError(StoreError):
    """The store was written by a newer version of the library."""

    code = "schema_too_new"


class InvariantViolationError(SkilltrocError):
    """A ledger invariant does not hold: a bug, never a user mistake (STAR-6)."""

    code = "invariant_violated"
    default_rule = "STAR-6"
