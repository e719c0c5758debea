"""What mutation testing of ``service/paging.py`` found untested (issue 20): the bounds of
what a cursor may hold (its length, NUL characters in its position, a line number), and
the last page of a list that fills it exactly, and a search through ids just above the
surrogates."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.ids import SequentialIds
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import InvalidInputError
from skilltroc_core.listings import WorkshopCard
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.paging import MAX_CURSOR
from skilltroc_core.testing import TEST_SECRET_KEY

from .members_support import CHEAP_POLICY, START, make_world, signup_confirmed


def _forged(cursor: str, position: object, *, pad: int = 0) -> str:
    """``cursor`` holding ``position`` instead, as a visitor would make it by hand;
    ``pad``: that many more characters of "x" at the end of a text position."""
    version, digest, _ = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    if isinstance(position, str):
        position += "x" * pad
    raw = json.dumps([version, digest, position]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _catalogue() -> tuple[Skilltroc, str]:
    """A service with three upcoming sessions; the cursor after the first."""
    world = make_world()
    app = world.service
    org = app.signup("org@example.org", provider="google", kind="professional",
                     category="craftsperson").member_id
    app.update_profile(org, display_name="Org", description="Workshops",
                       photo="https://example.org/p.jpg", locality="Lyon")
    workshop = app.create_workshop(org, title="Bread", description="Loaves", domain="cooking",
                                   cost=1, capacity=2)
    for day in (1, 2, 3):
        app.plan_session(org, workshop, world.clock.now() + timedelta(days=day))
    first = app.upcoming_sessions(limit=1)
    assert first.next is not None
    return app, first.next


def _refused(call: object, rule: str) -> None:
    assert callable(call)
    with pytest.raises(InvalidInputError) as refusal:
        call()
    assert refusal.value.rule == rule, refusal.value


@pytest.mark.rule("AD-7")
def test_a_cursor_of_the_longest_length_is_read_and_a_longer_one_refused() -> None:
    app, cursor = _catalogue()
    # base64 of 1536 bytes is 2048 characters: the pad that makes the JSON that long
    pad = 1536 - len(base64.urlsafe_b64decode(_forged(cursor, "") + "=="))
    longest = _forged(cursor, "", pad=pad)
    assert len(longest) == MAX_CURSOR == 2048
    assert app.upcoming_sessions(after=longest).items == ()  # after every session: none
    _refused(lambda: app.upcoming_sessions(after=_forged(cursor, "", pad=pad + 1)), "AD-7")


@pytest.mark.rule("AD-7")
def test_a_position_holds_at_most_one_nul_character() -> None:
    app, cursor = _catalogue()
    for position in ("\x00", "0\x00b"):  # before every position: the whole list
        assert len(app.upcoming_sessions(after=_forged(cursor, position)).items) == 3
    _refused(lambda: app.upcoming_sessions(after=_forged(cursor, "0\x00b\x00c")), "AD-7")


@pytest.mark.rule("STAR-5")
def test_a_statement_cursor_holds_a_line_number_from_0() -> None:
    world = make_world()
    app = world.service
    member = signup_confirmed(app, "ann")
    app.buy_stars(member, 5, "PAY-1")
    first = app.statement(member, limit=1)
    assert first.next is not None
    assert app.statement(member, after=_forged(first.next, 0)).items == app.statement(
        member).items
    _refused(lambda: app.statement(member, after=_forged(first.next, -1)), "STAR-5")


@pytest.mark.rule("AD-7")
def test_a_page_that_the_rest_of_a_list_fills_exactly_has_no_next() -> None:
    app, cursor = _catalogue()
    assert app.upcoming_sessions(limit=3).next is None
    rest = app.upcoming_sessions(after=cursor, limit=2)
    assert (len(rest.items), rest.next) == (2, None)


#: The last characters of the workshops' ids: just below and just above the surrogates.
_NEAR_THE_SURROGATES = ("\ud7ff", "\ue000", "\ue001")


class _IdsNearTheSurrogates(SequentialIds):
    """Sequential ids, but the workshops' end with the characters around the surrogates:
    a host's ids may hold any character a store keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.workshops = 0

    def new_id(self, prefix: str) -> str:
        if prefix != "ws":
            return super().new_id(prefix)
        self.workshops += 1
        return f"ws_{_NEAR_THE_SURROGATES[self.workshops - 1]}"


@pytest.mark.rule("AD-7", "BOOK-1")
@pytest.mark.parametrize("where", ["memory", "sqlite"])
def test_a_search_of_two_words_reads_ids_just_above_the_surrogates(
    where: str, tmp_path: Path,
) -> None:
    """Workshops created at one instant, whose ids end with U+D7FF, U+E000 and U+E001: the
    search leaps from one index list to another just before each position, and never
    through a surrogate no store can bind."""
    store = MemoryStore() if where == "memory" else SQLiteStore(tmp_path / "s.db")
    app = Skilltroc(store, ManualClock(START), policy=CHEAP_POLICY, ids=_IdsNearTheSurrogates(),
                    secret_key=TEST_SECRET_KEY)
    org = app.signup("org@example.org", provider="google", kind="professional",
                     category="craftsperson").member_id
    app.update_profile(org, display_name="Org", description="Workshops",
                       photo="https://example.org/p.jpg", locality="Lyon")
    made = [app.create_workshop(org, title="Sourdough bread", description="Loaves",
                                domain="cooking", cost=1, capacity=2) for _ in range(3)]
    assert tuple(w[-1] for w in made) == _NEAR_THE_SURROGATES
    found = app.search("bread sourdough", limit=10).items
    assert sorted(c.workshop.workshop_id for c in found if isinstance(c, WorkshopCard)) == made
    assert len(found) == len(made)
    store.close()
