"""Lifecycles as transition tables: what a refused move says, and tables refused at build.

Rules: BOOK-14 and BOOK-19 (the registration lifecycle, whose moves are refused here),
REFUND-5 (a final state has no exit: a hold ends once).
"""

from __future__ import annotations

from enum import StrEnum

import pytest

from skilltroc_core.booking import REGISTRATION_LIFECYCLE, RegistrationState
from skilltroc_core.errors import StateConflictError
from skilltroc_core.statemachine import MalformedTableError, Move, TransitionTable, transition

R = RegistrationState


@pytest.mark.rule("BOOK-14")
def test_an_allowed_move_gives_its_target() -> None:
    assert transition(REGISTRATION_LIFECYCLE, R.PENDING, "refuse") is R.REFUSED
    assert REGISTRATION_LIFECYCLE.allows(R.PENDING, "refuse")
    assert not REGISTRATION_LIFECYCLE.allows(R.REFUSED, "refuse")


@pytest.mark.rule("BOOK-19")
def test_a_refused_move_names_the_thing_its_state_the_trigger_and_what_is_possible() -> None:
    with pytest.raises(StateConflictError) as refused:
        transition(REGISTRATION_LIFECYCLE, R.PENDING, "unregister", what="registration r1",
                   rule="BOOK-19")
    possible = sorted(m.trigger for m in REGISTRATION_LIFECYCLE if m.source is R.PENDING)
    assert possible and "unregister" not in possible
    assert refused.value.message == (
        "registration r1 is pending: 'unregister' is not possible now "
        f"(possible now: {', '.join(possible)})")
    assert (refused.value.code, refused.value.rule) == ("state_conflict", "BOOK-19")
    assert refused.value.facts == {"subject": "registration r1", "state": "pending",
                                   "trigger": "unregister", "allowed": possible}
    assert refused.value.message_in("fr") == (
        "registration r1 est dans l'état en attente de réponse : « unregister » n'est pas "
        "possible "
        f"maintenant (possible maintenant : {', '.join(possible)})")


@pytest.mark.rule("REFUND-5")
def test_a_move_from_a_final_state_lists_nothing_possible_and_names_the_table() -> None:
    with pytest.raises(StateConflictError) as refused:
        transition(REGISTRATION_LIFECYCLE, R.PAID, "refuse")
    assert refused.value.message == "registration is paid: 'refuse' is not possible any more"
    assert refused.value.rule is None


class Light(StrEnum):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


def _m(source: Light, trigger: str, target: Light) -> Move[Light]:
    return Move(source=source, trigger=trigger, target=target, rule="REFUND-5")


@pytest.mark.rule("REFUND-5")
@pytest.mark.parametrize(("moves", "final", "problem"), [
    ([_m(Light.OFF, "flip", Light.ON),
      _m(Light.OFF, "flip", Light.BROKEN),
      _m(Light.ON, "break", Light.BROKEN)],
     {Light.BROKEN}, "(<Light.OFF: 'off'>, 'flip') is defined twice"),
    ([_m(Light.OFF, "flip", Light.ON),
      _m(Light.ON, "break", Light.BROKEN),
      _m(Light.BROKEN, "mend", Light.OFF)],
     {Light.BROKEN}, "final state broken has an exit"),
    ([_m(Light.OFF, "flip", Light.ON),
      _m(Light.ON, "flip", Light.OFF)],
     {Light.BROKEN}, "unreachable states [<Light.BROKEN: 'broken'>]"),
    ([_m(Light.OFF, "flip", Light.ON),
      _m(Light.OFF, "break", Light.BROKEN)],
     {Light.BROKEN}, "non-final states without exits [<Light.ON: 'on'>]"),
])
def test_a_malformed_table_is_refused_when_it_is_built(
    moves: list[Move[Light]], final: set[Light], problem: str
) -> None:
    with pytest.raises(MalformedTableError) as refused:
        TransitionTable("light", Light, Light.OFF, frozenset(final), moves)
    assert str(refused.value) == f"light: {problem}"
    good = [_m(Light.OFF, "flip", Light.ON),
            _m(Light.ON, "break", Light.BROKEN)]
    assert len(list(TransitionTable("light", Light, Light.OFF, frozenset({Light.BROKEN}),
                                    good))) == 2
