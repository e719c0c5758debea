"""Star gifts (GIFT-1..4) and referrals (SPONSOR-1..4).

SPONSOR-3 is checked through the referee's first star purchase; its other path (the
first session the referee takes part in that is confirmed held) comes with booking.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.errors import SkilltrocError
from skilltroc_core.gifts import GiftState
from skilltroc_core.ledger import TransferKind
from skilltroc_core.testing import state_of

from .members_support import (
    CHEAP_POLICY,
    PASSWORD,
    World,
    email_of,
    make_world,
    notices,
    signup_confirmed,
    signup_pending,
    signup_provider,
    stored_member,
)


@pytest.fixture
def world() -> Iterator[World]:
    built = make_world()
    yield built
    built.service.check_invariants(deep=True)


def _rich(world: World, name: str, stars: int) -> str:
    """An active member with exactly ``stars`` available (bonus 10 + a purchase)."""
    member = signup_confirmed(world.service, name)
    if stars > 10:
        world.service.buy_stars(member, stars - 10, f"pay-{name}")
    assert world.service.balance(member).available == stars
    return member


def _code(error: pytest.ExceptionInfo[SkilltrocError]) -> tuple[str, str | None]:
    return error.value.code, error.value.rule


# --- GIFT-1: the floor --------------------------------------------------------------------


@pytest.mark.rule("GIFT-1")
def test_fifteen_stars_allow_a_gift_of_at_most_five(world: World) -> None:
    service = world.service
    alice = _rich(world, "alice", 15)
    bob = signup_confirmed(service, "bob")
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.gift(alice, email_of("bob"), 6)
    assert _code(info) == ("floor_breach", "GIFT-1")
    assert info.value.facts == {"member": alice, "available": 15, "amount": 6, "floor": 10,
                                "spendable": 5}
    assert "at most 5" in str(info.value)
    assert state_of(world.store) == before
    service.gift(alice, email_of("bob"), 5)
    assert service.balance(alice) == (10, 0)
    assert service.balance(bob) == (10, 0)  # not credited before acceptance (GIFT-3)
    assert service.supply().in_gift_escrow == 5


@pytest.mark.rule("GIFT-1")
def test_ten_stars_cannot_gift_even_one(world: World) -> None:
    service = world.service
    alice = _rich(world, "alice", 10)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.gift(alice, email_of("bob"), 1)
    assert _code(info) == ("floor_breach", "GIFT-1")
    assert state_of(world.store) == before


@pytest.mark.rule("GIFT-1", "STAR-4")
@pytest.mark.parametrize("stars", [0, -1, 1.0, True, "1", None])
def test_a_gift_is_a_whole_number_of_at_least_one_star(world: World, stars: object) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.gift(alice, email_of("bob"), stars)  # type: ignore[arg-type]
    assert _code(info) == ("invalid_amount", "GIFT-1")
    assert state_of(world.store) == before
    service.gift(alice, email_of("bob"), 1)  # one star is the smallest gift
    assert service.balance(alice) == (29, 0)


@pytest.mark.rule("GIFT-1")
@given(balance=st.integers(10, 40), stars=st.integers(1, 45))
def test_a_gift_succeeds_exactly_when_ten_stars_remain(balance: int, stars: int) -> None:
    world = make_world()
    service = world.service
    alice = _rich(world, "alice", balance)
    try:
        service.gift(alice, email_of("bob"), stars)
    except SkilltrocError as error:
        assert error.code == "floor_breach"
        assert stars > balance - 10
        assert service.balance(alice) == (balance, 0)
    else:
        assert stars <= balance - 10
        assert service.balance(alice) == (balance - stars, 0)
        assert service.balance(alice).available >= CHEAP_POLICY.gift_floor
    service.check_invariants(deep=True)


# --- GIFT-2, GIFT-3: recipients and acceptance --------------------------------------------


@pytest.mark.rule("GIFT-2", "GIFT-3")
def test_a_gift_to_a_member_waits_for_their_acceptance(world: World) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    bob = signup_confirmed(service, "bob")
    notices(service)
    gift_id = service.gift(alice, "BOB@example.org", 7)
    [received] = notices(service)
    assert (received.event, received.rule) == ("GiftReceived", "GIFT-3")
    assert (received.recipients, received.emails) == ((bob,), ())
    assert received.facts_map == {"gift": gift_id, "sender": alice, "stars": 7}
    gift = service.gift_state(gift_id)
    assert (gift.sender, gift.recipient, gift.recipient_email, gift.stars, gift.state) == (
        alice, bob, None, 7, GiftState.SENT)
    assert service.gifts_waiting(bob) == [gift_id]
    assert service.balance(bob) == (10, 0)

    service.accept_gift(bob, gift_id)
    assert service.balance(bob) == (17, 0)
    assert service.balance(alice) == (23, 0)
    assert service.gifts_waiting(bob) == []
    assert service.gift_state(gift_id).state is GiftState.ACCEPTED
    assert service.supply().in_gift_escrow == 0
    [accepted] = notices(service)
    assert (accepted.event, accepted.rule, accepted.recipients) == (
        "GiftAccepted", "GIFT-3", (alice,))
    assert accepted.facts_map == {"gift": gift_id, "recipient": bob, "stars": 7}
    [*_, sent] = service.statement(alice).items
    assert (sent.kind, sent.amount, sent.counterpart) == (
        TransferKind.GIFT_SENT, -7, "platform:gift_escrow")
    [*_, got] = service.statement(bob).items
    assert (got.kind, got.amount, got.balance) == (TransferKind.GIFT_ACCEPTED, 7, 17)


@pytest.mark.rule("GIFT-2", "GIFT-3")
def test_a_gift_to_a_non_member_is_accepted_after_signing_up_with_that_email(
    world: World,
) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    notices(service)
    gift_id = service.gift(alice, " Zoe@Example.org", 8)
    [received] = notices(service)
    assert (received.event, received.rule) == ("GiftReceived", "GIFT-3")
    assert (received.recipients, received.emails) == ((), ("zoe@example.org",))
    assert received.facts_map == {"gift": gift_id, "sender": alice, "stars": 8}
    gift = service.gift_state(gift_id)
    assert (gift.recipient, gift.recipient_email) == (None, "zoe@example.org")

    other = signup_confirmed(service, "yann")  # another email: not theirs
    assert service.gifts_waiting(other) == []
    zoe, token = signup_pending(service, "zoe")
    assert service.gift_state(gift_id).recipient == zoe
    assert service.gifts_waiting(zoe) == [gift_id]
    with pytest.raises(SkilltrocError) as info:
        service.accept_gift(zoe, gift_id)  # must confirm first
    assert info.value.code == "account_not_confirmed"
    with pytest.raises(SkilltrocError) as info:
        service.accept_gift(other, gift_id)
    assert _code(info) == ("not_allowed", "GIFT-3")
    service.confirm_email(zoe, token)
    assert service.balance(zoe) == (10, 0)  # the gift waits for acceptance
    service.accept_gift(zoe, gift_id)
    assert service.balance(zoe) == (18, 0)
    assert service.supply().in_gift_escrow == 0
    assert stored_member(world.store, zoe).email == "zoe@example.org"


@pytest.mark.rule("GIFT-3")
def test_a_gift_is_accepted_once_and_only_by_its_recipient(world: World) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    bob = signup_confirmed(service, "bob")
    carol = signup_provider(service, "carol")
    gift_id = service.gift(alice, email_of("bob"), 5)
    before = state_of(world.store)
    for who in (carol, alice):
        with pytest.raises(SkilltrocError) as info:
            service.accept_gift(who, gift_id)
        assert _code(info) == ("not_allowed", "GIFT-3")
    assert state_of(world.store) == before
    service.accept_gift(bob, gift_id)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.accept_gift(bob, gift_id)
    assert _code(info) == ("state_conflict", "GIFT-3")
    assert state_of(world.store) == before
    assert service.balance(bob) == (15, 0)


@pytest.mark.rule("GIFT-2")
def test_nobody_gifts_stars_to_themselves(world: World) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.gift(alice, "ALICE@example.org", 5)
    assert _code(info) == ("not_allowed", "GIFT-2")
    assert state_of(world.store) == before


@pytest.mark.rule("GIFT-1")
def test_a_gift_retried_with_its_key_moves_stars_once(world: World) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    first = service.gift(alice, email_of("bob"), 5, key="k1")
    assert service.gift(alice, email_of("bob"), 5, key="k1") == first
    assert service.balance(alice) == (25, 0)
    with pytest.raises(SkilltrocError) as info:
        service.gift(alice, email_of("bob"), 6, key="k1")
    assert info.value.code == "idempotency_conflict"
    assert info.value.facts["key"] == "k1"  # the host's key, as the host gave it
    assert service.supply().in_gift_escrow == 5


@pytest.mark.rule("GIFT-1", "STAR-2")
def test_a_host_key_that_reads_like_one_of_the_librarys_own_is_still_the_hosts(
    world: World,
) -> None:
    """``purchase:PAY-1`` is the key the library keeps for payment PAY-1; a host giving the
    same text as a gift's key neither blocks that purchase nor replays it."""
    service = world.service
    alice = _rich(world, "alice", 30)
    gift = service.gift(alice, email_of("bob"), 5, key="purchase:PAY-1")
    service.buy_stars(alice, 7, "PAY-1")
    assert service.gift(alice, email_of("bob"), 5, key="purchase:PAY-1") == gift
    assert service.balance(alice) == (32, 0)
    assert service.supply().in_gift_escrow == 5
    service.check_invariants(deep=True)


