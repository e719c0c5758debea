"""A stateful hypothesis machine over the whole service, for any store.

:class:`SkilltrocMachine` runs random sequences of commands (members, purchases, gifts,
workshops, sessions, requests and answers, the aftermath of sessions, tutorials, ads,
clock moves and ``run_due``) against a :class:`~skilltroc_core.service.Skilltroc` on the
store its ``create_store`` hook returns (a :class:`MemoryStore` by default) and a
:class:`~skilltroc_core.adapters.clocks.ManualClock`. A host checks its own adapter with::

    class MyStoreMachine(SkilltrocMachine):
        def create_store(self) -> Store:
            return MyStore()

    TestMyStoreMachine = MyStoreMachine.TestCase

After every step it checks:

- a refused command raised a :class:`~skilltroc_core.errors.SkilltrocError` and changed
  nothing the store keeps (:func:`~skilltroc_core.testing.state_of`: everything, on a
  store that shows its contents; else what the port shows of the entities and members
  the commands made, the supply, the next timer and the outbox);
- an accepted command did what it says, read back from the store (a request is
  pending, an accepted one registered, a session held, a gift sent, ...), and left the
  notice it owes in the outbox (drained and acknowledged each step, as a host does);
- ``check_invariants(deep=True)``, the ledger replayed from zero;
- star conservation against a naive model of balances: each member's stars (available
  + held) follow from bonuses, purchases, referral rewards, gifts, sessions held,
  tutorial payouts and ad budgets, whatever the holds and refunds in between; the
  supply's issuance by kind, gift escrow and ad spend match the model, and
  ``supply == issued - returned - ad_spent``;
- seats: ``0 <= seats_taken <= capacity``, and a planned session's seats taken are its
  registered seats (BOOK-12, BOOK-18);
- no deadline due when the last command ran is left unapplied (timers).

State is read straight from the store in a unit of work rolled back, never through a
query (which would apply deadlines and hide the lazy paths the machine exercises).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import attrs
from hypothesis import currently_in_test_context, event
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ..accounts import normalize_email
from ..adapters.clocks import ManualClock
from ..adapters.memory import MemoryStore
from ..booking import RegistrationState, SessionState
from ..errors import SkilltrocError
from ..ledger import Ledger
from ..ports import Store, UnitOfWork
from ..rules import DEFAULT_POLICY, Policy
from ..service import SignupResult, Skilltroc, kinds
from ..service.ads import CAMPAIGNS
from ..service.tutorials import TUTORIALS
from . import TEST_SECRET_KEY
from .snapshot import Scope, StoreState, state_of
from .steps import Applied, Call, Command, KnownIds, record, resolve
from .strategies import commands

__all__ = ["MACHINE_POLICY", "STARTING_CAST", "SkilltrocMachine", "StarModel"]

#: The machine's rules: cheap password hashes, and a tutorial star every 2 counted views
#: so that payouts happen in short runs.
MACHINE_POLICY: Final = attrs.evolve(
    DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8, views_per_tutorial_star=2)
R, S = RegistrationState, SessionState

#: Every run starts with these (each must succeed): a professional organizer with a
#: complete profile and 40 stars, three participants (one sponsored by the first) with
#: stars, a workshop and two sessions, in two and nine days.
STARTING_CAST: Final = (
    Command.of("signup", signup={"email": "org@example.org", "provider": "google",
                                 "kind": "professional", "category": "craftsperson"}),
    Command.of("complete_profile", member=0, display_name="Olga"),
    Command.of("buy_stars", member=0, stars=30, reference="cast-org"),
    Command.of("signup", signup={"email": "al@example.org", "provider": "google"}),
    Command.of("signup", signup={"email": "bo@example.org", "provider": "facebook"},
               sponsor=1, sponsor_by_email=True),
    Command.of("signup", signup={"email": "cy@example.org", "provider": "google"}),
    Command.of("buy_stars", member=1, stars=20, reference="cast-al"),
    Command.of("buy_stars", member=3, stars=10, reference="cast-cy"),
    Command.of("create_workshop", member=0, workshop={
        "title": "Sourdough", "description": "Bread at home", "domain": "cooking",
        "cost": 3, "capacity": 4}),
    Command.of("plan_session", workshop=0, minutes=2 * 24 * 60, right=True),
    Command.of("plan_session", workshop=0, minutes=9 * 24 * 60, right=True, capacity=2),
)

#: The notice an accepted command owes (BOOK-21, the NOTIFY table).
NOTICE_OF: Final = {
    "request": "RequestReceived", "accept": "RequestAccepted",
    "accept_future": "RequestWaitlisted", "refuse": "RequestRefused",
    "cancel_request": "RequestCancelled", "unregister": "MemberUnregistered",
    "leave_waitlist": "WaitlistLeft", "cancel_transaction": "TransactionCancelled",
    "gift": "GiftReceived", "accept_gift": "GiftAccepted", "join": "SessionJoined",
}
#: What an accepted command leaves behind: (kind, the argument naming the entity or
#: None for the result, attribute, value).
STATE_AFTER: Final[dict[str, tuple[Any, str | None, str, object]]] = {
    "request": (kinds.REGISTRATIONS, None, "state", R.PENDING),
    "accept": (kinds.REGISTRATIONS, "registration_id", "state", R.REGISTERED),
    "accept_future": (kinds.REGISTRATIONS, "registration_id", "state", R.WAITLISTED),
    "refuse": (kinds.REGISTRATIONS, "registration_id", "state", R.REFUSED),
    "cancel_request": (kinds.REGISTRATIONS, "registration_id", "state", R.CANCELLED),
    "unregister": (kinds.REGISTRATIONS, "registration_id", "state", R.UNREGISTERED),
    "leave_waitlist": (kinds.REGISTRATIONS, "registration_id", "state", R.LEFT_WAITLIST),
    "cancel_transaction": (kinds.REGISTRATIONS, "registration_id", "state",
                           R.TRANSACTION_CANCELLED),
    "join": (kinds.REGISTRATIONS, "registration_id", "state", R.REGISTERED),
    "plan_session": (kinds.SESSIONS, None, "state", S.PLANNED),
    "cancel_session": (kinds.SESSIONS, "session_id", "state", S.CANCELLED),
    "confirm_held": (kinds.SESSIONS, "session_id", "state", S.HELD),
    "confirm_not_held": (kinds.SESSIONS, "session_id", "state", S.NOT_HELD),
    "create_workshop": (kinds.WORKSHOPS, None, "state", "active"),
    "delete_workshop": (kinds.WORKSHOPS, "workshop_id", "state", "deleted"),
    "gift": (kinds.GIFTS, None, "state", "sent"),
    "accept_gift": (kinds.GIFTS, "gift_id", "state", "accepted"),
    "confirm_email": (kinds.MEMBERS, "member_id", "status", "active"),
    "deactivate": (kinds.MEMBERS, "member_id", "status", "deactivated"),
    "reactivate": (kinds.MEMBERS, "member_id", "status", "active"),
    "publish_tutorial": (TUTORIALS, None, "state", "published"),
    "delete_tutorial": (TUTORIALS, "tutorial_id", "state", "deleted"),
}


def _event(text: str) -> None:
    """Tally outcomes in hypothesis's statistics (when run by hypothesis)."""
    if currently_in_test_context():
        event(text)


