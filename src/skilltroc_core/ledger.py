"""The star ledger: double entry, integer amounts, two-phase holds (STAR-4..6).

Stars live in accounts: one wallet per member and four platform accounts. Every
movement is an immutable :class:`Transfer` that debits one account and credits another
by the same whole amount, so the balances of all accounts always sum to zero and stars
are never created or lost except by an explicit issuance (the issuance account goes
negative by what it issued) or an ad spend.

    issuance  --signup/purchase/referral/tutorial-->  wallet
    wallet    --hold-->  holds  --post--> organizer's wallet   (or --void--> back)
    wallet    --gift-->  gift escrow  --accept-->  recipient's wallet
    wallet    --ad budget-->  ad spend  (--budget decrease--> back)
    wallet    --purge-->  issuance

A hold (TigerBeetle's pending transfer) takes stars out of a member's available balance
and ends exactly once: posted to a payee or voided back, each void with its reason.
Money-moving calls accept an idempotency key: a retry with the same key and the same
arguments returns the first result and moves nothing; other arguments are refused.

The module is pure: the instant of every movement comes in as an argument, and the
state lives behind the :class:`LedgerBook` port (:class:`MemoryBook` here; the stores
provide transactional ones). Every operation validates fully before it writes, so a
refused operation leaves the book exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, NoReturn, Protocol

import attrs

from .idempotency import IdempotencyRecord, first_result
from .instants import require_aware
from .refusals import refusal, shown, shown_id

__all__ = [
    "AD_SPEND",
    "GIFT_ESCROW",
    "HOLDS",
    "INVARIANT_RULES",
    "ISSUANCE",
    "MAX_STARS",
    "SYSTEM_ACCOUNTS",
    "Balance",
    "Hold",
    "HoldState",
    "IdempotencyRecord",
    "Invariant",
    "Ledger",
    "LedgerBook",
    "MemoryBook",
    "StatementLine",
    "StatementPage",
    "SupplyReport",
    "Transfer",
    "TransferKind",
    "VoidReason",
    "at_most_max_stars",
    "check_invariants",
]

ISSUANCE = "platform:issuance"
AD_SPEND = "platform:ad_spend"
GIFT_ESCROW = "platform:gift_escrow"
HOLDS = "platform:holds"
SYSTEM_ACCOUNTS = (ISSUANCE, AD_SPEND, GIFT_ESCROW, HOLDS)
_WALLET = "wallet"


class TransferKind(StrEnum):
    """Why stars moved. Each kind has exactly one route (see ``ROUTES``)."""

    SIGNUP_BONUS = "signup_bonus"
    PURCHASE = "purchase"
    REFERRAL_REWARD = "referral_reward"
    TUTORIAL_PAYOUT = "tutorial_payout"
    HOLD = "hold"
    HOLD_POSTED = "hold_posted"
    HOLD_VOIDED = "hold_voided"
    GIFT_SENT = "gift_sent"
    GIFT_ACCEPTED = "gift_accepted"
    GIFT_EXPIRED = "gift_expired"
    AD_BUDGET = "ad_budget"
    AD_BUDGET_REFUND = "ad_budget_refund"
    ACCOUNT_PURGED = "account_purged"


#: kind -> (debited account, credited account); "wallet" stands for any member wallet.
ROUTES: Mapping[TransferKind, tuple[str, str]] = {
    TransferKind.SIGNUP_BONUS: (ISSUANCE, _WALLET),
    TransferKind.PURCHASE: (ISSUANCE, _WALLET),
    TransferKind.REFERRAL_REWARD: (ISSUANCE, _WALLET),
    TransferKind.TUTORIAL_PAYOUT: (ISSUANCE, _WALLET),
    TransferKind.HOLD: (_WALLET, HOLDS),
    TransferKind.HOLD_POSTED: (HOLDS, _WALLET),
    TransferKind.HOLD_VOIDED: (HOLDS, _WALLET),
    TransferKind.GIFT_SENT: (_WALLET, GIFT_ESCROW),
    TransferKind.GIFT_ACCEPTED: (GIFT_ESCROW, _WALLET),
    TransferKind.GIFT_EXPIRED: (GIFT_ESCROW, ISSUANCE),
    TransferKind.AD_BUDGET: (_WALLET, AD_SPEND),
    TransferKind.AD_BUDGET_REFUND: (AD_SPEND, _WALLET),
    TransferKind.ACCOUNT_PURGED: (_WALLET, ISSUANCE),
}
_HOLD_KINDS = frozenset({TransferKind.HOLD, TransferKind.HOLD_POSTED, TransferKind.HOLD_VOIDED})
ISSUING_KINDS = frozenset(k for k, (debit, _) in ROUTES.items() if debit == ISSUANCE)
RETURNING_KINDS = frozenset(k for k, (_, credit) in ROUTES.items() if credit == ISSUANCE)


#: kind -> (supply counter, sign): what check_invariants and supply() add up.
_COUNTERS: Mapping[TransferKind, tuple[str, int]] = {
    **{kind: (f"issued:{kind}", 1) for kind in ISSUING_KINDS},
    **{kind: (f"returned:{kind}", 1) for kind in RETURNING_KINDS},
    TransferKind.AD_BUDGET: ("ad_spent", 1),
    TransferKind.AD_BUDGET_REFUND: ("ad_spent", -1),
}


class VoidReason(StrEnum):
    """Why held stars went back to the member (the refund matrix, REFUND-1..3)."""

    REFUSED = "refused"
    CANCELLED_BY_MEMBER = "cancelled_by_member"
    UNREGISTERED = "unregistered"
    LEFT_WAITLIST = "left_waitlist"
    EXPIRED = "expired"
    WAITLIST_EXPIRED = "waitlist_expired"
    SESSION_MOVED = "session_moved"
    SESSION_CANCELLED = "session_cancelled"
    TRANSACTION_CANCELLED = "transaction_cancelled"
    NOT_HELD = "not_held"
    ORGANIZER_SILENT = "organizer_silent"
    WORKSHOP_DELETED = "workshop_deleted"
    ACCOUNT_PURGED = "account_purged"


class HoldState(StrEnum):
    OPEN = "open"
    POSTED = "posted"
    VOIDED = "voided"


class Balance(NamedTuple):
    """A wallet's stars: ``available`` to spend now, ``held`` in open holds.

    For a platform account ``available`` is its signed balance and ``held`` is 0.
    """

    available: int
    held: int


class Transfer(NamedTuple):
    """One immutable movement: ``amount`` stars from ``debit`` to ``credit``.

    Transfers, holds and statement lines are named tuples rather than attrs classes:
    one is built on every star movement and a named tuple is several times cheaper to
    build, while just as immutable.
    """

    seq: int
    debit: str
    credit: str
    amount: int
    kind: TransferKind
    reference: str
    at: datetime
    hold_id: str | None = None
    reason: VoidReason | None = None


class Hold(NamedTuple):
    """Stars taken from a member's available balance until they are posted or voided."""

    id: str
    member: str
    amount: int
    reference: str
    opened_at: datetime
    state: HoldState = HoldState.OPEN
    payee: str | None = None
    ended_at: datetime | None = None
    void_reason: VoidReason | None = None

    @property
    def is_open(self) -> bool:
        return self.state is HoldState.OPEN


