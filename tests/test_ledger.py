"""The star ledger: issuance, supply, holds, statements, floors, idempotency, invariants.

Rules: STAR-4 (whole stars, no negative member balance), STAR-5 (statement), STAR-6
(double entry), STAR-2 (idempotent retries), GIFT-1 (the gift floor) and REFUND-5 (a hold
ends exactly once). Every refusal is checked to leave the book exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from skilltroc_core.errors import (
    AlreadyExistsError,
    FloorBreachError,
    HoldAlreadyEndedError,
    IdempotencyConflictError,
    InsufficientStarsError,
    InvalidAmountError,
    InvalidInputError,
    InvariantViolationError,
    NaiveDatetimeError,
    SkilltrocError,
    UnknownAccountError,
    UnknownHoldError,
)
from skilltroc_core.ledger import (
    AD_SPEND,
    GIFT_ESCROW,
    HOLDS,
    INVARIANT_RULES,
    ISSUANCE,
    ISSUING_KINDS,
    MAX_STARS,
    ROUTES,
    SYSTEM_ACCOUNTS,
    Balance,
    Hold,
    HoldState,
    Invariant,
    Ledger,
    MemoryBook,
    StatementLine,
    Transfer,
    TransferKind,
    VoidReason,
    at_most_max_stars,
    check_invariants,
)
from skilltroc_core.testing import state_of

AT = datetime(2027, 3, 1, 9, tzinfo=UTC)
LATER = datetime(2027, 3, 2, 9, tzinfo=UTC)
PARIS_WINTER = timezone(timedelta(hours=1), "CET")
K = TransferKind


def _at(minutes: int) -> datetime:
    return AT + timedelta(minutes=minutes)


def _any(value: object) -> Any:
    """A deliberately ill-typed argument, passed past the type checker."""
    return value


def _book(ledger: Ledger) -> MemoryBook:
    assert isinstance(ledger.book, MemoryBook)
    return ledger.book


@pytest.fixture
def ledger() -> Ledger:
    """Three empty wallets: ana, bob and cam."""
    fresh = Ledger(MemoryBook())
    for member in ("ana", "bob", "cam"):
        fresh.open_wallet(member)
    return fresh


@pytest.fixture
def busy(ledger: Ledger) -> Ledger:
    """A ledger with a little of everything in it.

    ana: 15 available, 2 held in the open hold ``h-open``; a posted hold ``h-posted``
    (1 star to bob) and a voided hold ``h-voided``. bob: 2 available. cam: 5 available.
    Gift escrow 1, ad spend 1. The key ``k-pay`` bought cam's 5 stars.
    """
    ledger.issue(K.SIGNUP_BONUS, "ana", 10, reference="signup:ana", at=_at(0))
    ledger.issue(K.PURCHASE, "ana", 8, reference="pay:ana", at=_at(1))
    ledger.hold("h-posted", "ana", 1, reference="booking:1", at=_at(2))
    ledger.post("h-posted", "bob", at=_at(3))
    ledger.hold("h-voided", "ana", 1, reference="booking:2", at=_at(4))
    ledger.void("h-voided", VoidReason.REFUSED, at=_at(5))
    ledger.hold("h-open", "ana", 2, reference="booking:3", at=_at(6))
    ledger.issue(K.SIGNUP_BONUS, "bob", 3, reference="signup:bob", at=_at(7))
    ledger.transfer(K.GIFT_SENT, "bob", GIFT_ESCROW, 1, reference="gift:1", at=_at(8))
    ledger.transfer(K.AD_BUDGET, "bob", AD_SPEND, 1, reference="ad:1", at=_at(9))
    ledger.issue(K.PURCHASE, "cam", 5, reference="pay:cam", at=_at(10), key="k-pay")
    assert ledger.balance("ana") == Balance(15, 2)
    assert ledger.balance("bob") == Balance(2, 0)
    assert ledger.balance("cam") == Balance(5, 0)
    ledger.check_invariants(deep=True)
    return ledger


# --- issuance and supply --------------------------------------------------------------


@pytest.mark.rule("STAR-6", "STAR-1", "STAR-2", "SPONSOR-3", "TUTO-2")
@pytest.mark.parametrize("kind", sorted(ISSUING_KINDS))
def test_each_issuance_kind_creates_stars_in_a_wallet_and_is_counted_under_its_kind(
    ledger: Ledger, kind: TransferKind
) -> None:
    transfer = ledger.issue(kind, "ana", 7, reference="why", at=AT)
    assert (transfer.debit, transfer.credit, transfer.amount, transfer.kind) == (
        ISSUANCE, "ana", 7, kind,
    )
    assert ledger.balance("ana") == Balance(7, 0)
    assert ledger.balance(ISSUANCE) == Balance(-7, 0)
    report = ledger.supply()
    assert dict(report.issued_by_kind) == {str(kind): 7}
    assert dict(report.returned_by_kind) == {}
    assert (report.issued, report.returned, report.ad_spent) == (7, 0, 0)
    assert (report.in_wallets, report.held, report.in_gift_escrow, report.supply) == (7, 0, 0, 7)
    ledger.check_invariants(deep=True)


@pytest.mark.rule("STAR-6")
def test_the_issuance_kinds_are_exactly_the_four_ways_stars_are_created() -> None:
    assert frozenset(
        {K.SIGNUP_BONUS, K.PURCHASE, K.REFERRAL_REWARD, K.TUTORIAL_PAYOUT}
    ) == ISSUING_KINDS


@pytest.mark.rule("STAR-6")
def test_a_fresh_ledger_has_no_stars_anywhere() -> None:
    ledger = Ledger()
    report = ledger.supply()
    assert (report.issued, report.returned, report.ad_spent, report.supply) == (0, 0, 0, 0)
    for account in SYSTEM_ACCOUNTS:
        assert ledger.balance(account) == Balance(0, 0)
    ledger.check_invariants(deep=True)


@pytest.mark.rule("STAR-6", "AD-4", "GIFT-4")
def test_the_supply_report_says_where_every_star_is(ledger: Ledger) -> None:
    ledger.issue(K.SIGNUP_BONUS, "ana", 10, reference="signup:ana", at=_at(0))
    ledger.issue(K.PURCHASE, "ana", 25, reference="pay:1", at=_at(1))
    ledger.issue(K.REFERRAL_REWARD, "ana", 5, reference="referral:1", at=_at(2))
    ledger.issue(K.TUTORIAL_PAYOUT, "bob", 2, reference="tuto:1", at=_at(3))
    ledger.issue(K.SIGNUP_BONUS, "bob", 10, reference="signup:bob", at=_at(4))
    ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 8, reference="gift:1", at=_at(5),
                    keep_at_least=10)
    ledger.transfer(K.GIFT_ACCEPTED, GIFT_ESCROW, "bob", 3, reference="gift:1", at=_at(6))
    ledger.transfer(K.GIFT_EXPIRED, GIFT_ESCROW, ISSUANCE, 2, reference="gift:2", at=_at(7))
    ledger.transfer(K.AD_BUDGET, "ana", AD_SPEND, 12, reference="ad:1", at=_at(8))
    ledger.transfer(K.AD_BUDGET_REFUND, AD_SPEND, "ana", 2, reference="ad:1", at=_at(9))
    ledger.hold("h1", "ana", 7, reference="booking:1", at=_at(10))
    ledger.transfer(K.ACCOUNT_PURGED, "bob", ISSUANCE, 4, reference="purge:bob", at=_at(11))

    report = ledger.supply()
    assert dict(report.issued_by_kind) == {
        "signup_bonus": 20, "purchase": 25, "referral_reward": 5, "tutorial_payout": 2,
    }
    assert dict(report.returned_by_kind) == {"gift_expired": 2, "account_purged": 4}
    assert (report.issued, report.returned, report.ad_spent) == (52, 6, 10)
    assert (report.in_wallets, report.held, report.in_gift_escrow) == (15 + 11, 7, 3)
    assert report.supply == 36 == report.issued - report.returned - report.ad_spent

    assert ledger.balance("ana") == Balance(15, 7)
    assert ledger.balance("bob") == Balance(11, 0)
    assert ledger.balance(ISSUANCE) == Balance(-46, 0)
    assert ledger.balance(AD_SPEND) == Balance(10, 0)
    assert ledger.balance(GIFT_ESCROW) == Balance(3, 0)
    assert ledger.balance(HOLDS) == Balance(7, 0)
    assert sum(balance.available for _, balance in _book(ledger).all_balances()) == 0
    ledger.check_invariants(deep=True)


@pytest.mark.rule("STAR-6")
def test_a_wallet_opens_empty_and_only_once(ledger: Ledger) -> None:
    ledger.open_wallet("dee")
    assert ledger.has_wallet("dee")
    assert ledger.balance("dee") == Balance(0, 0)
    with pytest.raises(AlreadyExistsError) as info:
        ledger.open_wallet("dee")
    assert (info.value.code, info.value.rule) == ("already_exists", "STAR-6")
    assert not ledger.has_wallet("zed")
    assert not ledger.has_wallet(GIFT_ESCROW)


@pytest.mark.rule("STAR-6")
@pytest.mark.parametrize("member", ["platform:issuance", "platform:mine", "", 7])
def test_a_member_wallet_cannot_take_a_platform_or_empty_id(
    ledger: Ledger, member: object
) -> None:
    before = state_of(_book(ledger))
    with pytest.raises(InvalidInputError) as info:
        ledger.open_wallet(_any(member))
    assert type(info.value) is InvalidInputError
    assert state_of(_book(ledger)) == before


# --- holds ----------------------------------------------------------------------------


@pytest.mark.rule("REFUND-5", "STAR-4")
def test_a_hold_moves_stars_from_available_to_held(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 10, reference="pay:1", at=AT)
    hold = ledger.hold("h1", "ana", 6, reference="booking:1", at=LATER)
    assert hold == Hold("h1", "ana", 6, "booking:1", LATER, HoldState.OPEN, None, None, None)
    assert hold.is_open
    assert ledger.get_hold("h1") == hold
    assert ledger.balance("ana") == Balance(4, 6)
    assert (ledger.available("ana"), ledger.held("ana")) == (4, 6)
    assert ledger.balance(HOLDS) == Balance(6, 0)
    ledger.hold("h2", "ana", 4, reference="booking:2", at=LATER)
    assert ledger.balance("ana") == Balance(0, 10)
    assert ledger.balance(HOLDS) == Balance(10, 0)
    assert ledger.supply().held == 10
    ledger.check_invariants(deep=True)


@pytest.mark.rule("REFUND-5", "STAR-3")
def test_a_posted_hold_pays_all_of_it_to_the_payee(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 10, reference="pay:1", at=AT)
    ledger.issue(K.PURCHASE, "bob", 1, reference="pay:2", at=AT)
    ledger.hold("h1", "ana", 6, reference="booking:1", at=AT)
    posted = ledger.post("h1", "bob", at=LATER)
    assert (posted.debit, posted.credit, posted.amount, posted.kind) == (
        HOLDS, "bob", 6, K.HOLD_POSTED,
    )
    assert (posted.hold_id, posted.reason, posted.reference) == ("h1", None, "booking:1")
    assert ledger.balance("ana") == Balance(4, 0)
    assert ledger.balance("bob") == Balance(7, 0)
    assert ledger.balance(HOLDS) == Balance(0, 0)
    hold = ledger.get_hold("h1")
    assert (hold.state, hold.payee, hold.ended_at, hold.void_reason) == (
        HoldState.POSTED, "bob", LATER, None,
    )
    assert not hold.is_open
    assert ledger.supply().supply == 11
    ledger.check_invariants(deep=True)


@pytest.mark.rule("REFUND-5", "REFUND-1", "REFUND-2", "REFUND-3")
@pytest.mark.parametrize("reason", list(VoidReason))
def test_a_voided_hold_gives_every_star_back_and_keeps_its_reason(
    ledger: Ledger, reason: VoidReason
) -> None:
    ledger.issue(K.PURCHASE, "ana", 10, reference="pay:1", at=AT)
    ledger.hold("h1", "ana", 6, reference="booking:1", at=AT)
    voided = ledger.void("h1", reason, at=LATER)
    assert (voided.debit, voided.credit, voided.amount, voided.kind, voided.reason) == (
        HOLDS, "ana", 6, K.HOLD_VOIDED, reason,
    )
    assert ledger.balance("ana") == Balance(10, 0)
    assert ledger.balance(HOLDS) == Balance(0, 0)
    hold = ledger.get_hold("h1")
    assert (hold.state, hold.payee, hold.ended_at, hold.void_reason) == (
        HoldState.VOIDED, None, LATER, reason,
    )
    ledger.check_invariants(deep=True)


@pytest.mark.rule("REFUND-5")
@pytest.mark.parametrize("first", ["post", "void"])
@pytest.mark.parametrize("second", ["post", "void"])
def test_a_hold_ends_exactly_once(ledger: Ledger, first: str, second: str) -> None:
    ledger.issue(K.PURCHASE, "ana", 10, reference="pay:1", at=AT)
    ledger.hold("h1", "ana", 6, reference="booking:1", at=AT)

    def end(how: str) -> Transfer:
        if how == "post":
            return ledger.post("h1", "bob", at=LATER)
        return ledger.void("h1", VoidReason.CANCELLED_BY_MEMBER, at=LATER)

    end(first)
    before = state_of(_book(ledger))
    with pytest.raises(HoldAlreadyEndedError) as info:
        end(second)
    assert type(info.value) is HoldAlreadyEndedError
    assert (info.value.code, info.value.rule) == ("hold_already_ended", "REFUND-5")
    assert info.value.facts["hold_id"] == "h1"
    assert state_of(_book(ledger)) == before
    ledger.check_invariants(deep=True)


@pytest.mark.rule("REFUND-5")
def test_a_hold_id_names_one_hold_only(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 10, reference="pay:1", at=AT)
    ledger.hold("h1", "ana", 2, reference="booking:1", at=AT)
    ledger.void("h1", VoidReason.EXPIRED, at=AT)
    before = state_of(_book(ledger))
    with pytest.raises(AlreadyExistsError) as info:
        ledger.hold("h1", "ana", 2, reference="booking:1", at=LATER)
    assert (info.value.code, info.value.rule) == ("already_exists", "REFUND-5")
    assert state_of(_book(ledger)) == before


@pytest.mark.rule("REFUND-5")
def test_an_unknown_hold_cannot_be_read(ledger: Ledger) -> None:
    with pytest.raises(UnknownHoldError) as info:
        ledger.get_hold("nope")
    assert (info.value.code, info.value.rule) == ("unknown_hold", "REFUND-5")


@pytest.mark.rule("STAR-4")
def test_a_hold_cannot_take_more_than_the_available_stars(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 10, reference="pay:1", at=AT)
    ledger.hold("h1", "ana", 6, reference="booking:1", at=AT)
    with pytest.raises(InsufficientStarsError) as info:
        ledger.hold("h2", "ana", 5, reference="booking:2", at=AT)
    assert type(info.value) is InsufficientStarsError
    assert info.value.facts == {"member": "ana", "available": 4, "amount": 5}
    ledger.hold("h2", "ana", 4, reference="booking:2", at=AT)
    assert ledger.balance("ana") == Balance(0, 10)


# --- statement ------------------------------------------------------------------------


def _row(line: StatementLine) -> tuple[object, ...]:
    return (line.kind, line.amount, line.held_change, line.balance, line.held,
            line.reference, line.counterpart)


@pytest.mark.rule("STAR-5")
def test_the_statement_shows_every_movement_with_signed_amounts_and_running_totals(
    ledger: Ledger,
) -> None:
    ledger.issue(K.SIGNUP_BONUS, "ana", 10, reference="signup:ana", at=_at(1))
    ledger.issue(K.PURCHASE, "ana", 10, reference="pay:1", at=_at(2))
    ledger.hold("h1", "ana", 6, reference="booking:1", at=_at(3))
    ledger.post("h1", "bob", at=_at(4))
    ledger.hold("h2", "ana", 4, reference="booking:2", at=_at(5))
    ledger.void("h2", VoidReason.REFUSED, at=_at(6))
    ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 3, reference="gift:1", at=_at(7),
                    keep_at_least=10)
    ledger.transfer(K.GIFT_ACCEPTED, GIFT_ESCROW, "bob", 3, reference="gift:1", at=_at(8))
    ledger.transfer(K.AD_BUDGET, "ana", AD_SPEND, 1, reference="ad:1", at=_at(9))
    ledger.transfer(K.AD_BUDGET_REFUND, AD_SPEND, "ana", 1, reference="ad:1", at=_at(10))
    ledger.transfer(K.ACCOUNT_PURGED, "bob", ISSUANCE, 9, reference="purge:bob", at=_at(11))

    ana = ledger.statement("ana")
    assert (ana.total, ana.next_offset) == (9, None)
    assert [_row(line) for line in ana.lines] == [
        (K.SIGNUP_BONUS, 10, 0, 10, 0, "signup:ana", ISSUANCE),
        (K.PURCHASE, 10, 0, 20, 0, "pay:1", ISSUANCE),
        (K.HOLD, -6, 6, 14, 6, "booking:1", HOLDS),
        (K.HOLD_POSTED, 0, -6, 14, 0, "booking:1", "bob"),
        (K.HOLD, -4, 4, 10, 4, "booking:2", HOLDS),
        (K.HOLD_VOIDED, 4, -4, 14, 0, "booking:2", HOLDS),
        (K.GIFT_SENT, -3, 0, 11, 0, "gift:1", GIFT_ESCROW),
        (K.AD_BUDGET, -1, 0, 10, 0, "ad:1", AD_SPEND),
        (K.AD_BUDGET_REFUND, 1, 0, 11, 0, "ad:1", AD_SPEND),
    ]
    assert [line.transfer_seq for line in ana.lines] == [1, 2, 3, 4, 5, 6, 7, 9, 10]
    assert [line.at for line in ana.lines] == [_at(m) for m in (1, 2, 3, 4, 5, 6, 7, 9, 10)]
    assert {line.member for line in ana.lines} == {"ana"}
    assert ledger.balance("ana") == Balance(11, 0)

    bob = ledger.statement("bob")
    assert [_row(line) for line in bob.lines] == [
        (K.HOLD_POSTED, 6, 0, 6, 0, "booking:1", "ana"),
        (K.GIFT_ACCEPTED, 3, 0, 9, 0, "gift:1", GIFT_ESCROW),
        (K.ACCOUNT_PURGED, -9, 0, 0, 0, "purge:bob", ISSUANCE),
    ]
    assert [line.transfer_seq for line in bob.lines] == [4, 8, 11]
    empty = ledger.statement("cam")
    assert (empty.lines, empty.total, empty.next_offset) == ((), 0, None)


@pytest.mark.rule("STAR-5")
def test_each_statement_line_moves_the_running_totals_by_its_own_amounts(busy: Ledger) -> None:
    for member in ("ana", "bob", "cam"):
        balance, held = 0, 0
        for line in busy.statement_lines(member):
            balance += line.amount
            held += line.held_change
            assert (line.balance, line.held) == (balance, held)
        assert busy.balance(member) == Balance(balance, held)


@pytest.mark.rule("STAR-5")
def test_the_statement_pages_with_offset_limit_and_next_offset(ledger: Ledger) -> None:
    for n in range(7):
        ledger.issue(K.PURCHASE, "ana", n + 1, reference=f"pay:{n}", at=_at(n))
    first = ledger.statement("ana", limit=3)
    assert (len(first.lines), first.total, first.next_offset) == (3, 7, 3)
    second = ledger.statement("ana", offset=3, limit=3)
    assert (len(second.lines), second.total, second.next_offset) == (3, 7, 6)
    last = ledger.statement("ana", offset=6, limit=3)
    assert (len(last.lines), last.total, last.next_offset) == (1, 7, None)
    exact = ledger.statement("ana", offset=4, limit=3)
    assert (len(exact.lines), exact.next_offset) == (3, None)
    beyond = ledger.statement("ana", offset=20, limit=3)
    assert (beyond.lines, beyond.total, beyond.next_offset) == ((), 7, None)
    paged = first.lines + second.lines + last.lines
    assert [line.amount for line in paged] == [1, 2, 3, 4, 5, 6, 7]
    assert [line.balance for line in paged] == [1, 3, 6, 10, 15, 21, 28]
    assert tuple(ledger.statement_lines("ana")) == paged == ledger.statement("ana").lines


@pytest.mark.rule("STAR-5")
def test_a_statement_page_holds_50_lines_unless_asked_for_another_number(
    ledger: Ledger,
) -> None:
    for n in range(60):
        ledger.issue(K.PURCHASE, "ana", 1, reference=f"pay:{n}", at=_at(n))
    page = ledger.statement("ana")
    assert (len(page.lines), page.total, page.next_offset) == (50, 60, 50)
    assert [line.balance for line in page.lines] == list(range(1, 51))
    one = ledger.statement("ana", offset=59, limit=1)
    assert (len(one.lines), one.next_offset) == (1, None)
    assert one.lines[0].balance == 60
    first = ledger.statement("ana", limit=1)
    assert ([line.balance for line in first.lines], first.next_offset) == ([1], 1)


@pytest.mark.rule("STAR-5")
def test_statement_lines_walk_every_page_of_a_long_statement(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 2000, reference="pay:big", at=AT)
    for n in range(1100):
        ledger.transfer(K.AD_BUDGET, "ana", AD_SPEND, 1, reference=f"ad:{n}", at=AT)
    lines = list(ledger.statement_lines("ana"))
    assert len(lines) == 1101 == ledger.statement("ana").total
    assert lines[-1].balance == 900
    assert [line.transfer_seq for line in lines] == list(range(1, 1102))


@pytest.mark.rule("STAR-5")
@pytest.mark.parametrize(
    ("offset", "limit"), [(-1, 10), (0, 0), (0, -5), (True, 10), (0, False), (1.0, 10)]
)
def test_a_statement_page_needs_a_whole_offset_and_a_positive_limit(
    busy: Ledger, offset: object, limit: object
) -> None:
    with pytest.raises(InvalidInputError) as info:
        busy.statement("ana", offset=_any(offset), limit=_any(limit))
    assert type(info.value) is InvalidInputError


@pytest.mark.rule("STAR-5", "STAR-6")
@pytest.mark.parametrize(
    ("account", "error"),
    [("zed", UnknownAccountError), *((a, InvalidInputError) for a in SYSTEM_ACCOUNTS)],
)
def test_only_a_member_wallet_has_a_statement(
    busy: Ledger, account: str, error: type[SkilltrocError]
) -> None:
    with pytest.raises(error) as info:
        busy.statement(account)
    assert type(info.value) is error


@pytest.mark.rule("STAR-5")
def test_every_movement_is_stored_in_utc_whatever_zone_it_came_in(ledger: Ledger) -> None:
    local = datetime(2027, 3, 1, 10, tzinfo=PARIS_WINTER)
    transfer = ledger.issue(K.PURCHASE, "ana", 5, reference="pay:1", at=local)
    hold = ledger.hold("h1", "ana", 2, reference="booking:1", at=local)
    posted = ledger.post("h1", "bob", at=local)
    for instant in (transfer.at, hold.opened_at, posted.at, ledger.statement("ana").lines[0].at):
        assert instant == AT
        assert instant.utcoffset() == timedelta(0)


@pytest.mark.rule("STAR-5")
def test_every_transfer_can_be_read_back_by_its_sequence_number(busy: Ledger) -> None:
    transfers = _book(busy).transfers
    assert [t.seq for t in transfers] == list(range(1, len(transfers) + 1))
    for transfer in transfers:
        assert busy.get_transfer(transfer.seq) == transfer
    for seq in (0, len(transfers) + 1, -1, True, "1"):
        with pytest.raises(InvalidInputError) as info:
            busy.get_transfer(_any(seq))
        assert info.value.rule == "STAR-5"


# --- the gift floor -------------------------------------------------------------------


@pytest.mark.rule("GIFT-1")
def test_a_member_with_15_stars_can_gift_at_most_5_and_keep_10(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 15, reference="pay:1", at=AT)
    before = state_of(_book(ledger))
    with pytest.raises(FloorBreachError) as info:
        ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 6, reference="gift:1", at=AT,
                        keep_at_least=10)
    assert type(info.value) is FloorBreachError
    assert (info.value.code, info.value.rule) == ("floor_breach", "GIFT-1")
    assert info.value.facts == {"member": "ana", "available": 15, "amount": 6, "floor": 10,
                                "spendable": 5}
    assert "at most 5" in info.value.message
    assert state_of(_book(ledger)) == before

    ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 5, reference="gift:1", at=AT,
                    keep_at_least=10)
    assert ledger.balance("ana") == Balance(10, 0)
    assert ledger.balance(GIFT_ESCROW) == Balance(5, 0)
    with pytest.raises(FloorBreachError):
        ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 1, reference="gift:2", at=AT,
                        keep_at_least=10)
    ledger.check_invariants(deep=True)


@pytest.mark.rule("GIFT-1")
def test_below_the_floor_nothing_can_go_and_the_refusal_says_so(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 7, reference="pay:1", at=AT)
    for floor in (7, 10):
        with pytest.raises(FloorBreachError) as info:
            ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 1, reference="gift:1", at=AT,
                            keep_at_least=floor)
        assert info.value.message == (
            f"ana has 7 stars and must keep at least {floor}: at most 0 can go, not 1")


@pytest.mark.rule("GIFT-1", "STAR-6")
def test_a_floor_also_holds_for_a_platform_account_debited(busy: Ledger) -> None:
    """Escrow and ad spend are never debited below zero, nor below a floor asked for."""
    with pytest.raises(FloorBreachError) as info:
        busy.transfer(K.GIFT_ACCEPTED, GIFT_ESCROW, "cam", 1, reference="gift:1", at=AT,
                      keep_at_least=1)
    assert info.value.facts == {"member": GIFT_ESCROW, "available": 1, "amount": 1,
                                "floor": 1, "spendable": 0}
    busy.transfer(K.GIFT_ACCEPTED, GIFT_ESCROW, "cam", 1, reference="gift:1", at=AT,
                  keep_at_least=0)
    assert busy.balance(GIFT_ESCROW) == Balance(0, 0)


@pytest.mark.rule("GIFT-1")
def test_the_floor_counts_only_available_stars_not_held_ones(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 15, reference="pay:1", at=AT)
    ledger.hold("h1", "ana", 3, reference="booking:1", at=AT)
    with pytest.raises(FloorBreachError) as info:
        ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 3, reference="gift:1", at=AT,
                        keep_at_least=10)
    assert info.value.facts["available"] == 12
    ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 2, reference="gift:1", at=AT,
                    keep_at_least=10)
    assert ledger.balance("ana") == Balance(10, 3)


@pytest.mark.rule("GIFT-1", "STAR-4")
@pytest.mark.parametrize("floor", [-1, True, 1.5, "10", None])
def test_a_floor_is_a_whole_number_of_stars_at_least_zero(
    busy: Ledger, floor: object
) -> None:
    before = state_of(_book(busy))
    with pytest.raises(InvalidAmountError) as info:
        busy.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 1, reference="gift:1", at=AT,
                      keep_at_least=_any(floor))
    assert (info.value.code, info.value.rule) == ("invalid_amount", "STAR-4")
    assert state_of(_book(busy)) == before


# --- idempotency ----------------------------------------------------------------------

Call = Callable[[Ledger, datetime], object]


class KeyedCase(NamedTuple):
    first: Call
    other: Call


def _gift(amount: int, reference: str = "gift:9", floor: int = 10) -> Call:
    return lambda ledger, at: ledger.transfer(
        K.GIFT_SENT, "ana", GIFT_ESCROW, amount, reference=reference, at=at,
        keep_at_least=floor, key="k",
    )


def _buy(member: str, amount: int, kind: TransferKind = K.PURCHASE) -> Call:
    return lambda ledger, at: ledger.issue(kind, member, amount, reference="pay:9", at=at,
                                           key="k")


def _hold(hold_id: str, member: str, amount: int, reference: str = "booking:9") -> Call:
    return lambda ledger, at: ledger.hold(hold_id, member, amount, reference=reference, at=at,
                                          key="k")


def _post(hold_id: str, payee: str) -> Call:
    return lambda ledger, at: ledger.post(hold_id, payee, at=at, key="k")


def _void(hold_id: str, reason: VoidReason) -> Call:
    return lambda ledger, at: ledger.void(hold_id, reason, at=at, key="k")


KEYED = {
    "transfer-other-amount": KeyedCase(_gift(3), _gift(4)),
    "transfer-other-reference": KeyedCase(_gift(3), _gift(3, reference="gift:10")),
    "transfer-other-floor": KeyedCase(_gift(3), _gift(3, floor=0)),
    "issue-other-amount": KeyedCase(_buy("cam", 5), _buy("cam", 6)),
    "issue-other-member": KeyedCase(_buy("cam", 5), _buy("bob", 5)),
    "issue-other-kind": KeyedCase(_buy("cam", 5), _buy("cam", 5, K.SIGNUP_BONUS)),
    "hold-other-amount": KeyedCase(_hold("h9", "ana", 3), _hold("h9", "ana", 4)),
    "hold-other-id": KeyedCase(_hold("h9", "ana", 3), _hold("h10", "ana", 3)),
    "hold-other-member": KeyedCase(_hold("h9", "ana", 3), _hold("h9", "cam", 3)),
    "hold-other-reference": KeyedCase(_hold("h9", "ana", 3), _hold("h9", "ana", 3, "b:10")),
    "post-other-payee": KeyedCase(_post("h-open", "bob"), _post("h-open", "cam")),
    "post-other-hold": KeyedCase(_post("h-open", "bob"), _post("h-posted", "bob")),
    "void-other-reason": KeyedCase(
        _void("h-open", VoidReason.REFUSED), _void("h-open", VoidReason.EXPIRED)
    ),
    "void-other-hold": KeyedCase(
        _void("h-open", VoidReason.REFUSED), _void("h-voided", VoidReason.REFUSED)
    ),
    "transfer-then-void": KeyedCase(_gift(3), _void("h-open", VoidReason.REFUSED)),
    "hold-then-transfer": KeyedCase(_hold("h9", "ana", 3), _gift(3)),
    "post-then-void": KeyedCase(_post("h-open", "bob"), _void("h-open", VoidReason.REFUSED)),
    "void-then-post": KeyedCase(_void("h-open", VoidReason.REFUSED), _post("h-open", "bob")),
}


@pytest.mark.rule("STAR-2", "REFUND-5")
@pytest.mark.parametrize("case", KEYED.values(), ids=KEYED.keys())
def test_a_key_replays_its_first_result_and_refuses_other_arguments(
    busy: Ledger, case: KeyedCase
) -> None:
    first = case.first(busy, LATER)
    after_first = state_of(_book(busy))
    assert busy.book.idempotency("k") is not None

    again = case.first(busy, LATER + timedelta(hours=1))
    assert again == first
    assert state_of(_book(busy)) == after_first

    with pytest.raises(IdempotencyConflictError) as info:
        case.other(busy, LATER)
    assert type(info.value) is IdempotencyConflictError
    assert (info.value.code, info.value.rule) == ("idempotency_conflict", "STAR-2")
    assert info.value.facts["key"] == "k"
    assert info.value.facts["call"] in info.value.message  # which call the key was for
    assert state_of(_book(busy)) == after_first
    busy.check_invariants(deep=True)


@pytest.mark.rule("STAR-2")
def test_issue_and_transfer_share_keys_for_the_same_movement(busy: Ledger) -> None:
    first = busy.issue(K.PURCHASE, "bob", 4, reference="pay:7", at=AT, key="pay:7")
    before = state_of(_book(busy))
    again = busy.transfer(K.PURCHASE, ISSUANCE, "bob", 4, reference="pay:7", at=LATER,
                          key="pay:7")
    assert again == first
    assert state_of(_book(busy)) == before


@pytest.mark.rule("STAR-2", "GIFT-1")
def test_a_retried_transfer_returns_its_first_result_even_when_it_could_no_longer_be_made(
    busy: Ledger,
) -> None:
    first = busy.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 5, reference="gift:9", at=AT,
                          keep_at_least=10, key="gift:9")
    assert busy.available("ana") == 10
    before = state_of(_book(busy))
    again = busy.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 5, reference="gift:9", at=LATER,
                          keep_at_least=10, key="gift:9")
    assert again == first
    assert state_of(_book(busy)) == before


@pytest.mark.rule("STAR-2", "REFUND-5")
def test_a_retried_post_or_void_after_the_hold_ended_returns_the_first_end(
    busy: Ledger,
) -> None:
    posted = busy.post("h-open", "bob", at=AT, key="end")
    before = state_of(_book(busy))
    assert busy.post("h-open", "bob", at=LATER, key="end") == posted
    assert state_of(_book(busy)) == before
    with pytest.raises(HoldAlreadyEndedError):
        busy.post("h-open", "bob", at=LATER, key="another")
    busy.hold("h9", "ana", 1, reference="booking:9", at=AT)
    voided = busy.void("h9", VoidReason.SESSION_MOVED, at=AT, key="end-9")
    before = state_of(_book(busy))
    assert busy.void("h9", VoidReason.SESSION_MOVED, at=LATER, key="end-9") == voided
    assert state_of(_book(busy)) == before


@pytest.mark.rule("STAR-2", "REFUND-5")
def test_a_retried_hold_names_the_same_hold_and_moves_nothing(busy: Ledger) -> None:
    opened = busy.hold("h9", "ana", 3, reference="booking:9", at=AT, key="hold-9")
    busy.post("h9", "cam", at=AT)
    before = state_of(_book(busy))
    again = busy.hold("h9", "ana", 3, reference="booking:9", at=LATER, key="hold-9")
    assert (again.id, again.member, again.amount, again.reference, again.opened_at) == (
        opened.id, opened.member, opened.amount, opened.reference, opened.opened_at,
    )
    assert state_of(_book(busy)) == before


@pytest.mark.rule("STAR-2", "GIFT-1")
def test_a_refused_keyed_call_leaves_its_key_unused(ledger: Ledger) -> None:
    ledger.issue(K.PURCHASE, "ana", 15, reference="pay:1", at=AT)
    with pytest.raises(FloorBreachError):
        ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 6, reference="gift:1", at=AT,
                        keep_at_least=10, key="gift:1")
    assert ledger.book.idempotency("gift:1") is None
    sent = ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, 5, reference="gift:1", at=AT,
                           keep_at_least=10, key="gift:1")
    assert sent.amount == 5
    assert ledger.balance("ana") == Balance(10, 0)


# --- routes ---------------------------------------------------------------------------


@pytest.mark.rule("STAR-6")
@pytest.mark.parametrize(
    ("kind", "debit", "credit"),
    [
        (K.PURCHASE, "bob", "ana"),
        (K.PURCHASE, GIFT_ESCROW, "ana"),
        (K.SIGNUP_BONUS, AD_SPEND, "ana"),
        (K.REFERRAL_REWARD, ISSUANCE, GIFT_ESCROW),
        (K.TUTORIAL_PAYOUT, ISSUANCE, HOLDS),
        (K.GIFT_SENT, "ana", AD_SPEND),
        (K.GIFT_SENT, "ana", "bob"),
        (K.GIFT_SENT, ISSUANCE, GIFT_ESCROW),
        (K.GIFT_ACCEPTED, ISSUANCE, "ana"),
        (K.GIFT_ACCEPTED, "bob", "ana"),
        (K.GIFT_ACCEPTED, GIFT_ESCROW, AD_SPEND),
        (K.GIFT_EXPIRED, "ana", ISSUANCE),
        (K.GIFT_EXPIRED, GIFT_ESCROW, "ana"),
        (K.AD_BUDGET, "ana", GIFT_ESCROW),
        (K.AD_BUDGET, GIFT_ESCROW, AD_SPEND),
        (K.AD_BUDGET_REFUND, ISSUANCE, "ana"),
        (K.AD_BUDGET_REFUND, AD_SPEND, HOLDS),
        (K.ACCOUNT_PURGED, "ana", GIFT_ESCROW),
        (K.ACCOUNT_PURGED, HOLDS, ISSUANCE),
    ],
)
def test_each_kind_moves_stars_along_its_one_route_only(
    busy: Ledger, kind: TransferKind, debit: str, credit: str
) -> None:
    before = state_of(_book(busy))
    with pytest.raises(InvalidInputError) as info:
        busy.transfer(kind, debit, credit, 1, reference="route", at=AT)
    assert type(info.value) is InvalidInputError
    assert info.value.code == "invalid_input"
    assert state_of(_book(busy)) == before


@pytest.mark.rule("STAR-6")
def test_every_route_moves_stars_between_two_different_accounts() -> None:
    """So a transfer never debits and credits one account: a wallet side is always a
    member wallet, never a platform account (refused above), and the other side is a
    platform account, or both sides are two different platform accounts."""
    assert set(ROUTES) == set(TransferKind)
    for debit, credit in ROUTES.values():
        assert debit != credit
        assert debit in SYSTEM_ACCOUNTS or credit in SYSTEM_ACCOUNTS


@pytest.mark.rule("STAR-6", "REFUND-5")
@pytest.mark.parametrize("kind", [K.HOLD, K.HOLD_POSTED, K.HOLD_VOIDED])
def test_hold_kinds_go_through_hold_post_and_void_never_through_transfer(
    busy: Ledger, kind: TransferKind
) -> None:
    routes = {K.HOLD: ("ana", HOLDS), K.HOLD_POSTED: (HOLDS, "bob"),
              K.HOLD_VOIDED: (HOLDS, "ana")}
    debit, credit = routes[kind]
    before = state_of(_book(busy))
    with pytest.raises(InvalidInputError) as info:
        busy.transfer(kind, debit, credit, 1, reference="booking:3", at=AT)
    assert type(info.value) is InvalidInputError
    assert state_of(_book(busy)) == before


@pytest.mark.rule("STAR-6")
@pytest.mark.parametrize("kind", sorted(set(TransferKind) - ISSUING_KINDS))
def test_only_issuing_kinds_can_issue(busy: Ledger, kind: TransferKind) -> None:
    before = state_of(_book(busy))
    with pytest.raises(InvalidInputError):
        busy.issue(kind, "ana", 1, reference="nope", at=AT)
    assert state_of(_book(busy)) == before


@pytest.mark.rule("STAR-6")
def test_a_gift_cannot_be_accepted_for_more_than_escrow_holds(busy: Ledger) -> None:
    with pytest.raises(InsufficientStarsError) as info:
        busy.transfer(K.GIFT_ACCEPTED, GIFT_ESCROW, "cam", 2, reference="gift:1", at=AT)
    assert type(info.value) is InsufficientStarsError
    assert info.value.facts["member"] == GIFT_ESCROW
    busy.transfer(K.GIFT_ACCEPTED, GIFT_ESCROW, "cam", 1, reference="gift:1", at=AT)
    assert busy.balance(GIFT_ESCROW) == Balance(0, 0)


@pytest.mark.rule("STAR-6")
def test_an_unknown_account_has_no_balance(busy: Ledger) -> None:
    for account in ("zed", "platform:bogus", ""):
        with pytest.raises(UnknownAccountError) as info:
            busy.balance(account)
        assert (info.value.code, info.value.rule) == ("unknown_account", "STAR-6")


# --- invariants -----------------------------------------------------------------------


@pytest.mark.rule("STAR-6", "STAR-4", "REFUND-5")
def test_the_invariants_hold_after_every_normal_operation(ledger: Ledger) -> None:
    steps: list[Callable[[], object]] = [
        lambda: ledger.issue(K.SIGNUP_BONUS, "ana", 10, reference="s", at=AT),
        lambda: ledger.issue(K.PURCHASE, "bob", 30, reference="p", at=AT),
        lambda: ledger.hold("h1", "bob", 8, reference="b1", at=AT),
        lambda: ledger.hold("h2", "bob", 4, reference="b2", at=AT),
        lambda: ledger.post("h1", "ana", at=AT),
        lambda: ledger.void("h2", VoidReason.SESSION_CANCELLED, at=AT),
        lambda: ledger.transfer(K.GIFT_SENT, "bob", GIFT_ESCROW, 6, reference="g", at=AT,
                                keep_at_least=10),
        lambda: ledger.transfer(K.GIFT_ACCEPTED, GIFT_ESCROW, "cam", 4, reference="g", at=AT),
        lambda: ledger.transfer(K.GIFT_EXPIRED, GIFT_ESCROW, ISSUANCE, 2, reference="g",
                                at=AT),
        lambda: ledger.transfer(K.AD_BUDGET, "ana", AD_SPEND, 10, reference="a", at=AT),
        lambda: ledger.transfer(K.AD_BUDGET_REFUND, AD_SPEND, "ana", 3, reference="a", at=AT),
        lambda: ledger.transfer(K.ACCOUNT_PURGED, "cam", ISSUANCE, 4, reference="x", at=AT),
    ]
    for step in steps:
        step()
        ledger.check_invariants()
        ledger.check_invariants(deep=True)
        check_invariants(ledger.book, deep=True)
    report = ledger.supply()
    assert report.supply == report.issued - report.returned - report.ad_spent == 27


def _shift(book: MemoryBook, account: str, available: int = 0, held: int = 0) -> None:
    old = book.balances[account]
    book.balances[account] = Balance(old.available + available, old.held + held)


def _edit_hold(book: MemoryBook, hold_id: str, **changes: Any) -> None:
    book.holds[hold_id] = book.holds[hold_id]._replace(**changes)


def _edit_transfer(book: MemoryBook, index: int, **changes: Any) -> None:
    book.transfers[index] = book.transfers[index]._replace(**changes)


def _edit_counter(book: MemoryBook, name: str, delta: int) -> None:
    book.totals[name] = book.totals.get(name, 0) + delta


Corruption = Callable[[MemoryBook], object]


def _both(*edits: Corruption) -> Corruption:
    def corrupt(book: MemoryBook) -> None:
        for edit in edits:
            edit(book)

    return corrupt


INV = Invariant
#: name -> (corruption, the invariants a check finds broken, whether it edited a balance
#: that the transfers no longer give: a deep check finds that too)
CORRUPTIONS: dict[str, tuple[Corruption, tuple[Invariant, ...], bool]] = {
    "the issuance account edited": (
        lambda b: _shift(b, ISSUANCE, available=1), (INV.ACCOUNTS_SUM_TO_ZERO,), True),
    "a wallet balance edited": (
        lambda b: _shift(b, "ana", available=1),
        (INV.ACCOUNTS_SUM_TO_ZERO, INV.SUPPLY_EQUALS_COUNTERS), True,
    ),
    "a wallet made negative, the supply kept": (
        _both(lambda b: _shift(b, "bob", available=-5), lambda b: _shift(b, "cam", 5)),
        (INV.NO_NEGATIVE_ACCOUNT,), True,
    ),
    "the escrow account made negative, the sum kept": (
        _both(lambda b: _shift(b, GIFT_ESCROW, available=-2), lambda b: _shift(b, ISSUANCE, 2)),
        (INV.NO_NEGATIVE_ACCOUNT, INV.SUPPLY_EQUALS_COUNTERS), True,
    ),
    "held stars made negative": (
        lambda b: _shift(b, "cam", held=-1),
        (INV.NO_NEGATIVE_HELD, INV.HELD_EQUALS_OPEN_HOLDS), False,
    ),
    "held stars edited": (lambda b: _shift(b, "ana", held=1), (INV.HELD_EQUALS_OPEN_HOLDS,), False),
    "the holds account edited": (
        lambda b: _shift(b, HOLDS, available=1),
        (INV.ACCOUNTS_SUM_TO_ZERO, INV.HOLDS_ACCOUNT_EQUALS_OPEN_HOLDS, INV.SUPPLY_EQUALS_COUNTERS),
        True,
    ),
    "the holds account edited, the sum and the supply kept": (
        _both(lambda b: _shift(b, HOLDS, available=1), lambda b: _shift(b, ISSUANCE, -1),
              lambda b: _edit_counter(b, "issued:purchase", 1)),
        (INV.HOLDS_ACCOUNT_EQUALS_OPEN_HOLDS,), True,
    ),
    "the escrow account edited": (
        lambda b: _shift(b, GIFT_ESCROW, available=-1),
        (INV.ACCOUNTS_SUM_TO_ZERO, INV.SUPPLY_EQUALS_COUNTERS), True,
    ),
    "an open hold grown": (
        lambda b: _edit_hold(b, "h-open", amount=3),
        (INV.HELD_EQUALS_OPEN_HOLDS, INV.HOLDS_ACCOUNT_EQUALS_OPEN_HOLDS), False,
    ),
    "an open hold closed by hand": (
        lambda b: _edit_hold(b, "h-open", state=HoldState.VOIDED),
        (INV.HOLD_ENDS_ONCE, INV.HELD_EQUALS_OPEN_HOLDS, INV.HOLDS_ACCOUNT_EQUALS_OPEN_HOLDS),
        False,
    ),
    "an open hold carrying a payee": (
        lambda b: _edit_hold(b, "h-open", payee="bob"), (INV.HOLD_ENDS_ONCE,), False),
    "an open hold carrying an end instant": (
        lambda b: _edit_hold(b, "h-open", ended_at=AT), (INV.HOLD_ENDS_ONCE,), False),
    "an open hold carrying a void reason": (
        lambda b: _edit_hold(b, "h-open", void_reason=VoidReason.REFUSED), (INV.HOLD_ENDS_ONCE,),
        False,
    ),
    "a posted hold without a payee": (
        lambda b: _edit_hold(b, "h-posted", payee=None), (INV.HOLD_ENDS_ONCE,), False),
    "a posted hold also voided": (
        lambda b: _edit_hold(b, "h-posted", void_reason=VoidReason.REFUSED), (INV.HOLD_ENDS_ONCE,),
        False,
    ),
    "a posted hold without an end instant": (
        lambda b: _edit_hold(b, "h-posted", ended_at=None), (INV.HOLD_ENDS_ONCE,), False),
    "a voided hold without a reason": (
        lambda b: _edit_hold(b, "h-voided", void_reason=None), (INV.HOLD_ENDS_ONCE,), False),
    "a voided hold also paid": (
        lambda b: _edit_hold(b, "h-voided", payee="bob"), (INV.HOLD_ENDS_ONCE,), False),
    "a voided hold without an end instant": (
        lambda b: _edit_hold(b, "h-voided", ended_at=None), (INV.HOLD_ENDS_ONCE,), False),
    "an issuance counter edited": (
        lambda b: _edit_counter(b, "issued:purchase", 1), (INV.SUPPLY_EQUALS_COUNTERS,), False),
    "a return counter edited": (
        lambda b: _edit_counter(b, "returned:account_purged", 1), (INV.SUPPLY_EQUALS_COUNTERS,),
        False,
    ),
    "the ad spend counter edited with the supply kept": (
        _both(lambda b: _edit_counter(b, "ad_spent", 1),
              lambda b: _edit_counter(b, "issued:purchase", 1)),
        (INV.AD_SPEND_EQUALS_COUNTER,), False,
    ),
    "stars moved between wallets by hand": (
        _both(lambda b: _shift(b, "ana", available=-3), lambda b: _shift(b, "cam", 3)), (), True,
    ),
    "a transfer amount edited": (lambda b: _edit_transfer(b, 0, amount=11), (), True),
    "a transfer credited elsewhere": (lambda b: _edit_transfer(b, 0, credit="cam"), (), True),
    "a transfer debited elsewhere": (
        lambda b: _edit_transfer(b, 0, debit=AD_SPEND), (), True),
    "a transfer lost": (lambda b: b.transfers.pop(), (), True),
}


def _corruption(name: str) -> Any:
    corrupt, broken, balance_edited = CORRUPTIONS[name]
    deep = broken + ((INV.TRANSFERS_GIVE_BALANCES,) if balance_edited else ())
    rules = sorted({INVARIANT_RULES[invariant] for invariant in deep})
    return pytest.param(corrupt, broken, deep, marks=pytest.mark.rule(*rules), id=name)


@pytest.mark.rule("STAR-4", "STAR-6", "REFUND-5")
@pytest.mark.parametrize(("corrupt", "broken", "deep"), [_corruption(n) for n in CORRUPTIONS])
def test_a_book_corrupted_by_hand_fails_the_invariant_check_naming_what_broke(
    busy: Ledger, corrupt: Corruption, broken: tuple[Invariant, ...],
    deep: tuple[Invariant, ...],
) -> None:
    corrupt(_book(busy))
    if not broken:  # by default the check is shallow, on the ledger as on a book
        busy.check_invariants()
        check_invariants(busy.book)
    for checked, expected in ((False, broken), (True, deep)):
        if not expected:
            busy.check_invariants(deep=checked)
            continue
        with pytest.raises(InvariantViolationError) as info:
            busy.check_invariants(deep=checked)
        assert type(info.value) is InvariantViolationError
        assert info.value.facts["broken"] == expected
        assert (info.value.code, info.value.rule) == (
            "invariant_violated", INVARIANT_RULES[expected[0]])
        problems = info.value.facts["problems"]
        assert len(problems) >= len(expected)
        assert info.value.message == "ledger invariants broken: " + ", ".join(problems)


@pytest.mark.rule("STAR-4", "STAR-6", "REFUND-5")
@pytest.mark.parametrize("invariant", list(Invariant))
def test_each_invariant_is_the_only_one_broken_by_some_corruption(invariant: Invariant) -> None:
    """One corruption per invariant breaks it alone (with the replay's check when it
    edited a balance), so each check is seen doing its own work."""
    alone = [name for name, (_, broken, edited) in CORRUPTIONS.items()
             if broken == (invariant,) or (not broken and edited
                                           and invariant is INV.TRANSFERS_GIVE_BALANCES)]
    if invariant is INV.NO_NEGATIVE_HELD:  # a negative held total never matches its holds
        alone = [name for name, (_, broken, _) in CORRUPTIONS.items()
                 if broken == (INV.NO_NEGATIVE_HELD, INV.HELD_EQUALS_OPEN_HOLDS)]
    assert alone, f"no corruption breaks {invariant} alone"


@pytest.mark.rule("STAR-4", "STAR-6", "REFUND-5")
@pytest.mark.parametrize(("name", "message"), [
    ("the issuance account edited", "accounts sum to 1, not 0"),
    ("a wallet made negative, the supply kept", "bob is negative: -3"),
    ("held stars made negative", "cam holds a negative amount: -1"),
    ("held stars edited", "ana shows 3 held but its open holds add up to 2"),
    ("held stars made negative", "cam shows -1 held but its open holds add up to 0"),
    ("an open hold carrying a payee", "open hold h-open carries an end"),
    ("a posted hold without a payee", "posted hold h-posted does not have exactly one end"),
    ("a voided hold also paid", "voided hold h-voided does not have exactly one end"),
    ("an open hold grown", "holds account is 2, open holds add up to 3"),
    ("an issuance counter edited",
     "supply 25 != issued 27 - returned 0 - ad spend 1"),
    ("the ad spend counter edited with the supply kept",
     "ad-spend account differs from the ad spend counter"),
    ("stars moved between wallets by hand", "ana: balance 12, transfers give 15"),
])
def test_each_broken_invariant_says_what_it_found(busy: Ledger, name: str, message: str) -> None:
    CORRUPTIONS[name][0](_book(busy))
    with pytest.raises(InvariantViolationError) as info:
        busy.check_invariants(deep=True)
    assert message in info.value.facts["problems"]


@pytest.mark.rule("STAR-6")
def test_a_balance_no_transfer_ever_moved_is_seen_by_the_replay(busy: Ledger) -> None:
    busy.open_wallet("dan")
    _both(lambda b: _shift(b, "dan", available=5), lambda b: _shift(b, "ana", -5))(_book(busy))
    with pytest.raises(InvariantViolationError) as info:
        busy.check_invariants(deep=True)
    assert "dan: balance 5, transfers give 0" in info.value.facts["problems"]


# --- bad input: each refusal has its own error, and changes nothing --------------------

NAIVE = datetime(2027, 3, 1, 9)  # noqa: DTZ001 - the naive instant under test
Refusal = Callable[[Ledger], object]


def _refusal(
    name: str, call: Refusal, error: type[SkilltrocError], code: str, rule: str | None
) -> Any:
    marks = [pytest.mark.rule(rule)] if rule else []
    return pytest.param(call, error, code, rule, marks=marks, id=name)


def _naive(name: str, call: Refusal) -> Any:
    return _refusal(name, call, NaiveDatetimeError, "naive_datetime", None)


def _amount(name: str, call: Refusal) -> Any:
    return _refusal(name, call, InvalidAmountError, "invalid_amount", "STAR-4")


def _input(name: str, call: Refusal) -> Any:
    return _refusal(name, call, InvalidInputError, "invalid_input", None)


def _unknown(name: str, call: Refusal) -> Any:
    return _refusal(name, call, UnknownAccountError, "unknown_account", "STAR-6")


def _no_hold(name: str, call: Refusal) -> Any:
    return _refusal(name, call, UnknownHoldError, "unknown_hold", "REFUND-5")


def _ended(name: str, call: Refusal) -> Any:
    return _refusal(name, call, HoldAlreadyEndedError, "hold_already_ended", "REFUND-5")


def _short(name: str, call: Refusal) -> Any:
    return _refusal(name, call, InsufficientStarsError, "insufficient_stars", "STAR-4")


def _floor(name: str, call: Refusal) -> Any:
    return _refusal(name, call, FloorBreachError, "floor_breach", "GIFT-1")


BAD_AMOUNTS: list[tuple[str, object]] = [
    ("zero", 0), ("negative", -3), ("float", 2.0), ("fraction", 0.5), ("bool", True),
    ("string", "3"), ("decimal", Decimal(3)), ("none", None),
]
BAD_INSTANTS: list[tuple[str, object]] = [
    ("naive", NAIVE), ("date", date(2027, 3, 1)), ("string", "2027-03-01T09:00Z"),
    ("timestamp", 1_800_000_000),
]

def _with(value: object, call: Callable[[Ledger, Any], object]) -> Refusal:
    """Bind one bad value into a refusal (a loop variable captured by value)."""
    return lambda ledger: call(ledger, value)


REFUSALS = [
    # instants without a time zone
    *(_naive(f"issue-{n}-instant", _with(v, lambda lg, v: lg.issue(
        K.PURCHASE, "ana", 1, reference="p", at=_any(v)))) for n, v in BAD_INSTANTS),
    *(_naive(f"transfer-{n}-instant", _with(v, lambda lg, v: lg.transfer(
        K.GIFT_SENT, "ana", GIFT_ESCROW, 1, reference="g", at=_any(v)))) for n, v in BAD_INSTANTS),
    *(_naive(f"hold-{n}-instant", _with(v, lambda lg, v: lg.hold(
        "h9", "ana", 1, reference="b", at=_any(v)))) for n, v in BAD_INSTANTS),
    *(_naive(f"post-{n}-instant", _with(v, lambda lg, v: lg.post(
        "h-open", "bob", at=_any(v)))) for n, v in BAD_INSTANTS),
    *(_naive(f"void-{n}-instant", _with(v, lambda lg, v: lg.void(
        "h-open", VoidReason.REFUSED, at=_any(v)))) for n, v in BAD_INSTANTS),
    _naive("keyed-replay-naive-instant", lambda lg: lg.issue(
        K.PURCHASE, "cam", 5, reference="pay:cam", at=NAIVE, key="k-pay")),
    # amounts that are not whole stars above zero
    *(_amount(f"issue-{n}-amount", _with(v, lambda lg, v: lg.issue(
        K.PURCHASE, "ana", _any(v), reference="p", at=AT))) for n, v in BAD_AMOUNTS),
    *(_amount(f"transfer-{n}-amount", _with(v, lambda lg, v: lg.transfer(
        K.AD_BUDGET, "ana", AD_SPEND, _any(v), reference="a", at=AT))) for n, v in BAD_AMOUNTS),
    *(_amount(f"hold-{n}-amount", _with(v, lambda lg, v: lg.hold(
        "h9", "ana", _any(v), reference="b", at=AT))) for n, v in BAD_AMOUNTS),
    _amount("issue-above-max", lambda lg: lg.issue(
        K.PURCHASE, "ana", MAX_STARS + 1, reference="p", at=AT)),
    _amount("transfer-above-max", lambda lg: lg.transfer(
        K.AD_BUDGET, "ana", AD_SPEND, MAX_STARS + 1, reference="a", at=AT)),
    _amount("return-above-max", lambda lg: lg.transfer(
        K.ACCOUNT_PURGED, "ana", ISSUANCE, 10**15, reference="x", at=AT)),
    _amount("hold-above-max", lambda lg: lg.hold(
        "h9", "ana", 5 * 10**12, reference="b", at=AT)),
    _amount("keyed-issue-above-max", lambda lg: lg.issue(
        K.PURCHASE, "ana", 10**15, reference="p", at=AT, key="k-big")),
    _amount("negative-floor", lambda lg: lg.transfer(
        K.GIFT_SENT, "ana", GIFT_ESCROW, 1, reference="g", at=AT, keep_at_least=-10)),
    # unknown accounts
    _unknown("issue-to-unknown", lambda lg: lg.issue(K.PURCHASE, "zed", 1, reference="p", at=AT)),
    _unknown("gift-from-unknown", lambda lg: lg.transfer(
        K.GIFT_SENT, "zed", GIFT_ESCROW, 1, reference="g", at=AT)),
    _unknown("accept-to-unknown", lambda lg: lg.transfer(
        K.GIFT_ACCEPTED, GIFT_ESCROW, "zed", 1, reference="g", at=AT)),
    _unknown("hold-on-unknown", lambda lg: lg.hold("h9", "zed", 1, reference="b", at=AT)),
    _unknown("post-to-unknown", lambda lg: lg.post("h-open", "zed", at=AT)),
    # unknown holds
    _no_hold("post-unknown-hold", lambda lg: lg.post("nope", "bob", at=AT)),
    _no_hold("void-unknown-hold", lambda lg: lg.void("nope", VoidReason.REFUSED, at=AT)),
    # a hold ends once
    _ended("post-posted", lambda lg: lg.post("h-posted", "cam", at=AT)),
    _ended("void-posted", lambda lg: lg.void("h-posted", VoidReason.REFUSED, at=AT)),
    _ended("post-voided", lambda lg: lg.post("h-voided", "bob", at=AT)),
    _ended("void-voided", lambda lg: lg.void("h-voided", VoidReason.REFUSED, at=AT)),
    _ended("post-posted-to-unknown", lambda lg: lg.post("h-posted", "zed", at=AT)),
    # not enough stars
    _short("hold-too-much", lambda lg: lg.hold("h9", "ana", 16, reference="b", at=AT)),
    _short("gift-too-much", lambda lg: lg.transfer(
        K.GIFT_SENT, "bob", GIFT_ESCROW, 3, reference="g", at=AT)),
    _short("ad-budget-too-much", lambda lg: lg.transfer(
        K.AD_BUDGET, "cam", AD_SPEND, 6, reference="a", at=AT)),
    _short("purge-too-much", lambda lg: lg.transfer(
        K.ACCOUNT_PURGED, "ana", ISSUANCE, 16, reference="x", at=AT)),
    _short("accept-more-than-escrow", lambda lg: lg.transfer(
        K.GIFT_ACCEPTED, GIFT_ESCROW, "ana", 2, reference="g", at=AT)),
    _short("refund-more-than-spent", lambda lg: lg.transfer(
        K.AD_BUDGET_REFUND, AD_SPEND, "bob", 2, reference="a", at=AT)),
    _short("expire-more-than-escrow", lambda lg: lg.transfer(
        K.GIFT_EXPIRED, GIFT_ESCROW, ISSUANCE, 2, reference="g", at=AT)),
    # the gift floor
    _floor("gift-below-floor", lambda lg: lg.transfer(
        K.GIFT_SENT, "ana", GIFT_ESCROW, 6, reference="g", at=AT, keep_at_least=10)),
    _floor("gift-from-below-floor", lambda lg: lg.transfer(
        K.GIFT_SENT, "cam", GIFT_ESCROW, 1, reference="g", at=AT, keep_at_least=10)),
    # platform accounts are not wallets
    *(_input(f"issue-to-{a}", _with(a, lambda lg, a: lg.issue(
        K.PURCHASE, a, 1, reference="p", at=AT))) for a in SYSTEM_ACCOUNTS),
    *(_input(f"hold-on-{a}", _with(a, lambda lg, a: lg.hold(
        "h9", a, 1, reference="b", at=AT))) for a in SYSTEM_ACCOUNTS),
    *(_input(f"post-to-{a}", _with(a, lambda lg, a: lg.post("h-open", a, at=AT)))
      for a in SYSTEM_ACCOUNTS),
    _input("gift-from-issuance", lambda lg: lg.transfer(
        K.GIFT_SENT, ISSUANCE, GIFT_ESCROW, 1, reference="g", at=AT)),
    _input("ad-budget-from-escrow", lambda lg: lg.transfer(
        K.AD_BUDGET, GIFT_ESCROW, AD_SPEND, 1, reference="a", at=AT)),
    _input("hold-on-unknown-platform-account", lambda lg: lg.hold(
        "h9", "platform:bogus", 1, reference="b", at=AT)),
    # other malformed input
    _input("post-to-own-member", lambda lg: lg.post("h-open", "ana", at=AT)),
    _input("void-without-a-reason", lambda lg: lg.void("h-open", _any("refused"), at=AT)),
    _input("transfer-empty-reference", lambda lg: lg.transfer(
        K.GIFT_SENT, "ana", GIFT_ESCROW, 1, reference="", at=AT)),
    _input("issue-non-text-reference", lambda lg: lg.issue(
        K.PURCHASE, "ana", 1, reference=_any(7), at=AT)),
    _input("hold-empty-reference", lambda lg: lg.hold("h9", "ana", 1, reference="", at=AT)),
    _input("hold-non-text-reference", lambda lg: lg.hold(
        "h9", "ana", 1, reference=_any(7), at=AT)),
    _input("hold-empty-id", lambda lg: lg.hold("", "ana", 1, reference="b", at=AT)),
    _input("hold-non-text-id", lambda lg: lg.hold(_any(9), "ana", 1, reference="b", at=AT)),
    _input("transfer-a-hold", lambda lg: lg.transfer(
        K.HOLD, "ana", HOLDS, 1, reference="b", at=AT)),
    _input("purchase-from-a-wallet", lambda lg: lg.transfer(
        K.PURCHASE, "bob", "ana", 1, reference="p", at=AT)),
    _input("unknown-kind", lambda lg: lg.transfer(
        _any("theft"), "ana", GIFT_ESCROW, 1, reference="p", at=AT)),
    # identifiers used twice
    _refusal("hold-id-reused", lambda lg: lg.hold("h-posted", "ana", 1, reference="b", at=AT),
             AlreadyExistsError, "already_exists", "REFUND-5"),
    _refusal("key-reused-with-other-amount", lambda lg: lg.issue(
        K.PURCHASE, "cam", 6, reference="pay:cam", at=AT, key="k-pay"),
        IdempotencyConflictError, "idempotency_conflict", "STAR-2"),
    _refusal("key-reused-for-a-hold", lambda lg: lg.hold(
        "h9", "ana", 1, reference="b", at=AT, key="k-pay"),
        IdempotencyConflictError, "idempotency_conflict", "STAR-2"),
]


@pytest.mark.rule("STAR-6")
@pytest.mark.parametrize(("call", "error", "code", "rule"), REFUSALS)
def test_a_refused_operation_raises_its_own_error_and_leaves_the_book_exactly_as_it_was(
    busy: Ledger, call: Refusal, error: type[SkilltrocError], code: str, rule: str | None
) -> None:
    before = state_of(_book(busy))
    with pytest.raises(SkilltrocError) as info:
        call(busy)
    assert type(info.value) is error, info.value
    assert (info.value.code, info.value.rule) == (code, rule)
    assert str(info.value).startswith(info.value.message)
    assert state_of(_book(busy)) == before
    busy.check_invariants(deep=True)


@pytest.mark.rule("STAR-6")
def test_every_error_class_in_the_refusal_table_has_its_own_code() -> None:
    codes: dict[type[SkilltrocError], str] = {}
    for param in REFUSALS:
        _, error, code, _ = param.values
        assert codes.setdefault(error, code) == code
    assert len(set(codes.values())) == len(codes)


@pytest.mark.rule("STAR-4")
def test_the_cap_is_a_trillion_stars_and_the_service_check_refuses_only_above_it() -> None:
    """MAX_STARS, the documented cap (README): a trillion stars, and a million maximal
    movements still add up to less than a 64-bit store column holds."""
    assert MAX_STARS == 10**12
    assert MAX_STARS * 10**6 < 2**63
    assert at_most_max_stars(MAX_STARS) == MAX_STARS
    assert at_most_max_stars(1) == 1
    with pytest.raises(InvalidAmountError) as info:
        at_most_max_stars(MAX_STARS + 1)
    assert info.value.message == (
        f"one movement carries at most {MAX_STARS} stars, not {MAX_STARS + 1}")
    assert (info.value.rule, info.value.facts) == (
        "STAR-4", {"amount": MAX_STARS + 1, "maximum": MAX_STARS})


@pytest.mark.rule("STAR-4")
def test_max_stars_is_the_largest_movement_every_kind_accepts(ledger: Ledger) -> None:
    """The cap (MAX_STARS) refuses only what is above it: a purchase of exactly MAX_STARS,
    a hold of all of it, its post and a gift of all of it are accepted; one star more in
    any of them is refused (above) even where the wallet could pay it."""
    ledger.issue(K.PURCHASE, "ana", MAX_STARS, reference="p1", at=AT)
    ledger.issue(K.PURCHASE, "ana", MAX_STARS, reference="p2", at=AT)
    assert ledger.balance("ana") == Balance(2 * MAX_STARS, 0)
    for refused in (
        lambda: ledger.hold("h-big", "ana", MAX_STARS + 1, reference="b", at=AT),
        lambda: ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, MAX_STARS + 1,
                                reference="g", at=AT),
    ):
        with pytest.raises(InvalidAmountError) as info:
            refused()
        assert (info.value.code, info.value.rule) == ("invalid_amount", "STAR-4")
        assert info.value.facts["amount"] == MAX_STARS + 1
    assert ledger.balance("ana") == Balance(2 * MAX_STARS, 0)
    ledger.hold("h-max", "ana", MAX_STARS, reference="b", at=AT)
    ledger.post("h-max", "bob", at=AT)
    ledger.transfer(K.GIFT_SENT, "ana", GIFT_ESCROW, MAX_STARS, reference="g", at=AT)
    assert ledger.balance("ana") == Balance(0, 0)
    assert ledger.balance("bob") == Balance(MAX_STARS, 0)
    assert ledger.balance(GIFT_ESCROW) == Balance(MAX_STARS, 0)
    ledger.check_invariants(deep=True)


# --- regressions ----------------------------------------------------------------------


@pytest.mark.rule("STAR-2")
@pytest.mark.parametrize(
    ("first", "other"),
    [
        pytest.param(
            lambda lg: lg.issue(K.PURCHASE, "m,1", 2, reference="ref", at=AT, key="k"),
            lambda lg: lg.issue(K.PURCHASE, "m", 1, reference="2,ref", at=AT, key="k"),
            id="issue",
        ),
        pytest.param(
            lambda lg: lg.hold("g,m", "x", 1, reference="b", at=AT, key="k"),
            lambda lg: lg.hold("g", "m,x", 1, reference="b", at=AT, key="k"),
            id="hold",
        ),
        pytest.param(
            lambda lg: lg.post("h,m", "bob", at=AT, key="k"),
            lambda lg: lg.post("h", "m,bob", at=AT, key="k"),
            id="post",
        ),
    ],
)
def test_regression_a_key_is_not_fooled_by_commas_inside_ids(
    first: Refusal, other: Refusal
) -> None:
    """Fingerprints used to join arguments with commas, so ids holding commas collided:
    the second call replayed the first one's result instead of being refused."""
    ledger = Ledger(MemoryBook())
    for member in ("m", "m,1", "x", "m,x", "bob"):
        ledger.open_wallet(member)
    ledger.issue(K.PURCHASE, "x", 5, reference="pay:x", at=AT)
    ledger.issue(K.PURCHASE, "m,x", 5, reference="pay:mx", at=AT)
    ledger.hold("h,m", "x", 1, reference="b0", at=AT)
    first(ledger)
    before = state_of(_book(ledger))
    with pytest.raises(IdempotencyConflictError):
        other(ledger)
    assert state_of(_book(ledger)) == before