# --- GIFT-4: never taken back; escrow; optional expiry ------------------------------------


@pytest.mark.rule("GIFT-4")
def test_an_unaccepted_gift_stays_in_escrow_and_never_returns_to_its_sender(
    world: World,
) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    to_member = service.gift(alice, email_of("bob"), 6)
    to_stranger = service.gift(alice, email_of("zoe"), 4)
    bob = signup_confirmed(service, "bob")
    world.advance(days=400)
    assert service.run_due() == 0  # no expiry by default
    assert service.balance(alice) == (20, 0)
    supply = service.supply()
    assert supply.in_gift_escrow == 10
    assert supply.returned_by_kind == {}
    assert service.gift_state(to_member).state is GiftState.SENT
    assert service.gift_state(to_stranger).state is GiftState.SENT
    credits = [line.kind for line in service.statement(alice).items if line.amount > 0]
    assert credits == [TransferKind.SIGNUP_BONUS, TransferKind.PURCHASE]
    # The sender deactivating (and being purged) changes nothing for the gifts.
    service.deactivate(alice)
    world.advance(days=16)
    service.run_due()
    assert service.supply().in_gift_escrow == 10
    service.accept_gift(bob, to_member)
    assert service.balance(bob) == (16, 0)
    assert service.balance(alice) == (0, 0)


