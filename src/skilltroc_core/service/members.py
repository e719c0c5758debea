"""Members: profiles, balances, statements, purchases, referral rewards.

Rules: PROF-1/6/7, STAR-2, STAR-5, SPONSOR-3.
"""

from __future__ import annotations

import re

import attrs

from ..accounts import (
    AccountStatus,
    Member,
    MemberKind,
    MemberView,
    ProCategory,
    Profile,
)
from ..errors import (
    IdempotencyConflictError,
)
from ..frozen import evolve
from ..gifts import GiftState
from ..ledger import Balance, StatementLine, Transfer, TransferKind, at_most_max_stars
from ..listings import Page
from ..refusals import refusal, shown
from ..unset import UNSET, Unset
from . import kinds
from .accounts import checked_text, enum_value
from .context import Area
from .paging import make_cursor, page_limit, read_line_cursor
from .registry import ANYONE, MEMBER, command, query
from .social import shown_members
from .units import Tx

__all__ = ["MemberService", "ProfileView", "reward_sponsor"]

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class ProfileView:
    """A profile as others see it (PROF-1, PROF-6, PROF-7)."""

    member_id: str
    kind: MemberKind
    category: ProCategory | None
    profile: Profile
    complete: bool
    missing: tuple[str, ...]
    public: bool  # PROF-7: professional profiles are public and may be indexed
    followers: int


def reward_sponsor(tx: Tx, referee: Member) -> None:
    """SPONSOR-3: 5 stars to the sponsor at the referee's first workshop or purchase."""
    if referee.sponsor is None or referee.sponsor_rewarded:
        return
    tx.put(kinds.MEMBERS, referee.id, evolve(referee, sponsor_rewarded=True))
    sponsor = tx.get(kinds.MEMBERS, referee.sponsor)
    if sponsor is None or sponsor.status is AccountStatus.PURGED:
        return  # the reward is final either way; a purged sponsor cannot receive it
    tx.ledger.issue(TransferKind.REFERRAL_REWARD, sponsor.id, tx.policy.referral_reward,
                    reference=f"referral:{referee.id}", at=tx.now)
    tx.notify("ReferralRewardPaid", recipients=(sponsor.id,), referee=referee.id,
              stars=tx.policy.referral_reward)


