"""A stateful test of the members layer against a small reference model.

Random signups (password or provider, some naming a sponsor), confirmations, purchases
(with repeated payment references), gifts to members and non-members, acceptances,
deactivations, reactivations and clock advances (minutes to 20 days; nothing is called
at the deadlines: commands and reads apply them first). The model predicts, for every
command, whether it is refused and with which code, and each member's stars; a refused
command must change nothing, in the model or in the store.

Gifts expire after 10 days in this machine's policy (GIFT-4's optional expiry), so
purges and gift expiries interleave.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from skilltroc_core.accounts import AccountStatus
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.testing import state_of

from .members_support import CHEAP_POLICY, PASSWORD, make_world, stored_member

POLICY = attrs.evolve(CHEAP_POLICY, gift_expiry_days=10)
NAMES = ["ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal"]
STRANGERS = ["xav", "yul"]  # addresses gifts go to; they may sign up later
EMAILS = [f"{name}@example.org" for name in NAMES + STRANGERS]
REFERENCES = ["pay-1", "pay-2", "pay-3", "pay-4", "pay-5"]
PENDING, ACTIVE, DEACTIVATED, PURGED = "pending", "active", "deactivated", "purged"
PICK = st.integers(0, 10_000)
MOSTLY = st.sampled_from([True, True, True, False])  # usually the command that can succeed


@attrs.define
class ModelMember:
    id: str
    email: str
    status: str
    token: str | None
    available: int = 0
    sponsor: str | None = None
    rewarded: bool = False
    purge_at: datetime | None = None


@attrs.define
class ModelGift:
    id: str
    sender: str
    stars: int
    recipient: str | None
    email: str | None
    expires_at: datetime
    state: str = "sent"


class MembersMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = make_world(policy=POLICY)
        self.service = self.world.service
        self.members: dict[str, ModelMember] = {}
        self.by_email: dict[str, str] = {}  # live accounts only (not purged)
        self.bonused: set[str] = set()
        self.payments: dict[str, tuple[str, int]] = {}
        self.gifts: dict[str, ModelGift] = {}
        self.escrow = 0
        self.last_gift_sender: str | None = None

    # ------------------------------------------------------------------ helpers
    def _pick(self, index: int, prefer: str | None = None) -> ModelMember:
        """A member; one with status ``prefer`` if there is one (else any)."""
        ids = sorted(self.members)
        if prefer is not None:
            ids = [i for i in ids if self.members[i].status == prefer] or ids
        return self.members[ids[index % len(ids)]]

    def _run(self, expected: str | None, call: Any) -> Any:
        """Call; it must be refused with code ``expected`` (changing nothing) or succeed."""
        before = state_of(self.world.store)
        try:
            result = call()
        except SkilltrocError as error:
            assert expected is not None, f"refused unexpectedly: {error}"
            assert error.code == expected, f"expected {expected}, got {error}"
            assert before.changes(state_of(self.world.store)) == []
            return None
        assert expected is None, f"expected a refusal ({expected}), it succeeded"
        return result

    @staticmethod
    def _acting(member: ModelMember) -> str | None:
        return {PENDING: "account_not_confirmed", DEACTIVATED: "account_deactivated",
                PURGED: "account_purged"}.get(member.status)

    def _bonus(self, member: ModelMember) -> None:
        if member.email not in self.bonused:
            self.bonused.add(member.email)
            member.available += POLICY.signup_bonus

    def _apply_due(self, now: datetime) -> None:
        """What the service does at each deadline up to ``now``, in due order."""
        events: list[tuple[datetime, str, str]] = []
        events += [(m.purge_at, "purge", m.id) for m in self.members.values()
                   if m.status == DEACTIVATED and m.purge_at is not None and m.purge_at <= now]
        events += [(g.expires_at, "expire", g.id) for g in self.gifts.values()
                   if g.state == "sent" and g.expires_at <= now]
        for _, what, ref in sorted(events):
            if what == "expire":
                gift = self.gifts[ref]
                if gift.state == "sent":
                    gift.state = "expired"
                    self.escrow -= gift.stars
                continue
            member = self.members[ref]
            for gift in self.gifts.values():
                if gift.recipient == member.id and gift.state == "sent":
                    gift.state = "expired"
                    self.escrow -= gift.stars
            member.available = 0
            member.status = PURGED
            member.purge_at = None
            del self.by_email[member.email]

    # ------------------------------------------------------------------ rules
    @initialize(stars=st.sampled_from([10, 20, 30]))
    def two_members(self, stars: int) -> None:
        """Start from two members, one with stars to give, so gifts come early."""
        self.signup(email=EMAILS[0], fresh=False, provider=True, sponsor=None)
        self.signup(email=EMAILS[1], fresh=False, provider=False, sponsor=(0, "email"))
        self.buy(index=0, stars=stars, reference="pay-0", active=True)

    @rule(email=st.sampled_from(EMAILS), fresh=MOSTLY,
          provider=st.sampled_from([True, True, False]),
          sponsor=st.one_of(st.none(), st.tuples(PICK, st.sampled_from(
              ["id", "email", "email", "self", "unknown_email", "unknown_id"]))))
    def signup(self, email: str, fresh: bool, provider: bool,
               sponsor: tuple[int, str] | None) -> None:
        if fresh:  # usually an address no account uses
            free = [e for e in EMAILS if e not in self.by_email]
            email = free[EMAILS.index(email) % len(free)] if free else email
        expected: str | None = None
        sponsor_arg: str | None = None
        sponsor_id: str | None = None
        if email in self.by_email:
            expected = "already_exists"
        if sponsor is not None:
            index, how = sponsor
            if how == "self":
                sponsor_arg = email.upper()
                expected = expected or "not_allowed"
            elif how == "unknown_email":
                sponsor_arg = "nobody@example.net"
                expected = expected or "not_found"
            elif how == "unknown_id" or not self.members:
                sponsor_arg = "mem_999999"
                expected = expected or "not_found"
            else:
                chosen = self._pick(index)
                if how == "id":
                    sponsor_arg = chosen.id
                    found: ModelMember | None = chosen
                else:
                    sponsor_arg = chosen.email
                    live = self.by_email.get(chosen.email)
                    found = self.members[live] if live else None
                    if chosen.email == email:
                        expected = expected or "not_allowed"
                if found is None or found.status != ACTIVE:  # deactivated ones are hidden
                    expected = expected or "not_found"
                else:
                    sponsor_id = found.id
        if provider:
            call = lambda: self.service.signup(email, provider="google", sponsor=sponsor_arg)  # noqa: E731
        else:
            call = lambda: self.service.signup(email, password=PASSWORD, sponsor=sponsor_arg)  # noqa: E731
        result = self._run(expected, call)
        if result is None:
            return
        member = ModelMember(id=result.member_id, email=email,
                             status=ACTIVE if provider else PENDING,
                             token=result.confirmation_token, sponsor=sponsor_id)
        assert member.id not in self.members
        self.members[member.id] = member
        self.by_email[email] = member.id
        if provider:
            self._bonus(member)
        for gift in self.gifts.values():
            if gift.email == email and gift.state == "sent":
                gift.recipient, gift.email = member.id, None

    @precondition(lambda self: bool(self.members))
    @rule(index=PICK, right_token=MOSTLY, pending=MOSTLY)
    def confirm(self, index: int, right_token: bool, pending: bool) -> None:
        member = self._pick(index, PENDING if pending else None)
        token = (member.token or "") if right_token else "a wrong token"
        expected: str | None = None
        if member.status == PURGED:
            expected = "not_found"
        elif member.status != PENDING or not right_token:
            expected = "invalid_token"
        self._run(expected, lambda: self.service.confirm_email(member.id, token))
        if expected is None:
            member.status, member.token = ACTIVE, None
            self._bonus(member)

    @precondition(lambda self: bool(self.members))
    @rule(index=PICK, stars=st.sampled_from([-3, 0, 1, 5, 12, 20, 30, 30]),
          reference=st.sampled_from(REFERENCES), active=MOSTLY)
    def buy(self, index: int, stars: int, reference: str, active: bool) -> None:
        member = self._pick(index, ACTIVE if active else None)
        first = self.payments.get(reference)
        if stars <= 0:
            expected: str | None = "invalid_amount"
        elif first == (member.id, stars):
            expected = None  # a retry gets its first answer, whatever the account's status
        else:
            expected = self._acting(member) or (
                "idempotency_conflict" if first is not None else None)
        self._run(expected, lambda: self.service.buy_stars(member.id, stars, reference))
        if expected is not None or first is not None:
            return  # refused, or a replay that credits nothing
        self.payments[reference] = (member.id, stars)
        member.available += stars
        if member.sponsor is not None and not member.rewarded:
            member.rewarded = True
            sponsor = self.members[member.sponsor]
            if sponsor.status != PURGED:
                sponsor.available += POLICY.referral_reward

    @precondition(lambda self: bool(self.members))
    @rule(index=PICK, to_member=MOSTLY, to_index=PICK, to_any=st.sampled_from(EMAILS),
          stars=st.one_of(st.integers(1, 6), st.integers(-1, 30)), active=MOSTLY)
    def gift(self, index: int, to_member: bool, to_index: int, to_any: str, stars: int,
             active: bool) -> None:
        sender = self._pick(index, ACTIVE if active else None)
        addresses = sorted(a for a in self.by_email if a != sender.email)
        to = addresses[to_index % len(addresses)] if to_member and addresses else to_any
        expected = "invalid_amount" if stars < 1 else self._acting(sender)
        if expected is None and to == sender.email:
            expected = "not_allowed"
        if expected is None and stars > sender.available - POLICY.gift_floor:
            expected = "floor_breach"
        gift_id = self._run(expected, lambda: self.service.gift(sender.id, to, stars))
        if gift_id is None:
            return
        recipient = self.by_email.get(to)
        now = self.world.clock.now()
        self.gifts[gift_id] = ModelGift(
            id=gift_id, sender=sender.id, stars=stars, recipient=recipient,
            email=None if recipient else to, expires_at=POLICY.add_days(now, 10))
        sender.available -= stars
        self.escrow += stars
        self.last_gift_sender = sender.id

    @precondition(lambda self: bool(self.gifts) and bool(self.members))
    @rule(gift_index=PICK, member_index=PICK, by_recipient=MOSTLY, waiting=MOSTLY)
    def accept(self, gift_index: int, member_index: int, by_recipient: bool,
               waiting: bool) -> None:
        ids = sorted(self.gifts)
        if waiting:
            ids = [i for i in ids if self.gifts[i].state == "sent"] or ids
        gift = self.gifts[ids[gift_index % len(ids)]]
        if by_recipient and gift.recipient is not None:
            member = self.members[gift.recipient]
        else:
            member = self._pick(member_index)
        expected = self._acting(member)
        if expected is None and gift.recipient != member.id:
            expected = "not_allowed"
        if expected is None and gift.state != "sent":
            expected = "state_conflict"
        self._run(expected, lambda: self.service.accept_gift(member.id, gift.id))
        if expected is None:
            gift.state = "accepted"
            member.available += gift.stars
            self.escrow -= gift.stars

    @precondition(lambda self: bool(self.members))
    @rule(index=PICK, active=MOSTLY)
    def deactivate(self, index: int, active: bool) -> None:
        member = self._pick(index, ACTIVE if active else None)
        expected = self._acting(member)
        purge_at = self._run(expected, lambda: self.service.deactivate(member.id))
        if expected is None:
            now = self.world.clock.now()
            assert purge_at == POLICY.add_days(now, POLICY.account_retention_days)
            member.status, member.purge_at = DEACTIVATED, purge_at

    @precondition(lambda self: bool(self.members))
    @rule(index=PICK, deactivated=MOSTLY)
    def reactivate(self, index: int, deactivated: bool) -> None:
        member = self._pick(index, DEACTIVATED if deactivated else None)
        expected: str | None = None
        if member.status == PURGED:
            expected = "not_found"
        elif member.status != DEACTIVATED:
            expected = "state_conflict"
        self._run(expected, lambda: self.service.reactivate(member.id))
        if expected is None:
            member.status, member.purge_at = ACTIVE, None

    @rule(minutes=st.one_of(st.integers(1, 180), st.integers(1, 3 * 24 * 60),
                            st.integers(1, 20 * 24 * 60)))
    def advance_minutes(self, minutes: int) -> None:
        now = self.world.advance(timedelta(minutes=minutes))
        self._apply_due(now)

    @rule(days=st.integers(1, 20))
    def advance_days(self, days: int) -> None:
        # Whole calendar days land exactly on deadlines set a whole number of days ago.
        now = self.world.advance(days=days)
        self._apply_due(now)

    @rule()
    def run_due(self) -> None:
        self.service.run_due()

    # ------------------------------------------------------------------ the check
    @invariant()
    def matches_the_model(self) -> None:
        service = self.service
        service.check_invariants(deep=True)
        for member in self.members.values():
            balance = service.balance(member.id)
            assert balance.available >= 0
            assert balance == (member.available, 0), (member, balance)
            status = stored_member(self.world.store, member.id).status
            assert status is AccountStatus(
                {PENDING: "pending_confirmation"}.get(member.status, member.status))
        if self.last_gift_sender is not None:
            assert service.balance(self.last_gift_sender).available >= POLICY.gift_floor
            self.last_gift_sender = None
        supply = service.supply()
        assert supply.in_gift_escrow == self.escrow
        assert supply.held == 0
        assert supply.in_wallets == sum(m.available for m in self.members.values())
        assert supply.issued_by_kind.get("signup_bonus", 0) == (
            POLICY.signup_bonus * len(self.bonused))
        for gift in self.gifts.values():
            assert service.gift_state(gift.id).state.value == gift.state


TestMembersMachine = pytest.mark.rule(
    "ACC-1", "ACC-2", "ACC-6", "ACC-7", "STAR-1", "STAR-2", "STAR-4", "GIFT-1", "GIFT-2",
    "GIFT-3", "GIFT-4", "SPONSOR-2", "SPONSOR-3", "SPONSOR-4",
)(MembersMachine.TestCase)
