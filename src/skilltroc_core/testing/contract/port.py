"""The port contract: the ``Store`` and ``UnitOfWork`` port checked directly.

No service runs here: each test drives units of work by hand and reads back what the
port must keep (entities and their indexes, atomic rollback, read-only units, timers,
ordered queues, the outbox and member erasure in it, the ledger book and the recent
instant), on a fresh store of the subclass's ``create_store``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
import pytest

from ...errors import AlreadyExistsError, InsufficientStarsError, StateConflictError
from ...events import notification
from ...ledger import GIFT_ESCROW, Ledger, TransferKind, VoidReason
from ...ports import EntityKind, Index, Store, Timer
from .base import T0, StoreUnderTest

__all__ = ["THINGS", "PortContract", "Thing"]


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


class PortContract(StoreUnderTest):
    """Abstract: the port itself, on ``create_store()`` (see :class:`StoreUnderTest`)."""

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
