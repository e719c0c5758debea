"""What mutation testing of ``service/platform.py`` found untested (issue 20): the
largest drain limit and notification seq a host may pass, the default drain limit, that
checking the books applies no deadline, and that the default check does not replay."""

from __future__ import annotations

import pytest

from skilltroc_core.errors import InvariantViolationError, SkilltrocError
from skilltroc_core.ledger import Balance, Invariant
from skilltroc_core.service.platform import MAX_DRAIN
from skilltroc_core.testing import state_of

from .members_support import CHEAP_POLICY, make_world


def test_a_drain_takes_at_most_a_million_and_an_ack_seqs_below_2_to_the_63() -> None:
    app = make_world().service
    assert MAX_DRAIN == 1_000_000
    assert app.drain_notifications(1_000_000) == []
    app.ack([1, 2**63 - 1])  # unknown seqs: ignored
    for call in (lambda: app.drain_notifications(1_000_001), lambda: app.ack([2**63]),
                 lambda: app.ack([0])):
        with pytest.raises(SkilltrocError) as refused:
            call()
        assert refused.value.code == "invalid_input"


@pytest.mark.rule("STAR-6", "ACC-7")
def test_checking_the_books_applies_no_deadline() -> None:
    """check_invariants reads the state as it is: a purge due is left to run_due."""
    world = make_world()
    app = world.service
    member = app.signup("ann@example.org", provider="google").member_id
    app.deactivate(member)
    world.advance(days=CHEAP_POLICY.account_retention_days)
    before = state_of(world.store)
    app.check_invariants()
    assert state_of(world.store) == before
    assert app.run_due() == 1


@pytest.mark.rule("GIFT-1")
def test_a_drain_without_a_limit_takes_the_oldest_hundred() -> None:
    app = make_world().service
    giver = app.signup("ann@example.org", provider="google").member_id
    app.signup("bob@example.org", provider="google")
    app.buy_stars(giver, 101, "PAY-1")
    for _ in range(101):
        app.gift(giver, "bob@example.org", 1)  # one notice each
    first = app.drain_notifications()
    assert len(first) == 100
    assert [item.seq for item in first] == sorted(item.seq for item in first)
    assert len(app.drain_notifications(1000)) == 101  # nothing acknowledged yet
    app.ack(item.seq for item in first)
    assert len(app.drain_notifications()) == 1


@pytest.mark.rule("STAR-6")
def test_the_default_check_is_the_quick_one_and_only_the_deep_one_replays() -> None:
    """Stars moved between two wallets with no transfer keep every total: only the replay
    of the transfers (``deep=True``, O(transfers)) sees it."""
    world = make_world()
    app = world.service
    ann = app.signup("ann@example.org", provider="google").member_id
    bob = app.signup("bob@example.org", provider="google").member_id
    book = world.store.book
    ann_was, bob_was = book.balances[ann], book.balances[bob]
    book.balances[ann] = Balance(ann_was.available - 3, ann_was.held)
    book.balances[bob] = Balance(bob_was.available + 3, bob_was.held)
    app.check_invariants()
    with pytest.raises(InvariantViolationError) as broken:
        app.check_invariants(deep=True)
    assert broken.value.facts["broken"] == (Invariant.TRANSFERS_GIVE_BALANCES,)
    assert app.balance(ann).available == 7
