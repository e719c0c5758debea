"""What mutation testing of ``service/agendas.py`` found untested (issue 20): what a
member's agenda shows of a held session to evaluate, and that the sessions a professional
attended do not raise their level."""

from __future__ import annotations

import attrs
import pytest

from .booking_support import hold_session, member_with, professional, workshop
from .members_support import CHEAP_POLICY, email_of, make_world


@pytest.mark.rule("BOOK-22", "BOOK-15")
def test_a_session_to_evaluate_holds_no_stars_and_shows_the_organizers_email() -> None:
    world = make_world()
    org, ann = professional(world, "org"), member_with(world, "ann", 20)
    _, [paid] = hold_session(world, org, workshop(world.service, org), [ann])
    [item] = world.service.participant_agenda(ann).to_evaluate
    assert item.registration.id == paid
    assert (item.stars_held, item.contact_email) == (0, email_of("org"))


@pytest.mark.rule("PROF-5")
def test_a_professionals_level_counts_the_sessions_they_organized_not_attended() -> None:
    world = make_world(policy=attrs.evolve(CHEAP_POLICY, level_intermediate_from=1))
    org, pro, ann = professional(world, "org"), professional(world, "pro"), member_with(
        world, "ann", 20)
    world.service.buy_stars(pro, 10, "pay-pro")
    hold_session(world, org, workshop(world.service, org), [pro, ann])
    levels = {m: world.service.profile_stats(m).level for m in (org, pro, ann)}
    assert levels == {org: "intermediate", pro: "beginner", ann: "intermediate"}
