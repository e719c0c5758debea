"""Members in the reference model: signup, stars bought, sponsors, deactivation, purge."""

from __future__ import annotations

from .part import Part
from .records import ACTIVE, DEACTIVATED, PENDING, PURGED, MMember

__all__ = ["Accounts"]


class Accounts(Part):
    """Who is a member and in what state, the stars they buy and the sponsor rewards; a
    purge (ACC-7) ends what the member has in every other area."""

    def signup(self, member_id: str, email: str, *, pro: bool, provider: bool,
               sponsor: str | None, token: str | None) -> None:
        model = self.model
        member = MMember(id=member_id, email=email, status=PENDING, pro=pro,
                         complete=not pro, sponsor=sponsor, token=token)
        model.members[member_id] = member
        model.by_email[email] = member_id
        model.touched.add(member_id)
        model.gifting.claim(member_id, email)
        if provider:
            self._complete_signup(member)
        else:
            model.note("EmailConfirmationRequested", [member_id])

    def _complete_signup(self, member: MMember) -> None:
        member.status = ACTIVE
        member.token = None
        self.model.active[member.id] = None
        assert member.email is not None
        if member.email not in self.model.bonused:
            self.model.bonused.add(member.email)
            self.model.issue(member, self.policy.signup_bonus)

    def confirm_email(self, member_id: str) -> None:
        self._complete_signup(self.model.members[member_id])

    def sponsor_ok(self, sponsor: str | None) -> bool:
        if sponsor is None:
            return True
        found = self.model.members.get(sponsor)
        return found is not None and found.status == ACTIVE  # deactivated: hidden (ACC-7)

    def complete_profile(self, member_id: str) -> None:
        self.model.members[member_id].complete = True

    def buy(self, member_id: str, stars: int, reference: str) -> None:
        model = self.model
        if reference in model.purchases:
            return  # the same purchase again: credited once (STAR-2)
        model.purchases[reference] = (member_id, stars)
        member = model.members[member_id]
        model.issue(member, stars)
        self.reward_sponsor(member)

    def reward_sponsor(self, referee: MMember) -> None:
        """The referee's sponsor is rewarded once, at the referee's first purchase or
        session held."""
        if referee.sponsor is None or referee.rewarded:
            return
        referee.rewarded = True
        sponsor = self.model.members[referee.sponsor]
        if sponsor.status == PURGED:
            return
        self.model.issue(sponsor, self.policy.referral_reward)
        self.model.note("ReferralRewardPaid", [sponsor.id])

    def deactivate(self, member_id: str) -> None:
        model = self.model
        member = model.members[member_id]
        member.status = DEACTIVATED
        model.active.pop(member_id, None)
        model.set_deadline("purge", member_id,
                           self.policy.add_days(model.at, self.policy.account_retention_days))
        model.note("AccountDeactivated", [member_id])

    def reactivate(self, member_id: str) -> None:
        model = self.model
        member = model.members[member_id]
        member.status = ACTIVE
        model.active[member_id] = None
        model.drop_deadline("purge", member_id)
        if member.email is not None:
            model.gifting.claim(member_id, member.email)

    def due_purge(self, ref: str) -> None:
        member = self.model.members[ref]
        if member.status == DEACTIVATED:
            self._purge(member)

    def _purge(self, member: MMember) -> None:
        model = self.model
        # campaigns stop, tutorials go (no stars move)
        model.advertising.withdraw_all(member.id)
        model.publishing.unpublish_all(member.id)
        # bookings: their workshops are deleted, their own live requests end
        model.schedule.delete_workshops_of(member.id)
        model.bookings.end_requests_of(member.id)
        model.gifting.expire_for(member)
        model.sweep(member, member.available)
        member.status = PURGED
        member.sponsor = None
        model.active.pop(member.id, None)
        email = member.email
        if email is not None:
            model.by_email.pop(email, None)
        member.email = None
        model.unnote(member.id, email)
        model.notes.append(("AccountPurged", (member.id,), ()))  # the last notice it gets
