"""What mutation testing of ``service/platform.py`` found untested (issue 20): the
largest drain limit and notification seq a host may pass."""

from __future__ import annotations

import pytest

from skilltroc_core.errors import SkilltrocError
from skilltroc_core.service.platform import MAX_DRAIN

from .members_support import make_world


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
