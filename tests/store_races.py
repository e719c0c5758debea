"""Multi-process races and crashes shared by the SQLite and PostgreSQL tests.

Not a test module. Each store's worker module (``tests.sqlite_workers``,
``tests.pg_fixtures``) runs :func:`worker_main` with its own service factory; the tests
call the ``set_up_*``, ``run_*`` and ``check_*`` functions with the worker module's
name and the store's target (a file path or a DSN). Modes a worker understands:

- ``race <target> <worker> <rounds>``: gifts out of one wallet and purchases into it;
- ``purchases <target> <count>``: purchases p0, p1, ... printing each one done;
- ``serve <target> <worker> <pages>``: page views of one domain, printing how many
  showed an ad;
- ``book`` and ``organize``: the 5-seat race of :mod:`tests.booking_race`;
- ``hold <target> <member> <seconds>``: a purchase for one member left uncommitted for
  that long, printing ``holding`` once its locks are taken and ``released`` after.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from skilltroc_core.ads import CampaignState
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import Ledger, TransferKind
from skilltroc_core.service import Skilltroc, kinds

from . import booking_race

OWNER = "mem_000001"
DOMAIN = "pottery"
WORKERS = 8


def worker_main(argv: list[str], service: Callable[[str], Skilltroc]) -> None:
    """A worker process: ``argv`` is ``[mode, target, ...]`` (see the module)."""
    mode, target, *rest = argv
    app = service(target)
    try:
        if mode == "race":
            gift_and_buy(app, int(rest[0]), int(rest[1]))
        elif mode == "purchases":
            purchases(app, int(rest[0]))
        elif mode == "serve":
            print(serve_pages(app, int(rest[0]), int(rest[1])), flush=True)
        elif mode == "book":
            booking_race.request_seats(app, int(rest[0]), int(rest[1]), rest[2])
        elif mode == "organize":
            booking_race.main_answer(app, rest[0])
        elif mode == "hold":
            hold_open(app, rest[0], float(rest[1]))
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    finally:
        app.store.close()


def _spawn(module: str, *args: object, out: bool = False, root: Path
           ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=root,
                            stdout=subprocess.PIPE if out else None, text=True)


# ---------------------------------------------------------------------- one wallet
def gift_and_buy(app: Skilltroc, worker: int, rounds: int) -> None:
    """Gifts out of the shared wallet and purchases into it, as fast as possible."""
    for i in range(rounds):
        try:
            if i % 3 == 0:
                app.buy_stars(OWNER, 2, f"w{worker}-{i}")
            else:
                app.gift(OWNER, f"friend{worker}@example.org", 3)
        except SkilltrocError as exc:
            if exc.code != "floor_breach":
                raise


def run_wallet_race(app: Skilltroc, module: str, target: str, *, root: Path,
                    rounds: int = 40) -> None:
    """The owner with 210 stars, then ``WORKERS`` processes gifting and buying at once;
    then every figure of the wallet checked (GIFT-1's floor held at every gift)."""
    owner = app.signup("owner@example.org", provider="google").member_id
    assert owner == OWNER
    app.buy_stars(owner, 200, "seed")
    app.store.close()
    workers = [_spawn(module, "race", target, w, rounds, root=root) for w in range(WORKERS)]
    assert [w.wait(timeout=300) for w in workers] == [0] * WORKERS


def check_wallet_race(app: Skilltroc, rounds: int = 40) -> None:
    app.check_invariants(deep=True)
    lines = list(app.statement(OWNER, limit=10_000).lines)
    assert all(line.balance >= 0 for line in lines)
    assert all(line.balance >= 10 for line in lines if line.kind is TransferKind.GIFT_SENT)
    bought = sum(line.amount for line in lines if line.kind is TransferKind.PURCHASE)
    gifts = -sum(line.amount for line in lines if line.kind is TransferKind.GIFT_SENT)
    per_worker = len(range(0, rounds, 3))
    assert bought == 200 + WORKERS * per_worker * 2  # every purchase went through
    supply = app.supply()
    assert supply.in_gift_escrow == gifts
    assert app.balance(OWNER).available == 10 + bought - gifts >= 10
    assert supply.supply == supply.issued - supply.returned - supply.ad_spent


# ---------------------------------------------------------------------- independence
def hold_open(app: Skilltroc, member: str, seconds: float) -> None:
    """A unit of work buying 5 stars for ``member``, left open ``seconds`` (a slow
    command: it holds the member's wallet until it commits)."""
    uow = app.store.begin()
    assert uow.get(kinds.MEMBERS, member) is not None
    Ledger(uow.book).issue(TransferKind.PURCHASE, member, 5, reference="held", at=app.now())
    print("holding", flush=True)
    time.sleep(seconds)
    uow.commit()
    print("released", flush=True)


def spawn_holder(module: str, target: str, member: str, seconds: float, *, root: Path
                 ) -> subprocess.Popen[str]:
    """A process running :func:`hold_open`, returned once it holds its locks."""
    holder = _spawn(module, "hold", target, member, seconds, out=True, root=root)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder


# ---------------------------------------------------------------------- a killed process
def purchases(app: Skilltroc, count: int) -> None:
    """Purchases with payment references p0..p{count-1}, printing each one done."""
    for i in range(count):
        app.buy_stars(OWNER, 1, f"p{i}")
        print(i, flush=True)


def kill_mid_purchases(app: Skilltroc, module: str, target: str, *, root: Path) -> None:
    """A process buying stars as fast as it can, killed with SIGKILL well into it."""
    owner = app.signup("owner@example.org", provider="google").member_id
    assert owner == OWNER
    app.store.close()
    worker = _spawn(module, "purchases", target, 100_000, out=True, root=root)
    assert worker.stdout is not None
    for _ in range(50):  # let it get well into its loop
        worker.stdout.readline()
    time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)


