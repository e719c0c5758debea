"""The facade hosts import: :class:`Skilltroc`, composed of the service's areas.

Each area (:class:`~.context.Area`) holds the operations of one part of the rules over
the one :class:`~.context.ServiceContext` they share; the facade shows each declared
operation (:mod:`.registry`) as its own method, typed as the area declares it. Those
lines are written from the declarations by ``skilltroc docs``
(:mod:`skilltroc_core.tools.facadegen`), not by hand.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from ..accounts import Member
from ..keys import HostKeys
from ..ports import Clock, IdGenerator, PasswordHasher, Store
from ..rules import DEFAULT_POLICY, Policy
from .accounts import AccountService
from .ads import AdService
from .aftermath import AftermathService
from .agendas import BookingReads
from .catalogue import CatalogueReads
from .context import DEFAULT_ATTEMPTS, Area, ServiceContext
from .gifts import GiftService
from .members import MemberService
from .platform import PlatformService
from .registry import declaration_of
from .requests import RequestService
from .social import SocialService
from .tutorials import TutorialService
from .units import CommandUnit, QueryUnit, Tx
from .workshops import WorkshopService

__all__ = ["AREAS", "Skilltroc", "via"]

P = ParamSpec("P")
R = TypeVar("R")


#: The areas a service is made of, in the order they register their hooks (a purge
#: ends campaigns, then tutorials, then bookings, before the balance is swept).
AREAS: tuple[type[Area], ...] = (
    AdService, TutorialService, SocialService, GiftService, AccountService, MemberService,
    WorkshopService, RequestService, AftermathService, BookingReads, CatalogueReads,
    PlatformService,
)


class via(Generic[P, R]):
    """A facade attribute that is one declared operation of an area, typed as declared."""

    def __init__(self, function: Callable[Concatenate[Any, P], R]) -> None:
        declared = declaration_of(function)
        if declared is None:
            raise TypeError(f"{function.__qualname__} is not a declared command or query")
        self.name = name = declared.name
        owner = function.__qualname__.split(".")[0]
        area: type[Area] = getattr(sys.modules[function.__module__], owner)
        self.area = area

        @functools.wraps(function)
        def on_facade(service: Skilltroc, *args: P.args, **kwargs: P.kwargs) -> R:
            operation: Callable[P, R] = getattr(service.areas[area], name)
            return operation(*args, **kwargs)

        #: What ``Skilltroc.<name>`` is: the operation called with the facade first.
        self.unbound = on_facade

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.name:
            raise TypeError(f"the facade shows {self.name} under its own name, not as {name}")

    @overload
    def __get__(self, service: None, owner: type) -> Callable[Concatenate[Skilltroc, P], R]:
        ...

    @overload
    def __get__(self, service: Skilltroc, owner: type) -> Callable[P, R]: ...

    def __get__(self, service: Skilltroc | None, owner: type) -> Callable[..., R]:
        if service is None:
            return self.unbound
        bound: Callable[P, R] = getattr(service.areas[self.area], self.name)
        return bound


class Skilltroc:
    """Every Skilltroc command and query over one store and one clock.

    Every operation refuses text with a NUL character or a lone surrogate in its
    arguments (:class:`~skilltroc_core.errors.InvalidInputError`, nothing changed), so
    that such text behaves the same on every store, and runs again, whole, when its unit
    of work met another one and nothing of it was written (up to ``attempts`` times).
    """

    # BEGIN operations: written by `skilltroc docs` from the declarations, not by hand
    # ads
    create_campaign = via(AdService.create_campaign)
    edit_campaign = via(AdService.edit_campaign)
    delete_campaign = via(AdService.delete_campaign)
    serve = via(AdService.serve)
    campaign = via(AdService.campaign)
    campaign_progress = via(AdService.campaign_progress)
    my_campaigns = via(AdService.my_campaigns)
    check_ad_queues = via(AdService.check_ad_queues)
    rebuild_ad_queues = via(AdService.rebuild_ad_queues)

    # tutorials
    publish_tutorial = via(TutorialService.publish_tutorial)
    edit_tutorial = via(TutorialService.edit_tutorial)
    delete_tutorial = via(TutorialService.delete_tutorial)
    record_view = via(TutorialService.record_view)
    tutorial = via(TutorialService.tutorial)
    my_tutorials = via(TutorialService.my_tutorials)

    # social
    import_contacts = via(SocialService.import_contacts)
    invitable_contacts = via(SocialService.invitable_contacts)
    follow = via(SocialService.follow)
    unfollow = via(SocialService.unfollow)
    followers = via(SocialService.followers)
    following = via(SocialService.following)
    post_message = via(SocialService.post_message)
    messages = via(SocialService.messages)
    feed = via(SocialService.feed)
    invite = via(SocialService.invite)

    # gifts
    gift = via(GiftService.gift)
    accept_gift = via(GiftService.accept_gift)
    gift_state = via(GiftService.gift_state)

    # accounts
    signup = via(AccountService.signup)
    confirm_email = via(AccountService.confirm_email)
    sign_in = via(AccountService.sign_in)
    request_password_reset = via(AccountService.request_password_reset)
    link_token = via(AccountService.link_token)
    reset_password = via(AccountService.reset_password)
    change_password = via(AccountService.change_password)
    deactivate = via(AccountService.deactivate)
    reactivate = via(AccountService.reactivate)

    # members
    update_profile = via(MemberService.update_profile)
    profile = via(MemberService.profile)
    member = via(MemberService.member)
    balance = via(MemberService.balance)
    statement = via(MemberService.statement)
    buy_stars = via(MemberService.buy_stars)
    gifts_waiting = via(MemberService.gifts_waiting)

    # workshops
    create_workshop = via(WorkshopService.create_workshop)
    delete_workshop = via(WorkshopService.delete_workshop)
    plan_session = via(WorkshopService.plan_session)
    move_session = via(WorkshopService.move_session)
    set_capacity = via(WorkshopService.set_capacity)
    cancel_session = via(WorkshopService.cancel_session)

    # requests
    request = via(RequestService.request)
    cancel_request = via(RequestService.cancel_request)
    refuse = via(RequestService.refuse)
    accept = via(RequestService.accept)
    accept_future = via(RequestService.accept_future)
    unregister = via(RequestService.unregister)
    cancel_transaction = via(RequestService.cancel_transaction)
    join = via(RequestService.join)
    leave_waitlist = via(RequestService.leave_waitlist)

    # aftermath
    confirm_held = via(AftermathService.confirm_held)
    confirm_not_held = via(AftermathService.confirm_not_held)
    declare_absent = via(AftermathService.declare_absent)
    confirm_attendance = via(AftermathService.confirm_attendance)
    evaluate = via(AftermathService.evaluate)

    # agendas
    contact_email = via(BookingReads.contact_email)
    workshop = via(BookingReads.workshop)
    session = via(BookingReads.session)
    registration = via(BookingReads.registration)
    sessions_of = via(BookingReads.sessions_of)
    workshop_evaluations = via(BookingReads.workshop_evaluations)
    profile_stats = via(BookingReads.profile_stats)
    participant_agenda = via(BookingReads.participant_agenda)
    organizer_agenda = via(BookingReads.organizer_agenda)
    session_roster = via(BookingReads.session_roster)
    workshop_waitlist = via(BookingReads.workshop_waitlist)
    seats_left = via(BookingReads.seats_left)

    # catalogue
    upcoming_sessions = via(CatalogueReads.upcoming_sessions)
    workshops = via(CatalogueReads.workshops)
    tutorials = via(CatalogueReads.tutorials)
    search = via(CatalogueReads.search)
    find_members = via(CatalogueReads.find_members)
    changes = via(CatalogueReads.changes)
    rebuild_read_side = via(CatalogueReads.rebuild_read_side)

    # platform
    now = via(PlatformService.now)
    run_due = via(PlatformService.run_due)
    supply = via(PlatformService.supply)
    check_invariants = via(PlatformService.check_invariants)
    drain_notifications = via(PlatformService.drain_notifications)
    ack = via(PlatformService.ack)
    # END operations

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        policy: Policy = DEFAULT_POLICY,
        ids: IdGenerator | None = None,
        hasher: PasswordHasher | None = None,
        secret_key: bytes | str | None = None,
        previous_secret_keys: Sequence[bytes | str] = (),
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        #: What the areas share: ports, policy, keys, units of work.
        self.context = context = ServiceContext(
            store, clock, policy=policy, ids=ids, hasher=hasher, secret_key=secret_key,
            previous_secret_keys=previous_secret_keys, attempts=attempts)
        #: The areas by class, each over the one context.
        self.areas: dict[type[Area], Area] = {area: area(context) for area in AREAS}
        cls = type(self)
        for name, shown in _OPERATIONS.items():  # bound once: a call costs one lookup
            if inspect.getattr_static(cls, name) is shown:  # not overridden by a subclass
                self.__dict__[name] = getattr(self.areas[shown.area], name)

    @property
    def store(self) -> Store:
        """The store every unit of work runs on."""
        return self.context.store

    @property
    def clock(self) -> Clock:
        """The clock the instants come from (see :meth:`now`)."""
        return self.context.clock

    @property
    def policy(self) -> Policy:
        """The rules' numbers and decisions this service applies."""
        return self.context.policy

    @property
    def ids(self) -> IdGenerator | None:
        """The id generator given (None: the store's sequences)."""
        return self.context.ids

    @property
    def hasher(self) -> PasswordHasher:
        """The password hasher (argon2id unless another was given)."""
        return self.context.hasher

    @property
    def keys(self) -> HostKeys:
        """The host's secret keys (current and previous)."""
        return self.context.keys

    @property
    def attempts(self) -> int:
        """How many times a command is run when its units of work keep meeting others."""
        return self.context.attempts

    @property
    def retries(self) -> int:
        """Commands run again so far because of a conflict (for hosts' metrics)."""
        return self.context.retries

    def command(self) -> CommandUnit:
        """One unit of work at ``now``, deadlines due applied first (for a host's own
        command built on the store; see :meth:`ServiceContext.command`)."""
        return self.context.command()

    def query(self, *, apply_due: bool = True) -> QueryUnit:
        """One read-only unit of work at ``now`` (see :meth:`ServiceContext.query`)."""
        return self.context.query(apply_due=apply_due)

    def add_purge_hook(self, hook: Callable[[Tx, Member], None]) -> None:
        """Run ``hook`` inside the purge of an account, before its balance is swept (ACC-7)."""
        self.context.add_purge_hook(hook)


#: The facade's operations by name (what :meth:`Skilltroc.__init__` binds).
_OPERATIONS: dict[str, via[Any, Any]] = {
    name: shown for name, shown in vars(Skilltroc).items() if isinstance(shown, via)}
