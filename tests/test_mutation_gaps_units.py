"""What mutation testing of ``service/units.py`` found untested (issue 20): ids that are
not text, the exact edge of a spend and of a kept floor, a purged account told nothing,
a host's idempotency key, what a unit of work does when any store call fails, when a
refusal must confirm the deadlines it saw, and that queries read in read-only units."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.ids import SequentialIds
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.errors import (
    ConcurrencyError,
    InsufficientStarsError,
    InvalidInputError,
    NotFoundError,
    SkilltrocError,
    StoreError,
)
from skilltroc_core.ledger import check_invariants
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.service.units import expiry_queue, take_out_stored_key
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

from .ads_support import launch, professional
from .booking_support import member_with, workshop
from .members_support import CHEAP_POLICY, START, World, email_of, make_world
from .store_spies import SpyStore


def _on(store: MemoryStore) -> tuple[Skilltroc, ManualClock, str]:
    """A service over ``store``, its clock, and a member, ann."""
    clock = ManualClock(START)
    app = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    return app, clock, app.signup("ann@example.org", provider="google").member_id


# ---------------------------------------------------------------------- ids, stars
@pytest.mark.rule("ACC-1", "BOOK-2")
@pytest.mark.parametrize("odd", [["mem_000001"], 7, None, ""], ids=repr)
def test_an_id_that_is_not_text_is_unknown_whatever_its_type(odd: Any) -> None:
    world = make_world()
    member_with(world, "ann")
    for call in (lambda: world.service.member(odd),
                 lambda: world.service.session(odd)):
        with pytest.raises(NotFoundError):
            call()


@pytest.mark.rule("BOOK-11")
def test_a_request_may_spend_every_star_available_and_not_one_more() -> None:
    world = make_world()
    app = world.service
    org = member_with(world, "org")
    ann, bob = member_with(world, "ann"), member_with(world, "bob")
    soon = world.clock.now() + timedelta(days=2)
    session = app.plan_session(org, workshop(app, org, cost=5, capacity=4), soon)
    dearer = app.plan_session(org, workshop(app, org, cost=11, capacity=4), soon)
    app.request(ann, session_id=session, seats=2)  # 10 stars: all ann has
    assert app.balance(ann) == (0, 10)
    with pytest.raises(InsufficientStarsError) as refused:
        app.request(bob, session_id=dearer, seats=1)  # 11 stars: one more than bob's 10
    assert (refused.value.rule, refused.value.facts["available"]) == ("BOOK-11", 10)
    assert app.balance(bob) == (10, 0)


@pytest.mark.rule("GIFT-1")
def test_a_gift_may_leave_exactly_the_floor_and_not_one_star_less(world: World) -> None:
    app = world.service
    ann = member_with(world, "ann", stars=15)
    with pytest.raises(InsufficientStarsError) as refused:
        app.gift(ann, "bob@example.org", 6)
    assert refused.value.rule == "GIFT-1"
    assert (refused.value.facts["floor"], refused.value.facts["spendable"]) == (10, 5)
    app.gift(ann, "bob@example.org", 5)
    assert app.balance(ann).available == CHEAP_POLICY.gift_floor


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.mark.rule("GIFT-1")
def test_a_gift_refused_for_its_floor_draws_no_id_from_the_hosts_generator() -> None:
    """The floor is checked before anything else happens: a host's own id generator is
    not asked for an id a refused gift would waste."""
    app = Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY, ids=SequentialIds())
    ann = app.signup("ann@example.org", provider="google").member_id
    app.buy_stars(ann, 5, "PAY-1")
    with pytest.raises(InsufficientStarsError):
        app.gift(ann, "bob@example.org", 6)
    assert app.gift(ann, "bob@example.org", 5) == "gift_000001"


# ---------------------------------------------------------------------- notices
@pytest.mark.rule("ACC-7", "GIFT-1")
def test_a_purged_sender_is_not_told_that_their_gift_was_accepted(world: World) -> None:
    app = world.service
    ann, bob = member_with(world, "ann", stars=15), member_with(world, "bob")
    gift = app.gift(ann, email_of("bob"), 5)
    app.deactivate(ann)
    world.advance(days=CHEAP_POLICY.account_retention_days)
    assert app.run_due() == 1  # ann is purged
    app.ack(item.seq for item in app.drain_notifications(1000))
    app.accept_gift(bob, gift)
    told = [item.notification for item in app.drain_notifications(1000)]
    assert told == []  # bob needs no notice of his own acceptance; ann is gone
    assert app.balance(bob).available == 15


# ---------------------------------------------------------------------- host keys
@pytest.mark.rule("GIFT-1")
@pytest.mark.parametrize("key", ["", 5, b"k"], ids=repr)
def test_a_hosts_idempotency_key_is_non_empty_text(world: World, key: Any) -> None:
    app = world.service
    ann = member_with(world, "ann", stars=15)
    with pytest.raises(InvalidInputError) as refused:
        app.gift(ann, "bob@example.org", 1, key=key)
    assert (refused.value.reason, refused.value.rule) == ("idempotency_key_invalid", "GIFT-1")
    first = app.gift(ann, "bob@example.org", 1, key="gift-1")
    assert app.gift(ann, "bob@example.org", 1, key="gift-1") == first
    assert app.balance(ann).available == 14


# ---------------------------------------------------------------------- failing stores
class _Injected(StoreError):
    code = "injected_store_fault"


def _sweep(store: SpyStore, operation: Any, *, one_unit: bool = True) -> int:
    """Fail each store call of ``operation`` in turn, in whichever of its units of work
    (but a rollback): every failure must leave the store usable at once (a unit left open
    would keep the memory store locked), its books in step, and, for an operation of
    ``one_unit``, as it was. Returns how many calls failed."""
    failures = 0
    for fail_at in range(1, 400):
        calls = 0

        def fail(name: str, unit: Any, args: tuple[Any, ...], fail_at: int = fail_at) -> None:
            nonlocal calls
            if name != "rollback":
                calls += 1
                if calls == fail_at:
                    raise _Injected(f"store call {fail_at} ({name}) failed")

        before = state_of(store)
        store.before = fail
        try:
            operation()
        except _Injected:
            failures += 1
            store.before = None
            if one_unit:
                assert state_of(store) == before, fail_at
            check_invariants(store.book, deep=True)
            probe = MemoryStore.begin(store, read_only=True)  # not busy: rolled back
            probe.rollback()
            continue
        finally:
            store.before = None
        return failures
    raise AssertionError("the operation never ran to its end")


@pytest.mark.rule("ACC-7", "STAR-2")
def test_a_unit_that_fails_at_any_store_call_is_rolled_back() -> None:
    store = SpyStore()
    app, clock, ann = _on(store)
    bob = app.signup("bob@example.org", provider="google").member_id
    assert _sweep(store, lambda: app.buy_stars(ann, 5, "PAY-1")) >= 5
    app.deactivate(bob)
    clock.advance(timedelta(days=CHEAP_POLICY.account_retention_days))
    # a query that first applies the purge due, in a unit of its own, then reads
    assert _sweep(store, lambda: app.balance(ann), one_unit=False) >= 10
    with pytest.raises(NotFoundError):  # purged by the query that finally ran
        app.member(bob)
    app.deactivate(ann)
    clock.advance(timedelta(days=CHEAP_POLICY.account_retention_days))
    # a command that applies the purge due in its own unit, then is refused
    assert _sweep(store, lambda: _refused(lambda: app.buy_stars(ann, 5, "PAY-2"))) >= 10
    # the first unit of a new service checks the store
    assert app.run_due() == 1  # ann's purge, which the refused command rolled back
    fresh = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    assert _sweep(store, fresh.supply) >= 2


def _refused(call: Any) -> None:
    """Run a call that must be refused; a refusal ends it normally here."""
    try:
        call()
    except _Injected:
        raise
    except SkilltrocError:
        return
    raise AssertionError("not refused")


# ---------------------------------------------------------------------- refusals, queries
@pytest.mark.rule("STAR-2")
def test_a_refusal_confirms_the_deadlines_it_saw_and_other_failures_do_not() -> None:
    """A refused command's unit asks the store to confirm that no deadline came due unseen
    (a refusal must not rest on a state such a deadline changes); a unit that met another
    one, or failed otherwise, is only rolled back."""
    store = SpyStore()
    app = Skilltroc(store, ManualClock(START), policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY,
                    attempts=1)
    ann = app.signup("ann@example.org", provider="google").member_id
    app.buy_stars(ann, 5, "PAY-1")
    store.forget()
    with pytest.raises(InsufficientStarsError):
        app.gift(ann, "bob@example.org", 50)  # refused inside its unit of work
    assert len(store.called("confirm_due")) == 1
    for failure in (ConcurrencyError("another unit won", nothing_written=True),
                    RuntimeError("a host's hook failed")):

        def fail(name: str, unit: Any, args: tuple[Any, ...], failure: Exception = failure
                 ) -> None:
            if name == "append_notification":
                raise failure

        store.forget()
        store.before = fail
        with pytest.raises(type(failure)):
            app.gift(ann, "bob@example.org", 1)
        store.before = None
        assert store.called("confirm_due") == [], failure
        assert store.begins == [False]
    assert app.balance(ann) == (15, 0)


@pytest.mark.rule("ACC-7")
def test_a_query_reads_in_a_read_only_unit_after_applying_what_is_due_in_its_own() -> None:
    store = SpyStore()
    app, clock, ann = _on(store)
    store.forget()
    app.balance(ann)
    assert store.begins == [True]
    app.deactivate(app.signup("bob@example.org", provider="google").member_id)
    clock.advance(timedelta(days=CHEAP_POLICY.account_retention_days))
    store.forget()
    app.balance(ann)
    assert store.begins == [True, False, True]  # looked, applied the purge, read again


# ---------------------------------------------------------------------- forgetting
@pytest.mark.rule("AD-7")
def test_run_due_forgets_past_a_record_another_unit_forgot_meanwhile() -> None:
    """Two page-view ids fall out of the replay window together; while this run_due reads
    the first, another one deletes it: this run goes on with the second."""
    store = SpyStore()
    policy = attrs.evolve(CHEAP_POLICY, impressions_per_ad_star=1, replay_window=timedelta(hours=1))
    clock = ManualClock(START)
    app = Skilltroc(store, clock, policy=policy, secret_key=TEST_SECRET_KEY)
    shop = professional(app, "shop", 40)
    launch(app, shop, start=START)
    app.serve("cooking", "page-1")
    app.serve("cooking", "page-2")
    clock.advance(timedelta(hours=1))
    expiry = expiry_queue(kinds.COMMAND_KEYS)
    raced: list[str] = []

    def forgotten_elsewhere(name: str, unit: Any, args: tuple[Any, ...]) -> None:
        if name == "queue_key" and args[0] == expiry and not raced:
            raced.append(args[1])
            unit.delete(kinds.COMMAND_KEYS, args[1])
            unit.queue_remove(expiry, args[1])

    store.before = forgotten_elsewhere
    assert app.run_due() == 0
    store.before = None
    assert raced == ["page_view:page-1"]
    unit = MemoryStore.begin(store, read_only=True)
    try:
        assert unit.queue_first(expiry) is None
        assert unit.get(kinds.COMMAND_KEYS, "page_view:page-2") is None
    finally:
        unit.rollback()


# ---------------------------------------------------------------------- taking the key out
@pytest.mark.rule("STAR-1")
def test_a_take_out_that_fails_keeps_the_key_and_lets_go_of_the_store() -> None:
    store = SpyStore()
    unit = MemoryStore.begin(store)
    unit.put(kinds.SETTINGS, kinds.LEGACY_KEY_SETTING,
             kinds.Setting(id=kinds.LEGACY_KEY_SETTING, value=bytes(range(32)).hex()))
    unit.commit()

    def failing(name: str, unit: Any, args: tuple[Any, ...]) -> None:
        if name == "delete":
            raise _Injected("the disk is full")

    store.before = failing
    with pytest.raises(_Injected):
        take_out_stored_key(store)
    store.before = None
    assert take_out_stored_key(store) == bytes(range(32))  # still there; not busy
    assert take_out_stored_key(store) is None