class MemberService(Area):
    """Profiles (PROF), balances and statements (STAR-5), purchases (STAR-2)."""

    @command(actor=MEMBER, rules=("PROF-1", "PROF-6", "ACC-3"))
    def update_profile(
        self,
        member_id: str,
        *,
        display_name: str | Unset | None = UNSET,
        photo: str | Unset | None = UNSET,
        bio: str | Unset | None = UNSET,
        description: str | Unset | None = UNSET,
        locality: str | Unset | None = UNSET,
        website: str | Unset | None = UNSET,
        category: str | Unset = UNSET,
    ) -> ProfileView:
        """PROF-1/6: set profile fields (``None`` clears an optional one)."""
        policy = self.policy
        changes: dict[str, str | None] = {}
        limits = {
            "display_name": policy.max_name_length, "photo": 2048, "bio": policy.max_bio_length,
            "description": policy.max_bio_length, "locality": policy.max_name_length,
            "website": 2048,
        }
        given = {"display_name": display_name, "photo": photo, "bio": bio,
                 "description": description, "locality": locality, "website": website}
        for name, value in given.items():
            if value is UNSET:
                continue
            if value is None:
                changes[name] = None
                continue
            text = checked_text(value, name, limits[name], "PROF-1")
            if name == "website" and not _URL.match(text):
                raise refusal("website_invalid")
            changes[name] = text or None
        with self.command() as tx:
            member = tx.actor(member_id)
            new_category = member.category
            if category is not UNSET:
                if not member.is_professional:
                    raise refusal("category_for_individual")
                new_category = ProCategory(enum_value(ProCategory, category, "ACC-3"))
            updated = evolve(member, category=new_category,
                             profile=attrs.evolve(member.profile, **changes))
            tx.put(kinds.MEMBERS, member.id, updated)
            return self._profile_view(tx, updated)

    @query(actor=ANYONE, rules=("PROF-1", "PROF-7"))
    def profile(self, member_id: str) -> ProfileView:
        """A member's profile as others see it."""
        with self.query() as tx:
            return self._profile_view(tx, tx.visible_member(member_id))

    def _profile_view(self, tx: Tx, member: Member) -> ProfileView:
        missing = member.missing_profile_fields(self.policy.profile_required_fields)
        return ProfileView(
            member_id=member.id, kind=member.kind, category=member.category,
            profile=member.profile, complete=not missing, missing=missing,
            public=member.is_professional,
            followers=len(shown_members(
                tx, [f.follower for f in tx.find(kinds.FOLLOWS, "followee", member.id)])),
        )

    @query(actor=ANYONE, rules=("ACC-7",))
    def member(self, member_id: str) -> MemberView:
        """The member as the host's pages may show it (any status but purged), without
        the password and token hashes (ACC-4)."""
        with self.query() as tx:
            return MemberView.of(tx.member(member_id))

    @query(actor=ANYONE, rules=("STAR-5",))
    def balance(self, member_id: str) -> Balance:
        """Stars available and held (STAR-5); zero after a purge."""
        with self.query() as tx:
            tx.require(kinds.MEMBERS, member_id)
            return tx.ledger.balance(member_id)

    @query(actor=ANYONE, rules=("STAR-5",))
    def statement(self, member_id: str, *, after: str | None = None,
                  limit: int | None = None) -> Page[StatementLine]:
        """A page of the member's statement, oldest first, with running balances (STAR-5);
        ``total`` is the number of lines. ``after``: the ``next`` of the page before.
        O(limit + log n), however long the statement."""
        policy = self.policy
        limit = page_limit(limit, policy.statement_page_size, policy.statement_page_limit,
                           "STAR-5")
        start = read_line_cursor("statement", [member_id], after, "STAR-5")
        with self.query() as tx:
            tx.member(member_id)
            page = tx.ledger.statement(member_id, offset=start, limit=limit)
        following = page.next_offset
        return Page(items=page.lines, total=page.total, next=None if following is None
                    else make_cursor("statement", [member_id], following))

    @command(actor=MEMBER, rules=("STAR-2", "SPONSOR-3"))
    def buy_stars(self, member_id: str, stars: int, payment_reference: str) -> Transfer:
        """STAR-2: credit a purchase the host's payment port confirmed.

        Idempotent by payment reference: the same reference and amount again credits
        nothing and returns the first transfer; another amount is refused. A first
        purchase pays the sponsor's referral reward (SPONSOR-3).
        """
        if type(stars) is not int or stars < 1:
            raise refusal("purchase_invalid", got=shown(stars))
        at_most_max_stars(stars)
        reference = checked_text(payment_reference, "payment_reference", 200, "STAR-2")
        with self.command() as tx:
            key = f"purchase:{reference}"
            fingerprint = f"{member_id},{stars}"
            # A retried report gets its first answer even if the account was deactivated
            # since: the purchase was credited while it could act.
            try:
                replayed = tx.replay(key, "buy_stars", fingerprint, "STAR-2")
            except IdempotencyConflictError:
                tx.actor(member_id)  # an account that cannot act hears that first
                raise
            if replayed is not None:
                return tx.ledger.get_transfer(int(replayed))
            member = tx.actor(member_id)
            transfer = tx.ledger.issue(TransferKind.PURCHASE, member.id, stars,
                                       reference=f"payment:{reference}", at=tx.now)
            reward_sponsor(tx, member)
            tx.remember(key, "buy_stars", fingerprint, str(transfer.seq))
            return transfer

    @query(actor=ANYONE, rules=("GIFT-3",))
    def gifts_waiting(self, member_id: str) -> list[str]:
        """Ids of the gifts waiting for this member to accept them (GIFT-3)."""
        with self.query() as tx:
            tx.member(member_id)
            return [g.id for g in tx.find(kinds.GIFTS, "pending_recipient", member_id)
                    if g.state is GiftState.SENT]
