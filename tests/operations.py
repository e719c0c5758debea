"""What the tests know of each declared operation, one line per operation and concern.

Adding an operation (CONTRIBUTING.md) means one line here besides the rule's own test:

- :data:`ACTING`: who may call an operation that acts as a member, on which object of the
  cast, and which members must be refused (``tests/test_security.py`` runs each line
  against every kind of member who may not act); or :data:`NOT_ACTING`: why a member
  taking operation acts as no one;
- :data:`NOT_IN`: why a harness (the scenario runner, the testing kit, the simulator)
  leaves a command out; ``tests/test_registry.py`` fails for every other command a
  harness never calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs

from skilltroc_core.service import Skilltroc

from .fuzz_support import Cast
from .members_support import PASSWORD, email_of

__all__ = ["ACTING", "HARNESSES", "NOT_ACTING", "NOT_ACTIVE", "NOT_IN", "Acting",
           "inactive_member"]

Call = Callable[[Skilltroc, Cast, str], object]


@attrs.frozen
class Acting:
    """A command on behalf of ``right(cast)``; ``strangers`` are active members who are
    not the party it needs (the organizer, requester, publisher, owner...)."""

    call: Call
    right: Callable[[Cast], str]
    strangers: Callable[[Cast], tuple[str, ...]] = lambda c: ()
    #: Refusals that differ from :data:`NOT_ACTIVE` (commands that do not need an actor).
    codes: dict[str, str] = attrs.field(factory=dict)
    always_refused: bool = False
    #: Roles of :data:`NOT_ACTIVE` this command is meant for (reactivate: the deactivated).
    meant_for: frozenset[str] = frozenset()


#: What any command acting as a member says to one who may not act at all (ACC-1, ACC-7).
NOT_ACTIVE = {"unknown": "not_found", "unconfirmed": "account_not_confirmed",
              "deactivated": "account_deactivated", "purged": "account_purged"}


def inactive_member(cast: Cast, role: str) -> str:
    return {"unknown": "mem_999999", "unconfirmed": cast.pam, "deactivated": cast.dee,
            "purged": cast.pat}[role]


def _later(cast: Cast, days: int) -> Any:
    return cast.world.clock.now() + timedelta(days=days)


SCORES: dict[str, Any] = {"satisfaction": 8, "conformity": 7, "teaching": 9, "duration": 6,
                          "recommend": True}

ACTING: dict[str, Acting] = {
    # members
    "change_password": Acting(lambda s, c, m: s.change_password(m, PASSWORD, "a new secret"),
                              lambda c: c.bob),
    "deactivate": Acting(lambda s, c, m: s.deactivate(m), lambda c: c.gus),
    "reactivate": Acting(lambda s, c, m: s.reactivate(m), lambda c: c.dee,
                         strangers=lambda c: (c.gus,), meant_for=frozenset({"deactivated"}),
                         codes={"purged": "not_found", "unconfirmed": "state_conflict"}),
    "update_profile": Acting(lambda s, c, m: s.update_profile(m, bio="Hello"), lambda c: c.gus),
    "buy_stars": Acting(lambda s, c, m: s.buy_stars(m, 5, "pay-security"), lambda c: c.gus),
    # gifts
    "gift": Acting(lambda s, c, m: s.gift(m, "someone@example.org", 2), lambda c: c.gus),
    "accept_gift": Acting(lambda s, c, m: s.accept_gift(m, c.g_member), lambda c: c.bob,
                          strangers=lambda c: (c.gus, c.ann)),
    # social
    "import_contacts": Acting(lambda s, c, m: s.import_contacts(m, [email_of("ann")]),
                              lambda c: c.gus),
    "follow": Acting(lambda s, c, m: s.follow(m, c.org), lambda c: c.gus),
    "unfollow": Acting(lambda s, c, m: s.unfollow(m, c.org), lambda c: c.bob),
    "post_message": Acting(lambda s, c, m: s.post_message(m, "Hi"), lambda c: c.gus),
    "invite": Acting(lambda s, c, m: s.invite(m, "newcomer@example.org"), lambda c: c.gus),
    "invitable_contacts": Acting(
        lambda s, c, m: s.invitable_contacts(m, ["newcomer@example.org"]), lambda c: c.gus),
    # booking
    "create_workshop": Acting(lambda s, c, m: s.create_workshop(
        m, title="Knots", description="Sailing knots", domain="sailing", cost=1, capacity=2),
        lambda c: c.org),
    "delete_workshop": Acting(lambda s, c, m: s.delete_workshop(m, c.ws), lambda c: c.org,
                              strangers=lambda c: (c.pia, c.ann)),
    "plan_session": Acting(lambda s, c, m: s.plan_session(m, c.ws, _later(c, 3)),
                           lambda c: c.org, strangers=lambda c: (c.pia, c.ann)),
    "move_session": Acting(lambda s, c, m: s.move_session(m, c.planned, _later(c, 9)),
                           lambda c: c.org, strangers=lambda c: (c.pia, c.ann)),
    "set_capacity": Acting(lambda s, c, m: s.set_capacity(m, c.planned, 5), lambda c: c.org,
                           strangers=lambda c: (c.pia, c.ann)),
    "cancel_session": Acting(lambda s, c, m: s.cancel_session(m, c.planned), lambda c: c.org,
                             strangers=lambda c: (c.pia, c.ann)),
    "request": Acting(lambda s, c, m: s.request(m, session_id=c.planned, seats=1),
                      lambda c: c.gus, strangers=lambda c: (c.org,)),  # BOOK-3
    "cancel_request": Acting(lambda s, c, m: s.cancel_request(m, c.r_pending), lambda c: c.bob,
                             strangers=lambda c: (c.gus, c.org)),
    "refuse": Acting(lambda s, c, m: s.refuse(m, c.r_pending), lambda c: c.org,
                     strangers=lambda c: (c.bob, c.pia)),
    "accept": Acting(lambda s, c, m: s.accept(m, c.r_pending), lambda c: c.org,
                     strangers=lambda c: (c.bob, c.pia)),
    "accept_future": Acting(lambda s, c, m: s.accept_future(m, c.r_future), lambda c: c.org,
                            strangers=lambda c: (c.dan, c.pia)),
    "unregister": Acting(lambda s, c, m: s.unregister(m, c.r_registered), lambda c: c.ann,
                         strangers=lambda c: (c.gus, c.org)),
    "cancel_transaction": Acting(lambda s, c, m: s.cancel_transaction(m, c.r_registered),
                                 lambda c: c.org, strangers=lambda c: (c.ann, c.pia)),
    "join": Acting(lambda s, c, m: s.join(m, c.r_waitlisted, c.planned), lambda c: c.cat,
                   strangers=lambda c: (c.gus, c.org)),
    "leave_waitlist": Acting(lambda s, c, m: s.leave_waitlist(m, c.r_waitlisted),
                             lambda c: c.cat, strangers=lambda c: (c.gus, c.org)),
    "confirm_held": Acting(lambda s, c, m: s.confirm_held(m, c.ended), lambda c: c.org,
                           strangers=lambda c: (c.pia, c.ann)),
    "confirm_not_held": Acting(lambda s, c, m: s.confirm_not_held(m, c.ended), lambda c: c.org,
                               strangers=lambda c: (c.pia, c.ann)),
    "declare_absent": Acting(lambda s, c, m: s.declare_absent(m, c.r_paid), lambda c: c.eve,
                             strangers=lambda c: (c.gus, c.org)),
    "confirm_attendance": Acting(lambda s, c, m: s.confirm_attendance(m, c.r_paid),
                                 lambda c: c.eve, strangers=lambda c: (c.gus, c.org)),
    "evaluate": Acting(lambda s, c, m: s.evaluate(m, c.r_attended, **SCORES), lambda c: c.fay,
                       strangers=lambda c: (c.gus, c.org, c.eve)),
    "workshop_waitlist": Acting(lambda s, c, m: s.workshop_waitlist(m, c.ws), lambda c: c.org,
                                strangers=lambda c: (c.pia, c.cat)),
    "session_roster": Acting(lambda s, c, m: s.session_roster(m, c.planned), lambda c: c.org,
                             strangers=lambda c: (c.pia, c.ann)),
    "contact_email": Acting(lambda s, c, m: s.contact_email(m, c.r_registered),
                            lambda c: c.ann, strangers=lambda c: (c.gus, c.pia)),
    # tutorials
    "publish_tutorial": Acting(lambda s, c, m: s.publish_tutorial(
        m, title="Bread", domain="Cooking", rights_attested=True, upload="uploads/b.mp4"),
        lambda c: c.gus),
    "edit_tutorial": Acting(lambda s, c, m: s.edit_tutorial(m, c.t_live, title="New title"),
                            lambda c: c.org, strangers=lambda c: (c.pia, c.gus)),
    "delete_tutorial": Acting(lambda s, c, m: s.delete_tutorial(m, c.t_live), lambda c: c.org,
                              strangers=lambda c: (c.pia, c.gus)),
    # ads
    "create_campaign": Acting(lambda s, c, m: s.create_campaign(
        m, budget=10, visual="a.png", visual_rights_free=True, text="Hi",
        start=c.world.clock.now(), domains=["art"]), lambda c: c.org,
        strangers=lambda c: (c.gus,)),  # AD-1: professionals only
    "edit_campaign": Acting(lambda s, c, m: s.edit_campaign(m, c.c_scheduled, text="New"),
                            lambda c: c.pia, strangers=lambda c: (c.org, c.gus)),
    "delete_campaign": Acting(lambda s, c, m: s.delete_campaign(m, c.c_running),
                              lambda c: c.org, always_refused=True),  # AD-6
    "campaign_progress": Acting(lambda s, c, m: s.campaign_progress(m, c.c_running),
                                lambda c: c.org, strangers=lambda c: (c.pia, c.gus),
                                codes={"unconfirmed": "not_allowed",
                                       "deactivated": "not_allowed", "purged": "not_found"}),
}

#: Methods taking a ``member_id`` that do not act as that member.
NOT_ACTING = {
    "confirm_email": "authorized by the token of the link, not by an actor (test_accounts)",
    "balance": "a read about a member; the host decides who may see it",
    "statement": "a read about a member; the host decides who may see it",
    "member": "a read about a member; the host decides who may see it",
    "profile": "public profile (PROF-7)",
    "profile_stats": "public profile numbers (PROF-2..5)",
    "followers": "a read about a member (SOCIAL-2)",
    "following": "a read about a member",
    "messages": "a member's feed, public to those who follow them (SOCIAL-3)",
    "feed": "a read about a member: what they follow (SOCIAL-3)",
    "gifts_waiting": "a read about a member",
    "my_tutorials": "a read about a member (TUTO-3)",
    "my_campaigns": "a read about a member (AD-8)",
    "participant_agenda": "a read about a member",
    "organizer_agenda": "a read about a member",
}


#: The harnesses that drive commands; each is run, and what it calls is recorded.
HARNESSES = ("scenario runner", "testing kit", "simulator")
_REPAIR_READ_SIDE = ("a host's upgrade tool, not a user's step: "
                     "tests/test_catalogue.py")
_SOCIAL = "following, posting and inviting move no star, seat or hold: tests/test_social.py"
_PASSWORDS = ("passwords and reset links need the mail a host delivers; tests/test_accounts.py "
              "and tests/test_security.py drive them")
#: Commands a harness leaves out on purpose, and why (every other one it must drive).
NOT_IN: dict[str, dict[str, str]] = {
    "scenario runner": {
        "rebuild_read_side": _REPAIR_READ_SIDE,
        "rebuild_ad_queues": "a host's repair tool, not a user's step: tests/test_ad_queues.py",
    },
    "testing kit": {
        "rebuild_read_side": _REPAIR_READ_SIDE,
        "follow": _SOCIAL, "unfollow": _SOCIAL, "post_message": _SOCIAL, "invite": _SOCIAL,
        "sign_in": _PASSWORDS, "request_password_reset": _PASSWORDS,
        "reset_password": _PASSWORDS, "change_password": _PASSWORDS,
        "delete_campaign": "always refused (AD-6): tests/test_security.py and tests/test_ads.py",
        "rebuild_ad_queues": "a host's repair tool, not a user's step: tests/test_ad_queues.py",
    },
    "simulator": {
        "rebuild_read_side": _REPAIR_READ_SIDE,
        "follow": _SOCIAL, "unfollow": _SOCIAL, "post_message": _SOCIAL, "invite": _SOCIAL,
        "sign_in": _PASSWORDS, "request_password_reset": _PASSWORDS,
        "reset_password": _PASSWORDS, "change_password": _PASSWORDS,
        "edit_tutorial": "the reference model counts views and payouts, which an edit keeps: "
                         "tests/test_tutorials.py",
        "rebuild_ad_queues": "a host's repair tool, not a user's step: tests/test_ad_queues.py",
        "ack": "it reads and acknowledges the outbox on the store beneath the injected "
               "faults, to compare every notice with the model (the kit acks through the "
               "service)",
    },
}
