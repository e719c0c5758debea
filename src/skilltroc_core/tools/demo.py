"""A short narrated walk through the star ledger, printed as a member's statement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TextIO

from ..adapters.clocks import ManualClock
from ..instants import time_zone, to_local
from ..ledger import GIFT_ESCROW, Ledger, StatementLine, TransferKind, VoidReason
from ..rules import DEFAULT_POLICY

__all__ = ["ledger_demo"]


def _print_statement(out: TextIO, ledger: Ledger, member: str) -> None:
    out.write(f"\nStatement of {member}\n")
    out.write(f"{'when (Paris)':<17} {'kind':<16} {'amount':>6} {'held':>5} "
              f"{'balance':>7} {'held':>5}  reference\n")
    line: StatementLine
    for line in ledger.statement_lines(member):
        when = to_local(line.at, DEFAULT_POLICY.timezone).strftime("%Y-%m-%d %H:%M")
        out.write(
            f"{when:<17} {line.kind:<16} {line.amount:>+6} {line.held_change:>+5} "
            f"{line.balance:>7} {line.held:>5}  {line.reference}\n"
        )


def ledger_demo(out: TextIO) -> int:
    """Alice signs up, buys stars, books two workshops (one paid, one refused), gifts."""
    policy = DEFAULT_POLICY
    clock = ManualClock(to_local_start())
    ledger = Ledger()
    for member in ("alice", "bob", "carol"):
        ledger.open_wallet(member)
        ledger.issue(TransferKind.SIGNUP_BONUS, member, policy.signup_bonus,
                     reference=f"signup:{member}", at=clock.now())
    out.write("alice, bob and carol sign up: 10 stars each (STAR-1)\n")

    clock.advance(timedelta(hours=1))
    ledger.issue(TransferKind.PURCHASE, "alice", 20, reference="payment:PAY-1", at=clock.now(),
                 key="purchase:PAY-1")
    ledger.issue(TransferKind.PURCHASE, "alice", 20, reference="payment:PAY-1", at=clock.now(),
                 key="purchase:PAY-1")
    out.write("alice buys 20 stars; the payment is reported twice, credited once (STAR-2)\n")

    clock.advance(timedelta(hours=1))
    ledger.hold("req-1", "alice", 6, reference="request:req-1", at=clock.now())
    ledger.hold("req-2", "alice", 4, reference="request:req-2", at=clock.now())
    out.write("alice requests 2 seats at 3 stars and 1 seat at 4: 10 stars held (BOOK-11)\n")

    clock.advance(timedelta(hours=2))
    ledger.void("req-2", VoidReason.REFUSED, at=clock.now())
    out.write("the second organizer refuses: 4 stars back at once (BOOK-14)\n")

    clock.advance(timedelta(days=2))
    ledger.post("req-1", "bob", at=clock.now())
    out.write("bob's session is confirmed held: bob earns alice's 6 stars (BOOK-30)\n")

    clock.advance(timedelta(hours=3))
    available = ledger.available("alice")
    gift = available - policy.gift_floor
    ledger.transfer(TransferKind.GIFT_SENT, "alice", GIFT_ESCROW, gift,
                    reference="gift:1", at=clock.now(), keep_at_least=policy.gift_floor)
    out.write(f"alice gifts carol the most she can: {gift} stars, keeping 10 (GIFT-1)\n")
    ledger.transfer(TransferKind.GIFT_ACCEPTED, GIFT_ESCROW, "carol", gift,
                    reference="gift:1", at=clock.now())
    out.write("carol accepts the gift (GIFT-3)\n")

    _print_statement(out, ledger, "alice")
    _print_statement(out, ledger, "bob")
    ledger.check_invariants(deep=True)
    supply = ledger.supply()
    out.write(
        f"\nSupply: issued {supply.issued} {dict(supply.issued_by_kind)}, in wallets "
        f"{supply.in_wallets}, held {supply.held}, in gift escrow {supply.in_gift_escrow}; "
        "invariants hold.\n"
    )
    return 0


def to_local_start() -> datetime:
    """The demo's first instant: 1 March 2027, 09:00 in Paris."""
    return datetime(2027, 3, 1, 9, 0, tzinfo=time_zone(DEFAULT_POLICY.timezone))
