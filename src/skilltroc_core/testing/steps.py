"""Commands as data: what the kit's strategies generate and its machine runs.

A :class:`Command` is a small frozen description, a name and its arguments, in which
entities are named *symbolically*: ``member=2`` is the third member known so far (``-1``
the latest), so a command generated before any member exists still makes sense later.
:func:`apply` turns it into one call of the :class:`~skilltroc_core.service.Skilltroc`
service (:func:`resolve`), runs it and records the ids it created in a
:class:`KnownIds`. Picking the member who may act ("``right``") or an entity in a
fitting state ("``fit``") reads the store as it is, in a unit of work rolled back, so
it neither applies deadlines nor changes anything: a refused command leaves the store
exactly as it was.

A command can always be refused: :func:`apply` raises only
:class:`~skilltroc_core.errors.SkilltrocError` subclasses (the service's refusals, or
:class:`~skilltroc_core.errors.InvalidInputError` when a clock command meets a service
whose clock is not a :class:`~skilltroc_core.adapters.clocks.ManualClock`).

This module does not need hypothesis; :mod:`skilltroc_core.testing.strategies`
generates commands with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import attrs

from ..accounts import AccountStatus, Member
from ..adapters.clocks import ManualClock
from ..booking import Attendance, RegistrationState, Session, SessionState, WorkshopState
from ..ports import EntityKind, UnitOfWork
from ..refusals import refusal, shown
from ..service import SignupResult, Skilltroc, kinds
from ..service.ads import CAMPAIGNS
from ..service.tutorials import TUTORIALS

__all__ = [
    "AREAS",
    "NAMES",
    "UNKNOWN",
    "Applied",
    "Call",
    "Command",
    "KnownIds",
    "apply",
    "resolve",
]

E = TypeVar("E")
R = RegistrationState

#: The id every pick falls back to when nothing of its kind is known yet: the service
#: refuses it (``not_found``).
UNKNOWN: Final = "unknown-id"

#: The command names, by area of the service.
AREAS: Final[Mapping[str, tuple[str, ...]]] = {
    "members": ("signup", "confirm_email", "complete_profile", "deactivate", "reactivate"),
    "stars": ("buy_stars", "gift", "accept_gift"),
    "workshops": ("create_workshop", "delete_workshop", "plan_session", "move_session",
                  "set_capacity", "cancel_session"),
    "requests": ("request", "answer", "join"),
    "withdrawals": ("withdraw", "cancel_transaction"),
    "aftermath": ("confirm_session", "attendance", "evaluate"),
    "tutorials": ("publish_tutorial", "edit_tutorial", "delete_tutorial", "record_view"),
    "ads": ("create_campaign", "edit_campaign", "serve"),
    "time": ("advance", "next_deadline", "run_due"),
}
#: Every command name, in area order.
NAMES: Final[tuple[str, ...]] = tuple(name for names in AREAS.values() for name in names)


@attrs.frozen
class Command:
    """One command to run against a service: its name and its (symbolic) arguments.

    ``args`` is a tuple of ``(name, value)`` pairs so that a command is immutable and
    prints readably in a failing example; :meth:`of` builds one from keywords.
    """

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, **args: Any) -> Command:
        if name not in NAMES:
            raise refusal("kit_unknown_command", got=shown(name))
        return cls(name, tuple(sorted(args.items())))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={value!r}" for key, value in self.args)
        return f"Command.of({self.name!r}{', ' if inner else ''}{inner})"


@attrs.define
class KnownIds:
    """The ids commands have created so far, in creation order, that picks refer to."""

    members: list[str] = attrs.Factory(list)
    workshops: list[str] = attrs.Factory(list)
    sessions: list[str] = attrs.Factory(list)
    registrations: list[str] = attrs.Factory(list)
    gifts: list[str] = attrs.Factory(list)
    tutorials: list[str] = attrs.Factory(list)
    campaigns: list[str] = attrs.Factory(list)
    #: The confirmation token of each password signup.
    tokens: dict[str, str] = attrs.Factory(dict)
    counter: int = 0

    def fresh(self, prefix: str) -> str:
        """A reference never handed out before (payment references, view ids, ...)."""
        self.counter += 1
        return f"{prefix}-{self.counter}"


@attrs.frozen
class Call:
    """A resolved command: one service method and its concrete keyword arguments.

    Three methods are not the service's: ``advance_clock`` (``delta``, ``days``) and
    ``set_clock`` (``at``) move the service's :class:`ManualClock`; ``run_due`` is the
    service's own.
    """

    method: str
    kwargs: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    def run(self, app: Skilltroc) -> Any:
        if self.method in ("advance_clock", "set_clock"):
            clock = app.clock
            if not isinstance(clock, ManualClock):
                raise refusal("kit_clock_needs_manual_clock")
            if self.method == "set_clock":
                clock.set(self.kwargs["at"])
            else:
                clock.advance(self.kwargs.get("delta", timedelta(0)),
                              days=self.kwargs.get("days", 0), zone=app.policy.timezone)
            return clock.now()
        return getattr(app, self.method)(**self.kwargs)


@attrs.frozen
class Applied:
    """A command that the service accepted: the call made and what it returned."""

    call: Call
    result: Any


def apply(app: Skilltroc, command: Command, ids: KnownIds) -> Applied:
    """Run ``command`` against ``app``; record the ids it creates in ``ids``.

    Raises only :class:`~skilltroc_core.errors.SkilltrocError` (a refusal, which changes
    nothing).
    """
    call = resolve(app, command, ids)
    result = call.run(app)
    record(ids, call, result)
    return Applied(call=call, result=result)


def record(ids: KnownIds, call: Call, result: Any) -> None:
    """Remember what an accepted ``call`` created."""
    if call.method == "signup" and isinstance(result, SignupResult):
        ids.members.append(result.member_id)
        if result.confirmation_token is not None:
            ids.tokens[result.member_id] = result.confirmation_token
        return
    created = {"create_workshop": ids.workshops, "plan_session": ids.sessions,
               "request": ids.registrations, "gift": ids.gifts,
               "publish_tutorial": ids.tutorials, "create_campaign": ids.campaigns}
    known = created.get(call.method)
    if known is not None and isinstance(result, str) and result not in known:
        known.append(result)  # a replayed key returns an id already known


def resolve(app: Skilltroc, command: Command, ids: KnownIds) -> Call:
    """The service call ``command`` stands for, its symbolic picks made concrete."""
    resolver = _RESOLVERS.get(command.name)
    if resolver is None:
        raise refusal("kit_unknown_command", got=shown(command.name))
    return resolver(_Context(app, ids), command.kwargs)


# ---------------------------------------------------------------------- picking
class _Context:
    """The service, the ids known, and raw reads of the store (never written)."""

    def __init__(self, app: Skilltroc, ids: KnownIds) -> None:
        self.app = app
        self.ids = ids

    @contextmanager
    def raw(self) -> Iterator[UnitOfWork]:
        uow = self.app.store.begin()
        try:
            yield uow
        finally:
            uow.rollback()

    def peek(self, kind: EntityKind[E], entity_id: str) -> E | None:
        with self.raw() as uow:
            return uow.get(kind, entity_id)

    def now(self) -> datetime:
        return self.app.now()

    def pick(self, known: list[str], index: int, kind: EntityKind[E] | None = None,
             prefer: Callable[[E], bool] | None = None) -> str:
        """``known[index]`` (``-1``: the latest), among those ``prefer`` likes if any."""
        candidates = known
        if kind is not None and prefer is not None and known:
            with self.raw() as uow:
                liked = [i for i in known
                         if (found := uow.get(kind, i)) is not None and prefer(found)]
            candidates = liked or known
        if not candidates:
            return UNKNOWN
        return candidates[-1] if index < 0 else candidates[index % len(candidates)]

    def member(self, index: int) -> str:
        return self.pick(self.ids.members, index)

    def acting(self, index: int, professional: bool = False, other_than: str | None = None
               ) -> str:
        """A member who may act (an active one, a professional with a complete profile
        if asked, not ``other_than``), if there is one."""
        required = self.app.policy.profile_required_fields

        def fits(member: Member) -> bool:
            return member.status is AccountStatus.ACTIVE and member.id != other_than and (
                not professional or (member.is_professional
                                     and not member.missing_profile_fields(required)))

        return self.pick(self.ids.members, index, kinds.MEMBERS, fits)

    def other_member(self, than: str | None, index: int) -> str:
        """A member other than ``than`` (the wrong one to act, on purpose)."""
        others = [m for m in self.ids.members if m != than]
        return self.pick(others, index)

    def email_of(self, member_id: str) -> str:
        found = self.peek(kinds.MEMBERS, member_id)
        return found.email if found is not None and found.email else "nobody@example.org"


def _actor(ctx: _Context, args: Mapping[str, Any], owner: str | None) -> str:
    """The member who may act (``right``), or another one."""
    if args.get("right", True) and owner is not None:
        return owner
    return ctx.other_member(owner, args.get("who", 0))


def _later(ctx: _Context, minutes: int) -> datetime:
    return ctx.now() + timedelta(minutes=minutes)


# ---------------------------------------------------------------------- members
def _signup(ctx: _Context, args: Mapping[str, Any]) -> Call:
    kwargs = dict(args["signup"])
    sponsor = args.get("sponsor")
    if sponsor is not None:
        sponsor_id = ctx.member(sponsor)
        kwargs["sponsor"] = ctx.email_of(sponsor_id) if args.get("sponsor_by_email") \
            else sponsor_id
    return Call("signup", kwargs)


def _confirm_email(ctx: _Context, args: Mapping[str, Any]) -> Call:
    member = ctx.pick(ctx.ids.members, args["member"], kinds.MEMBERS,
                      lambda m: m.id in ctx.ids.tokens and m.status == "pending_confirmation")
    token = ctx.ids.tokens.get(member, "no-token") if args.get("right", True) else "wrong"
    return Call("confirm_email", {"member_id": member, "token": token})


def _complete_profile(ctx: _Context, args: Mapping[str, Any]) -> Call:
    member = ctx.pick(ctx.ids.members, args["member"], kinds.MEMBERS,
                      lambda m: m.kind == "professional")
    return Call("update_profile", {
        "member_id": member, "display_name": args.get("display_name", "Workshop host"),
        "description": "Hands-on workshops", "photo": "https://example.org/photo.jpg",
        "locality": "Lyon",
    })


def _member_only(method: str, status: str) -> Callable[[_Context, Mapping[str, Any]], Call]:
    def resolver(ctx: _Context, args: Mapping[str, Any]) -> Call:
        member = ctx.pick(ctx.ids.members, args["member"], kinds.MEMBERS,
                          (lambda m: m.status == status) if args.get("fit", True) else None)
        return Call(method, {"member_id": member})

    return resolver


# ---------------------------------------------------------------------- stars
def _buy_stars(ctx: _Context, args: Mapping[str, Any]) -> Call:
    reference = args.get("reference") or ctx.ids.fresh("pay")
    return Call("buy_stars", {"member_id": ctx.acting(args["member"]), "stars": args["stars"],
                              "payment_reference": reference})


def _gift(ctx: _Context, args: Mapping[str, Any]) -> Call:
    sender = ctx.acting(args["member"])
    to = args["to"]
    email = to if isinstance(to, str) else ctx.email_of(ctx.other_member(sender, to))
    return Call("gift", {"member_id": sender, "to_email": email, "stars": args["stars"]})


def _accept_gift(ctx: _Context, args: Mapping[str, Any]) -> Call:
    gift_id = ctx.pick(ctx.ids.gifts, args["gift"], kinds.GIFTS, lambda g: g.state == "sent")
    gift = ctx.peek(kinds.GIFTS, gift_id)
    member = _actor(ctx, args, gift.recipient if gift is not None else None)
    return Call("accept_gift", {"member_id": member, "gift_id": gift_id})


# ---------------------------------------------------------------------- workshops
def _create_workshop(ctx: _Context, args: Mapping[str, Any]) -> Call:
    member = ctx.acting(args["member"])
    return Call("create_workshop", {"member_id": member, **args["workshop"]})


def _workshop_of(ctx: _Context, args: Mapping[str, Any]) -> tuple[str, str | None]:
    workshop_id = ctx.pick(ctx.ids.workshops, args["workshop"], kinds.WORKSHOPS,
                           lambda w: w.state is WorkshopState.ACTIVE)
    workshop = ctx.peek(kinds.WORKSHOPS, workshop_id)
    return workshop_id, workshop.organizer if workshop is not None else None


def _delete_workshop(ctx: _Context, args: Mapping[str, Any]) -> Call:
    workshop_id, organizer = _workshop_of(ctx, args)
    return Call("delete_workshop", {"member_id": _actor(ctx, args, organizer),
                                    "workshop_id": workshop_id})


def _plan_session(ctx: _Context, args: Mapping[str, Any]) -> Call:
    workshop_id, organizer = _workshop_of(ctx, args)
    return Call("plan_session", {
        "member_id": _actor(ctx, args, organizer), "workshop_id": workshop_id,
        "start": _later(ctx, args["minutes"]), "capacity": args.get("capacity"),
    })


def _open_session(ctx: _Context, args: Mapping[str, Any]) -> tuple[str, str | None]:
    """A session still open for changes (planned, not started), if there is one."""
    now = ctx.now()
    session_id = ctx.pick(ctx.ids.sessions, args["session"], kinds.SESSIONS,
                          lambda s: s.state is SessionState.PLANNED and s.start > now)
    session = ctx.peek(kinds.SESSIONS, session_id)
    return session_id, session.organizer if session is not None else None


def _move_session(ctx: _Context, args: Mapping[str, Any]) -> Call:
    session_id, organizer = _open_session(ctx, args)
    return Call("move_session", {"member_id": _actor(ctx, args, organizer),
                                 "session_id": session_id,
                                 "start": _later(ctx, args["minutes"])})


def _set_capacity(ctx: _Context, args: Mapping[str, Any]) -> Call:
    session_id, organizer = _open_session(ctx, args)
    return Call("set_capacity", {"member_id": _actor(ctx, args, organizer),
                                 "session_id": session_id, "capacity": args["capacity"]})


def _cancel_session(ctx: _Context, args: Mapping[str, Any]) -> Call:
    session_id, organizer = _open_session(ctx, args)
    return Call("cancel_session", {"member_id": _actor(ctx, args, organizer),
                                   "session_id": session_id})


# ---------------------------------------------------------------------- requests
def _request(ctx: _Context, args: Mapping[str, Any]) -> Call:
    target: dict[str, str]
    if args.get("future"):
        workshop_id, organizer = _workshop_of(ctx, {"workshop": args["target"]})
        target = {"workshop_id": workshop_id}
    else:
        session_id, organizer = _open_session(ctx, {"session": args["target"]})
        target = {"session_id": session_id}
    member = ctx.acting(args["member"], other_than=organizer)
    return Call("request", {"member_id": member, "seats": args["seats"], **target})


def _registration(ctx: _Context, args: Mapping[str, Any],
                  prefer: Callable[[Any], bool]) -> tuple[str, str | None, str | None]:
    """A registration (one ``prefer`` likes if any), its organizer and its member."""
    registration_id = ctx.pick(ctx.ids.registrations, args["registration"],
                               kinds.REGISTRATIONS, prefer if args.get("fit", True) else None)
    found = ctx.peek(kinds.REGISTRATIONS, registration_id)
    if found is None:
        return registration_id, None, None
    return registration_id, found.organizer, found.member


def _answer(ctx: _Context, args: Mapping[str, Any]) -> Call:
    """BOOK-14: accept, accept for a future session, or refuse a pending request."""
    how = args["how"]
    registration_id, organizer, member = _registration(
        ctx, args, lambda r: r.state is R.PENDING)
    found = ctx.peek(kinds.REGISTRATIONS, registration_id)
    if args.get("fit", True) and how == "accept" and found is not None and found.session is None:
        how = "accept_future"  # a request for a future session cannot be accepted for one
    actor = organizer if args.get("right", True) else member
    return Call(how, {"member_id": actor or UNKNOWN, "registration_id": registration_id})


_WITHDRAWALS: Final = {R.PENDING: "cancel_request", R.REGISTERED: "unregister",
                       R.WAITLISTED: "leave_waitlist"}


def _withdraw(ctx: _Context, args: Mapping[str, Any]) -> Call:
    """BOOK-17/19/25: the member cancels, unregisters or leaves the waitlist."""
    registration_id, _, member = _registration(ctx, args, lambda r: r.state in _WITHDRAWALS)
    how = args["how"]
    if args.get("fit", True):
        found = ctx.peek(kinds.REGISTRATIONS, registration_id)
        if found is not None:
            how = _WITHDRAWALS.get(found.state, how)
    return Call(how, {"member_id": _actor(ctx, args, member),
                      "registration_id": registration_id})


def _cancel_transaction(ctx: _Context, args: Mapping[str, Any]) -> Call:
    registration_id, organizer, _ = _registration(
        ctx, args, lambda r: r.state in (R.REGISTERED, R.WAITLISTED))
    return Call("cancel_transaction", {"member_id": _actor(ctx, args, organizer),
                                       "registration_id": registration_id})


def _join(ctx: _Context, args: Mapping[str, Any]) -> Call:
    registration_id, _, member = _registration(ctx, args, lambda r: r.state is R.WAITLISTED)
    found = ctx.peek(kinds.REGISTRATIONS, registration_id)
    now = ctx.now()
    session_id = ctx.pick(ctx.ids.sessions, args["session"], kinds.SESSIONS, lambda s: (
        s.state is SessionState.PLANNED and s.start > now
        and (found is None or s.workshop == found.workshop)))
    return Call("join", {"member_id": _actor(ctx, args, member),
                         "registration_id": registration_id, "session_id": session_id})


# ---------------------------------------------------------------------- aftermath
def _confirm_session(ctx: _Context, args: Mapping[str, Any]) -> Call:
    """BOOK-30/31: the organizer says whether a session that ended was held."""
    now = ctx.now()

    def ended(s: Session) -> bool:
        return s.state is SessionState.AWAITING_CONFIRMATION or (
            s.state is SessionState.PLANNED and s.end <= now)

    # Preferably one with registered members, whose stars the answer moves.
    with_members = [i for i in ctx.ids.sessions
                    if (found := ctx.peek(kinds.SESSIONS, i)) is not None
                    and ended(found) and found.seats_taken > 0]
    session_id = ctx.pick(with_members or ctx.ids.sessions, args["session"], kinds.SESSIONS,
                          ended)
    session = ctx.peek(kinds.SESSIONS, session_id)
    method = "confirm_held" if args.get("held", True) else "confirm_not_held"
    organizer = session.organizer if session is not None else None
    return Call(method, {"member_id": _actor(ctx, args, organizer),
                         "session_id": session_id})


def _attendance(ctx: _Context, args: Mapping[str, Any]) -> Call:
    registration_id, _, member = _registration(
        ctx, args, lambda r: r.state is R.PAID and r.attendance is None)
    method = "declare_absent" if args.get("absent") else "confirm_attendance"
    return Call(method, {"member_id": _actor(ctx, args, member),
                         "registration_id": registration_id})


def _evaluate(ctx: _Context, args: Mapping[str, Any]) -> Call:
    registration_id, _, member = _registration(ctx, args, lambda r: (
        r.state is R.PAID and r.attendance is Attendance.ATTENDED and not r.evaluated))
    scores = args["scores"]
    return Call("evaluate", {
        "member_id": _actor(ctx, args, member), "registration_id": registration_id,
        "satisfaction": scores[0], "conformity": scores[1], "teaching": scores[2],
        "duration": scores[3], "recommend": args.get("recommend", True),
    })


# ---------------------------------------------------------------------- tutorials
def _video(video: str) -> dict[str, str]:
    """A pool entry: a YouTube link (``http...``) or an upload reference."""
    return {"youtube_url": video} if video.startswith("http") else {"upload": video}


def _publish_tutorial(ctx: _Context, args: Mapping[str, Any]) -> Call:
    return Call("publish_tutorial", {
        "member_id": ctx.acting(args["member"]), "title": args["title"],
        "domain": args["domain"], "rights_attested": args.get("rights", True),
        **_video(args["video"]),
    })


def _tutorial(ctx: _Context, args: Mapping[str, Any]) -> tuple[str, str | None]:
    tutorial_id = ctx.pick(ctx.ids.tutorials, args["tutorial"], TUTORIALS,
                           lambda t: t.is_live)
    found = ctx.peek(TUTORIALS, tutorial_id)
    return tutorial_id, found.publisher if found is not None else None


def _edit_tutorial(ctx: _Context, args: Mapping[str, Any]) -> Call:
    tutorial_id, publisher = _tutorial(ctx, args)
    changes: dict[str, Any] = {}
    if args.get("title") is not None:
        changes["title"] = args["title"]
    if args.get("video") is not None:
        changes.update(_video(args["video"]))
        changes["rights_attested"] = args.get("rights", True)
    return Call("edit_tutorial", {"member_id": _actor(ctx, args, publisher),
                                  "tutorial_id": tutorial_id, **changes})


def _delete_tutorial(ctx: _Context, args: Mapping[str, Any]) -> Call:
    tutorial_id, publisher = _tutorial(ctx, args)
    return Call("delete_tutorial", {"member_id": _actor(ctx, args, publisher),
                                    "tutorial_id": tutorial_id})


def _record_view(ctx: _Context, args: Mapping[str, Any]) -> Call:
    tutorial_id, _ = _tutorial(ctx, args)
    viewer = args["viewer"]
    who = viewer if isinstance(viewer, str) else ctx.member(viewer)
    view = args.get("view") or ctx.ids.fresh("view")
    return Call("record_view", {"tutorial_id": tutorial_id, "viewer": who, "view_id": view})


# ---------------------------------------------------------------------- ads
def _create_campaign(ctx: _Context, args: Mapping[str, Any]) -> Call:
    return Call("create_campaign", {
        "member_id": ctx.acting(args["member"], professional=True), "budget": args["budget"],
        "visual": "banner.png", "visual_rights_free": True, "text": args.get("text", "Come"),
        "start": _later(ctx, args["minutes"]), "domains": tuple(args["domains"]),
        "link": None, "key": args.get("key"),
    })


def _edit_campaign(ctx: _Context, args: Mapping[str, Any]) -> Call:
    campaign_id = ctx.pick(ctx.ids.campaigns, args["campaign"])
    found = ctx.peek(CAMPAIGNS, campaign_id)
    changes: dict[str, Any] = {}
    if args.get("budget") is not None:
        changes["budget"] = args["budget"]
    if args.get("text") is not None:
        changes["text"] = args["text"]
    owner = found.owner if found is not None else None
    return Call("edit_campaign", {"member_id": _actor(ctx, args, owner),
                                  "campaign_id": campaign_id, **changes})


def _serve(ctx: _Context, args: Mapping[str, Any]) -> Call:
    page_view = args.get("page_view") or ctx.ids.fresh("page")
    return Call("serve", {"domain": args["domain"], "page_view_id": page_view})


# ---------------------------------------------------------------------- time
def _advance(ctx: _Context, args: Mapping[str, Any]) -> Call:
    if args.get("days"):  # whole calendar days land exactly on deadlines set days ago
        return Call("advance_clock", {"days": args["days"]})
    return Call("advance_clock", {"delta": timedelta(minutes=args.get("minutes", 1))})


def _next_deadline(ctx: _Context, args: Mapping[str, Any]) -> Call:
    """Jump to (or a minute around) one of the next deadlines: the store's next timer (a
    request's due date, a purge, ...), or a coming end or confirmation deadline of a
    session, or a waitlist end (``index`` chooses among the first three). With ``fit``,
    the end of a session with registered members comes first, if there is one."""
    now = ctx.now()
    window = timedelta(days=ctx.app.policy.confirmation_window_days)
    with ctx.raw() as uow:
        timer = uow.next_due(now + timedelta(days=3650))
        instants = {timer.due} if timer is not None else set()
        for session_id in ctx.ids.sessions:
            session = uow.get(kinds.SESSIONS, session_id)
            if session is None:
                continue
            if args.get("fit") and session.state is SessionState.PLANNED \
                    and session.seats_taken and session.end > now:
                return Call("set_clock", {"at": session.end})
            if session.state in (SessionState.PLANNED, SessionState.AWAITING_CONFIRMATION):
                instants |= {session.end, session.end + window}
        for registration_id in ctx.ids.registrations:
            found = uow.get(kinds.REGISTRATIONS, registration_id)
            if found is not None and found.waitlist_until is not None and found.is_live:
                instants.add(found.waitlist_until)
    offset = timedelta(minutes=args.get("offset", 0))
    ahead = sorted(i + offset for i in instants if i + offset > now)
    if not ahead:
        return Call("set_clock", {"at": now})
    return Call("set_clock", {"at": ahead[args.get("index", 0) % min(3, len(ahead))]})


def _run_due(ctx: _Context, args: Mapping[str, Any]) -> Call:
    return Call("run_due", {})


_RESOLVERS: Final[Mapping[str, Callable[[_Context, Mapping[str, Any]], Call]]] = {
    "signup": _signup,
    "confirm_email": _confirm_email,
    "complete_profile": _complete_profile,
    "deactivate": _member_only("deactivate", "active"),
    "reactivate": _member_only("reactivate", "deactivated"),
    "buy_stars": _buy_stars,
    "gift": _gift,
    "accept_gift": _accept_gift,
    "create_workshop": _create_workshop,
    "delete_workshop": _delete_workshop,
    "plan_session": _plan_session,
    "move_session": _move_session,
    "set_capacity": _set_capacity,
    "cancel_session": _cancel_session,
    "request": _request,
    "answer": _answer,
    "withdraw": _withdraw,
    "cancel_transaction": _cancel_transaction,
    "join": _join,
    "confirm_session": _confirm_session,
    "attendance": _attendance,
    "evaluate": _evaluate,
    "publish_tutorial": _publish_tutorial,
    "edit_tutorial": _edit_tutorial,
    "delete_tutorial": _delete_tutorial,
    "record_view": _record_view,
    "create_campaign": _create_campaign,
    "edit_campaign": _edit_campaign,
    "serve": _serve,
    "advance": _advance,
    "next_deadline": _next_deadline,
    "run_due": _run_due,
}
assert set(_RESOLVERS) == set(NAMES)