@attrs.define
class _ModelMember:
    email: str
    status: str  # pending, active, deactivated, purged
    sponsor: str | None
    rewarded: bool = False
    purge_at: datetime | None = None


@attrs.define
class _ModelGift:
    sender: str
    stars: int
    recipient: str | None
    email: str | None
    state: str = "sent"


@attrs.define
class StarModel:
    """A naive model of where the stars are, from the commands accepted alone.

    ``owned`` is each member's available + held stars: holds and refunds move stars
    between the two and never change it; only bonuses, purchases, referral rewards,
    gifts, sessions confirmed held, tutorial payouts and ad budgets do. A purged
    member's stars are swept (ACC-7) and no longer modelled.
    """

    policy: Policy
    members: dict[str, _ModelMember] = attrs.Factory(dict)
    owned: Counter[str] = attrs.Factory(Counter)
    live_by_email: dict[str, str] = attrs.Factory(dict)
    bonused: set[str] = attrs.Factory(set)
    payments: set[str] = attrs.Factory(set)
    gifts: dict[str, _ModelGift] = attrs.Factory(dict)
    campaigns: dict[str, int] = attrs.Factory(dict)
    views: Counter[str] = attrs.Factory(Counter)
    seen_views: set[str] = attrs.Factory(set)
    issued: Counter[str] = attrs.Factory(Counter)
    escrow: int = 0
    ad_spent: int = 0

    def settle(self, now: datetime) -> None:
        """The purges due by ``now`` (ACC-7), oldest first."""
        due = sorted((m.purge_at, member_id) for member_id, m in self.members.items()
                     if m.status == "deactivated" and m.purge_at is not None
                     and m.purge_at <= now)
        for _, member_id in due:
            member = self.members[member_id]
            member.status, member.purge_at = "purged", None
            self.live_by_email.pop(member.email, None)
            for gift in self.gifts.values():
                if gift.state == "sent" and (
                    gift.recipient == member_id or gift.email == member.email
                ):  # sent to it, or to its address while hidden (ACC-7)
                    gift.state = "expired"  # nobody can accept it any more (GIFT-4)
                    self.escrow -= gift.stars

    def _bonus(self, member_id: str) -> None:
        email = self.members[member_id].email
        if email not in self.bonused:  # STAR-1: once per address, ever
            self.bonused.add(email)
            self._issue("signup_bonus", member_id, self.policy.signup_bonus)

    def _issue(self, kind: str, member_id: str, stars: int) -> None:
        self.owned[member_id] += stars
        self.issued[kind] += stars

    def _reward_sponsor(self, referee: str) -> None:
        """SPONSOR-3: once per referee, unless the sponsor was purged meanwhile."""
        member = self.members.get(referee)
        if member is None or member.sponsor is None or member.rewarded:
            return
        member.rewarded = True
        if self.members[member.sponsor].status != "purged":
            self._issue("referral_reward", member.sponsor, self.policy.referral_reward)

    def accepted(self, call: Call, result: Any, paid: list[tuple[str, int]],
                 history: tuple[str, str] | None) -> None:
        """Apply an accepted call. ``paid``: the (member, amount) of each registration
        a ``confirm_held`` ends paid; ``history``: the (video history, publisher) of a
        viewed tutorial."""
        kw = call.kwargs
        handler = getattr(self, f"_on_{call.method}", None)
        if handler is not None:
            handler(kw, result, paid, history)

    def _on_signup(self, kw: Any, result: SignupResult, *_: Any) -> None:
        email = normalize_email(kw["email"])
        sponsor = kw.get("sponsor")
        if sponsor is not None and "@" in sponsor:
            sponsor = self.live_by_email[normalize_email(sponsor)]
        member_id = result.member_id
        provider = kw.get("provider") is not None
        self.members[member_id] = _ModelMember(
            email=email, status="active" if provider else "pending", sponsor=sponsor)
        self.owned[member_id] += 0
        self.live_by_email[email] = member_id
        self._claim(member_id, email)
        if provider:
            self._bonus(member_id)

    def _on_confirm_email(self, kw: Any, *_: Any) -> None:
        self.members[kw["member_id"]].status = "active"
        self._bonus(kw["member_id"])

    def _on_deactivate(self, kw: Any, result: datetime, *_: Any) -> None:
        member = self.members[kw["member_id"]]
        member.status, member.purge_at = "deactivated", result

    def _on_reactivate(self, kw: Any, *_: Any) -> None:
        member = self.members[kw["member_id"]]
        member.status, member.purge_at = "active", None
        self._claim(kw["member_id"], member.email)

    def _claim(self, member_id: str, email: str) -> None:
        """GIFT-3: gifts kept by address become the member's (at signup, or back from a
        deactivation: a hidden account's address is answered as no account's, ACC-7)."""
        for gift in self.gifts.values():
            if gift.email == email and gift.state == "sent":
                gift.recipient, gift.email = member_id, None

    def _on_buy_stars(self, kw: Any, *_: Any) -> None:
        if kw["payment_reference"] in self.payments:
            return  # STAR-2: a replay credits nothing
        self.payments.add(kw["payment_reference"])
        self._issue("purchase", kw["member_id"], kw["stars"])
        self._reward_sponsor(kw["member_id"])

    def _on_gift(self, kw: Any, result: str, *_: Any) -> None:
        email = normalize_email(kw["to_email"])
        recipient = self.live_by_email.get(email)
        if recipient is not None and self.members[recipient].status == "deactivated":
            recipient = None  # hidden: kept by address, as for no account (ACC-7)
        self.gifts[result] = _ModelGift(sender=kw["member_id"], stars=kw["stars"],
                                        recipient=recipient,
                                        email=None if recipient else email)
        self.owned[kw["member_id"]] -= kw["stars"]
        self.escrow += kw["stars"]

    def _on_accept_gift(self, kw: Any, *_: Any) -> None:
        gift = self.gifts[kw["gift_id"]]
        gift.state = "accepted"
        self.owned[kw["member_id"]] += gift.stars
        self.escrow -= gift.stars

    def _on_confirm_held(self, kw: Any, result: Any, paid: list[tuple[str, int]],
                         *_: Any) -> None:
        organizer = kw["member_id"]
        for member, amount in paid:  # REFUND-4: every registered seat is paid
            self.owned[member] -= amount
            self.owned[organizer] += amount
        for person in dict.fromkeys([organizer, *(member for member, _ in paid)]):
            self._reward_sponsor(person)

    def _on_record_view(self, kw: Any, result: Any, paid: Any,
                        history: tuple[str, str] | None) -> None:
        if kw["view_id"] in self.seen_views:
            return  # TUTO-4: a repeated report counts nothing
        self.seen_views.add(kw["view_id"])
        if result == "counted" and history is not None:
            video, publisher = history
            self.views[video] += 1
            if self.views[video] % self.policy.views_per_tutorial_star == 0:
                self._issue("tutorial_payout", publisher, 1)

    def _on_create_campaign(self, kw: Any, result: str, *_: Any) -> None:
        if result in self.campaigns:
            return  # a replayed key
        self.campaigns[result] = kw["budget"]
        self.owned[kw["member_id"]] -= kw["budget"]
        self.ad_spent += kw["budget"]

    def _on_edit_campaign(self, kw: Any, result: Any, *_: Any) -> None:
        difference = result.budget - self.campaigns[kw["campaign_id"]]
        self.campaigns[kw["campaign_id"]] = result.budget
        self.owned[kw["member_id"]] -= difference
        self.ad_spent += difference