@pytest.mark.rule("GIFT-4")
def test_with_a_policy_expiry_an_unaccepted_gift_goes_to_issuance_at_its_instant() -> None:
    world = make_world(policy=attrs.evolve(CHEAP_POLICY, gift_expiry_days=30))
    service = world.service
    alice = _rich(world, "alice", 40)
    bob = signup_confirmed(service, "bob")
    lapsing = service.gift(alice, email_of("bob"), 6)
    kept = service.gift(alice, email_of("bob"), 5)
    stranger = service.gift(alice, email_of("zoe"), 4)
    due = CHEAP_POLICY.add_days(world.clock.now(), 30)
    world.clock.set(due - timedelta(seconds=1))
    service.accept_gift(bob, kept)  # one second before: still possible
    world.clock.set(due)  # at exactly the expiry instant the gifts have expired
    assert service.run_due() == 2
    supply = service.supply()
    assert supply.returned_by_kind == {"gift_expired": 10}
    assert supply.in_gift_escrow == 0
    assert service.gift_state(lapsing).state is GiftState.EXPIRED
    assert service.gift_state(stranger).state is GiftState.EXPIRED
    assert service.gift_state(kept).state is GiftState.ACCEPTED
    assert service.balance(alice) == (25, 0)  # never back to the sender
    assert service.balance(bob) == (15, 0)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.accept_gift(bob, lapsing)
    assert _code(info) == ("state_conflict", "GIFT-3")
    assert state_of(world.store) == before
    zoe = signup_provider(service, "zoe")  # signing up later claims nothing
    assert service.gifts_waiting(zoe) == []
    assert service.balance(zoe) == (10, 0)
    service.check_invariants(deep=True)


@pytest.mark.rule("GIFT-4", "ACC-7")
@pytest.mark.parametrize("expiry_days", [None, 30])
def test_a_gift_waiting_for_a_purged_member_goes_to_issuance_once(
    expiry_days: int | None,
) -> None:
    """With a policy expiry too, the gift's own expiry instant, after the purge, moves
    nothing more."""
    world = make_world(policy=attrs.evolve(CHEAP_POLICY, gift_expiry_days=expiry_days))
    service = world.service
    alice = _rich(world, "alice", 30)
    bob = signup_confirmed(service, "bob")
    gift_id = service.gift(alice, email_of("bob"), 5)
    service.deactivate(bob)
    world.advance(days=15)
    service.run_due()
    assert service.gift_state(gift_id).state is GiftState.EXPIRED
    assert service.supply().returned_by_kind == {"account_purged": 10, "gift_expired": 5}
    assert service.balance(alice) == (25, 0)
    before = service.supply()
    world.advance(days=20)  # past the gift's own expiry instant, if any
    service.run_due()
    assert service.supply() == before
    service.check_invariants(deep=True)