def check_retries_apply_once(app: Skilltroc) -> None:
    """The store is consistent; the host retries every purchase it is unsure of (same
    payment references) and each one counts exactly once (STAR-2)."""
    app.check_invariants(deep=True)
    done = app.balance(OWNER).available - 10
    assert 50 <= done < 100_000
    for i in range(done + 20):
        app.buy_stars(OWNER, 1, f"p{i}")
    assert app.balance(OWNER).available == 10 + done + 20
    app.check_invariants(deep=True)


# ---------------------------------------------------------------------- one ad goal
def serve_pages(app: Skilltroc, worker: int, pages: int) -> int:
    """``pages`` page views of :data:`DOMAIN`; how many showed an ad."""
    return sum(app.serve(DOMAIN, f"w{worker}-page-{i}") is not None for i in range(pages))


def run_serve_race(app: Skilltroc, module: str, target: str, *, root: Path,
                   pages: int = 150) -> tuple[str, int, int]:
    """One campaign (10 stars: 1,000 impressions), then ``WORKERS`` processes serving
    ``pages`` pages each (more than the goal in all); (campaign, shown, goal)."""
    shop = app.signup("shop@example.org", provider="google", kind="professional",
                      category="craftsperson").member_id
    app.update_profile(shop, display_name="Shop", description="Pots", photo="p.jpg",
                       locality="Lyon")
    budget = app.policy.min_campaign_stars
    app.buy_stars(shop, budget, "pay-ads")
    campaign = app.create_campaign(shop, budget=budget, visual="a.png",
                                   visual_rights_free=True, text="Pots",
                                   start=app.now(), domains=[DOMAIN])
    app.store.close()
    goal = budget * app.policy.impressions_per_ad_star
    assert WORKERS * pages > goal
    workers = [_spawn(module, "serve", target, w, pages, out=True, root=root)
               for w in range(WORKERS)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0] * WORKERS
    return campaign, sum(int(out) for out in outputs), goal


def check_serve_race(app: Skilltroc, campaign: str, shown: int, goal: int) -> None:
    """Exactly the goal delivered, never more (AD-7), the campaign completed once (AD-8)."""
    ended = app.campaign(campaign)
    assert shown == ended.impressions == goal
    assert ended.state is CampaignState.COMPLETED
    told = [i.notification.event for i in app.drain_notifications(1000)]
    assert told.count("CampaignEnded") == 1
    assert app.serve(DOMAIN, "one-more") is None
    app.check_ad_queues()
    app.check_invariants(deep=True)


__all__ = [
    "check_retries_apply_once", "check_serve_race", "check_wallet_race",
    "hold_open", "kill_mid_purchases", "run_serve_race", "run_wallet_race", "spawn_holder",
    "worker_main",
]
