"""The simulator's steps for members: signups, email confirmations, profiles, purchases,
deactivations and reactivations, and gifts between members or to an outside address."""

from __future__ import annotations

import itertools

from ..service import kinds
from .context import WINDOW, AreaSteps, StepContext, pick, recent
from .model import ACTIVE, DEACTIVATED, PENDING
from .workload import Step

__all__ = ["MemberSteps"]


class MemberSteps(AreaSteps):
    """Accounts, stars and gifts."""

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self._emails = 0
        self._outsiders: list[str] = []  # addresses gifts went to (they may sign up)

    def _new_email(self) -> str:
        self._emails += 1
        return f"member{self._emails}@sim.example"

    def do_signup(self, step: Step, *, pro: bool = False, password: bool = False) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        email = self._new_email()
        if a2 % 10 == 0 and self._outsiders:
            email = self._outsiders[a2 % len(self._outsiders)]  # claims the gifts waiting
        elif a2 % 25 == 1 and model.members:
            taken = pick(recent(model.members), a1)  # an address in use, or a purged one
            if taken is not None and taken.email is not None:
                email = taken.email
        sponsor = pick([m.id for m in recent(model.members)], a1) if a0 % 4 == 0 else None
        expect = email not in model.by_email and model.accounts.sponsor_ok(sponsor)
        result = self.ctx.command(
            "signup", lambda: self.app.signup(
                email, password="correct horse battery" if password else None,
                provider=None if password else "google",
                kind="professional" if pro else "individual",
                category="craftsperson" if pro else None, sponsor=sponsor),
            expect=expect, members=[sponsor] if sponsor else [])
        model.accounts.signup(result.member_id, email, pro=pro, provider=not password,
                              sponsor=sponsor, token=result.confirmation_token)
        self.ctx.scope_members.append(result.member_id)

    def do_signup_pro(self, step: Step) -> None:
        self.do_signup(step, pro=True)

    def do_signup_password(self, step: Step) -> None:
        self.do_signup(step, password=True)

    def do_confirm_email(self, step: Step) -> None:
        pending = recent(self.model.members, lambda m: m.status == PENDING)
        member = pick(pending, step.args[0])
        if member is None or member.token is None:
            self.ctx.skip()
        right = step.args[1] % 8 != 0
        token = member.token if right else "not-the-token"
        self.ctx.command("confirm_email", lambda: self.app.confirm_email(member.id, token),
                         expect=right, members=[member.id])
        self.model.accounts.confirm_email(member.id)

    def do_complete_profile(self, step: Step) -> None:
        model = self.model
        pros = recent(model.members, lambda m: m.pro and not m.complete and m.status == ACTIVE)
        member_id = (pros[step.args[0] % len(pros)].id if pros
                     else self._member(step.args[1]))
        if member_id is None:
            self.ctx.skip()
        self.ctx.command("complete_profile", lambda: self.app.update_profile(
            member_id, display_name=f"Member {member_id}", description="Teaches things",
            photo="https://example.org/p.jpg", locality="Lyon"),
            expect=True, entities=[(kinds.MEMBERS, member_id)])
        model.accounts.complete_profile(member_id)

    def do_buy(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        stars = 1 + a1 % 40
        member_id = self._member(a0)
        reference = self.ctx.next_id("pay-")
        expect: bool | None = True
        if a2 % 6 == 0 and model.purchases:
            reference = pick(list(itertools.islice(reversed(model.purchases), WINDOW)),
                             a2) or reference
            member_id, first = model.purchases[reference]
            if a1 % 2:
                stars = first
            expect = stars == first  # a retry gets its first answer, whatever the status
        if member_id is None:
            self.ctx.skip()
        buyer = member_id
        self.ctx.command("buy", lambda: self.app.buy_stars(buyer, stars, reference).seq,
                         expect=expect, members=[buyer], keyed=True)
        model.accounts.buy(buyer, stars, reference)

    def do_deactivate(self, step: Step) -> None:
        member_id = self._member(step.args[0])
        if member_id is None:
            self.ctx.skip()
        self.ctx.command("deactivate", lambda: self.app.deactivate(member_id), expect=True,
                         entities=[(kinds.MEMBERS, member_id)])
        self.model.accounts.deactivate(member_id)

    def do_reactivate(self, step: Step) -> None:
        gone = [m.id for m in recent(self.model.members, lambda m: m.status == DEACTIVATED)]
        member_id = pick(gone, step.args[0])
        if member_id is None:
            self.ctx.skip()
        self.ctx.command("reactivate", lambda: self.app.reactivate(member_id), expect=True,
                         entities=[(kinds.MEMBERS, member_id)])
        self.model.accounts.reactivate(member_id)

    # ------------------------------------------------------------------ gifts
    def do_gift(self, step: Step, *, outsider: bool = False) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        rich = [m.id for m in recent(model.members, lambda m: m.status == ACTIVE
                                     and m.available > self.policy.gift_floor)]
        sender = pick(rich, a0) if a2 % 8 else self._member(a0)
        if sender is None:
            self.ctx.skip()
        member = model.members[sender]
        if outsider:
            email = f"friend{a1 % 40}@elsewhere.example"
            if email not in self._outsiders:
                self._outsiders.append(email)
        else:
            others = [m.email for m in recent(model.members) if m.email is not None]
            email = pick(others, a1) or "nobody@elsewhere.example"
        room = member.available - self.policy.gift_floor
        stars = 1 + a2 % max(room, 1) if a2 % 9 else room + 1
        key = self.ctx.next_id("gift-key-")
        expect = (email != member.email and stars <= room)
        recipient = model.by_email.get(email)
        gift_id = self.ctx.command(
            "gift", lambda: self.app.gift(sender, email, stars, key=key), expect=expect,
            members=[sender, *([recipient] if recipient else [])], keyed=True)
        model.gifting.send(gift_id, sender, email, stars)

    def do_gift_outsider(self, step: Step) -> None:
        self.do_gift(step, outsider=True)

    def do_accept_gift(self, step: Step) -> None:
        model = self.model
        gifts = recent(model.gifts, lambda g: g.state == "sent" and g.recipient is not None)
        gift = pick(gifts, step.args[0])
        if gift is None or gift.recipient is None:
            self.ctx.skip()
        actor = self._actor(gift.recipient, step)
        self.ctx.command("accept_gift", lambda: self.app.accept_gift(actor, gift.id),
                         expect=actor == gift.recipient and self._is_active(actor),
                         members=[gift.recipient, gift.sender], entities=[(kinds.GIFTS, gift.id)])
        model.gifting.accept(gift.id)