class StatementLine(NamedTuple):
    """One line of a member's statement (STAR-5).

    ``amount`` is the signed change of the available balance, ``held_change`` that of
    the held stars (a hold is ``-6`` / ``+6``; its post ``0`` / ``-6``; its void ``+6``
    / ``-6``); ``balance`` and ``held`` are the running totals after the line.
    """

    member: str
    transfer_seq: int
    at: datetime
    kind: TransferKind
    amount: int
    held_change: int
    balance: int
    held: int
    reference: str
    counterpart: str


@attrs.frozen(kw_only=True)
class StatementPage:
    lines: tuple[StatementLine, ...]
    total: int
    next_offset: int | None


@attrs.frozen(kw_only=True)
class SupplyReport:
    """Where every star is: issued by source, returned, spent on ads, and sitting where.

    ``supply`` (= ``in_wallets + held + in_gift_escrow``) always equals
    ``issued - returned - ad_spent``.
    """

    issued_by_kind: Mapping[str, int]
    returned_by_kind: Mapping[str, int]
    ad_spent: int
    in_wallets: int
    held: int
    in_gift_escrow: int

    @property
    def issued(self) -> int:
        return sum(self.issued_by_kind.values())

    @property
    def returned(self) -> int:
        return sum(self.returned_by_kind.values())

    @property
    def supply(self) -> int:
        return self.in_wallets + self.held + self.in_gift_escrow


