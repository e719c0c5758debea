"""What mutation testing of ``service/platform.py`` found untested (issue 20): the
largest drain limit and notification seq a host may pass, and that checking the books
applies no deadline."""

from __future__ import annotations

import pytest

from skilltroc_core.errors import SkilltrocError
from skilltroc_core.service.platform import MAX_DRAIN
from skilltroc_core.testing import state_of

from .members_support import CHEAP_POLICY, make_world


def test_a_drain_takes_at_most_a_million_and_an_ack_seqs_below_2_to_the_63() -> None:
    app = make_world().service
    assert MAX_DRAIN == 1_000_000
    assert app.drain_notifications(1_000_000) == []
    app.ack([1, 2**63 - 1])  # unknown seqs: ignored
    for call in (lambda: app.drain_notifications(1_000_001), lambda: app.ack([2**63]),
                 lambda: app.ack([0])):
        with pytest.raises(SkilltrocError) as refused:
            call()
        assert refused.value.code == "invalid_input"


@pytest.mark.rule("STAR-6", "ACC-7")
def test_checking_the_books_applies_no_deadline() -> None:
    """check_invariants reads the state as it is: a purge due is left to run_due."""
    world = make_world()
    app = world.service
    member = app.signup("ann@example.org", provider="google").member_id
    app.deactivate(member)
    world.advance(days=CHEAP_POLICY.account_retention_days)
    before = state_of(world.store)
    app.check_invariants()
    assert state_of(world.store) == before
    assert app.run_due() == 1