class SkilltrocMachine(RuleBasedStateMachine):
    """Random command sequences over a service on ``create_store()``, checked each step.

    Override ``create_store`` (a fresh, empty store per run; ``teardown`` closes it),
    and if need be ``policy`` or ``start``. Run it with ``MyMachine.TestCase`` (pytest
    and unittest collect it) or ``hypothesis.stateful.run_state_machine_as_test``; its
    length and number of runs follow the hypothesis settings profile in force.
    """

    policy: ClassVar[Policy] = MACHINE_POLICY
    start: ClassVar[datetime] = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    def create_store(self) -> Store:
        """A fresh, empty store for one run."""
        return MemoryStore()

    def __init__(self) -> None:
        super().__init__()
        self.store = self.create_store()
        self.clock = ManualClock(self.start)
        self.app = Skilltroc(self.store, self.clock, policy=self.policy,
                             secret_key=TEST_SECRET_KEY)
        self.ids = KnownIds()
        self.model = StarModel(self.policy)
        self.settled_at = self.start  # every deadline due by then has been applied

    def teardown(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ the steps
    @initialize()
    def starting_cast(self) -> None:
        for command in STARTING_CAST:
            assert self.step(command) is not None, f"the starting cast failed at {command}"

    # One rule per part of the service (hypothesis switches some off in some runs).
    @rule(command=commands("members", "stars", policy=MACHINE_POLICY))
    def members_and_stars(self, command: Command) -> None:
        self.step(command)

    @rule(command=commands("workshops", policy=MACHINE_POLICY))
    def workshops(self, command: Command) -> None:
        self.step(command)

    @rule(command=commands("requests", policy=MACHINE_POLICY))
    def requests(self, command: Command) -> None:
        self.step(command)

    @rule(command=commands("requests", policy=MACHINE_POLICY))
    def answers(self, command: Command) -> None:
        """Requests again: bookings need a request and its answer before time moves on."""
        self.step(command)


    @rule(command=commands("aftermath", "withdrawals", policy=MACHINE_POLICY))
    def aftermath_and_withdrawals(self, command: Command) -> None:
        self.step(command)

    @rule(command=commands("tutorials", "ads", policy=MACHINE_POLICY))
    def tutorials_and_ads(self, command: Command) -> None:
        self.step(command)

    @rule(command=commands("time", policy=MACHINE_POLICY))
    def time(self, command: Command) -> None:
        self.step(command)

    def step(self, command: Command) -> Applied | None:
        """Run one command and check what it did; None if it was refused."""
        call = resolve(self.app, command, self.ids)
        before = self._state()
        paid = self._registered(call.kwargs["session_id"]) if call.method == "confirm_held" \
            else []
        try:
            result = call.run(self.app)
        except SkilltrocError as error:
            _event(f"{command.name}: refused ({error.code})")
            changed = before.changes(self._state())
            assert not changed, f"a refusal changed the store: {error!r}: {changed}"
            return None
        _event(f"{command.name}: done")
        record(self.ids, call, result)
        if call.method in ("advance_clock", "set_clock"):
            return Applied(call=call, result=result)
        now = self.clock.now()
        self.settled_at = now
        self.model.settle(now)  # a command applies the deadlines due first
        history = self._history(call.kwargs["tutorial_id"]) \
            if call.method == "record_view" else None
        self.model.accepted(call, result, paid, history)
        self._check_effect(call, result)
        self._check_notices(call)
        return Applied(call=call, result=result)

    # ------------------------------------------------------------------ reading
    @contextmanager
    def _raw(self) -> Iterator[UnitOfWork]:
        """The store as it is, deadlines not applied; nothing read is ever written."""
        uow = self.store.begin()
        try:
            yield uow
        finally:
            uow.rollback()

    def _known(self) -> list[tuple[Any, list[str]]]:
        ids = self.ids
        return [(kinds.MEMBERS, ids.members), (kinds.WORKSHOPS, ids.workshops),
                (kinds.SESSIONS, ids.sessions), (kinds.REGISTRATIONS, ids.registrations),
                (kinds.GIFTS, ids.gifts), (TUTORIALS, ids.tutorials),
                (CAMPAIGNS, ids.campaigns)]

    def _state(self) -> StoreState:
        """Everything the store keeps; on a store that does not show it, what the Store
        port shows of what the commands made (see :func:`.snapshot.state_of`)."""
        known = [(kind, i) for kind, ids in self._known() for i in ids]
        return state_of(self.store, Scope(entities=known, accounts=self.ids.members))

    def _registered(self, session_id: str) -> list[tuple[str, int]]:
        """(member, amount) of the known registrations registered in a session."""
        with self._raw() as uow:
            found = [uow.get(kinds.REGISTRATIONS, i) for i in self.ids.registrations]
        return [(r.member, r.amount) for r in found
                if r is not None and r.session == session_id and r.state is R.REGISTERED]

    def _history(self, tutorial_id: str) -> tuple[str, str] | None:
        with self._raw() as uow:
            tutorial = uow.get(TUTORIALS, tutorial_id)
        return (tutorial.history, tutorial.publisher) if tutorial is not None else None

    # ------------------------------------------------------------------ after a step
    def _check_effect(self, call: Call, result: Any) -> None:
        """An accepted command's effect can be read back from the store."""
        kind: Any
        value: object
        if call.method == "signup":
            kind, entity_id, attribute = kinds.MEMBERS, result.member_id, "status"
            value = "active" if result.confirmation_token is None else "pending_confirmation"
        elif call.method in STATE_AFTER:
            kind, argument, attribute, value = STATE_AFTER[call.method]
            entity_id = result if argument is None else call.kwargs[argument]
        else:
            return
        with self._raw() as uow:
            found = uow.get(kind, entity_id)
        assert found is not None, f"{call.method}: {entity_id} is not in the store"
        actual = getattr(found, attribute)
        assert actual == value, (
            f"{call.method}: {entity_id}.{attribute} is {str(actual)!r}, not {str(value)!r}")
        if call.method == "join":
            assert getattr(found, "session", None) == call.kwargs["session_id"], found

    def _check_notices(self, call: Call) -> None:
        """The notice the command owes is in the outbox; deliver (ack) everything."""
        items = self.app.drain_notifications(limit=1_000_000)
        self.app.ack([item.seq for item in items])
        assert not self.app.drain_notifications(), "acknowledged notices came back"
        owed = NOTICE_OF.get(call.method)
        if call.method == "signup" and call.kwargs.get("password") is not None:
            owed = "EmailConfirmationRequested"
        if call.method == "accept_gift":
            sender = self.model.gifts[call.kwargs["gift_id"]].sender
            if self.model.members[sender].status == "purged":
                owed = None  # GIFT-3: nobody is left to tell (ACC-7)
        told = [item.notification.event for item in items]
        assert owed is None or owed in told, f"{call.method}: no {owed} notice in {told}"

    # ------------------------------------------------------------------ invariants
    @invariant()
    def ledger_is_consistent(self) -> None:
        self.app.check_invariants(deep=True)

    @invariant()
    def stars_are_conserved(self) -> None:
        model = self.model
        with self._raw() as uow:
            ledger = Ledger(uow.book)
            balances = {m: ledger.balance(m) for m in model.members}
            supply = ledger.supply()
        for member_id, member in model.members.items():
            balance = balances[member_id]
            assert balance.available >= 0, (member_id, balance)
            if member.status == "purged":
                assert balance.available == 0, f"ACC-7: purged {member_id} keeps {balance}"
                continue
            assert balance.available + balance.held == model.owned[member_id], (
                f"{member_id} has {balance}, the model says {model.owned[member_id]} in all")
        for kind in ("signup_bonus", "purchase", "referral_reward", "tutorial_payout"):
            assert supply.issued_by_kind.get(kind, 0) == model.issued[kind], (
                kind, dict(supply.issued_by_kind), dict(model.issued))
        assert supply.in_gift_escrow == model.escrow, (supply, model.escrow)
        assert supply.ad_spent == model.ad_spent, (supply, model.ad_spent)
        assert supply.supply == supply.issued - supply.returned - supply.ad_spent, supply

    @invariant()
    def seats_fit_and_deadlines_are_applied(self) -> None:
        with self._raw() as uow:
            sessions = [uow.get(kinds.SESSIONS, i) for i in self.ids.sessions]
            registrations = [uow.get(kinds.REGISTRATIONS, i) for i in self.ids.registrations]
            overdue = uow.next_due(self.settled_at)
        assert overdue is None, f"{overdue} was due when the last command ran"
        for session in sessions:
            assert session is not None
            assert 0 <= session.seats_taken <= session.capacity, session
            if session.state is S.PLANNED:
                assert session.seats_taken == sum(
                    r.seats for r in registrations if r is not None
                    and r.session == session.id and r.state is R.REGISTERED), session