class LedgerBook(Protocol):
    """Where a ledger keeps its state: the storage port of :class:`Ledger`.

    Stores implement it inside their unit of work. Reads return ``None`` for unknown
    keys; writes replace. ``all_*`` scans serve :func:`check_invariants` only.

    Wallets keep their balance as written by the ledger. A platform account (the
    ``platform:`` ones, shared by every member) is never written as a balance: the book
    moves it by each transfer's amount itself, so that a store may keep it as several
    partial sums that concurrent commands add to without waiting for each other.
    """

    def balance(self, account: str) -> Balance | None: ...
    def set_balance(self, account: str, balance: Balance) -> None:
        """Write a wallet's balance (a platform account's is refused)."""
        ...

    def next_seq(self) -> int:
        """The number of the next transfer (each call takes a new one)."""
        ...

    def record(
        self,
        transfer: Transfer,
        balances: Sequence[tuple[str, Balance]],
        lines: Sequence[StatementLine],
        hold: Hold | None,
    ) -> None:
        """Write one movement: the transfer, the new balances of the wallets it moves,
        their statement lines and the hold; move the platform accounts it names by its
        amount."""
        ...

    def transfer(self, seq: int) -> Transfer | None: ...
    def line_count(self, member: str) -> int: ...
    def lines(self, member: str, offset: int, limit: int) -> list[StatementLine]: ...
    def hold(self, hold_id: str) -> Hold | None: ...
    def idempotency(self, key: str) -> IdempotencyRecord | None: ...
    def set_idempotency(self, record: IdempotencyRecord) -> None: ...
    def add_to_counter(self, name: str, delta: int) -> None: ...
    def counters(self) -> Mapping[str, int]: ...
    def all_balances(self) -> Iterable[tuple[str, Balance]]: ...
    def all_holds(self) -> Iterable[Hold]: ...
    def all_transfers(self) -> Iterable[Transfer]: ...


class MemoryBook:
    """A :class:`LedgerBook` in plain dicts and lists (no transactions)."""

    def __init__(self) -> None:
        self.balances: dict[str, Balance] = {}
        self.transfers: list[Transfer] = []
        self.statement: dict[str, list[StatementLine]] = {}
        self.holds: dict[str, Hold] = {}
        self.keys: dict[str, IdempotencyRecord] = {}
        self.totals: dict[str, int] = {}

    def balance(self, account: str) -> Balance | None:
        return self.balances.get(account)

    def set_balance(self, account: str, balance: Balance) -> None:
        if account.startswith(PLATFORM):
            refuse_platform_balance(account)
        self.balances[account] = balance

    def next_seq(self) -> int:
        return len(self.transfers) + 1

    def record(
        self,
        transfer: Transfer,
        balances: Sequence[tuple[str, Balance]],
        lines: Sequence[StatementLine],
        hold: Hold | None,
    ) -> None:
        self.transfers.append(transfer)
        for account, balance in balances:
            self.balances[account] = balance
        debit, credit, amount = transfer.debit, transfer.credit, transfer.amount
        if debit.startswith(PLATFORM):  # moved by the amount (see LedgerBook)
            was = self.balances.get(debit, _ZERO)
            self.balances[debit] = _new(Balance, (was.available - amount, 0))
        if credit.startswith(PLATFORM):
            was = self.balances.get(credit, _ZERO)
            self.balances[credit] = _new(Balance, (was.available + amount, 0))
        for line in lines:
            found = self.statement.get(line.member)
            if found is None:
                self.statement[line.member] = [line]
            else:
                found.append(line)
        if hold is not None:
            self.holds[hold.id] = hold

    def transfer(self, seq: int) -> Transfer | None:
        return self.transfers[seq - 1] if 0 < seq <= len(self.transfers) else None

    def line_count(self, member: str) -> int:
        lines = self.statement.get(member)
        return len(lines) if lines else 0

    def lines(self, member: str, offset: int, limit: int) -> list[StatementLine]:
        return self.statement.get(member, [])[offset : offset + limit]

    def hold(self, hold_id: str) -> Hold | None:
        return self.holds.get(hold_id)

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        return self.keys.get(key)

    def set_idempotency(self, record: IdempotencyRecord) -> None:
        self.keys[record.key] = record

    def add_to_counter(self, name: str, delta: int) -> None:
        self.totals[name] = self.totals.get(name, 0) + delta

    def counters(self) -> Mapping[str, int]:
        return dict(self.totals)

    def all_balances(self) -> Iterable[tuple[str, Balance]]:
        return self.balances.items()

    def all_holds(self) -> Iterable[Hold]:
        return self.holds.values()

    def all_transfers(self) -> Iterable[Transfer]:
        return iter(self.transfers)

    def contents(self) -> dict[str, tuple[tuple[str, object], ...]]:
        """Everything the book holds (see :class:`~skilltroc_core.ports.Inspectable`):
        transfers in order, each member's statement lines in order (``member/index``),
        the rest by key.
        The records are immutable: nothing needs a deep copy."""
        return {
            "balances": entries_by_key(self.balances),
            "transfers": tuple((str(transfer.seq), transfer) for transfer in self.transfers),
            "statement": tuple((f"{member}/{index}", line)
                               for member, lines in sorted(self.statement.items())
                               for index, line in enumerate(lines)),
            "holds": entries_by_key(self.holds),
            "ledger keys": entries_by_key(self.keys),
            "ledger totals": entries_by_key(self.totals),
        }


