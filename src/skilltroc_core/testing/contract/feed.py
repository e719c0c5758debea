"""The change feed contract: changes recorded with units of work, read in commit order.

A unit of work records changes to public entities (:meth:`UnitOfWork.record_change
<skilltroc_core.ports.UnitOfWork.record_change>`) and a purge forgets an entity's
(:meth:`~skilltroc_core.ports.UnitOfWork.forget_changes`); :meth:`Store.changes
<skilltroc_core.ports.Store.changes>` reads the committed ones a page at a time after a
position. These tests drive the port by hand, as :mod:`.port` does, and compare what a
reader sees with the changes committed, in their commit order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ...errors import InvalidInputError, StateConflictError
from ...ports import Change, Inspectable, Store
from ..snapshot import state_of
from .base import StoreUnderTest

__all__ = ["ChangeFeedContract", "Recorded", "in_order", "read_all", "recorded"]

#: A change as recorded: topic, entity id, data (None: a tombstone).
Recorded = tuple[str, str, str | None]


def read_all(store: Store, size: int, after: str | None = None) -> list[Change]:
    """The committed changes after ``after``, read ``size`` at a time to the end."""
    found: list[Change] = []
    while True:
        page = store.changes(after=after, limit=size)
        found += page
        if len(page) < size:
            return found
        after = page[-1].position


def recorded(changes: Sequence[Change]) -> list[Recorded]:
    """What ``changes`` hold, without their positions."""
    return [(change.topic, change.entity_id, change.data) for change in changes]


def in_order(changes: Sequence[Change]) -> bool:
    """Whether the positions only increase, as text."""
    return all(a.position < b.position for a, b in pairwise(changes))


#: One unit of work of the property: each action ("record" or "forget") on an entity
#: (with the record's data), then whether it commits.
_Unit = tuple[list[tuple[str, str, str]], bool]
_ENTITIES = ("w1", "w2", "s1")
_UNITS = st.lists(st.tuples(
    st.lists(st.tuples(st.sampled_from(["record", "record", "forget"]),
                       st.sampled_from(_ENTITIES),
                       st.text(alphabet="aé€{}\" 0", max_size=5)), max_size=4),
    st.booleans()), max_size=8)


class ChangeFeedContract(StoreUnderTest):
    """Abstract: the change feed, on ``create_store()``."""

    def _commit(self, store: Store, *changes: Recorded) -> None:
        uow = store.begin()
        for topic, entity_id, data in changes:
            uow.record_change(topic, entity_id, data)
        uow.commit()

    @pytest.mark.rule("STAR-6")
    def test_changes_are_read_in_commit_order_each_as_recorded(self, store: Store) -> None:
        assert store.changes() == []
        first = [("workshop", "w1", '{"title": "Crème brûlée"}'), ("session", "s1", "{}")]
        second = [("workshop", "w1", None), ("profile", "mem_1", "x" * 5000)]
        self._commit(store, *first)
        self._commit(store, *second)
        changes = store.changes()
        assert recorded(changes) == first + second
        assert in_order(changes)
        assert all(isinstance(change, Change) for change in changes)
        assert store.changes(limit=0) == []
        assert store.changes(after=changes[-1].position) == []

    @pytest.mark.rule("STAR-6")
    def test_pages_from_any_position_at_any_size_read_the_feed_once(
        self, store: Store
    ) -> None:
        for unit in range(4):
            self._commit(store, *((f"topic{n % 2}", f"e{unit}-{n}", str(n))
                                  for n in range(unit + 1)))
        whole = store.changes(limit=100)
        assert len(whole) == 10
        for size in range(1, 12):
            assert read_all(store, size) == whole
        for at, change in enumerate(whole):
            assert read_all(store, 3, after=change.position) == whole[at + 1:]

    @pytest.mark.rule("STAR-6")
    def test_a_rolled_back_unit_leaves_nothing_in_the_feed(self, store: Store) -> None:
        self._commit(store, ("workshop", "w1", "1"))
        uow = store.begin()
        uow.record_change("workshop", "w1", "2")
        uow.record_change("session", "s1", "3")
        uow.forget_changes("workshop", "w1")
        uow.rollback()
        assert recorded(store.changes()) == [("workshop", "w1", "1")]
        self._commit(store, ("workshop", "w1", "4"))
        changes = store.changes()
        assert recorded(changes) == [("workshop", "w1", "1"), ("workshop", "w1", "4")]
        assert in_order(changes)

    @pytest.mark.rule("STAR-6")
    def test_a_read_only_unit_refuses_to_record_or_forget_a_change(
        self, store: Store
    ) -> None:
        self._commit(store, ("workshop", "w1", "1"))
        query = store.begin(read_only=True)
        writes: list[Callable[[], object]] = [
            lambda: query.record_change("workshop", "w2", "2"),
            lambda: query.forget_changes("workshop", "w1"),
        ]
        try:
            for write in writes:
                with pytest.raises(StateConflictError):
                    write()
        finally:  # a unit left open would hold the store's lock
            query.rollback()
        assert recorded(store.changes()) == [("workshop", "w1", "1")]

    @pytest.mark.rule("STAR-6")
    def test_a_position_the_feed_did_not_give_is_refused(self, store: Store) -> None:
        self._commit(store, ("workshop", "w1", "1"))
        position = store.changes()[0].position
        for wrong in ("", "abc", "1", position + "0", position[:-1], " " + position,
                      position.replace("0", "٠"), "9" * 19 + "." + "9" * 19):
            with pytest.raises(InvalidInputError):
                store.changes(after=wrong)

    @pytest.mark.rule("ACC-7")
    def test_forgotten_changes_are_never_read_again_and_the_tombstone_follows(
        self, store: Store
    ) -> None:
        """A purge forgets every change of the entity, this unit's own too; a reader that
        saw some of them reads on to the tombstone; a reader from the start never sees
        them; a rolled-back forget puts them back where they were."""
        self._commit(store, ("profile", "mem_1", "Carolina Zed"), ("profile", "mem_2", "Bob"))
        self._commit(store, ("profile", "mem_1", "Carolina Zed, baker"))
        seen = store.changes(limit=1)
        before = store.changes()
        uow = store.begin()
        uow.forget_changes("profile", "mem_1")
        uow.rollback()
        assert store.changes() == before
        uow = store.begin()
        uow.record_change("profile", "mem_1", "Carolina Zed, retired")
        uow.forget_changes("profile", "mem_1")
        uow.forget_changes("profile", "nobody")  # nothing recorded: nothing to forget
        uow.record_change("profile", "mem_1", None)
        uow.commit()
        assert recorded(store.changes(after=seen[-1].position)) == [
            ("profile", "mem_2", "Bob"), ("profile", "mem_1", None)]
        assert recorded(store.changes()) == [("profile", "mem_2", "Bob"),
                                             ("profile", "mem_1", None)]
        assert "Carolina" not in repr(store.changes())

    @pytest.mark.rule("STAR-6")
    def test_a_reader_going_on_from_its_last_position_sees_every_change_once(
        self, store: Store
    ) -> None:
        """A reader polls between commits, a few at a time, and goes on from the last
        position it saw, as a host restarting from its saved position does."""
        committed: list[Recorded] = []
        seen: list[Change] = []
        last: str | None = None
        for unit in range(12):
            changes = [("session", f"s{unit % 3}", f"{unit}.{n}") for n in range(unit % 4)]
            self._commit(store, *changes)
            committed += changes
            for _ in range(unit % 3):  # some polls, not always to the end
                page = store.changes(after=last, limit=2)
                seen += page
                last = page[-1].position if page else last
        seen += read_all(store, 2, after=last)
        assert recorded(seen) == committed
        assert in_order(seen)

    @pytest.mark.rule("STAR-6")
    def test_a_store_that_shows_its_contents_shows_its_feed(self, store: Store) -> None:
        if not isinstance(store, Inspectable):
            pytest.skip("the store does not show its contents()")
        empty = state_of(store)
        uow = store.begin()
        uow.record_change("workshop", "w1", "shown")
        uow.rollback()
        assert state_of(store) == empty
        self._commit(store, ("workshop", "w1", "shown"))
        assert any("shown" in line for line in empty.changes(state_of(store)))

    @pytest.mark.rule("STAR-6", "ACC-7")
    def test_the_feed_is_the_committed_changes_after_any_units(self, store: Store) -> None:
        """Property: after any units recording and forgetting changes, committed or rolled
        back, a read of the feed at any page size is the committed changes, in commit
        order, without those forgotten since."""

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(units=_UNITS, size=st.integers(1, 4))
        def check(units: list[_Unit], size: int) -> None:
            uow = store.begin()  # the feed of the previous example is forgotten
            for entity_id in _ENTITIES:
                uow.forget_changes("t", entity_id)
            uow.commit()
            model: list[Recorded] = []
            for actions, commits in units:
                uow = store.begin()
                kept = list(model)
                for action, entity_id, data in actions:
                    if action == "forget":
                        uow.forget_changes("t", entity_id)
                        kept = [change for change in kept if change[1] != entity_id]
                    else:
                        uow.record_change("t", entity_id, data)
                        kept.append(("t", entity_id, data))
                if commits:
                    uow.commit()
                    model = kept
                else:
                    uow.rollback()
            changes = read_all(store, size)
            assert recorded(changes) == model
            assert in_order(changes)

        check()
