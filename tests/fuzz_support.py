"""A populated world for the fuzz and security tests: every kind of entity in every
interesting state, with the ids grouped by kind, and a cache that hands out the same
pristine world again as long as nothing changed it.

Not a test module (no ``test_`` prefix); the test files import from it. Built on a
memory store with the cheap-hashing policy of :mod:`tests.members_support`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import attrs

from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import StoreState, state_of

from .booking_support import at, book, waitlist
from .members_support import (
    START,
    World,
    email_of,
    make_world,
    notices,
    reset_link,
    signup_confirmed,
    signup_pending,
    signup_provider,
)

__all__ = ["BROKEN_OFFSETS", "FAR", "VIDEO_URL", "BrokenZone", "Cast", "FreeClock", "broken",
           "build_cast", "pristine_cast", "release_cast"]

VIDEO_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
OTHER_VIDEO_URL = "https://youtu.be/aaaaaaaaaaa"


@attrs.define
class Cast:
    """The world and the ids in it, by role and by kind."""

    world: World
    org: str  # professional, complete profile: workshops, a tutorial, a running campaign
    pia: str  # another complete professional: a tutorial, a scheduled campaign
    ann: str  # registered in ``planned`` (2 seats) and in ``ended``; sent two gifts
    bob: str  # pending request in ``planned``; follows org; an outstanding reset token
    cat: str  # waitlisted on ``ws``
    dan: str  # a refused request in ``planned``, a pending future request on ``ws``
    eve: str  # paid in ``held``, attendance not given yet
    fay: str  # paid in ``held``, attended, not evaluated yet
    gus: str  # an active individual with stars and no booking at all
    pam: str  # password signup, email not confirmed
    dee: str  # deactivated (within the retention period)
    pat: str  # purged
    pam_token: str
    bob_reset: str
    ws: str
    gone: str  # deleted workshop
    held: str
    ended: str  # awaiting the organizer's answer
    planned: str
    cancelled: str
    r_paid: str
    r_attended: str
    r_ended: str
    r_pending: str
    r_registered: str
    r_waitlisted: str
    r_refused: str
    r_future: str
    g_member: str  # ann -> bob, waiting
    g_email: str  # ann -> a non-member, waiting
    g_accepted: str
    t_live: str
    t_deleted: str
    t_other: str  # pia's
    c_running: str  # org's
    c_scheduled: str  # pia's
    message: str
    invitation: str

    @property
    def service(self) -> Skilltroc:
        return self.world.service

    def ids(self) -> dict[str, tuple[str, ...]]:
        """Every id in the world, by kind."""
        return {
            "member": (self.org, self.pia, self.ann, self.bob, self.cat, self.dan, self.eve,
                       self.fay, self.gus, self.pam, self.dee, self.pat),
            "workshop": (self.ws, self.gone),
            "session": (self.held, self.ended, self.planned, self.cancelled),
            "registration": (self.r_paid, self.r_attended, self.r_ended, self.r_pending,
                             self.r_registered, self.r_waitlisted, self.r_refused,
                             self.r_future),
            "gift": (self.g_member, self.g_email, self.g_accepted),
            "tutorial": (self.t_live, self.t_deleted, self.t_other),
            "campaign": (self.c_running, self.c_scheduled),
            "message": (self.message,),
            "invitation": (self.invitation,),
        }

    def emails(self) -> tuple[str, ...]:
        """The emails of the members still having one, and of a non-member gift."""
        names = ("org", "pia", "ann", "bob", "cat", "dan", "eve", "fay", "gus", "pam", "dee")
        return (*(email_of(n) for n in names), "stranger@example.org", "pat@example.org")


def _complete(world: World, member: str, name: str) -> None:
    view = world.service.update_profile(
        member, display_name=name.title(), description="Workshops for everyone",
        photo="https://example.org/photo.jpg", locality="Lyon",
    )
    assert view.complete


def _funded(world: World, member: str, name: str, stars: int) -> None:
    if stars > 10:
        world.service.buy_stars(member, stars - 10, f"pay-{name}")


def build_cast() -> Cast:
    """Build the world (about a hundred commands on a memory store)."""
    world = make_world()
    s = world.service
    pat = signup_provider(s, "pat")
    s.deactivate(pat)
    world.clock.set(at(0, 10) + timedelta(days=15))
    assert s.run_due() >= 1  # pat is purged; the clock is now at(15)
    now = world.clock.now()

    org = signup_provider(s, "org", kind="professional", category="craftsperson")
    _complete(world, org, "org")
    _funded(world, org, "org", 40)
    pia = signup_provider(s, "pia", kind="professional", category="company")
    _complete(world, pia, "pia")
    _funded(world, pia, "pia", 40)
    members = {}
    for name in ("ann", "bob", "cat", "dan", "eve", "fay", "gus"):
        # bob has a password (for resets and sign-ins); the others sign in with Google.
        members[name] = signup_confirmed(s, name) if name == "bob" else signup_provider(s, name)
        _funded(world, members[name], name, 40)
    ann, bob, cat, dan, eve, fay, gus = (members[n] for n in
                                        ("ann", "bob", "cat", "dan", "eve", "fay", "gus"))
    pam, pam_token = signup_pending(s, "pam")
    dee = signup_provider(s, "dee")
    s.follow(dee, org)
    s.deactivate(dee)

    ws = s.create_workshop(org, title="Sourdough bread", description="From starter to loaf",
                           domain="cooking", cost=2, capacity=4)
    gone = s.create_workshop(org, title="Gone", description="Soon deleted", domain="cooking",
                             cost=1, capacity=4)
    held = s.plan_session(org, ws, now + timedelta(days=1))
    r_paid = book(s, org, eve, held)
    r_attended = book(s, org, fay, held)
    ended = s.plan_session(org, ws, now + timedelta(days=2))
    r_ended = book(s, org, ann, ended)
    world.clock.set(now + timedelta(days=1, hours=3))
    s.confirm_held(org, held)
    s.confirm_attendance(fay, r_attended)
    world.clock.set(now + timedelta(days=2, hours=3))
    now = world.clock.now()
    planned = s.plan_session(org, ws, now + timedelta(days=8))
    r_pending = s.request(bob, session_id=planned, seats=1)
    r_registered = book(s, org, ann, planned, seats=2)
    r_waitlisted = waitlist(s, org, cat, ws, seats=1)
    r_refused = s.request(dan, session_id=planned, seats=1)
    s.refuse(org, r_refused)
    r_future = s.request(dan, workshop_id=ws, seats=1)
    cancelled = s.plan_session(org, gone, now + timedelta(days=7))
    s.delete_workshop(org, gone)

    g_member = s.gift(ann, email_of("bob"), 3)
    g_email = s.gift(ann, "stranger@example.org", 2)
    g_accepted = s.gift(gus, email_of("cat"), 2)
    s.accept_gift(cat, g_accepted)
    s.follow(bob, org)
    s.follow(gus, pia)
    message = s.post_message(org, "New workshops soon")
    invitation = s.invite(ann, "friend@example.org")
    bob_reset = reset_link(s, email_of("bob"))
    t_live = s.publish_tutorial(org, title="Knots", domain="Sailing", rights_attested=True,
                                youtube_url=VIDEO_URL)
    t_deleted = s.publish_tutorial(org, title="Old", domain="Sailing", rights_attested=True,
                                   upload="uploads/old.mp4")
    s.delete_tutorial(org, t_deleted)
    t_other = s.publish_tutorial(pia, title="Paint", domain="Art", rights_attested=True,
                                 youtube_url=OTHER_VIDEO_URL)
    s.record_view(t_live, gus, "view-1")
    c_running = s.create_campaign(org, budget=10, visual="ad.png", visual_rights_free=True,
                                  text="Come and see", start=now, domains=["cooking"])
    c_scheduled = s.create_campaign(pia, budget=10, visual="ad2.png", visual_rights_free=True,
                                    text="Soon", start=now + timedelta(days=3),
                                    domains=["art", "cooking"], link="https://example.org")
    s.serve("cooking", "page-1")
    notices(s)
    s.post_message(pia, "A notice left in the outbox")  # gus is told: the outbox is not empty
    s.check_invariants(deep=True)
    return Cast(
        world=world, org=org, pia=pia, ann=ann, bob=bob, cat=cat, dan=dan, eve=eve, fay=fay,
        gus=gus, pam=pam, dee=dee, pat=pat, pam_token=pam_token, bob_reset=bob_reset, ws=ws,
        gone=gone, held=held, ended=ended, planned=planned, cancelled=cancelled,
        r_paid=r_paid, r_attended=r_attended, r_ended=r_ended, r_pending=r_pending,
        r_registered=r_registered, r_waitlisted=r_waitlisted, r_refused=r_refused,
        r_future=r_future, g_member=g_member, g_email=g_email, g_accepted=g_accepted,
        t_live=t_live, t_deleted=t_deleted, t_other=t_other, c_running=c_running,
        c_scheduled=c_scheduled, message=message, invitation=invitation,
    )


class FreeClock:
    """A host's clock: it shows whatever it is set to, backwards included."""

    def __init__(self, now: Any) -> None:
        self.instant = now

    def now(self) -> datetime:
        return self.instant  # type: ignore[no-any-return]

    def set(self, instant: Any) -> None:
        self.instant = instant