def entries_by_key(table: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    """The entries of ``table`` sorted by key (a section of :meth:`MemoryBook.contents`)."""
    return tuple(sorted(table.items(), key=lambda entry: entry[0]))


_ZERO = Balance(0, 0)
# ``tuple.__new__(NamedTupleClass, values)`` is what a named tuple's own constructor does,
# without its Python-level ``__new__``: the hot paths below build records with it. Kept:
# with the constructors a hold+post takes 34% more instructions (bench ledger; a booking
# lifecycle 3%), 2026-12.
_new = tuple.__new__
_HOLD = TransferKind.HOLD
_POSTED = TransferKind.HOLD_POSTED
_VOIDED = TransferKind.HOLD_VOIDED
_OPEN_STATE = HoldState.OPEN
_POSTED_STATE = HoldState.POSTED
_VOIDED_STATE = HoldState.VOIDED


def _line(
    member: str, transfer: Transfer, amount: int, held_change: int, after: Balance,
    counterpart: str,
) -> StatementLine:
    return _new(
        StatementLine,
        (
            member, transfer.seq, transfer.at, transfer.kind, amount, held_change,
            after.available, after.held, transfer.reference, counterpart,
        ),
    )


PLATFORM = "platform:"


def refuse_platform_balance(account: str) -> NoReturn:
    raise refusal("platform_account_balance", account=account)


def refuse_debit(
    who: str, available: int, amount: int, floor: int = 0, *, rule: str | None = None,
    **facts: object,
) -> NoReturn:
    """Raise the error for ``amount`` stars that cannot leave ``who``'s ``available`` ones.

    With a ``floor`` the wallet must keep at least that many (:class:`FloorBreachError`,
    GIFT-1); otherwise it is :class:`InsufficientStarsError` (STAR-4).
    """
    if floor:
        raise refusal("floor_breach", rule=rule, member=who, available=available,
                      amount=amount, floor=floor, spendable=max(available - floor, 0))
    raise refusal("insufficient_stars", rule=rule, member=who, available=available,
                  amount=amount)


#: The largest amount one movement may carry (DECISION, STAR-4): SQL stores keep stars
#: as 64-bit integers, and a trillion per movement leaves every sum far from their limit.
#: Every money-moving call refuses more, in the ledger and at each service command.
MAX_STARS = 10**12


def _stars(amount: object) -> int:
    if type(amount) is not int or amount <= 0:
        raise refusal("amount_not_whole", got=shown(amount))
    return at_most_max_stars(amount)


def at_most_max_stars(stars: int) -> int:
    """``stars``, unless it is above :data:`MAX_STARS` (refused, STAR-4): what a service
    command checks before anything else, for the amount it will move."""
    if stars > MAX_STARS:
        raise refusal("amount_too_large", amount=stars, maximum=MAX_STARS)
    return stars


def _text(value: object, what: str) -> str:
    if type(value) is not str or not value:
        raise refusal("ledger_text_missing", field=what, got=shown(value))
    return value


class Ledger:
    """Operations on stars over a :class:`LedgerBook` (a fresh :class:`MemoryBook` by default)."""

    def __init__(self, book: LedgerBook | None = None) -> None:
        self.book: LedgerBook = book if book is not None else MemoryBook()

    # ------------------------------------------------------------------ accounts
    def open_wallet(self, member: str) -> None:
        """Create ``member``'s wallet with zero stars."""
        _text(member, "member id")
        if member.startswith("platform:"):
            raise refusal("platform_member_id", member=member)
        if self.book.balance(member) is not None:
            raise refusal("wallet_exists", member=member)
        self.book.set_balance(member, _ZERO)

    def has_wallet(self, member: str) -> bool:
        return not member.startswith("platform:") and self.book.balance(member) is not None

    def balance(self, account: str) -> Balance:
        """Available and held stars of a wallet, or the signed balance of a platform account."""
        found = self.book.balance(account)
        if found is None:
            if account in SYSTEM_ACCOUNTS:
                return _ZERO
            raise refusal("unknown_account", account=account)
        return found

    def available(self, member: str) -> int:
        return self.balance(member).available

    def held(self, member: str) -> int:
        return self.balance(member).held

    # ------------------------------------------------------------------ idempotency
    def _replay(self, key: str | None, operation: str, fingerprint: str) -> str | None:
        """The first result of ``key`` for this call (see :mod:`skilltroc_core.idempotency`)."""
        if key is None:
            return None
        return first_result(self.book.idempotency(key), key, operation, fingerprint)

    def _remember(self, key: str | None, operation: str, fingerprint: str, result: str) -> None:
        if key is not None:
            self.book.set_idempotency(
                IdempotencyRecord(
                    key=key, operation=operation, fingerprint=fingerprint, result=result
                )
            )

    def get_transfer(self, seq: int) -> Transfer:
        """The transfer with sequence number ``seq``."""
        found = self.book.transfer(seq) if type(seq) is int else None
        if found is None:
            raise refusal("unknown_transfer", seq=shown(seq))
        return found

    def _replayed_transfer(self, seq: str) -> Transfer:
        found = self.book.transfer(int(seq))
        if found is None:  # pragma: no cover - a book that lost a transfer is corrupt
            raise refusal("replayed_record_missing", what="transfer", id=seq)
        return found

    # ------------------------------------------------------------------ transfers
    def transfer(
        self,
        kind: TransferKind,
        debit: str,
        credit: str,
        amount: int,
        *,
        reference: str,
        at: datetime,
        keep_at_least: int = 0,
        key: str | None = None,
    ) -> Transfer:
        """Move ``amount`` stars along the route of ``kind``.

        ``keep_at_least`` refuses the transfer if the debited wallet would keep fewer
        stars (the gift floor, GIFT-1). Holds have their own methods.
        """
        route = ROUTES.get(kind)
        if route is None or kind in _HOLD_KINDS:
            raise refusal("transfer_kind_is_hold", kind=str(kind))
        if type(amount) is not int or not 0 < amount <= MAX_STARS:
            _stars(amount)
        at = require_aware(at)
        if type(reference) is not str or not reference:
            _text(reference, "reference")
        if type(keep_at_least) is not int or keep_at_least < 0:
            raise refusal("keep_at_least_invalid", got=shown(keep_at_least))
        route_debit, route_credit = route
        if route_debit not in (_WALLET, debit):
            raise refusal("transfer_wrong_debit", kind=str(kind), account=route_debit)
        if route_credit not in (_WALLET, credit):
            raise refusal("transfer_wrong_credit", kind=str(kind), account=route_credit)
        fingerprint = ""
        if key is not None:
            # repr of a tuple, not a comma join: ids and references may hold commas themselves.
            fingerprint = repr((str(kind), debit, credit, amount, reference, keep_at_least))
            replayed = self._replay(key, "transfer", fingerprint)
            if replayed is not None:
                return self._replayed_transfer(replayed)

        book = self.book
        # a platform account is not read: the book moves it by the amount (see LedgerBook)
        debit_balance = self._account_for(debit, _WALLET) if route_debit is _WALLET else None
        credit_balance = (self._account_for(credit, _WALLET) if route_credit is _WALLET
                          else None)
        if debit_balance is not None and debit_balance.available - keep_at_least < amount:
            refuse_debit(debit, debit_balance.available, amount, keep_at_least, account=debit)
        elif debit_balance is None and debit != ISSUANCE:
            # escrow or ad spend: never below zero (read only to check, not to write)
            funds = (book.balance(debit) or _ZERO).available
            if funds - keep_at_least < amount:
                refuse_debit(debit, funds, amount, keep_at_least, account=debit)

        seq = book.next_seq()
        record = _new(Transfer, (seq, debit, credit, amount, kind, reference, at, None, None))
        lines = []
        wallets = []
        if debit_balance is not None:
            new_debit = _new(Balance, (debit_balance.available - amount, debit_balance.held))
            wallets.append((debit, new_debit))
            lines.append(_line(debit, record, -amount, 0, new_debit, credit))
        if credit_balance is not None:
            new_credit = _new(Balance, (credit_balance.available + amount,
                                        credit_balance.held))
            wallets.append((credit, new_credit))
            lines.append(_line(credit, record, amount, 0, new_credit, debit))
        book.record(record, wallets, lines, None)
        counter = _COUNTERS.get(kind)
        if counter is not None:
            name, sign = counter
            book.add_to_counter(name, sign * amount)
        if key is not None:
            self._remember(key, "transfer", fingerprint, str(seq))
        return record

    def issue(
        self, kind: TransferKind, member: str, amount: int, *, reference: str, at: datetime,
        key: str | None = None,
    ) -> Transfer:
        """Create stars for ``member`` from the platform's issuance account."""
        return self.transfer(kind, ISSUANCE, member, amount, reference=reference, at=at, key=key)

    def _account_for(self, account: str, route_side: str) -> Balance:
        """The balance of the member wallet ``account`` (the only side that is read)."""
        if type(account) is not str or account.startswith("platform:"):
            raise refusal("not_a_wallet", account=account)
        found = self.book.balance(account)
        if found is None:
            raise refusal("unknown_wallet", account=account)
        return found

    # ------------------------------------------------------------------ holds
    def hold(
        self, hold_id: str, member: str, amount: int, *, reference: str, at: datetime,
        key: str | None = None,
    ) -> Hold:
        """Take ``amount`` of ``member``'s available stars into a new open hold."""
        if type(hold_id) is not str or not hold_id:
            _text(hold_id, "hold id")
        if type(amount) is not int or not 0 < amount <= MAX_STARS:
            _stars(amount)
        if type(reference) is not str or not reference:
            _text(reference, "reference")
        at = require_aware(at)
        book = self.book
        fingerprint = ""
        if key is not None:
            fingerprint = repr((hold_id, member, amount, reference))
            replayed = self._replay(key, "hold", fingerprint)
            if replayed is not None:
                found = book.hold(replayed)
                if found is None:  # pragma: no cover - corrupt book
                    raise refusal("replayed_record_missing", what="hold", id=replayed)
                return found
        wallet = book.balance(member)
        if wallet is None or member.startswith("platform:"):
            wallet = self._account_for(member, _WALLET)
        if book.hold(hold_id) is not None:
            raise refusal("hold_exists", hold_id=hold_id)
        if wallet.available < amount:
            refuse_debit(member, wallet.available, amount)

        seq = book.next_seq()
        record = _new(Transfer, (seq, member, HOLDS, amount, _HOLD, reference, at, hold_id, None))
        hold = _new(Hold, (hold_id, member, amount, reference, at, _OPEN_STATE, None, None, None))
        available = wallet.available - amount
        held = wallet.held + amount
        book.record(
            record,
            ((member, _new(Balance, (available, held))),),
            (_new(StatementLine, (member, seq, at, _HOLD, -amount, amount, available, held,
                                  reference, HOLDS)),),
            hold,
        )
        if key is not None:
            self._remember(key, "hold", fingerprint, hold_id)
        return hold

    def get_hold(self, hold_id: str) -> Hold:
        found = self.book.hold(hold_id)
        if found is None:
            raise refusal("unknown_hold", hold_id=shown_id(hold_id))
        return found

    def post(
        self, hold_id: str, payee: str, *, at: datetime, key: str | None = None
    ) -> Transfer:
        """End an open hold by paying all of it to ``payee``'s wallet."""
        at = require_aware(at)
        fingerprint = ""
        if key is not None:
            fingerprint = repr((hold_id, payee))
            replayed = self._replay(key, "post", fingerprint)
            if replayed is not None:
                return self._replayed_transfer(replayed)
        book = self.book
        hold = book.hold(hold_id)
        if hold is None or hold.state is not _OPEN_STATE:
            hold = self._open_hold(hold_id)
        payee_balance = book.balance(payee)
        if payee_balance is None or payee.startswith("platform:"):
            payee_balance = self._account_for(payee, _WALLET)
        if payee == hold.member:
            raise refusal("hold_paid_to_its_member", hold_id=hold_id)
        member, amount, reference = hold.member, hold.amount, hold.reference
        member_balance = book.balance(member) or _ZERO
        seq = book.next_seq()
        record = _new(Transfer, (seq, HOLDS, payee, amount, _POSTED, reference, at, hold_id, None))
        member_available, member_held = member_balance.available, member_balance.held - amount
        payee_available, payee_held = payee_balance.available + amount, payee_balance.held
        book.record(
            record,
            (
                (member, _new(Balance, (member_available, member_held))),
                (payee, _new(Balance, (payee_available, payee_held))),
            ),
            (
                _new(StatementLine, (member, seq, at, _POSTED, 0, -amount, member_available,
                                     member_held, reference, payee)),
                _new(StatementLine, (payee, seq, at, _POSTED, amount, 0, payee_available,
                                     payee_held, reference, member)),
            ),
            _new(Hold, (hold_id, member, amount, reference, hold.opened_at, _POSTED_STATE,
                         payee, at, None)),
        )
        if key is not None:
            self._remember(key, "post", fingerprint, str(record.seq))
        return record

    def void(
        self, hold_id: str, reason: VoidReason, *, at: datetime, key: str | None = None
    ) -> Transfer:
        """End an open hold by giving all of it back to its member, for ``reason``."""
        at = require_aware(at)
        if not isinstance(reason, VoidReason):
            raise refusal("void_reason_unknown", got=shown(reason))
        fingerprint = ""
        if key is not None:
            fingerprint = f"{hold_id},{reason}"
            replayed = self._replay(key, "void", fingerprint)
            if replayed is not None:
                return self._replayed_transfer(replayed)
        hold = self._open_hold(hold_id)
        book = self.book
        amount = hold.amount
        member_balance = book.balance(hold.member) or _ZERO
        record = Transfer(
            book.next_seq(), HOLDS, hold.member, amount, _VOIDED, hold.reference, at,
            hold_id, reason,
        )
        after = Balance(member_balance.available + amount, member_balance.held - amount)
        book.record(
            record,
            ((hold.member, after),),
            (_line(hold.member, record, amount, -amount, after, HOLDS),),
            Hold(
                hold_id, hold.member, amount, hold.reference, hold.opened_at, _VOIDED_STATE,
                None, at, reason,
            ),
        )
        if key is not None:
            self._remember(key, "void", fingerprint, str(record.seq))
        return record

    def _open_hold(self, hold_id: str) -> Hold:
        hold = self.book.hold(hold_id)
        if hold is None:
            raise refusal("unknown_hold", hold_id=shown_id(hold_id))
        if hold.state is not _OPEN_STATE:
            raise refusal("hold_already_ended", hold_id=hold_id, state=str(hold.state))
        return hold

    # ------------------------------------------------------------------ reading
    def statement(
        self, member: str, *, offset: int = 0, limit: int = 50
    ) -> StatementPage:
        """A page of ``member``'s statement, oldest first, with running balances."""
        self._account_for(member, _WALLET)
        if type(offset) is not int or offset < 0 or type(limit) is not int or limit < 1:
            raise refusal("statement_page_invalid", offset=shown(offset), limit=shown(limit))
        total = self.book.line_count(member)
        # Past the end there is nothing to read (and no huge number to bind in SQL).
        lines = tuple(self.book.lines(member, offset, min(limit, total - offset))
                      ) if offset < total else ()
        end = offset + len(lines)
        return StatementPage(lines=lines, total=total, next_offset=end if end < total else None)

    def statement_lines(self, member: str) -> Iterator[StatementLine]:
        """Every statement line of ``member``, page by page."""
        offset: int | None = 0
        while offset is not None:
            page = self.statement(member, offset=offset, limit=500)
            yield from page.lines
            offset = page.next_offset

    def supply(self) -> SupplyReport:
        """Stars by source and by place, read from counters and platform accounts: O(1)."""
        counters = self.book.counters()
        issued = {k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith("issued:")}
        returned = {
            k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith("returned:")
        }
        held = self.balance(HOLDS).available
        escrow = self.balance(GIFT_ESCROW).available
        ads = self.balance(AD_SPEND).available
        issuance = self.balance(ISSUANCE).available
        return SupplyReport(
            issued_by_kind=issued,
            returned_by_kind=returned,
            ad_spent=counters.get("ad_spent", 0),
            in_wallets=-issuance - ads - held - escrow,
            held=held,
            in_gift_escrow=escrow,
        )

    def check_invariants(self, *, deep: bool = False) -> None:
        """Raise :class:`InvariantViolationError` unless every ledger invariant holds."""
        check_invariants(self.book, deep=deep)


class Invariant(StrEnum):
    """The invariants :func:`check_invariants` checks, each keeping one rule
    (:data:`INVARIANT_RULES`); a broken one is named in the error's ``broken`` fact."""

    ACCOUNTS_SUM_TO_ZERO = "accounts_sum_to_zero"
    NO_NEGATIVE_ACCOUNT = "no_negative_account"
    NO_NEGATIVE_HELD = "no_negative_held"
    HOLD_ENDS_ONCE = "hold_ends_once"
    HELD_EQUALS_OPEN_HOLDS = "held_equals_open_holds"
    HOLDS_ACCOUNT_EQUALS_OPEN_HOLDS = "holds_account_equals_open_holds"
    SUPPLY_EQUALS_COUNTERS = "supply_equals_counters"
    AD_SPEND_EQUALS_COUNTER = "ad_spend_equals_counter"
    TRANSFERS_GIVE_BALANCES = "transfers_give_balances"


#: The rule each invariant keeps: stars are never created or lost (STAR-6), no balance
#: is negative (STAR-4), a hold ends exactly once and is counted where it is (REFUND-5).
INVARIANT_RULES: Mapping[Invariant, str] = {
    Invariant.ACCOUNTS_SUM_TO_ZERO: "STAR-6",
    Invariant.NO_NEGATIVE_ACCOUNT: "STAR-4",
    Invariant.NO_NEGATIVE_HELD: "STAR-4",
    Invariant.HOLD_ENDS_ONCE: "REFUND-5",
    Invariant.HELD_EQUALS_OPEN_HOLDS: "REFUND-5",
    Invariant.HOLDS_ACCOUNT_EQUALS_OPEN_HOLDS: "REFUND-5",
    Invariant.SUPPLY_EQUALS_COUNTERS: "STAR-6",
    Invariant.AD_SPEND_EQUALS_COUNTER: "STAR-6",
    Invariant.TRANSFERS_GIVE_BALANCES: "STAR-6",
}


def check_invariants(book: LedgerBook, *, deep: bool = False) -> None:
    """Check the ledger invariants of STAR-4, STAR-6 and REFUND-5 over a whole book.

    - the balances of all accounts sum to zero;
    - no wallet, hold total, escrow or ad-spend account is negative;
    - each member's held stars equal the sum of their open holds, and the holds
      account equals the sum of all open holds; every ended hold has exactly one end;
    - supply (wallets + held + escrow) = issued - returned - spent on ads, where the
      right side comes from counters kept independently of balances;
    - with ``deep``: replaying every transfer from zero gives every balance.

    The error names each broken :class:`Invariant` (``facts["broken"]``, in the order
    above; its ``rule`` is the first one's) and says what it found (``facts["problems"]``).
    Costs O(accounts + holds) (plus O(transfers) with ``deep``).
    """
    problems: list[tuple[Invariant, str]] = []
    total = 0
    wallets = 0
    held_by_member: dict[str, int] = {}
    balances: dict[str, Balance] = {}
    for account, bal in book.all_balances():
        balances[account] = bal
        total += bal.available
        if account != ISSUANCE and bal.available < 0:
            problems.append((Invariant.NO_NEGATIVE_ACCOUNT,
                             f"{account} is negative: {bal.available}"))
        if not account.startswith(PLATFORM):
            wallets += bal.available
            if bal.held < 0:
                problems.append((Invariant.NO_NEGATIVE_HELD,
                                 f"{account} holds a negative amount: {bal.held}"))
    if total != 0:
        problems.append((Invariant.ACCOUNTS_SUM_TO_ZERO, f"accounts sum to {total}, not 0"))

    open_total = 0
    for hold in book.all_holds():
        end = None
        if hold.state is HoldState.OPEN:
            if hold.ended_at is not None or hold.payee is not None or hold.void_reason:
                end = f"open hold {hold.id} carries an end"
            held_by_member[hold.member] = held_by_member.get(hold.member, 0) + hold.amount
            open_total += hold.amount
        elif hold.state is HoldState.POSTED:
            if hold.payee is None or hold.void_reason is not None or hold.ended_at is None:
                end = f"posted hold {hold.id} does not have exactly one end"
        elif hold.payee is not None or hold.void_reason is None or hold.ended_at is None:
            end = f"voided hold {hold.id} does not have exactly one end"
        if end is not None:
            problems.append((Invariant.HOLD_ENDS_ONCE, end))
    for account, bal in balances.items():
        if not account.startswith(PLATFORM) and bal.held != held_by_member.get(account, 0):
            problems.append((
                Invariant.HELD_EQUALS_OPEN_HOLDS,
                f"{account} shows {bal.held} held but its open holds add up to "
                f"{held_by_member.get(account, 0)}",
            ))
    holds_account = balances.get(HOLDS, _ZERO).available
    if holds_account != open_total:
        problems.append((Invariant.HOLDS_ACCOUNT_EQUALS_OPEN_HOLDS,
                         f"holds account is {holds_account}, open holds add up to {open_total}"))

    counters = book.counters()
    issued = sum(v for k, v in counters.items() if k.startswith("issued:"))
    returned = sum(v for k, v in counters.items() if k.startswith("returned:"))
    spent = counters.get("ad_spent", 0)
    supply = wallets + holds_account + balances.get(GIFT_ESCROW, _ZERO).available
    if supply != issued - returned - spent:
        problems.append((
            Invariant.SUPPLY_EQUALS_COUNTERS,
            f"supply {supply} != issued {issued} - returned {returned} - ad spend {spent}",
        ))
    if spent != balances.get(AD_SPEND, _ZERO).available:
        problems.append((Invariant.AD_SPEND_EQUALS_COUNTER,
                         "ad-spend account differs from the ad spend counter"))

    if deep:
        replayed: dict[str, int] = {}
        for t in book.all_transfers():
            replayed[t.debit] = replayed.get(t.debit, 0) - t.amount
            replayed[t.credit] = replayed.get(t.credit, 0) + t.amount
        for account, bal in balances.items():
            if replayed.get(account, 0) != bal.available:
                problems.append((
                    Invariant.TRANSFERS_GIVE_BALANCES,
                    f"{account}: balance {bal.available}, transfers give "
                    f"{replayed.get(account, 0)}",
                ))
    if problems:
        broken = tuple(sorted({invariant for invariant, _ in problems},
                              key=list(Invariant).index))
        messages = [message for _, message in problems]
        raise refusal("ledger_invariants_broken", rule=INVARIANT_RULES[broken[0]],
                      broken=broken, problems=messages)
