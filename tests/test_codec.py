"""The JSON codec of the SQL stores: round trips, one text per value, sortable instants."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import Enum

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.adapters.codec import decode, dumps, encode, instant_text, loads, parse_instant
from skilltroc_core.errors import InvalidInputError
from skilltroc_core.ledger import Balance, StatementLine, TransferKind


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen(kw_only=True)
class Inner:
    when: datetime
    tags: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Outer:
    zeta: int
    alpha: str | None
    colour: Colour
    inner: Inner
    counts: dict[str, int]
    wait: timedelta


AT = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
VALUE = Outer(zeta=3, alpha=None, colour=Colour.BLUE,
              inner=Inner(when=AT, tags=("b", "a")), counts={"z": 1, "a": 2},
              wait=timedelta(days=7))


def test_a_value_round_trips_through_its_text() -> None:
    assert loads(Outer, dumps(VALUE)) == VALUE
    assert decode(Outer, encode(VALUE)) == VALUE


def test_the_text_is_compact_with_every_object_key_sorted() -> None:
    text = dumps(VALUE)
    assert text == json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
    assert text.startswith('{"alpha":null,"colour":"blue","counts":{"a":2,"z":1},')
    assert dumps(attrs.evolve(VALUE, counts={"a": 2, "z": 1})) == text  # insertion order


EARLIEST = datetime(1000, 1, 1)  # noqa: DTZ001 - hypothesis takes naive bounds


@given(st.lists(st.datetimes(min_value=EARLIEST, timezones=st.just(UTC)), min_size=2,
                max_size=5))
def test_instant_texts_sort_like_the_instants(instants: list[datetime]) -> None:
    texts = [instant_text(i) for i in instants]
    assert sorted(texts) == [instant_text(i) for i in sorted(instants)]
    assert [parse_instant(t) for t in texts] == instants


def test_a_value_the_codec_does_not_know_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="cannot store a set"):
        dumps({"a": {1, 2}})


@attrs.frozen
class Kept:
    balance: Balance
    line: StatementLine | None = None


def test_a_named_tuple_is_an_object_with_its_field_names_and_old_lists_still_read() -> None:
    value = Kept(balance=Balance(available=7, held=3))
    assert json.loads(dumps(value)) == {"balance": {"available": 7, "held": 3}, "line": None}
    assert loads(Kept, dumps(value)) == value
    assert decode(Kept, {"balance": [7, 3], "line": None}) == value  # as 0.1 wrote it
    line = StatementLine("ann", 4, AT, TransferKind.PURCHASE, 5, 0, 15, 0, "pay-1", "bank")
    assert loads(Kept, dumps(Kept(balance=value.balance, line=line))).line == line
