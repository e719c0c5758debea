"""The store contract: one abstract test suite every store must pass.

A store adapter (the shipped memory, SQLite and PostgreSQL ones, or a host's own)
proves it behaves like the in-memory reference by subclassing :class:`StoreContract`
and implementing ``create_store``::

    class TestMyStore(StoreContract):
        def create_store(self) -> Store:
            return MyStore(...)

Every test opens its own fresh store. The suite covers the port itself (entities and
their indexes, atomic rollback, timers, outbox, sequences, ordered queues, the ledger
book) and whole service flows whose results must be identical on every store: members
and gifts, bookings (requests, answers, the waitlist, moves, deadlines, deletion, the
aftermath), and ad serving, down to balances, hold ends, seats, states and the notices
in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import attrs
import pytest

from ..adapters.clocks import ManualClock
from ..adapters.memory import MemoryStore
from ..ads import CampaignState
from ..booking import Attendance, RegistrationState, SessionState
from ..errors import (
    AlreadyExistsError,
    InsufficientStarsError,
    SkilltrocError,
    StateConflictError,
)
from ..events import notification
from ..ledger import GIFT_ESCROW, HoldState, Ledger, SupplyReport, TransferKind, VoidReason
from ..ports import EntityKind, Index, Store, Timer
from ..rules import DEFAULT_POLICY
from ..service import Skilltroc, kinds
from ..tutorials import ViewVerdict
from . import TEST_SECRET_KEY
from .snapshot import Scope, changes_nothing

__all__ = ["StoreContract"]

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
CHEAP_POLICY = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)


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

    @pytest.mark.rule("STAR-6")
    def test_a_read_only_unit_reads_what_was_committed_and_refuses_every_write(
        self, store: Store
    ) -> None:
        uow = store.begin()
        ledger = Ledger(uow.book)
        ledger.open_wallet("ann")
        ledger.issue(TransferKind.PURCHASE, "ann", 30, reference="p", at=T0)
        uow.put(THINGS, "t1", Thing(id="t1", owner="ann", tag="k"))
        uow.schedule(Timer(kind="k", ref="r", due=T0))
        uow.commit()
        query = store.begin(read_only=True)
        assert query.get(THINGS, "t1") == Thing(id="t1", owner="ann", tag="k")
        assert [t.id for t in query.find(THINGS, "owner", "ann")] == ["t1"]
        assert Ledger(query.book).balance("ann") == (30, 0)
        assert query.next_due(T0) == Timer(kind="k", ref="r", due=T0)
        writes: list[Callable[[], object]] = [
            lambda: query.put(THINGS, "t2", Thing(id="t2", owner="bob")),
            lambda: query.delete(THINGS, "t1"),
            lambda: Ledger(query.book).issue(TransferKind.PURCHASE, "ann", 1, reference="q",
                                             at=T0),
            lambda: query.append_notification(notification("MessagePosted", T0,
                                                           recipients=("ann",))),
            lambda: query.schedule(Timer(kind="k", ref="s", due=T0)),
            lambda: query.cancel_timer("k", "r"),
            lambda: query.next_in_sequence("s"),
            lambda: query.queue_put("q", "m", "1"),
        ]
        for write in writes:
            with pytest.raises(StateConflictError):
                write()
        query.rollback()
        uow = store.begin()
        assert uow.get(THINGS, "t2") is None and uow.get(THINGS, "t1") is not None
        assert Ledger(uow.book).balance("ann") == (30, 0)
        assert uow.next_due(T0) == Timer(kind="k", ref="r", due=T0)
        assert uow.queue_first("q") is None
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

    # ------------------------------------------------------------------ ordered queues
    @pytest.mark.rule("AD-7")
    def test_a_queue_hands_out_its_smallest_key_first_and_follows_moves(
        self, store: Store
    ) -> None:
        uow = store.begin()
        assert uow.queue_first("q") is None
        uow.queue_put("q", "c", "300")
        uow.queue_put("q", "a", "200")
        uow.queue_put("q", "b", "100")
        uow.queue_put("other", "z", "000")  # queues are separate
        assert uow.queue_first("q") == "b"
        uow.commit()
        uow = store.begin()
        assert uow.queue_first("q") == "b"
        uow.queue_put("q", "b", "400")  # moved back: replaces its key
        assert uow.queue_first("q") == "a"
        assert uow.queue_key("q", "b") == "400"
        uow.queue_remove("q", "a")
        uow.queue_remove("q", "a")  # not there any more: nothing
        uow.queue_remove("nowhere", "a")
        assert uow.queue_first("q") == "c"
        assert uow.queue_key("q", "a") is None
        uow.queue_remove("q", "c")
        uow.queue_remove("q", "b")
        assert uow.queue_first("q") is None
        assert uow.queue_first("other") == "z"
        uow.commit()
        uow = store.begin()
        assert (uow.queue_first("q"), uow.queue_first("other")) == (None, "z")
        uow.rollback()

    @pytest.mark.rule("AD-7")
    def test_queue_keys_compare_as_text_code_point_by_code_point_ties_by_member(
        self, store: Store
    ) -> None:
        """Whatever the database's collation: a prefix first, digits before letters,
        upper case before lower case, punctuation where its code point puts it."""
        keys = ["b", "a|9", "a", "A", "0", "a 1", "a-1", "ab", "é", "Z", "z~", "a|10"]
        expected = sorted((key, f"m{n}") for n, key in enumerate(keys))
        uow = store.begin()
        for n, key in enumerate(keys):
            uow.queue_put("q", f"m{n}", key)
        for member in ("t2", "t10", "t1"):  # one key, three members: the smaller member
            uow.queue_put("q", member, "0")
        uow.commit()
        expected = sorted([*expected, ("0", "t2"), ("0", "t10"), ("0", "t1")])
        uow = store.begin()
        served = []
        while (first := uow.queue_first("q")) is not None:
            served.append((uow.queue_key("q", first), first))
            uow.queue_remove("q", first)
        uow.rollback()
        assert served == expected

    @pytest.mark.rule("AD-7")
    def test_a_rollback_leaves_a_queue_exactly_as_it_was(self, store: Store) -> None:
        uow = store.begin()
        for member, key in (("a", "1"), ("b", "2"), ("c", "3")):
            uow.queue_put("q", member, key)
        uow.commit()
        uow = store.begin()
        uow.queue_put("q", "a", "9")
        uow.queue_put("q", "a", "8")
        uow.queue_remove("q", "b")
        uow.queue_put("q", "d", "0")
        uow.queue_put("new", "x", "1")
        assert uow.queue_first("q") == "d"
        uow.queue_remove("q", "d")
        assert uow.queue_first("q") == "c"
        uow.rollback()
        uow = store.begin()
        assert [(m, uow.queue_key("q", m)) for m in "abcd"] == [
            ("a", "1"), ("b", "2"), ("c", "3"), ("d", None)]
        assert uow.queue_first("new") is None
        served = []
        while (first := uow.queue_first("q")) is not None:
            served.append(first)
            uow.queue_remove("q", first)
        assert served == ["a", "b", "c"]
        uow.rollback()

    @pytest.mark.rule("AD-7")
    def test_a_queue_stays_ordered_through_many_moves(self, store: Store) -> None:
        """A serving pattern: take the first, put it back further; the order holds."""
        uow = store.begin()
        ranks = {f"m{n:02d}": n % 7 for n in range(40)}
        for member, rank in ranks.items():
            uow.queue_put("q", member, f"{rank:04d}")
        for _ in range(300):
            first = uow.queue_first("q")
            assert first is not None
            assert (ranks[first], first) == min((r, m) for m, r in ranks.items())
            ranks[first] += 3
            uow.queue_put("q", first, f"{ranks[first]:04d}")
        uow.commit()
        uow = store.begin()
        assert uow.queue_first("q") == min((r, m) for m, r in ranks.items())[1]
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

    @pytest.mark.rule("ACC-7", "BOOK-9")
    def test_forgetting_a_member_keeps_what_others_were_told_with_them(
        self, store: Store
    ) -> None:
        """Erasure drops the notices only the member was to get, and takes the member off
        the recipients of shared ones: the others must still be told (in order)."""
        shared = notification("SessionCancelled", T0, recipients=("al", "bo"), session="s1")
        uow = store.begin()
        uow.append_notification(shared)
        uow.append_notification(notification("RequestAccepted", T0, recipients=("al",),
                                             request="r1"))
        uow.append_notification(notification("GiftReceived", T0, emails=("al@example.org",),
                                             gift="g1"))
        uow.append_notification(notification("SessionHeld", T0, recipients=("bo",),
                                             session="s2"))
        uow.commit()
        before = store.drain_notifications()
        uow = store.begin()
        uow.forget_notifications("al", "al@example.org")
        uow.rollback()
        assert store.drain_notifications() == before
        uow = store.begin()
        uow.forget_notifications("al", "al@example.org")
        uow.commit()
        after = store.drain_notifications()
        assert [item.seq for item in after] == [before[0].seq, before[3].seq]
        assert [item.notification for item in after] == [
            attrs.evolve(shared, recipients=("bo",)), before[3].notification]

    @pytest.mark.rule("ACC-7")
    def test_forgetting_a_member_drops_or_redacts_the_notices_naming_them(
        self, store: Store
    ) -> None:
        """Notices to others that name the member in a fact (MEMBER_FACTS) forget them:
        dropped when about them (an invitation they sent), the fact set to None else."""
        uow = store.begin()
        uow.append_notification(notification("InvitationSent", T0, emails=("x@example.org",),
                                             sponsor_id="al"))
        uow.append_notification(notification("GiftReceived", T0, recipients=("bo",),
                                             gift="g1", sender="al", stars=5))
        uow.append_notification(notification("GiftReceived", T0, recipients=("bo",),
                                             gift="g2", sender="cy", stars=5))
        uow.commit()
        before = store.drain_notifications()
        uow = store.begin()
        uow.forget_notifications("al", None)
        uow.commit()
        after = store.drain_notifications()
        assert [item.seq for item in after] == [before[1].seq, before[2].seq]
        assert after[0].notification.facts_map == {"gift": "g1", "sender": None, "stars": 5}
        assert after[1].notification == before[2].notification

    # ------------------------------------------------------------------ ledger
    @pytest.mark.rule("STAR-5")
    def test_the_recent_instant_is_the_newest_of_the_latest_transfers(
        self, store: Store
    ) -> None:
        assert store.recent_instant() is None  # nothing recorded yet
        for keep in (False, True):  # rolled back: still nothing; committed: the newest
            uow = store.begin()
            ledger = Ledger(uow.book)
            ledger.open_wallet("ann")
            ledger.issue(TransferKind.SIGNUP_BONUS, "ann", 10, reference="s", at=T0)
            ledger.issue(TransferKind.PURCHASE, "ann", 5, reference="p",
                         at=T0 + timedelta(hours=2))
            if keep:
                uow.commit()
            else:
                uow.rollback()
            assert store.recent_instant() == (T0 + timedelta(hours=2) if keep else None)

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
        return Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY), clock

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

    @pytest.mark.rule("AD-7", "AD-8")
    def test_ads_are_served_furthest_behind_first_and_stop_at_their_goal(
        self, store: Store
    ) -> None:
        clock = ManualClock(T0)
        service = Skilltroc(store, clock, secret_key=TEST_SECRET_KEY,
                            policy=attrs.evolve(CHEAP_POLICY, impressions_per_ad_star=1))
        shop = service.signup("shop@example.org", provider="google", kind="professional",
                              category="company").member_id
        service.update_profile(shop, display_name="Shop", description="Pots", photo="p.jpg",
                               locality="Lyon")
        service.buy_stars(shop, 60, "pay-1")
        made = {budget: service.create_campaign(
            shop, budget=budget, visual="a.png", visual_rights_free=True, text="Pots",
            start=T0 + timedelta(minutes=minutes), domains=domains)
            for budget, minutes, domains in ((10, 0, ["cooking"]),
                                             (20, 0, ["cooking", "music"]),
                                             (13, 10, ["music"]))}
        served: list[str | None] = []
        for n in range(45):
            clock.advance(timedelta(minutes=1))
            domain = ("cooking", "music", "cooking")[n % 3]
            running = [c for c in map(service.campaign, made.values())
                       if c.state is CampaignState.RUNNING and domain in c.domains]
            expected = min(running, default=None, key=lambda c: (
                Fraction(c.impressions, c.goal), c.start, c.id))
            shown = service.serve(domain, f"page-{n}")
            assert (shown.id if shown else None) == (expected.id if expected else None)
            served.append(shown.id if shown else None)
            assert service.serve(domain, f"page-{n}") == shown  # a repeat counts nothing
        ended = [service.campaign(c) for c in made.values()]
        assert [(c.state, c.impressions) for c in ended] == [
            (CampaignState.COMPLETED, 10), (CampaignState.COMPLETED, 20),
            (CampaignState.RUNNING, 12)]
        assert served[-3:] == [None, made[13], None]  # nothing left for cooking
        assert [n.notification.event for n in service.drain_notifications(100)
                ].count("CampaignEnded") == 2
        service.check_ad_queues()
        service.check_invariants(deep=True)

    @pytest.mark.rule("TUTO-1", "TUTO-2", "TUTO-3", "TUTO-4")
    def test_a_tutorial_flow_gives_the_same_results_on_every_store(self, store: Store) -> None:
        clock = ManualClock(T0)
        service = Skilltroc(store, clock, secret_key=TEST_SECRET_KEY,
                            policy=attrs.evolve(CHEAP_POLICY, views_per_tutorial_star=2))
        ann = service.signup("ann@example.org", provider="google").member_id
        url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
        first = service.publish_tutorial(ann, title="Bread", domain="cooking",
                                         rights_attested=True, youtube_url=url)
        record = service.record_view
        assert record(first, "visitor-1", "v1") is ViewVerdict.COUNTED
        assert record(first, "visitor-1", "v1") is ViewVerdict.COUNTED  # a retried report
        assert record(first, "visitor-1", "v2") is ViewVerdict.WITHIN_WINDOW
        assert record(first, ann, "v3") is ViewVerdict.OWN_VIEW
        assert record(first, "visitor-2", "v4") is ViewVerdict.COUNTED  # 2 views: 1 star
        service.edit_tutorial(ann, first, title="Sourdough bread")
        clock.advance(timedelta(hours=25))
        assert record(first, "visitor-1", "v5") is ViewVerdict.COUNTED  # a day later
        service.delete_tutorial(ann, first)
        with pytest.raises(SkilltrocError) as refused:
            record(first, "visitor-3", "v6")
        assert (refused.value.code, refused.value.rule) == ("state_conflict", "TUTO-1")
        again = service.publish_tutorial(ann, title="Bread again", domain="cooking",
                                          rights_attested=True, youtube_url=url)
        assert record(again, "visitor-3", "v7") is ViewVerdict.COUNTED  # 4 views: 2 stars
        lines = service.my_tutorials(ann, include_deleted=True)
        assert [(line.tutorial.id, line.tutorial.title, line.views, line.stars_earned,
                 line.video_views, line.video_stars) for line in lines] == [
            (first, "Sourdough bread", 3, 1, 4, 2), (again, "Bread again", 1, 1, 4, 2)]
        assert [line.tutorial.id for line in service.my_tutorials(ann)] == [again]
        assert service.balance(ann) == (12, 0)
        assert service.supply().issued_by_kind["tutorial_payout"] == 2
        told = [(i.notification.event, i.notification.fact("views"))
                for i in service.drain_notifications()]
        assert told == [("TutorialThresholdPaid", 2), ("TutorialThresholdPaid", 4)]
        service.check_invariants(deep=True)

    @pytest.mark.rule("AD-7", "TUTO-4")
    def test_ids_are_forgotten_after_the_replay_window_on_every_store(
            self, store: Store) -> None:
        """With a replay window, view and page-view ids leave the store once their time
        came (run_due): storage does not grow with traffic."""
        window = timedelta(hours=168)
        clock = ManualClock(T0)
        service = Skilltroc(store, clock, policy=attrs.evolve(CHEAP_POLICY, replay_window=window),
                            secret_key=TEST_SECRET_KEY)
        ann = service.signup("ann@example.org", provider="google").member_id
        tutorial = service.publish_tutorial(ann, title="Bread", domain="cooking",
                                            rights_attested=True,
                                            youtube_url="https://youtu.be/dQw4w9WgXcQ")
        assert service.record_view(tutorial, "visitor-1", "v1") is ViewVerdict.COUNTED

        def kept(key: str) -> bool:
            uow = store.begin()
            try:
                return uow.get(kinds.COMMAND_KEYS, key) is not None
            finally:
                uow.rollback()

        clock.advance(timedelta(hours=24))
        assert service.record_view(tutorial, "visitor-1", "v2") is ViewVerdict.COUNTED
        clock.advance(window - timedelta(hours=24))
        assert service.run_due() == 0
        assert (kept("tutorial_view:v1"), kept("tutorial_view:v2")) == (False, True)
        assert service.record_view(tutorial, "visitor-2", "v1") is ViewVerdict.COUNTED
        assert service.tutorial(tutorial).views == 3
        longest = "\U0001f35e" * 200  # the longest id, in 4-byte characters: still indexed
        assert service.record_view(tutorial, "visitor-3", longest) is ViewVerdict.COUNTED
        clock.advance(window)
        assert service.run_due() == 0 and not kept(f"tutorial_view:{longest}")
        service.check_invariants(deep=True)

    @pytest.mark.rule("STAR-4")
    def test_text_no_database_can_hold_is_refused_alike_on_every_store(
        self, store: Store
    ) -> None:
        """A NUL character or a lone surrogate is refused as input by every command and
        query, whatever the store (PostgreSQL cannot hold the one, no driver the other)."""
        service, _ = self._service(store)
        bob = service.signup("bob@example.org", provider="google").member_id
        for odd in ("\x00", "\ud800"):
            calls: tuple[tuple[Callable[..., object], tuple[object, ...], dict[str, Any]],
                         ...] = (
                (service.balance, (bob + odd,), {}),
                (service.buy_stars, (bob, 5, "PAY" + odd), {}),
                (service.update_profile, (bob,), {"display_name": "Bob" + odd}),
                (service.serve, ("cooking" + odd, "page-1"), {}),
                (service.import_contacts, (bob, ["ann@example.org", odd]), {}),
            )
            for command, args, kwargs in calls:
                with (changes_nothing(store, Scope(entities=[(kinds.MEMBERS, bob)],
                                                   accounts=[bob])),
                      pytest.raises(SkilltrocError) as refused):
                    command(*args, **kwargs)
                assert refused.value.code == "invalid_input", str(refused.value)

    @staticmethod
    def _every_other_command(service: Skilltroc, clock: ManualClock) -> list[object]:
        """The commands and queries the other flows leave out, with what each returned
        and every notice (no token or password hash: those are random by design)."""
        seen: list[object] = []
        note = seen.append
        org, al, bo, cy = (service.signup(f"{n}@example.org", provider="google").member_id
                           for n in ("org", "al", "bo", "cy"))
        # accounts and social
        pam = service.signup("pam@example.org", password="correct horse")
        assert pam.confirmation_token is not None
        service.confirm_email(pam.member_id, pam.confirmation_token)
        note(service.sign_in("PAM@example.org", "correct horse"))
        service.change_password(pam.member_id, "correct horse", "battery staple")
        service.request_password_reset("pam@example.org")
        token = service.link_token(next(
            i.notification for i in reversed(service.drain_notifications(1000))
            if i.notification.event == "PasswordResetRequested"))
        service.reset_password("pam@example.org", token, "staple horse")
        note(service.sign_in("pam@example.org", "staple horse"))
        service.update_profile(al, display_name="Al", description="Baker", locality="Lyon")
        note(service.profile(al))
        service.follow(bo, al)
        service.follow(cy, al)
        service.unfollow(cy, al)
        note((service.followers(al), service.following(bo)))
        note(service.invite(bo, "dan@example.org"))
        note(service.import_contacts(bo, ["al@example.org", "dan@example.org"]))
        service.buy_stars(bo, 10, "pay-bo")
        gift = service.gift(bo, "al@example.org", 3)
        note(service.gift_state(gift).state)
        service.deactivate(cy)
        service.reactivate(cy)
        note(service.member(cy).status)
        # booking answers and cancellations
        ws = service.create_workshop(org, title="Rope", description="Knots", domain="sailing",
                                     cost=2, capacity=3)
        first = service.plan_session(org, ws, T0 + timedelta(days=2))
        second = service.plan_session(org, ws, T0 + timedelta(days=5))
        r_al = service.request(al, session_id=first, seats=1)
        r_bo = service.request(bo, session_id=first, seats=2)
        r_cy = service.request(cy, session_id=first, seats=1)
        service.refuse(org, r_cy)
        service.accept(org, r_al)
        service.accept(org, r_bo)
        service.set_capacity(org, first, 4)
        r_cy2 = service.request(cy, session_id=second, seats=1)
        service.cancel_request(cy, r_cy2)
        r_cy3 = service.request(cy, session_id=second, seats=1)
        service.accept(org, r_cy3)
        service.unregister(cy, r_cy3)
        r_al2 = service.request(al, session_id=second, seats=1)
        service.accept(org, r_al2)
        service.cancel_transaction(org, r_al2)
        service.cancel_session(org, second)
        note((service.workshop(ws), service.sessions_of(ws)))
        note((service.organizer_agenda(org), service.participant_agenda(al)))
        clock.set(T0 + timedelta(days=2, hours=3))
        service.run_due()
        service.confirm_held(org, first)
        service.declare_absent(bo, r_bo)
        # ads
        shop = service.signup("shop@example.org", provider="google", kind="professional",
                              category="company").member_id
        service.update_profile(shop, display_name="Shop", description="Pots",
                               photo="p.jpg", locality="Lyon")
        service.buy_stars(shop, 30, "pay-ads")
        campaign = service.create_campaign(
            shop, budget=10, visual="a.png", visual_rights_free=True, text="Pots",
            start=clock.now() + timedelta(hours=1), domains=["cooking"])
        note(service.edit_campaign(shop, campaign, budget=20, domains=["cooking", "music"]))
        clock.advance(timedelta(hours=2))
        note([service.serve("music", f"page-{i}") for i in range(3)])
        note((service.campaign_progress(shop, campaign), service.my_campaigns(shop)))
        with pytest.raises(SkilltrocError) as refused:
            service.delete_campaign(shop, campaign)
        note((refused.value.code, refused.value.rule))
        note(service.rebuild_ad_queues())
        note(service.serve("cooking", "page-9"))
        note([service.balance(m) for m in (org, al, bo, cy, shop)])
        note(service.supply())
        note([(i.notification.event, i.notification.rule, i.notification.recipients,
               i.notification.facts) for i in service.drain_notifications(1000)
              if i.notification.event not in ("PasswordResetRequested",
                                              "EmailConfirmationRequested")])
        service.check_invariants(deep=True)
        return seen

    @pytest.mark.rule("ACC-4", "ACC-5", "SOCIAL-1", "SOCIAL-3", "SPONSOR-1", "BOOK-7",
                      "BOOK-14", "BOOK-17", "BOOK-19", "BOOK-20", "BOOK-33", "AD-6", "AD-8")
    def test_every_other_command_gives_the_reference_stores_results(
        self, store: Store
    ) -> None:
        """The commands and queries no other flow above uses, run here and on a fresh
        memory store (the reference): every result, balance and notice is the same."""
        service, clock = self._service(store)
        reference, reference_clock = self._service(MemoryStore())
        seen = self._every_other_command(service, clock)
        assert seen == self._every_other_command(reference, reference_clock)
        balances, supply = seen[-3], seen[-2]
        assert balances == [(16, 0), (8, 0), (13, 0), (10, 0), (20, 0)]
        assert isinstance(supply, SupplyReport) and supply.ad_spent == 20

    @pytest.mark.rule("STAR-4")
    def test_a_refused_command_changes_nothing_in_the_store(self, store: Store) -> None:
        service, _ = self._service(store)
        bob = service.signup("bob@example.org", provider="google").member_id
        with (changes_nothing(store, Scope(entities=[(kinds.MEMBERS, bob)], accounts=[bob])),
              pytest.raises(SkilltrocError) as refused):
            service.gift(bob, "carol@example.org", 1)
        assert refused.value.code == "floor_breach"
        assert service.gifts_waiting(bob) == []

    # ------------------------------------------------------------------ booking
    def _booking_start(self, store: Store) -> tuple[Skilltroc, ManualClock, list[str]]:
        """A service, its clock, and an organizer plus three participants (10 stars each)."""
        service, clock = self._service(store)
        people = [service.signup(f"{name}@example.org", provider="google").member_id
                  for name in ("org", "al", "bo", "cy")]
        return service, clock, people

    @staticmethod
    def _told(service: Skilltroc) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every notice so far as (event, rule, recipients), acknowledged."""
        items = service.drain_notifications(1000)
        service.ack([i.seq for i in items])
        return [(i.notification.event, i.notification.rule, i.notification.recipients)
                for i in items]

    @pytest.mark.rule("BOOK-11", "BOOK-14", "BOOK-18", "BOOK-22", "BOOK-23", "BOOK-30",
                      "BOOK-31", "BOOK-40", "BOOK-43", "REFUND-4", "REFUND-5")
    def test_a_booking_flow_gives_the_same_results_on_every_store(
        self, store: Store
    ) -> None:
        """Request, accept, waitlist, join, end, confirm held, evaluate, not held, leave."""
        service, clock, (org, al, bo, cy) = self._booking_start(store)
        service.buy_stars(al, 20, "PAY-AL")
        service.buy_stars(bo, 20, "PAY-BO")
        workshop = service.create_workshop(org, title="Bread", description="Sourdough",
                                           domain="cooking", cost=3, capacity=4)
        first = service.plan_session(org, workshop, T0 + timedelta(days=3))
        r1 = service.request(al, session_id=first, seats=2)
        r2 = service.request(bo, session_id=first, seats=3)
        r3 = service.request(cy, workshop_id=workshop, seats=1)
        assert [service.balance(m) for m in (al, bo, cy)] == [(24, 6), (21, 9), (7, 3)]
        service.accept(org, r1)
        with pytest.raises(StateConflictError):  # BOOK-14: only 2 seats are left for 3
            service.accept(org, r2)
        service.accept_future(org, r2)
        service.accept_future(org, r3)
        assert service.contact_email(al, r1) == "org@example.org"  # BOOK-15
        second = service.plan_session(org, workshop, T0 + timedelta(days=5), capacity=5)
        service.join(bo, r2, second)
        assert (service.seats_left(first), service.seats_left(second)) == (2, 2)

        clock.set(T0 + timedelta(days=3, hours=2))  # the first session ends
        assert service.run_due() == 1
        service.confirm_held(org, first)
        service.confirm_attendance(al, r1)
        service.evaluate(al, r1, satisfaction=9, conformity=8, teaching=10, duration=7,
                         recommend=True)
        clock.set(T0 + timedelta(days=5, hours=2))  # the second one ends
        service.confirm_not_held(org, second)
        service.leave_waitlist(cy, r3)
        service.check_invariants(deep=True)

        assert [service.balance(m) for m in (org, al, bo, cy)] == [
            (16, 0), (24, 0), (30, 0), (10, 0)]
        states = [service.registration(r) for r in (r1, r2, r3)]
        assert [r.state for r in states] == [
            RegistrationState.PAID, RegistrationState.REFUNDED_NOT_HELD,
            RegistrationState.LEFT_WAITLIST]
        assert (states[0].attendance, states[0].evaluated) == (Attendance.ATTENDED, True)
        assert states[1].session == second
        sessions = [service.session(s) for s in (first, second)]
        assert [(s.state, s.seats_taken, s.capacity) for s in sessions] == [
            (SessionState.HELD, 2, 4), (SessionState.NOT_HELD, 3, 5)]
        assert [e.mean for e in service.workshop_evaluations(workshop)] == [8.5]
        stats = service.profile_stats(org)
        assert (stats.rating, stats.recommendation_rate, stats.sessions_organized) == (
            8.5, 100, 1)
        assert [self._hold_end(store, r) for r in (r1, r2, r3)] == [
            (HoldState.POSTED, org, None),  # REFUND-4: paid in full to the organizer
            (HoldState.VOIDED, None, VoidReason.NOT_HELD),
            (HoldState.VOIDED, None, VoidReason.LEFT_WAITLIST),
        ]
        assert [(line.kind, line.amount, line.held_change, line.balance)
                for line in service.statement(al).lines] == [
            (TransferKind.SIGNUP_BONUS, 10, 0, 10),
            (TransferKind.PURCHASE, 20, 0, 30),
            (TransferKind.HOLD, -6, 6, 24),
            (TransferKind.HOLD_POSTED, 0, -6, 24),
        ]
        assert self._told(service) == [
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestAccepted", "BOOK-14", (al,)),
            ("RequestWaitlisted", "BOOK-14", (bo,)),
            ("RequestWaitlisted", "BOOK-14", (cy,)),
            ("SessionPlanned", "BOOK-10", (bo, cy)),
            ("SessionJoined", "BOOK-23", (bo, org)),
            ("SessionConfirmationRequested", "BOOK-30", (org,)),
            ("SessionHeld", "BOOK-30", (al,)),
            ("SessionConfirmationRequested", "BOOK-30", (org,)),
            ("SessionNotHeld", "BOOK-31", (bo,)),
            ("WaitlistLeft", "BOOK-25", (org,)),
        ]

    @pytest.mark.rule("BOOK-5", "BOOK-8", "BOOK-16", "BOOK-24", "REFUND-1", "REFUND-2",
                      "REFUND-3", "REFUND-5")
    def test_moves_deadlines_and_a_deletion_refund_alike_on_every_store(
        self, store: Store
    ) -> None:
        """A move voids a pending request; deadlines expire a request and a waitlist
        entry; deleting the workshop refunds everyone but a session already started."""
        service, clock, (org, al, bo, cy) = self._booking_start(store)
        workshop = service.create_workshop(org, title="Knots", description="Sailing knots",
                                           domain="sailing", cost=2, capacity=3)
        soon = service.plan_session(org, workshop, T0 + timedelta(days=1))
        later = service.plan_session(org, workshop, T0 + timedelta(days=2))
        r_al = service.request(al, session_id=later, seats=1)
        service.accept(org, r_al)
        r_bo = service.request(bo, session_id=later, seats=2)
        service.move_session(org, later, T0 + timedelta(days=4))  # BOOK-8: bo's is voided
        assert service.registration(r_bo).state is RegistrationState.VOIDED_BY_MOVE
        assert service.balance(bo) == (10, 0)
        r_cy = service.request(cy, workshop_id=workshop, seats=2)  # due in 7 days
        r_bo_soon = service.request(bo, session_id=soon, seats=1)
        service.accept(org, r_bo_soon)
        r_al_soon = service.request(al, session_id=soon, seats=1)  # never answered

        clock.set(T0 + timedelta(days=1, minutes=30))  # "soon" has started
        service.delete_workshop(org, workshop)
        assert service.registration(r_al_soon).state is RegistrationState.EXPIRED  # BOOK-16
        assert [service.registration(r).state for r in (r_al, r_cy, r_bo_soon)] == [
            RegistrationState.WORKSHOP_DELETED, RegistrationState.WORKSHOP_DELETED,
            RegistrationState.REGISTERED]  # BOOK-5: a started session lives on
        assert [service.session(s).state for s in (soon, later)] == [
            SessionState.PLANNED, SessionState.CANCELLED]
        assert [service.balance(m) for m in (org, al, bo, cy)] == [
            (10, 0), (10, 0), (8, 2), (10, 0)]
        clock.set(T0 + timedelta(days=1, hours=3))
        service.confirm_held(org, soon)

        # A waitlist entry of another workshop expires after 15 days (BOOK-24).
        other = service.create_workshop(org, title="Rope", description="Splices",
                                        domain="sailing", cost=1, capacity=2)
        r_cy_other = service.request(cy, workshop_id=other, seats=2)
        service.accept_future(org, r_cy_other)
        clock.advance(days=15, zone=CHEAP_POLICY.timezone)
        assert service.run_due() == 1
        assert service.registration(r_cy_other).state is RegistrationState.WAITLIST_EXPIRED
        service.check_invariants(deep=True)

        assert [service.balance(m) for m in (org, al, bo, cy)] == [
            (12, 0), (10, 0), (8, 0), (10, 0)]
        assert [self._hold_end(store, r) for r in (
            r_al, r_bo, r_cy, r_bo_soon, r_al_soon, r_cy_other)] == [
            (HoldState.VOIDED, None, VoidReason.WORKSHOP_DELETED),
            (HoldState.VOIDED, None, VoidReason.SESSION_MOVED),
            (HoldState.VOIDED, None, VoidReason.WORKSHOP_DELETED),
            (HoldState.POSTED, org, None),
            (HoldState.VOIDED, None, VoidReason.EXPIRED),
            (HoldState.VOIDED, None, VoidReason.WAITLIST_EXPIRED),
        ]
        supply = service.supply()
        assert (supply.held, supply.supply, supply.issued) == (0, 40, 40)
        assert self._told(service) == [
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestAccepted", "BOOK-14", (al,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestVoidedBySessionMove", "BOOK-8", (bo,)),
            ("SessionMoved", "BOOK-8", (al,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestAccepted", "BOOK-14", (bo,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestExpired", "BOOK-16", (al,)),
            ("WorkshopDeleted", "BOOK-5", (al, cy, bo)),  # bo: started, told
            ("SessionConfirmationRequested", "BOOK-30", (org,)),
            ("SessionHeld", "BOOK-30", (bo,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestWaitlisted", "BOOK-14", (cy,)),
            ("WaitlistExpired", "BOOK-24", (cy,)),
        ]

    @staticmethod
    def _hold_end(store: Store, hold_id: str) -> tuple[HoldState, str | None,
                                                        VoidReason | None]:
        uow = store.begin()
        try:
            hold = Ledger(uow.book).get_hold(hold_id)
        finally:
            uow.rollback()
        return hold.state, hold.payee, hold.void_reason
