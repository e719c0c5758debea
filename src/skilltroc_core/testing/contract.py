"""The store contract: one abstract test suite every store must pass.

A store adapter (the shipped memory, SQLite and PostgreSQL ones, or a host's own)
proves it behaves like the in-memory reference by subclassing :class:`StoreContract`
and implementing ``create_store``::

    class TestMyStore(StoreContract):
        def create_store(self) -> Store:
            return MyStore(...)

Every test opens its own fresh store. The suite covers the port itself (entities and
their indexes, atomic rollback, timers, outbox, sequences, the ledger book) and whole
service flows whose results must be identical on every store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from ..clocks import ManualClock
from ..errors import AlreadyExistsError, InsufficientStarsError, SkilltrocError
from ..events import notification
from ..ledger import GIFT_ESCROW, Ledger, TransferKind, VoidReason
from ..ports import EntityKind, Index, Store, Timer
from ..rules import DEFAULT_POLICY
from ..service import Skilltroc

__all__ = ["StoreContract"]

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
CHEAP_POLICY = attrs.evolve(DEFAULT_POLICY, scrypt_n=16)


@attrs.frozen(kw_only=True)
class Thing:
    """A small entity for exercising the port."""

    id: str
    owner: str
    tag: str | None = None
    at: datetime = T0


THINGS: EntityKind[Thing] = EntityKind(
    name="contract_thing", type=Thing,
    indexes=(
        Index(name="owner", keys=lambda t: (t.owner,)),
        Index(name="tag", keys=lambda t: (t.tag,) if t.tag else (), unique=True),
    ),
)


class StoreContract:
    """Abstract: subclass it with ``create_store`` returning a fresh, empty store."""

    def create_store(self) -> Store:
        raise NotImplementedError

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = self.create_store()
        try:
            yield store
        finally:
            store.close()

    # ------------------------------------------------------------------ entities
    @pytest.mark.rule("STAR-6")
    def test_an_entity_put_is_read_back_equal(self, store: Store) -> None:
        uow = store.begin()
        uow.put(THINGS, "t1", Thing(id="t1", owner="ann", tag="red"))
        uow.commit()
        uow = store.begin()
        assert uow.get(THINGS, "t1") == Thing(id="t1", owner="ann", tag="red")
        assert uow.get(THINGS, "missing") is None
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_index_lookups_follow_updates_and_keep_first_storage_order(
        self, store: Store
    ) -> None:
        uow = store.begin()
        for name in ("t3", "t1", "t2"):
            uow.put(THINGS, name, Thing(id=name, owner="ann"))
        uow.put(THINGS, "t1", Thing(id="t1", owner="ann", tag="x"))  # same owner: keeps place
        uow.put(THINGS, "t2", Thing(id="t2", owner="bob"))
        uow.commit()
        uow = store.begin()
        assert [t.id for t in uow.find(THINGS, "owner", "ann")] == ["t3", "t1"]
        assert [t.id for t in uow.find(THINGS, "owner", "bob")] == ["t2"]
        assert [t.id for t in uow.find(THINGS, "tag", "x")] == ["t1"]
        uow.delete(THINGS, "t3")
        assert [t.id for t in uow.find(THINGS, "owner", "ann")] == ["t1"]
        uow.commit()

    @pytest.mark.rule("ACC-6")
    def test_a_unique_index_refuses_a_second_entity_with_the_same_key(
        self, store: Store
    ) -> None:
        uow = store.begin()
        uow.put(THINGS, "t1", Thing(id="t1", owner="ann", tag="x"))
        with pytest.raises(AlreadyExistsError):
            uow.put(THINGS, "t2", Thing(id="t2", owner="bob", tag="x"))
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_a_rollback_leaves_no_trace_of_any_write(self, store: Store) -> None:
        uow = store.begin()
        uow.put(THINGS, "keep", Thing(id="keep", owner="ann", tag="k"))
        Ledger(uow.book).open_wallet("ann")
        uow.commit()

        uow = store.begin()
        ledger = Ledger(uow.book)
        ledger.issue(TransferKind.PURCHASE, "ann", 30, reference="p", at=T0)
        ledger.hold("h1", "ann", 5, reference="r", at=T0, key="k1")
        uow.put(THINGS, "keep", Thing(id="keep", owner="bob", tag="z"))
        uow.put(THINGS, "new", Thing(id="new", owner="ann"))
        uow.delete(THINGS, "keep")
        uow.append_notification(notification("MessagePosted", T0, recipients=("ann",)))
        uow.schedule(Timer(kind="k", ref="r", due=T0))
        uow.next_in_sequence("s")
        uow.rollback()

        uow = store.begin()
        ledger = Ledger(uow.book)
        assert ledger.balance("ann") == (0, 0)
        assert uow.book.hold("h1") is None
        assert uow.book.idempotency("k1") is None
        assert uow.get(THINGS, "keep") == Thing(id="keep", owner="ann", tag="k")
        assert uow.get(THINGS, "new") is None
        assert [t.id for t in uow.find(THINGS, "owner", "ann")] == ["keep"]
        assert uow.find(THINGS, "tag", "z") == []
        assert uow.next_due(T0 + timedelta(days=999)) is None
        assert uow.next_in_sequence("s") == 1
        ledger.check_invariants(deep=True)
        uow.rollback()
        assert store.drain_notifications() == []

    # ------------------------------------------------------------------ timers
    @pytest.mark.rule("BOOK-24")
    def test_timers_come_due_in_instant_order_and_can_be_moved_or_cancelled(
        self, store: Store
    ) -> None:
        uow = store.begin()
        uow.schedule(Timer(kind="a", ref="1", due=T0 + timedelta(hours=3)))
        uow.schedule(Timer(kind="a", ref="2", due=T0 + timedelta(hours=1)))
        uow.schedule(Timer(kind="b", ref="1", due=T0 + timedelta(hours=2)))
        uow.schedule(Timer(kind="a", ref="2", due=T0 + timedelta(hours=5)))  # moved later
        uow.commit()
        uow = store.begin()
        assert uow.next_due(T0) is None
        first = uow.next_due(T0 + timedelta(days=1))
        assert first == Timer(kind="b", ref="1", due=T0 + timedelta(hours=2))
        uow.cancel_timer("b", "1")
        assert uow.next_due(T0 + timedelta(hours=2, minutes=59)) is None
        nxt = uow.next_due(T0 + timedelta(hours=3))
        assert nxt == Timer(kind="a", ref="1", due=T0 + timedelta(hours=3))
        uow.rollback()
        uow = store.begin()  # the cancel was rolled back
        assert uow.next_due(T0 + timedelta(days=1)) == first
        uow.rollback()

    # ------------------------------------------------------------------ outbox
    def test_the_outbox_hands_out_notifications_in_order_until_acknowledged(
        self, store: Store
    ) -> None:
        uow = store.begin()
        for who in ("a", "b", "c"):
            uow.append_notification(
                notification("MessagePosted", T0, recipients=(who,), message="m")
            )
        uow.commit()
        items = store.drain_notifications(2)
        assert [i.notification.recipients for i in items] == [("a",), ("b",)]
        assert store.drain_notifications(2) == items  # at least once: still there
        store.ack([items[0].seq])
        assert [i.notification.recipients for i in store.drain_notifications()] == [
            ("b",), ("c",)
        ]
        assert store.drain_notifications()[0].notification.fact("message") == "m"

    # ------------------------------------------------------------------ ledger
    @pytest.mark.rule("STAR-4", "STAR-5", "REFUND-5")
    def test_the_ledger_book_keeps_balances_holds_statements_and_keys(
        self, store: Store
    ) -> None:
        uow = store.begin()
        ledger = Ledger(uow.book)
        for member in ("ann", "bob"):
            ledger.open_wallet(member)
        ledger.issue(TransferKind.SIGNUP_BONUS, "ann", 10, reference="s", at=T0)
        ledger.issue(TransferKind.PURCHASE, "ann", 20, reference="p", at=T0, key="pay")
        ledger.issue(TransferKind.PURCHASE, "ann", 20, reference="p", at=T0, key="pay")
        ledger.hold("h1", "ann", 6, reference="r1", at=T0)
        ledger.hold("h2", "ann", 4, reference="r2", at=T0)
        ledger.post("h1", "bob", at=T0 + timedelta(hours=1))
        ledger.void("h2", VoidReason.REFUSED, at=T0 + timedelta(hours=1))
        ledger.transfer(TransferKind.GIFT_SENT, "ann", GIFT_ESCROW, 3, reference="g", at=T0,
                        keep_at_least=10)
        with pytest.raises(InsufficientStarsError):
            ledger.hold("h3", "ann", 100, reference="r3", at=T0)
        uow.commit()

        uow = store.begin()
        ledger = Ledger(uow.book)
        assert ledger.balance("ann") == (21, 0)
        assert ledger.balance("bob") == (6, 0)
        page = ledger.statement("ann", offset=1, limit=3)
        assert page.total == 7
        assert [(line.kind, line.amount, line.held_change, line.balance, line.held)
                for line in page.lines] == [
            (TransferKind.PURCHASE, 20, 0, 30, 0),
            (TransferKind.HOLD, -6, 6, 24, 6),
            (TransferKind.HOLD, -4, 4, 20, 10),
        ]
        assert page.next_offset == 4
        assert ledger.get_hold("h2").void_reason is VoidReason.REFUSED
        supply = ledger.supply()
        assert (supply.issued, supply.in_wallets, supply.in_gift_escrow) == (30, 27, 3)
        ledger.check_invariants(deep=True)
        uow.rollback()

    # ------------------------------------------------------------------ service
    def _service(self, store: Store) -> tuple[Skilltroc, ManualClock]:
        clock = ManualClock(T0)
        return Skilltroc(store, clock, policy=CHEAP_POLICY), clock

    @pytest.mark.rule("STAR-1", "STAR-2", "GIFT-3", "SPONSOR-3", "ACC-7")
    def test_a_member_flow_gives_the_same_results_on_every_store(self, store: Store) -> None:
        service, clock = self._service(store)
        alice = service.signup("Alice@Example.org", password="correct horse")
        assert service.balance(alice.member_id) == (0, 0)
        assert alice.confirmation_token is not None
        service.confirm_email(alice.member_id, alice.confirmation_token)
        bob = service.signup("bob@example.org", provider="google",
                             sponsor="alice@example.org").member_id
        first = service.buy_stars(bob, 20, "PAY-1")
        assert service.buy_stars(bob, 20, "PAY-1") == first
        with pytest.raises(SkilltrocError) as refused:
            service.buy_stars(bob, 25, "PAY-1")
        assert refused.value.code == "idempotency_conflict"
        gift = service.gift(bob, "carol@example.org", 15)
        carol = service.signup("carol@example.org", provider="facebook").member_id
        service.accept_gift(carol, gift)
        service.follow(carol, bob)
        service.post_message(bob, "hello")
        service.deactivate(carol)
        clock.advance(days=15, zone=CHEAP_POLICY.timezone)
        assert service.run_due() == 1

        assert service.balance(alice.member_id) == (15, 0)
        assert service.balance(bob) == (15, 0)
        assert service.balance(carol) == (0, 0)
        supply = service.supply()
        assert dict(supply.issued_by_kind) == {
            "signup_bonus": 30, "purchase": 20, "referral_reward": 5
        }
        assert dict(supply.returned_by_kind) == {"account_purged": 25}
        events = [(i.notification.event, i.notification.rule)
                  for i in service.drain_notifications()]
        assert events == [
            ("EmailConfirmationRequested", "ACC-1"),
            ("ReferralRewardPaid", "SPONSOR-3"),
            ("GiftAccepted", "GIFT-3"),
            ("AccountPurged", "ACC-7"),
        ]
        lines = service.statement(bob).lines
        assert [(line.kind, line.amount, line.balance) for line in lines] == [
            (TransferKind.SIGNUP_BONUS, 10, 10),
            (TransferKind.PURCHASE, 20, 30),
            (TransferKind.GIFT_SENT, -15, 15),
        ]
        service.check_invariants(deep=True)

    @pytest.mark.rule("STAR-4")
    def test_a_refused_command_changes_nothing_in_the_store(self, store: Store) -> None:
        service, _ = self._service(store)
        bob = service.signup("bob@example.org", provider="google").member_id
        before = (service.balance(bob), service.supply(), service.drain_notifications())
        with pytest.raises(SkilltrocError) as refused:
            service.gift(bob, "carol@example.org", 1)
        assert refused.value.code == "floor_breach"
        assert (service.balance(bob), service.supply(), service.drain_notifications()) == before
        assert service.gifts_waiting(bob) == []
