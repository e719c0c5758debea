"""Idempotency keys: what a key did the first time, and the one check a retry meets.

The ledger (money-moving calls given a key) and the service (commands given a host's
key, a payment reference, a page-view id...) keep, for each key, what it did first: the
operation, a fingerprint of its arguments, and its result (a transfer number, an id).
Both answer a call with a used key by :func:`first_result`: the same call gets the first
result and moves nothing; another call is refused with an
:class:`~skilltroc_core.errors.IdempotencyConflictError` that names only this call (what
the key did first may be someone else's). Where the records live differs for a reason:
the ledger's are in its book, written in the same unit as the stars they guard, and kept
for good; the service's are entities, which a replay window may forget.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from .refusals import refusal

__all__ = ["IdempotencyRecord", "Remembered", "first_result"]


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """What a key did the first time: the operation, its arguments, its result's id."""

    key: str
    operation: str
    fingerprint: str
    result: str


class Remembered(Protocol):
    """A record of what a key did first, wherever it is kept."""

    @property
    def operation(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def result(self) -> str: ...


def first_result(record: Remembered | None, key: str, operation: str, fingerprint: str, *,
                 also: tuple[str, ...] = (), call: str | None = None,
                 rule: str | None = None) -> str | None:
    """The first result of ``key`` if ``record`` (what the key did, None if never used)
    was the same call; None when the key is new.

    The same call is the same ``operation`` with the same ``fingerprint`` of its
    arguments (or one of ``also``: the same call fingerprinted under an older secret).
    ``call`` is what a refusal shows of this call when the fingerprint holds a hash;
    ``key`` is shown as the caller gave it.
    """
    if record is None:
        return None
    if record.operation != operation or (
            record.fingerprint != fingerprint and record.fingerprint not in also):
        raise refusal("idempotency_key_reused", rule=rule, key=key,
                      call=f"{operation}({fingerprint if call is None else call})")
    return record.result
