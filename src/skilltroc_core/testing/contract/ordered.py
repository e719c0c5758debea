"""The ordered index contract: pages read after a position, on any store.

An ordered index (:class:`~skilltroc_core.ports.Index` with ``order``) keeps each key's
entities sorted by their sort text, then by id, and :meth:`UnitOfWork.page
<skilltroc_core.ports.UnitOfWork.page>` reads them a page at a time after a position
(keyset pagination). These tests drive the port by hand, as :mod:`.port` does, and
compare every page with a plain sort of the entities it should hold; and the walks an
upgrade needs: :meth:`scan` over a kind, :meth:`repost` under an index added since.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ...ports import EntityKind, Index, Store, UnitOfWork, position_of
from .base import StoreUnderTest

__all__ = ["LISTED", "Listed", "OrderedIndexContract"]


@attrs.frozen(kw_only=True)
class Listed:
    """An entity on shelves (the keys of an ordered index), at a rank (its sort text)."""

    id: str
    shelves: tuple[str, ...]
    rank: str


LISTED: EntityKind[Listed] = EntityKind(
    name="contract_listed", type=Listed,
    indexes=(
        Index(name="shelf", keys=lambda item: item.shelves, order=lambda item: item.rank),
        Index(name="plain", keys=lambda item: item.shelves),
    ),
)


#: The entities :meth:`OrderedIndexContract.test_a_scan_walks_every_entity_of_a_kind_once`
#: stores, by id.
LISTED_BY_ID = {f"i{n}": Listed(id=f"i{n}", shelves=(), rank="") for n in (5, 1, 12, 3, 8)}


def walk(uow: UnitOfWork, shelf: str, size: int, after: str | None = None) -> list[str]:
    """The ids on ``shelf`` after ``after``, read ``size`` at a time to the end."""
    ids: list[str] = []
    while True:
        page = uow.page(LISTED, "shelf", shelf, after=after, limit=size)
        ids += [found.entity.id for found in page]
        if len(page) < size:
            return ids
        after = page[-1].position


def expected(items: Sequence[Listed], shelf: str, after: str | None = None) -> list[str]:
    """What a walk of ``shelf`` must give: a plain sort of the entities on it."""
    on_shelf = sorted((position_of(item.rank, item.id), item.id) for item in items
                      if shelf in item.shelves)
    return [entity_id for position, entity_id in on_shelf
            if after is None or position > after]


_TEXT = st.text(alphabet="aAbzé€0 ", max_size=4)
_ITEM = st.builds(Listed, id=st.sampled_from([f"i{n}" for n in range(12)]),
                  shelves=st.lists(st.sampled_from(["x", "y", "z"]), max_size=2, unique=True
                                   ).map(tuple),
                  rank=_TEXT)


class OrderedIndexContract(StoreUnderTest):
    """Abstract: ordered indexes read by pages, on ``create_store()``."""

    def _put(self, store: Store, *items: Listed) -> None:
        uow = store.begin()
        for item in items:
            uow.put(LISTED, item.id, item)
        uow.commit()

    @pytest.mark.rule("STAR-6")
    def test_pages_walk_a_key_in_sort_order_then_by_id(self, store: Store) -> None:
        items = [Listed(id="b", shelves=("x",), rank="2027-05"),
                 Listed(id="a", shelves=("x", "y"), rank="2027-05"),
                 Listed(id="c", shelves=("x",), rank="2027-04"),
                 Listed(id="d", shelves=("y",), rank="2026-12")]
        self._put(store, *items)
        uow = store.begin(read_only=True)
        for size in (1, 2, 3, 10):
            assert walk(uow, "x", size) == ["c", "a", "b"]
        assert walk(uow, "y", 1) == ["d", "a"]
        assert uow.page(LISTED, "shelf", "none", limit=5) == []
        first = uow.page(LISTED, "shelf", "x", limit=1)
        assert first[0].position == position_of("2027-04", "c")
        assert first[0].entity == items[2]
        assert uow.page(LISTED, "shelf", "x", limit=0) == []
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_a_page_reads_on_from_any_text_as_a_prefix_would_stand(self, store: Store) -> None:
        self._put(store, *(Listed(id=f"m{n}", shelves=("x",), rank=name) for n, name in
                           enumerate(("anna", "annie", "bob", "ann", "zoe"))))
        uow = store.begin(read_only=True)
        after_ann = uow.page(LISTED, "shelf", "x", after="ann", limit=10)
        assert [found.entity.rank for found in after_ann] == ["ann", "anna", "annie", "bob",
                                                              "zoe"]
        assert [found.entity.rank for found in uow.page(
            LISTED, "shelf", "x", after="anna", limit=2)] == ["anna", "annie"]
        assert uow.page(LISTED, "shelf", "x", after="zz", limit=10) == []
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_sort_texts_compare_code_point_by_code_point(self, store: Store) -> None:
        ranks = ["é", "z", "Z", "e", "€", "a b", "ab", ""]
        self._put(store, *(Listed(id=f"k{n}", shelves=("x",), rank=rank)
                           for n, rank in enumerate(ranks)))
        uow = store.begin(read_only=True)
        page = uow.page(LISTED, "shelf", "x", limit=20)
        assert [found.entity.rank for found in page] == sorted(ranks)
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_an_entity_moves_with_its_sort_text_and_keys_and_leaves_when_deleted(
        self, store: Store
    ) -> None:
        self._put(store, Listed(id="a", shelves=("x",), rank="1"),
                  Listed(id="b", shelves=("x",), rank="2"),
                  Listed(id="c", shelves=("x",), rank="3"))
        uow = store.begin()
        uow.put(LISTED, "a", Listed(id="a", shelves=("x",), rank="9"))  # moves to the end
        uow.put(LISTED, "b", Listed(id="b", shelves=("y",), rank="2"))  # another shelf
        assert walk(uow, "x", 1) == ["c", "a"]  # a unit reads its own writes
        uow.delete(LISTED, "c")
        assert walk(uow, "x", 5) == ["a"]
        assert walk(uow, "y", 5) == ["b"]
        uow.commit()
        uow = store.begin(read_only=True)
        assert walk(uow, "x", 2) == ["a"]
        assert walk(uow, "y", 2) == ["b"]
        assert [t.id for t in uow.find(LISTED, "plain", "y")] == ["b"]
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_a_rollback_puts_every_page_back(self, store: Store) -> None:
        before = [Listed(id=f"i{n}", shelves=("x",), rank=f"{n:02}") for n in range(6)]
        self._put(store, *before)
        uow = store.begin()
        uow.put(LISTED, "i0", Listed(id="i0", shelves=("x",), rank="99"))
        uow.put(LISTED, "new", Listed(id="new", shelves=("x", "y"), rank="00"))
        uow.delete(LISTED, "i3")
        uow.rollback()
        uow = store.begin(read_only=True)
        assert walk(uow, "x", 4) == expected(before, "x")
        assert walk(uow, "y", 4) == []
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_a_cursor_stays_valid_while_entities_come_and_go(self, store: Store) -> None:
        """Keyset pages: no entity present throughout is skipped or seen twice."""
        self._put(store, *(Listed(id=f"i{n:02}", shelves=("x",), rank=f"{n:02}")
                           for n in range(0, 20, 2)))
        uow = store.begin(read_only=True)
        page = uow.page(LISTED, "shelf", "x", limit=3)
        uow.rollback()
        assert [found.entity.id for found in page] == ["i00", "i02", "i04"]
        uow = store.begin()
        uow.delete(LISTED, "i04")  # already seen
        uow.delete(LISTED, "i06")  # not seen yet: gone
        uow.put(LISTED, "i01", Listed(id="i01", shelves=("x",), rank="01"))  # before the cursor
        uow.put(LISTED, "i07", Listed(id="i07", shelves=("x",), rank="07"))  # after it
        uow.commit()
        uow = store.begin(read_only=True)
        rest = walk(uow, "x", 2, after=page[-1].position)
        uow.rollback()
        assert rest == ["i07", "i08", "i10", "i12", "i14", "i16", "i18"]

    @pytest.mark.rule("STAR-6")
    def test_an_ordered_index_is_read_by_pages_and_a_plain_one_by_find(
        self, store: Store
    ) -> None:
        uow = store.begin(read_only=True)
        with pytest.raises(LookupError):
            uow.find(LISTED, "shelf", "x")
        with pytest.raises(LookupError):
            uow.page(LISTED, "plain", "x", limit=1)
        uow.rollback()
        with pytest.raises(TypeError):
            Index(name="bad", keys=lambda item: (), unique=True, order=lambda item: "")

    @pytest.mark.rule("STAR-6")
    def test_pages_match_a_plain_sort_after_any_writes(self, store: Store) -> None:
        """Property: after any puts, deletes and rollbacks, every walk of every key, at
        any page size and from any text, is a plain sort of the entities on it."""

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(steps=st.lists(st.tuples(st.sampled_from(["put", "delete", "rollback"]),
                                        _ITEM), max_size=15),
               size=st.integers(1, 4), after=st.none() | _TEXT)
        def check(steps: list[tuple[str, Listed]], size: int, after: str | None) -> None:
            uow = store.begin()
            for item in list(model.values()):
                uow.delete(LISTED, item.id)
            uow.commit()
            model.clear()
            for action, item in steps:
                uow = store.begin()
                if action == "delete":
                    uow.delete(LISTED, item.id)
                    model.pop(item.id, None)
                    uow.commit()
                elif action == "put":
                    uow.put(LISTED, item.id, item)
                    model[item.id] = item
                    uow.commit()
                else:
                    uow.put(LISTED, item.id, item)
                    uow.rollback()
            uow = store.begin(read_only=True)
            for shelf in ("x", "y", "z"):
                assert walk(uow, shelf, size, after) == expected(
                    list(model.values()), shelf, after), shelf
            uow.rollback()

        model: dict[str, Listed] = {}
        check()

    @pytest.mark.rule("STAR-6")
    def test_a_scan_walks_every_entity_of_a_kind_once(self, store: Store) -> None:
        items = list(LISTED_BY_ID.values())
        self._put(store, *items)
        uow = store.begin(read_only=True)
        for size in (1, 2, 5):
            seen: list[str] = []
            after = None
            while True:
                batch = uow.scan(LISTED, after=after, limit=size)
                seen += [entity_id for entity_id, _ in batch]
                assert all(LISTED_BY_ID[entity_id] == entity for entity_id, entity in batch)
                if len(batch) < size:
                    break
                after = batch[-1][0]
            assert sorted(seen) == sorted(item.id for item in items), size
            assert len(seen) == len(items)
        uow.rollback()

    @pytest.mark.rule("STAR-6")
    def test_a_repost_posts_a_stored_entity_under_an_index_added_since(
        self, store: Store
    ) -> None:
        """An entity stored by a kind without an ordered index is found by pages once
        reposted by the kind that has it (an upgrade adding an index)."""
        before = EntityKind(name=LISTED.name, type=Listed, indexes=(LISTED.indexes[1],))
        uow = store.begin()
        uow.put(before, "a", Listed(id="a", shelves=("x",), rank="2"))
        uow.put(before, "b", Listed(id="b", shelves=("x",), rank="1"))
        uow.commit()
        uow = store.begin()
        assert uow.page(LISTED, "shelf", "x", limit=5) == []
        uow.repost(LISTED, "a")
        uow.repost(LISTED, "b")
        uow.repost(LISTED, "missing")  # nothing stored: nothing to do
        uow.commit()
        uow = store.begin()
        assert walk(uow, "x", 1) == ["b", "a"]
        uow.repost(LISTED, "a")  # again: nothing changes
        assert walk(uow, "x", 5) == ["b", "a"]
        uow.rollback()