@pytest.mark.rule("GIFT-3", "ACC-7")
def test_a_gift_accepted_after_its_sender_was_purged_tells_nobody_but_credits_the_recipient(
    world: World,
) -> None:
    service = world.service
    alice = _rich(world, "alice", 30)
    gift_id = service.gift(alice, email_of("bob"), 5)
    service.deactivate(alice)
    world.advance(days=15)
    service.run_due()
    bob = signup_provider(service, "bob")
    notices(service)
    service.accept_gift(bob, gift_id)
    assert notices(service, "GiftAccepted") == []
    assert service.balance(bob) == (15, 0)


# --- SPONSOR-1: invitations ---------------------------------------------------------------


@pytest.mark.rule("SPONSOR-1")
def test_an_invitation_is_mailed_to_someone_who_is_not_a_member(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    notices(service)
    service.invite(alice, "Zoe@Example.org")
    [notice] = notices(service)
    assert (notice.event, notice.rule) == ("InvitationSent", "SPONSOR-1")
    assert (notice.recipients, notice.emails) == ((), ("zoe@example.org",))
    assert notice.facts_map == {"sponsor_id": alice}


@pytest.mark.rule("SPONSOR-1")
@pytest.mark.parametrize("state", ["active", "pending"])
def test_a_member_cannot_be_invited(world: World, state: str) -> None:
    """(A deactivated account is hidden: its address is invited as if no account used
    it, ACC-7, tests/test_hidden_accounts.py.)"""
    service = world.service
    alice = signup_confirmed(service, "alice")
    if state == "pending":
        signup_pending(service, "bob")
    else:
        signup_confirmed(service, "bob")
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.invite(alice, "BOB@example.org")
    assert _code(info) == ("already_exists", "SPONSOR-1")
    assert state_of(world.store) == before


@pytest.mark.rule("SPONSOR-1", "SOCIAL-1")
def test_an_imported_address_book_lists_the_contacts_to_invite(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    signup_pending(service, "bob")
    carol = signup_confirmed(service, "carol")
    service.deactivate(carol)
    notices(service)
    before = state_of(world.store)
    book = ["Zoe@Example.org", "bob@example.org", "yann@example.org", "zoe@example.org",
            "carol@example.org", "alice@example.org"]
    # carol's account is deactivated, so hidden: her address reads as no account's (ACC-7)
    invitable = ["zoe@example.org", "yann@example.org", "carol@example.org"]
    assert service.invitable_contacts(alice, book) == invitable
    assert service.import_contacts(alice, book) == []  # no active member among them
    assert state_of(world.store) == before and notices(service) == []
    for address in service.invitable_contacts(alice, book):
        service.invite(alice, address)
    assert [n.emails for n in notices(service)] == [(address,) for address in invitable]
    with pytest.raises(SkilltrocError) as info:
        service.invitable_contacts(alice, "zoe@example.org")
    assert _code(info) == ("invalid_input", "SPONSOR-1")


# --- SPONSOR-2, SPONSOR-3: one sponsor, rewarded once -------------------------------------


@pytest.mark.rule("SPONSOR-2", "SPONSOR-3")
@pytest.mark.parametrize("named_by", ["email", "id"])
def test_the_sponsor_earns_five_stars_once_at_the_first_purchase(
    world: World, named_by: str
) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    sponsor = "ALICE@example.org" if named_by == "email" else alice
    bob = signup_confirmed(service, "bob", sponsor=sponsor)
    assert stored_member(world.store, bob).sponsor == alice
    assert service.balance(alice) == (10, 0)  # signup and confirmation pay nothing
    notices(service)

    service.buy_stars(bob, 20, "pay-1")
    assert service.balance(alice) == (15, 0)
    assert service.balance(bob) == (30, 0)
    [notice] = notices(service)
    assert (notice.event, notice.rule, notice.recipients) == (
        "ReferralRewardPaid", "SPONSOR-3", (alice,))
    assert notice.facts_map == {"referee": bob, "stars": 5}
    [*_, line] = service.statement(alice).items
    assert (line.kind, line.amount, line.reference) == (
        TransferKind.REFERRAL_REWARD, 5, f"referral:{bob}")

    service.buy_stars(bob, 20, "pay-1")  # a retried purchase
    service.buy_stars(bob, 30, "pay-2")  # a second purchase
    assert service.balance(alice) == (15, 0)
    assert service.balance(bob) == (60, 0)
    assert notices(service) == []
    assert service.supply().issued_by_kind["referral_reward"] == 5
    service.check_invariants(deep=True)


@pytest.mark.rule("SPONSOR-2", "SPONSOR-1")
def test_invited_by_several_the_referee_names_one_sponsor_who_alone_is_rewarded(
    world: World,
) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob")
    carol = signup_confirmed(service, "carol")
    service.invite(alice, email_of("zoe"))
    service.invite(bob, email_of("zoe"))
    zoe = signup_provider(service, "zoe", sponsor=email_of("bob"))
    service.buy_stars(zoe, 10, "pay-zoe")
    assert [service.balance(m).available for m in (alice, bob)] == [10, 15]
    # Naming a sponsor needs no invitation.
    yann = signup_provider(service, "yann", sponsor=carol)
    service.buy_stars(yann, 10, "pay-yann")
    assert service.balance(carol) == (15, 0)


@pytest.mark.rule("SPONSOR-3")
def test_a_member_without_sponsor_pays_nobody_and_a_purged_sponsor_gets_nothing(
    world: World,
) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    bob = signup_confirmed(service, "bob", sponsor=alice)
    carol = signup_confirmed(service, "carol")
    service.buy_stars(carol, 10, "pay-carol")
    assert service.supply().issued_by_kind.get("referral_reward", 0) == 0
    service.deactivate(alice)
    world.advance(days=15)
    service.buy_stars(bob, 10, "pay-bob")  # the purge runs first
    assert service.balance(alice) == (0, 0)
    assert service.supply().issued_by_kind.get("referral_reward", 0) == 0
    assert service.balance(bob) == (20, 0)
    assert stored_member(world.store, bob).sponsor_rewarded


# --- SPONSOR-4: the sponsor is another member ---------------------------------------------


@pytest.mark.rule("SPONSOR-4")
@pytest.mark.parametrize(("sponsor", "code"), [
    ("zoe@example.org", "not_found"),
    ("mem_999999", "not_found"),
    ("", "not_found"),
    ("New@Example.org", "not_allowed"),
    ("dave@example.org", "not_found"),  # pending, not yet a member
    ("not an email@", "invalid_email"),
])
def test_an_unknown_or_pending_sponsor_and_sponsoring_oneself_are_refused(
    world: World, sponsor: str, code: str
) -> None:
    service = world.service
    signup_confirmed(service, "alice")
    signup_pending(service, "dave")
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as info:
        service.signup("new@example.org", password=PASSWORD, sponsor=sponsor)
    assert info.value.code == code
    if code != "invalid_email":
        assert info.value.rule == "SPONSOR-4"
    assert state_of(world.store) == before


@pytest.mark.rule("SPONSOR-4", "ACC-7")
def test_a_purged_member_can_no_longer_be_named_as_sponsor(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    service.deactivate(alice)
    world.advance(days=15)
    for sponsor in (alice, email_of("alice")):
        with pytest.raises(SkilltrocError) as info:
            service.signup(email_of("bob"), provider="google", sponsor=sponsor)
        assert _code(info) == ("not_found", "SPONSOR-4")


@pytest.mark.rule("SPONSOR-4", "ACC-7")
def test_a_deactivated_member_is_hidden_and_cannot_be_named_as_sponsor(world: World) -> None:
    service = world.service
    alice = signup_confirmed(service, "alice")
    service.deactivate(alice)
    notices(service)
    before = state_of(world.store)
    for sponsor in (alice, email_of("alice")):
        with pytest.raises(SkilltrocError) as info:
            service.signup(email_of("bob"), provider="google", sponsor=sponsor)
        assert _code(info) == ("not_found", "SPONSOR-4")
    assert state_of(world.store) == before and notices(service) == []
    service.reactivate(alice)  # back within 15 days: she can sponsor again
    bob = service.signup(email_of("bob"), provider="google", sponsor=alice).member_id
    assert service.member(bob).sponsor == alice
    assert service.balance(alice) == (10, 0)  # nothing is paid before a first purchase
