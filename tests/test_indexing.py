"""``adapters.indexing``: what a write moves in its kind's indexes, for every store."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.adapters.indexing import check_unique, posted_pairs, reposting
from skilltroc_core.errors import AlreadyExistsError
from skilltroc_core.ports import EntityKind, Index, IndexKey

_KIND: EntityKind[Any] = EntityKind(
    name="thing", type=object,
    indexes=(Index(name="owner", keys=lambda t: ()),
             Index(name="email", keys=lambda t: (), unique=True)),
)
pairs = st.lists(st.tuples(st.integers(0, 1), st.sampled_from("abc")), unique=True).map(tuple)


@given(pairs, pairs)
def test_a_write_adds_the_new_pairs_and_removes_the_old_ones(
        old: tuple[IndexKey, ...], new: tuple[IndexKey, ...]) -> None:
    added, removed = reposting(old, new)
    assert set(added) == set(new) - set(old) and set(removed) == set(old) - set(new)
    assert list(added) == [pair for pair in new if pair in added]  # in the new order
    assert list(removed) == [pair for pair in old if pair in removed]


def test_a_new_entity_adds_all_its_pairs_and_a_deleted_one_removes_all() -> None:
    assert reposting((), ((0, "a"), (1, "b"))) == (((0, "a"), (1, "b")), ())
    assert reposting(((0, "a"),), ()) == ((), ((0, "a"),))


def test_only_a_taken_key_of_a_unique_index_refuses_the_write() -> None:
    asked: list[tuple[str, str]] = []

    def taken(index: Index[Any], key: str) -> bool:
        asked.append((index.name, key))
        return True

    check_unique(_KIND, ((0, "ann"),), taken)  # not unique: never asked
    assert asked == []
    with pytest.raises(AlreadyExistsError,
                       match="another thing already has this email") as taken_key:
        check_unique(_KIND, ((0, "ann"), (1, "a@b")), taken)
    # the key stays out of the error: a unique key may be an email fingerprint
    assert taken_key.value.facts == {"kind": "thing", "index": "email"}
    assert "a@b" not in str(taken_key.value)
    assert asked == [("email", "a@b")]
    check_unique(_KIND, ((1, "a@b"),), lambda index, key: False)


def test_stored_rows_become_pairs_in_index_order_without_a_gone_index() -> None:
    rows = [("email", "a@b"), ("retired", "x"), ("owner", "ann")]
    assert posted_pairs(_KIND, rows) == ((0, "ann"), (1, "a@b"))
