"""One wallet under several processes: gifts racing purchases, a process killed in the
middle of its purchases, and a unit of work held open on one member.

Each race takes the store factory of a fresh, empty database (see :mod:`.processes`).
"""

from __future__ import annotations

import subprocess
import time

from ...errors import SkilltrocError
from ...ledger import Ledger, TransferKind
from ...service import Skilltroc, kinds
from .processes import StoreFactory, race_service, run_workers, spawn

__all__ = [
    "gift_and_buy", "hold_open", "killed_process_race", "purchases", "spawn_holder",
    "wallet_race",
]


def _owner(app: Skilltroc) -> str:
    return app.signup("owner@example.org", provider="google").member_id


# ---------------------------------------------------------------------- gifts and purchases
def gift_and_buy(app: Skilltroc, owner: str, worker: int, rounds: int) -> None:
    """A worker: gifts out of the owner's wallet and purchases into it, as fast as it can
    (every third round a purchase); a gift refused at the floor is expected."""
    for i in range(rounds):
        try:
            if i % 3 == 0:
                app.buy_stars(owner, 2, f"w{worker}-{i}")
            else:
                app.gift(owner, f"friend{worker}@example.org", 3)
        except SkilltrocError as exc:
            if exc.code != "floor_breach":
                raise


def wallet_race(factory: StoreFactory, *, workers: int = 8, rounds: int = 40) -> None:
    """GIFT-1, STAR-6: an owner with 210 stars, then ``workers`` processes gifting out of
    that one wallet and buying into it at once; then every figure of the wallet is
    checked: no balance below zero, GIFT-1's floor of 10 held at every gift, every
    purchase counted, the gifts in escrow, the invariants."""
    with race_service(factory) as app:
        owner = _owner(app)
        app.buy_stars(owner, 200, "seed")
    run_workers(factory, "gift_and_buy", [(owner, w, rounds) for w in range(workers)])
    with race_service(factory) as app:
        app.check_invariants(deep=True)
        lines = list(app.statement(owner, limit=10_000).items)
        assert all(line.balance >= 0 for line in lines)
        assert all(line.balance >= 10 for line in lines
                   if line.kind is TransferKind.GIFT_SENT)
        bought = sum(line.amount for line in lines if line.kind is TransferKind.PURCHASE)
        gifts = -sum(line.amount for line in lines if line.kind is TransferKind.GIFT_SENT)
        assert bought == 200 + workers * len(range(0, rounds, 3)) * 2  # every one went in
        supply = app.supply()
        assert supply.in_gift_escrow == gifts
        assert app.balance(owner).available == 10 + bought - gifts >= 10
        assert supply.supply == supply.issued - supply.returned - supply.ad_spent


# ---------------------------------------------------------------------- a killed process
def purchases(app: Skilltroc, owner: str, count: int) -> None:
    """A worker: purchases for ``owner`` with payment references p0..p{count-1},
    printing each one done."""
    for i in range(count):
        app.buy_stars(owner, 1, f"p{i}")
        print(i, flush=True)


def killed_process_race(factory: StoreFactory) -> None:
    """STAR-2, STAR-6: a process buying stars as fast as it can, killed (SIGKILL) well
    into it; the store is consistent, and the host retrying every purchase it is unsure
    of (same payment references) counts each one exactly once."""
    with race_service(factory) as app:
        owner = _owner(app)
    worker = spawn(factory, "purchases", owner, 100_000, out=True)
    try:
        assert worker.stdout is not None
        for _ in range(50):  # let it get well into its loop
            worker.stdout.readline()
        time.sleep(0.05)
    finally:
        worker.kill()
        worker.communicate(timeout=30)
    with race_service(factory) as app:
        app.check_invariants(deep=True)
        done = app.balance(owner).available - 10
        assert 50 <= done < 100_000
        for i in range(done + 20):
            app.buy_stars(owner, 1, f"p{i}")
        assert app.balance(owner).available == 10 + done + 20
        app.check_invariants(deep=True)


# ---------------------------------------------------------------------- a unit held open
def hold_open(app: Skilltroc, member: str, seconds: float) -> None:
    """A worker: a unit of work buying 5 stars for ``member``, left open ``seconds`` (a
    slow command: it holds the member's wallet until it commits). It prints ``holding``
    once it has written, ``released`` once committed."""
    uow = app.store.begin()
    assert uow.get(kinds.MEMBERS, member) is not None
    Ledger(uow.book).issue(TransferKind.PURCHASE, member, 5, reference="held", at=app.now())
    print("holding", flush=True)
    time.sleep(seconds)
    uow.commit()
    print("released", flush=True)


def spawn_holder(factory: StoreFactory, member: str, seconds: float
                 ) -> subprocess.Popen[str]:
    """A process running :func:`hold_open` on a store of ``factory``, returned once it
    holds its locks (wait for it, then read ``released`` from its output)."""
    holder = spawn(factory, "hold_open", member, seconds, out=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder
