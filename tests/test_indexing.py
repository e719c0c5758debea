"""``adapters.indexing``: what a write moves in its kind's indexes, for every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.adapters.indexing import check_unique, posted_pairs, reposting
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.booking import Mode, Session, SessionState
from skilltroc_core.errors import AlreadyExistsError
from skilltroc_core.listings import SessionCard, sortable_instant
from skilltroc_core.ports import EntityKind, Index, IndexKey
from skilltroc_core.service import kinds
from skilltroc_core.service.read_side import SESSION_CARDS

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


_START = datetime(2027, 3, 1, 9, tzinfo=UTC)
_CARD = SessionCard(session_id="ses_1", workshop_id="ws_1", organizer="mem_1", title="Bread",
                    domain="cooking", mode=Mode.ONLINE, locality=None, start=_START,
                    end=_START + timedelta(hours=2), cost=2, capacity=10, seats_left=10)
_SESSION = Session(id="ses_1", workshop="ws_1", organizer="mem_1", start=_START,
                   end=_START + timedelta(hours=2), capacity=10)
#: Other values of each field of a card and of a session (a start the same instant in
#: another zone too).
_OTHER_VALUES: dict[type[Any], dict[str, list[Any]]] = {
    SessionCard: {
        "session_id": ["ses_2"], "workshop_id": ["ws_2"], "organizer": ["mem_2"],
        "title": ["Pain"], "domain": ["Cooking", "Crème"], "mode": list(Mode),
        "locality": [None, "", "Lyon", "lyon"], "end": [_START],
        "start": [_START + timedelta(hours=1),
                  _START.astimezone(timezone(timedelta(hours=2)))],
        "cost": [3], "capacity": [3], "seats_left": [0],
    },
    Session: {
        "id": ["ses_2"], "workshop": ["ws_2"], "organizer": ["mem_2"], "start": [_START],
        "end": [_START], "capacity": [3], "seats_taken": [1], "state": list(SessionState),
        "ended_at": [None, _START],
    },
}


@pytest.mark.parametrize(("kind", "base"), [
    (SESSION_CARDS, _CARD),
    (SESSION_CARDS, attrs.evolve(_CARD, locality="Lyon", mode=Mode.FACE_TO_FACE)),
    (kinds.SESSIONS, _SESSION),
    (kinds.SESSIONS, attrs.evolve(_SESSION, state=SessionState.AWAITING_CONFIRMATION)),
])
def test_entities_keyed_by_the_same_fields_are_posted_under_the_same_keys(
        kind: EntityKind[Any], base: Any) -> None:
    keyed_by = kind.keyed_by
    assert keyed_by is not None
    others = _OTHER_VALUES[type(base)]
    assert set(others) == {field.name for field in attrs.fields(type(base))}
    for name, values in others.items():
        for value in values:
            other = attrs.evolve(base, **{name: value})
            if keyed_by(other) == keyed_by(base):
                assert kind.keys_of(other) == kind.keys_of(base), name


def test_a_write_that_keeps_the_keyed_fields_keeps_the_postings_and_rolls_back() -> None:
    store = MemoryStore()
    card = _CARD
    uow = store.begin()
    uow.put(SESSION_CARDS, card.session_id, card)
    uow.commit()
    posted = store.contents()["index/session_card/catalogue"]

    taken = attrs.evolve(card, seats_left=9)
    uow = store.begin()
    uow.put(SESSION_CARDS, card.session_id, taken)
    assert [o.entity for o in uow.page(SESSION_CARDS, "catalogue", "all", limit=5)] == [taken]
    uow.rollback()
    assert store.contents()["entities/session_card"] == (("ses_1", card),)

    later = attrs.evolve(taken, start=_START + timedelta(days=1))
    uow = store.begin()
    uow.put(SESSION_CARDS, card.session_id, taken)
    uow.put(SESSION_CARDS, card.session_id, later)  # a new start: it moves
    uow.commit()
    moved = store.contents()["index/session_card/catalogue"]
    assert moved != posted and len(moved) == len(posted)
    assert dict(moved) == {key.replace(
        sortable_instant(_START), sortable_instant(later.start)): ids for key, ids in posted}
