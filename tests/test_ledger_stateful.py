"""The star ledger against a naive model, driven by random operations (hypothesis).

The model is plain dicts: available and held stars per member, the balance of each
platform account, the open and ended holds, what was issued and returned by kind. After
every step the ledger must pass ``check_invariants(deep=True)`` and show exactly the
model's numbers; every refused operation must raise its own error and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, NamedTuple

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from skilltroc_core.errors import (
    AlreadyExistsError,
    FloorBreachError,
    HoldAlreadyEndedError,
    IdempotencyConflictError,
    InsufficientStarsError,
    InvalidAmountError,
    InvalidInputError,
    NaiveDatetimeError,
    SkilltrocError,
    UnknownAccountError,
    UnknownHoldError,
)
from skilltroc_core.ledger import (
    AD_SPEND,
    GIFT_ESCROW,
    HOLDS,
    ISSUANCE,
    SYSTEM_ACCOUNTS,
    Balance,
    Hold,
    HoldState,
    Ledger,
    MemoryBook,
    Transfer,
    TransferKind,
    VoidReason,
)
from skilltroc_core.testing import state_of

K = TransferKind
MEMBERS = ("ana", "bob", "cam", "dee")
UNKNOWN = "zed"
WALLET = "wallet"
START = datetime(2027, 3, 1, 9, tzinfo=UTC)
ZONES: tuple[tzinfo, ...] = (
    UTC, timezone(timedelta(hours=1), "CET"), timezone(timedelta(hours=-5, minutes=-30)),
)
ISSUING = (K.SIGNUP_BONUS, K.PURCHASE, K.REFERRAL_REWARD, K.TUTORIAL_PAYOUT)
REASONS = tuple(VoidReason)

members = st.sampled_from(MEMBERS)
members_or_unknown = st.sampled_from((*MEMBERS, *MEMBERS, UNKNOWN))
payees = st.one_of(members, members, st.sampled_from((UNKNOWN, *SYSTEM_ACCOUNTS)))
stars = st.integers(min_value=1, max_value=15)
zones = st.sampled_from(ZONES)
#: None: any amount; 0 / 1 / -1: exactly what is spendable, one more, one less.
edges = st.sampled_from((None, None, 0, 1, -1))
bad_amounts = st.sampled_from((0, -1, -40, 1.0, 2.5, True, False, "3", None))


def _hold_identity(hold: Hold) -> tuple[object, ...]:
    return (hold.id, hold.member, hold.amount, hold.reference, hold.opened_at)


class Keyed(NamedTuple):
    """A keyed call that succeeded: how to retry it, and how to misuse its key."""

    operation: str
    again: Callable[[datetime], object]
    other: Callable[[datetime], object]
    foreign: Callable[[datetime], object]
    result: object


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = MemoryBook()
        self.ledger = Ledger(self.book)
        for member in MEMBERS:
            self.ledger.open_wallet(member)
        # the model
        self.available = dict.fromkeys(MEMBERS, 0)
        self.held = dict.fromkeys(MEMBERS, 0)
        self.lines = dict.fromkeys(MEMBERS, 0)
        self.platform = dict.fromkeys(SYSTEM_ACCOUNTS, 0)
        self.issued: dict[str, int] = {}
        self.returned: dict[str, int] = {}
        self.open_holds: dict[str, tuple[str, int]] = {}
        self.ended: dict[str, HoldState] = {}
        self.transfers = 0
        self.keyed: list[Keyed] = []
        self.serial = 0
        self.clock = START

    # ------------------------------------------------------------------ helpers
    def _now(self, zone: tzinfo = UTC) -> datetime:
        self.clock += timedelta(minutes=7)
        return self.clock.astimezone(zone)

    def _new_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def _refused(self, error: type[SkilltrocError], call: Callable[[], object]) -> None:
        before = state_of(self.book)
        with pytest.raises(SkilltrocError) as info:
            call()
        assert type(info.value) is error, info.value
        assert info.value.code == error.code
        assert info.value.rule == error.default_rule
        assert state_of(self.book) == before

    def _wallet_error(self, account: str) -> type[SkilltrocError] | None:
        if account.startswith("platform:"):
            return InvalidInputError
        if account not in self.available:
            return UnknownAccountError
        return None

    def _balance(self, account: str) -> int:
        if account in self.platform:
            return self.platform[account]
        return self.available[account]

    def _add(self, account: str, amount: int) -> None:
        if account in self.platform:
            self.platform[account] += amount
        else:
            self.available[account] += amount
            self.lines[account] += 1

    def _known_holds(self) -> list[str]:
        return sorted([*self.open_holds, *self.ended])

    def _hold_to_end(self, data: st.DataObject) -> str:
        """Mostly an open hold when there is one, sometimes any hold or an unknown one."""
        anything = st.sampled_from([*self._known_holds(), "nope"])
        if self.open_holds:
            open_holds = st.sampled_from(sorted(self.open_holds))
            return data.draw(st.one_of(open_holds, open_holds, anything))
        return data.draw(anything)

    # ------------------------------------------------------------------ plain transfers
    def _move(
        self, kind: TransferKind, route: tuple[str, str], debit: str, credit: str,
        amount: int, *, floor: int = 0, keyed: bool = False, zone: tzinfo = UTC,
    ) -> None:
        at = self._now(zone)
        key = self._new_id("key-") if keyed else None
        reference = self._new_id(f"{kind}:")

        def call(when: datetime, amount: int = amount) -> Transfer:
            return self.ledger.transfer(kind, debit, credit, amount, reference=reference,
                                        at=when, keep_at_least=floor, key=key)

        error: type[SkilltrocError] | None = None
        if route[0] == WALLET:
            error = self._wallet_error(debit)
        if error is None and route[1] == WALLET:
            error = self._wallet_error(credit)
        if error is None and debit != ISSUANCE and self._balance(debit) - floor < amount:
            error = FloorBreachError if floor else InsufficientStarsError
        if error is not None:
            self._refused(error, lambda: call(at))
            return

        transfer = call(at)
        self.transfers += 1
        assert transfer == Transfer(self.transfers, debit, credit, amount, kind, reference,
                                    at, None, None)
        assert transfer.at.utcoffset() == timedelta(0)
        self._add(debit, -amount)
        self._add(credit, amount)
        if debit == ISSUANCE:
            self.issued[kind] = self.issued.get(kind, 0) + amount
        if credit == ISSUANCE:
            self.returned[kind] = self.returned.get(kind, 0) + amount
        if key is not None:
            self.keyed.append(Keyed(
                "transfer", call, lambda when: call(when, amount + 1),
                lambda when: self.ledger.void("nope", VoidReason.REFUSED, at=when, key=key),
                transfer,
            ))

    @initialize(bonuses=st.lists(st.integers(0, 40), min_size=len(MEMBERS),
                                 max_size=len(MEMBERS)))
    def sign_members_up(self, bonuses: list[int]) -> None:
        for member, bonus in zip(MEMBERS, bonuses, strict=True):
            if bonus:
                self._move(K.SIGNUP_BONUS, (ISSUANCE, WALLET), ISSUANCE, member, bonus)

    @rule(kind=st.sampled_from(ISSUING), member=members_or_unknown,
          amount=st.integers(1, 25), keyed=st.booleans(), zone=zones)
    def issue(
        self, kind: TransferKind, member: str, amount: int, keyed: bool, zone: tzinfo
    ) -> None:
        self._move(kind, (ISSUANCE, WALLET), ISSUANCE, member, amount, keyed=keyed, zone=zone)

    def _near_the_limit(self, member: str, amount: int, edge: int | None, floor: int = 0) -> int:
        """``amount``, or one star either side of all ``member`` can spend above ``floor``."""
        if edge is None or member not in self.available:
            return amount
        return max(self.available[member] - floor + edge, 1)

    @rule(member=members_or_unknown, amount=stars, edge=edges, floor=st.sampled_from((0, 10)),
          keyed=st.booleans())
    def send_gift(
        self, member: str, amount: int, edge: int | None, floor: int, keyed: bool
    ) -> None:
        amount = self._near_the_limit(member, amount, edge, floor)
        self._move(K.GIFT_SENT, (WALLET, GIFT_ESCROW), member, GIFT_ESCROW, amount,
                   floor=floor, keyed=keyed)

    @rule(member=members_or_unknown, amount=stars, expire=st.booleans(), keyed=st.booleans())
    def settle_gift(self, member: str, amount: int, expire: bool, keyed: bool) -> None:
        """Escrowed stars go to the accepting member, or back to issuance on expiry."""
        if expire:
            self._move(K.GIFT_EXPIRED, (GIFT_ESCROW, ISSUANCE), GIFT_ESCROW, ISSUANCE, amount,
                       keyed=keyed)
        else:
            self._move(K.GIFT_ACCEPTED, (GIFT_ESCROW, WALLET), GIFT_ESCROW, member, amount,
                       keyed=keyed)

    @rule(member=members_or_unknown, amount=stars, refund=st.booleans(), keyed=st.booleans())
    def ad_budget(self, member: str, amount: int, refund: bool, keyed: bool) -> None:
        """A campaign budget is spent from a wallet, or part of it refunded."""
        if refund:
            self._move(K.AD_BUDGET_REFUND, (AD_SPEND, WALLET), AD_SPEND, member, amount,
                       keyed=keyed)
        else:
            self._move(K.AD_BUDGET, (WALLET, AD_SPEND), member, AD_SPEND, amount, keyed=keyed)

    @rule(member=members_or_unknown, amount=st.integers(1, 25))
    def purge(self, member: str, amount: int) -> None:
        self._move(K.ACCOUNT_PURGED, (WALLET, ISSUANCE), member, ISSUANCE, amount)

    # ------------------------------------------------------------------ holds
    @rule(data=st.data(), member=members_or_unknown, amount=stars, edge=edges,
          keyed=st.booleans(), reuse_id=st.integers(0, 4), zone=zones)
    def hold(
        self, data: st.DataObject, member: str, amount: int, edge: int | None, keyed: bool,
        reuse_id: int, zone: tzinfo,
    ) -> None:
        known = self._known_holds()
        if reuse_id == 0 and known:
            hold_id = data.draw(st.sampled_from(known))
        else:
            hold_id = self._new_id("h")
        self._hold(hold_id, member, self._near_the_limit(member, amount, edge), keyed, zone)

    @rule(member=members, amount=st.integers(1, 3), keyed=st.booleans())
    def hold_a_few_stars(self, member: str, amount: int, keyed: bool) -> None:
        """Most holds in real life are small: this keeps holds open for post and void."""
        self._hold(self._new_id("h"), member, amount, keyed, UTC)

    def _hold(self, hold_id: str, member: str, amount: int, keyed: bool, zone: tzinfo) -> None:
        known = self._known_holds()
        at = self._now(zone)
        key = self._new_id("key-") if keyed else None
        reference = f"booking:{hold_id}"

        def call(when: datetime, amount: int = amount) -> Hold:
            return self.ledger.hold(hold_id, member, amount, reference=reference, at=when,
                                    key=key)

        error = self._wallet_error(member)
        if error is None and hold_id in known:
            error = AlreadyExistsError
        if error is None and self.available[member] < amount:
            error = InsufficientStarsError
        if error is AlreadyExistsError:
            before = state_of(self.book)
            with pytest.raises(AlreadyExistsError) as info:
                call(at)
            assert (info.value.code, info.value.rule) == ("already_exists", "REFUND-5")
            assert state_of(self.book) == before
            return
        if error is not None:
            self._refused(error, lambda: call(at))
            return

        hold = call(at)
        self.transfers += 1
        assert hold == Hold(hold_id, member, amount, reference, at)
        self.available[member] -= amount
        self.held[member] += amount
        self.lines[member] += 1
        self.platform[HOLDS] += amount
        self.open_holds[hold_id] = (member, amount)
        if key is not None:
            self.keyed.append(Keyed(
                "hold", call, lambda when: call(when, amount + 1),
                lambda when: self.ledger.post("nope", "ana", at=when, key=key), hold,
            ))

    def _end_error(self, hold_id: str) -> type[SkilltrocError] | None:
        if hold_id in self.ended:
            return HoldAlreadyEndedError
        if hold_id not in self.open_holds:
            return UnknownHoldError
        return None

    def _close(self, hold_id: str, state: HoldState) -> tuple[str, int]:
        member, amount = self.open_holds.pop(hold_id)
        self.ended[hold_id] = state
        self.transfers += 1
        self.held[member] -= amount
        self.platform[HOLDS] -= amount
        self.lines[member] += 1
        return member, amount

    @rule(data=st.data(), keyed=st.booleans(), zone=zones)
    def post(self, data: st.DataObject, keyed: bool, zone: tzinfo) -> None:
        hold_id = self._hold_to_end(data)
        own = st.sampled_from([self.open_holds[hold_id][0]] if hold_id in self.open_holds
                              else MEMBERS)
        payee = data.draw(st.one_of(payees, own))
        at = self._now(zone)
        key = self._new_id("key-") if keyed else None

        def call(when: datetime, payee: str = payee) -> Transfer:
            return self.ledger.post(hold_id, payee, at=when, key=key)

        error = self._end_error(hold_id) or self._wallet_error(payee)
        if error is None and payee == self.open_holds[hold_id][0]:
            error = InvalidInputError
        if error is not None:
            self._refused(error, lambda: call(at))
            return

        transfer = call(at)
        _member, amount = self._close(hold_id, HoldState.POSTED)
        assert (transfer.debit, transfer.credit, transfer.amount, transfer.kind) == (
            HOLDS, payee, amount, K.HOLD_POSTED,
        )
        assert (transfer.seq, transfer.at, transfer.hold_id) == (self.transfers, at, hold_id)
        self.available[payee] += amount
        self.lines[payee] += 1
        ended = self.ledger.get_hold(hold_id)
        assert (ended.state, ended.payee, ended.ended_at) == (HoldState.POSTED, payee, at)
        if key is not None:
            self.keyed.append(Keyed(
                "post", call, lambda when: call(when, payee + "-other"),
                lambda when: self.ledger.void(hold_id, VoidReason.REFUSED, at=when, key=key),
                transfer,
            ))

    @rule(data=st.data(), reason=st.sampled_from(REASONS), keyed=st.booleans(), zone=zones)
    def void(self, data: st.DataObject, reason: VoidReason, keyed: bool, zone: tzinfo) -> None:
        hold_id = self._hold_to_end(data)
        at = self._now(zone)
        key = self._new_id("key-") if keyed else None

        def call(when: datetime, reason: VoidReason = reason) -> Transfer:
            return self.ledger.void(hold_id, reason, at=when, key=key)

        error = self._end_error(hold_id)
        if error is not None:
            self._refused(error, lambda: call(at))
            return

        transfer = call(at)
        member, amount = self._close(hold_id, HoldState.VOIDED)
        assert transfer == Transfer(self.transfers, HOLDS, member, amount, K.HOLD_VOIDED,
                                    f"booking:{hold_id}", at, hold_id, reason)
        self.available[member] += amount
        ended = self.ledger.get_hold(hold_id)
        assert (ended.state, ended.void_reason, ended.ended_at) == (HoldState.VOIDED, reason, at)
        other_reason = REASONS[(REASONS.index(reason) + 1) % len(REASONS)]
        if key is not None:
            self.keyed.append(Keyed(
                "void", call, lambda when: call(when, other_reason),
                lambda when: self.ledger.post(hold_id, "ana", at=when, key=key), transfer,
            ))

    @precondition(lambda self: bool(self.ended))
    @rule(data=st.data(), by_post=st.booleans())
    def end_a_hold_twice(self, data: st.DataObject, by_post: bool) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.ended)))
        payee = data.draw(members)
        at = self._now()
        if by_post:
            self._refused(HoldAlreadyEndedError, lambda: self.ledger.post(hold_id, payee, at=at))
        else:
            self._refused(
                HoldAlreadyEndedError,
                lambda: self.ledger.void(hold_id, VoidReason.EXPIRED, at=at),
            )

    # ------------------------------------------------------------------ idempotent retries
    @precondition(lambda self: bool(self.keyed))
    @rule(data=st.data(), zone=zones)
    def retry_with_the_same_key_and_arguments(self, data: st.DataObject, zone: tzinfo) -> None:
        keyed = data.draw(st.sampled_from(self.keyed))
        before = state_of(self.book)
        again = keyed.again(self._now(zone))
        assert state_of(self.book) == before
        if isinstance(keyed.result, Hold):
            assert isinstance(again, Hold)
            assert _hold_identity(again) == _hold_identity(keyed.result)
        else:
            assert again == keyed.result

    @precondition(lambda self: bool(self.keyed))
    @rule(data=st.data(), foreign=st.booleans())
    def reuse_a_key_with_other_arguments(self, data: st.DataObject, foreign: bool) -> None:
        keyed = data.draw(st.sampled_from(self.keyed))
        at = self._now()
        self._refused(IdempotencyConflictError,
                      lambda: (keyed.foreign if foreign else keyed.other)(at))

    # ------------------------------------------------------------------ bad input
    @rule(data=st.data(), member=members,
          problem=st.sampled_from(("amount", "instant", "platform wallet")),
          operation=st.sampled_from(("issue", "gift", "hold", "post", "void")))
    def refuse_bad_input(
        self, data: st.DataObject, member: str, problem: str, operation: str
    ) -> None:
        at: Any = self._now()
        amount: Any = 1
        error: type[SkilltrocError] = InvalidInputError
        if problem == "amount" and operation in {"issue", "gift", "hold"}:
            amount, error = data.draw(bad_amounts), InvalidAmountError
        elif problem == "instant":
            at = data.draw(st.sampled_from((at.replace(tzinfo=None), at.date())))
            error = NaiveDatetimeError
        else:
            member = data.draw(st.sampled_from(SYSTEM_ACCOUNTS))
        hold_id = next(iter(self.open_holds), "nope")
        if operation == "post" and error is InvalidInputError and hold_id == "nope":
            error = UnknownHoldError  # the hold is looked up before the payee
        if operation == "void" and error is InvalidInputError:
            operation = "hold"  # a void names no wallet: refuse a platform hold instead
        calls: dict[str, Callable[[], object]] = {
            "issue": lambda: self.ledger.issue(K.PURCHASE, member, amount, reference="p",
                                               at=at),
            "gift": lambda: self.ledger.transfer(K.GIFT_SENT, member, GIFT_ESCROW, amount,
                                                 reference="g", at=at, keep_at_least=10),
            "hold": lambda: self.ledger.hold("h-bad", member, amount, reference="b", at=at),
            "post": lambda: self.ledger.post(hold_id, member, at=at),
            "void": lambda: self.ledger.void(hold_id, VoidReason.REFUSED, at=at),
        }
        self._refused(error, calls[operation])

    # ------------------------------------------------------------------ the check
    @invariant()
    def the_ledger_matches_the_model(self) -> None:
        ledger = self.ledger
        ledger.check_invariants(deep=True)
        assert len(self.book.transfers) == self.transfers
        for member in MEMBERS:
            assert ledger.balance(member) == Balance(self.available[member], self.held[member])
            assert self.available[member] >= 0
            assert self.held[member] == sum(
                amount for owner, amount in self.open_holds.values() if owner == member
            )
            lines = list(ledger.statement_lines(member))
            assert len(lines) == ledger.statement(member).total == self.lines[member]
            balance, held = 0, 0
            for line in lines:
                balance, held = balance + line.amount, held + line.held_change
                assert (line.member, line.balance, line.held) == (member, balance, held)
            assert (balance, held) == (self.available[member], self.held[member])
        for account, balance in self.platform.items():
            assert ledger.balance(account) == Balance(balance, 0)
        assert self.platform[HOLDS] == sum(amount for _, amount in self.open_holds.values())
        assert {
            hold.id: (hold.member, hold.amount)
            for hold in self.book.holds.values() if hold.is_open
        } == self.open_holds
        assert {
            hold.id: hold.state for hold in self.book.holds.values() if not hold.is_open
        } == self.ended

        report = ledger.supply()
        assert dict(report.issued_by_kind) == {str(k): v for k, v in self.issued.items()}
        assert dict(report.returned_by_kind) == {str(k): v for k, v in self.returned.items()}
        assert report.ad_spent == self.platform[AD_SPEND]
        assert report.in_wallets == sum(self.available.values())
        assert report.held == sum(self.held.values())
        assert report.in_gift_escrow == self.platform[GIFT_ESCROW]
        assert report.supply == report.issued - report.returned - report.ad_spent
        assert -self.platform[ISSUANCE] == report.issued - report.returned


@pytest.mark.rule("STAR-6", "STAR-4", "STAR-5", "STAR-2", "REFUND-5", "GIFT-1")
def test_random_operations_keep_the_ledger_equal_to_a_naive_model() -> None:
    run_state_machine_as_test(LedgerMachine)
