"""The registration indexes (BOOK-4 and the lookups behind agendas) as one function.

:data:`~skilltroc_core.service.kinds.REGISTRATIONS` computes every index key of a
registration in one call. Here each index is stated on its own, as the rules read, and
the one function must give exactly those keys, for registrations in every state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.booking import Attendance, Registration, RegistrationState
from skilltroc_core.errors import AlreadyExistsError
from skilltroc_core.ports import EntityKind, Index
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.testing import TEST_SECRET_KEY

from .members_support import CHEAP_POLICY

R = RegistrationState
_AT = datetime(2027, 3, 1, 8, tzinfo=UTC)
_WITH_SESSION = {R.PENDING, R.REGISTERED}
_LIVE = {R.PENDING, R.REGISTERED, R.WAITLISTED}

# name -> the keys of that index alone, written as the rules say it
SPEC: dict[str, Callable[[Registration], tuple[str, ...]]] = {
    "session_live": lambda r: (r.session,) if r.state in _WITH_SESSION and r.session else (),
    "workshop_live": lambda r: (r.workshop,) if r.state in _LIVE else (),
    "workshop_waitlist": lambda r: (r.workshop,) if r.state is R.WAITLISTED else (),
    "organizer_pending": lambda r: (r.organizer,) if r.state is R.PENDING else (),
    "member_live": lambda r: (r.member,) if r.state in _LIVE else (),
    "member_to_evaluate": lambda r: (r.member,) if (
        r.state is R.PAID and not r.evaluated and r.attendance is not Attendance.ABSENT) else (),
    # BOOK-4: one live request or registration per session and member ...
    "member_session": lambda r: (f"{r.member}|{r.session}",)
    if r.state in _WITH_SESSION and r.session else (),
    # ... and one live future-session request or waitlist entry per workshop and member
    "member_future": lambda r: (f"{r.member}|{r.workshop}",)
    if r.state is R.WAITLISTED or (r.state is R.PENDING and r.session is None) else (),
}
UNIQUE = {"member_session", "member_future"}

registrations = st.builds(
    Registration,
    id=st.just("req_1"), member=st.sampled_from(["mem_1", "mem_2"]),
    organizer=st.just("mem_9"), workshop=st.sampled_from(["ws_1", "ws_2"]),
    session=st.none() | st.sampled_from(["ses_1", "ses_2"]), seats=st.just(1),
    price=st.just(2), requested_at=st.just(_AT), due=st.none(),
    state=st.sampled_from(list(R)), attendance=st.none() | st.sampled_from(list(Attendance)),
    evaluated=st.booleans(),
)


def _paid(*, evaluated: bool, attendance: Attendance | None) -> Registration:
    """A paid registration: to evaluate unless evaluated or declared absent."""
    return Registration(id="req_1", member="mem_1", organizer="mem_9", workshop="ws_1",
                        session="ses_1", seats=1, price=2, requested_at=_AT, due=None,
                        state=R.PAID, attendance=attendance, evaluated=evaluated)


@pytest.mark.rule("BOOK-4", "BOOK-40")
@given(registrations)
@example(_paid(evaluated=False, attendance=None))  # to evaluate: every example run has them
@example(_paid(evaluated=False, attendance=Attendance.ABSENT))
@example(_paid(evaluated=True, attendance=None))
def test_every_index_key_is_the_one_the_rules_give(registration: Registration) -> None:
    kind = kinds.REGISTRATIONS
    assert [index.name for index in kind.indexes] == list(SPEC)
    assert {index.name for index in kind.indexes if index.unique} == UNIQUE
    expected = tuple((position, key) for position, name in enumerate(SPEC)
                     for key in SPEC[name](registration))
    assert kind.keys_of(registration) == expected
    for index in kind.indexes:  # each index read alone agrees with the one function
        assert tuple(index.keys(registration)) == SPEC[index.name](registration)


@given(registrations)
def test_a_kind_without_its_own_function_reads_each_index_in_order(
        registration: Registration) -> None:
    plain: EntityKind[Registration] = attrs.evolve(kinds.REGISTRATIONS, all_keys=None)
    assert plain.keys_of(registration) == kinds.REGISTRATIONS.keys_of(registration)


def test_a_key_an_index_gives_twice_is_posted_once() -> None:
    twice: EntityKind[Registration] = EntityKind(
        name="twice", type=Registration,
        indexes=(Index(name="both", keys=lambda r: [r.member, r.member, r.workshop]),))
    registration = Registration(id="req_1", member="mem_1", organizer="mem_9",
                                workshop="ws_1", session=None, seats=1, price=2,
                                requested_at=_AT, due=None)
    assert twice.keys_of(registration) == ((0, "mem_1"), (0, "ws_1"))


@pytest.mark.rule("ACC-1")
def test_the_store_refuses_a_second_member_with_the_same_email() -> None:
    """What stops two signups that both found the address free (two units of work at
    once): the email index is unique, so the store refuses the second member."""
    app = Skilltroc(MemoryStore(), ManualClock(_AT), policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    ann = app.signup("ann@example.org", provider="google").member_id
    unit = app.store.begin()
    first = unit.get(kinds.MEMBERS, ann)
    assert first is not None
    with pytest.raises(AlreadyExistsError) as refused:
        unit.put(kinds.MEMBERS, "mem_other", attrs.evolve(first, id="mem_other"))
    unit.rollback()
    assert (refused.value.facts["kind"], refused.value.facts["index"]) == ("member", "email")