class BrokenZone(tzinfo):
    """A ``tzinfo`` whose offset is not valid: ``offset`` is returned, or raised."""

    def __init__(self, offset: object) -> None:
        self.offset = offset

    def utcoffset(self, dt: datetime | None) -> Any:
        if isinstance(self.offset, Exception):
            raise self.offset
        return self.offset

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "broken"

    def __repr__(self) -> str:
        return f"BrokenZone({self.offset!r})"


#: Offsets no aware instant can have: beyond 24 hours, not a duration, an error.
BROKEN_OFFSETS = [timedelta(hours=30), -timedelta(hours=24), "+01:00", 3600,
                  RuntimeError("the zone database is gone"), ZeroDivisionError()]


def broken(offset: object, when: datetime = START + timedelta(days=3)) -> datetime:
    """``when``'s wall-clock time in a zone whose offset is ``offset`` (not valid)."""
    return when.replace(tzinfo=BrokenZone(offset))


#: Where :func:`pristine_cast` with ``far`` moves the world: half a day before year 10000,
#: where most deadlines a command would set fall past the end of the calendar.
FAR = datetime(9999, 12, 31, 12, tzinfo=UTC)

_CACHE: dict[bool, tuple[Cast, StoreState]] = {}


def pristine_cast(*, far: bool = False) -> tuple[Cast, StoreState]:
    """The cast and the state of its store, built once and handed out again while unchanged.

    ``far``: the cast with its clock moved to :data:`FAR` and every deadline due by then
    applied. Whoever changes the world (a command that succeeded) must call
    :func:`release_cast` so that the next caller gets a new one.
    """
    if far not in _CACHE:
        cast = build_cast()
        if far:
            cast.world.clock.set(FAR)
            cast.service.run_due()
            notices(cast.service)
        _CACHE[far] = (cast, state_of(cast.world.store))
    return _CACHE[far]


def release_cast() -> None:
    """Forget the cached worlds: the next :func:`pristine_cast` builds a new one."""
    _CACHE.clear()
