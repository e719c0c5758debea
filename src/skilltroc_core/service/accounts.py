"""Accounts: signup, email confirmation, sign-in, passwords, deactivation and purge.

Rules: ACC-1..7, STAR-1, SPONSOR-2.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from ..accounts import (
    AccountStatus,
    Member,
    MemberKind,
    ProCategory,
    Profile,
    Provider,
    normalize_email,
)
from ..events import Notification
from ..frozen import evolve
from ..gifts import Gift
from ..instants import later
from ..keys import LinkPurpose
from ..ledger import MAX_STARS, TransferKind
from ..logs import LOGGER
from ..passwords import hash_token
from ..ports import Timer
from ..refusals import refusal
from . import kinds
from .context import Area, ServiceContext
from .registry import ANYONE, HOST, MEMBER, OWNER, command, query
from .units import Tx

__all__ = ["AccountService", "SignupResult"]

PURGE_TIMER: Final = "purge_account"


#: The notices that carry a link, and what the link's token is for (ACC-1, ACC-4).
_LINK_PURPOSES: Final = {
    "EmailConfirmationRequested": LinkPurpose.CONFIRM_EMAIL,
    "PasswordResetRequested": LinkPurpose.RESET_PASSWORD,
}


@attrs.frozen(kw_only=True)
class SignupResult:
    """The new member's id; for a password signup, the token of the confirmation link
    (stored nowhere; :meth:`~AccountService.link_token` derives it again from the
    EmailConfirmationRequested notice)."""

    member_id: str
    confirmation_token: str | None = attrs.field(repr=False)


def checked_text(value: object, what: str, limit: int, rule: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise refusal("text_not_text", rule=rule, field=what, got=type(value).__name__)
    text = value.strip()
    if required and not text:
        raise refusal("text_required", rule=rule, field=what)
    if len(text) > limit:
        raise refusal("text_too_long", rule=rule, field=what, limit=limit, length=len(text))
    return text


def enum_value(enum: type[ProCategory] | type[MemberKind] | type[Provider], value: object,
          rule: str) -> str:
    try:
        return enum(str(value) if isinstance(value, str) else "").value
    except ValueError as exc:
        raise refusal("choice_unknown", rule=rule,
                      choices=[e.value for e in enum]) from exc


class AccountService(Area):
    """Accounts (ACC): signup, confirmation, passwords, deactivation, purge (STAR-1, SPONSOR-2)."""

    _decoy: str | None = None  # see _decoy_hash

    def register(self, context: ServiceContext) -> None:
        context.timer_handlers[PURGE_TIMER] = self._purge_due

    @command(actor=ANYONE, rules=("ACC-1", "ACC-2", "ACC-3", "ACC-6", "SPONSOR-2", "STAR-1"))
    def signup(
        self,
        email: str,
        *,
        password: str | None = None,
        provider: str | None = None,
        kind: str = "individual",
        category: str | None = None,
        display_name: str | None = None,
        sponsor: str | None = None,
    ) -> SignupResult:
        """Create an account (ACC-1, ACC-2, ACC-3, ACC-6), with an optional sponsor (SPONSOR-2).

        A password signup waits for email confirmation: its link's token is returned,
        and the EmailConfirmationRequested notice carries what derives it again
        (:meth:`link_token`), never the token itself; a provider signup is complete at once.
        """
        policy = self.policy
        address = normalize_email(email, policy)
        member_kind = MemberKind(enum_value(MemberKind, kind, "ACC-3"))
        pro_category: ProCategory | None = None
        if member_kind is MemberKind.PROFESSIONAL:
            if category is None:
                raise refusal("category_missing")
            pro_category = ProCategory(enum_value(ProCategory, category, "ACC-3"))
        elif category is not None:
            raise refusal("category_for_individual")
        if (password is None) == (provider is None):
            raise refusal("signup_how")
        via: Provider | None = None
        if provider is not None:
            via = Provider(enum_value(Provider, provider, "ACC-2"))
        else:
            self._check_password(password)
        name = None
        if display_name is not None:
            name = checked_text(display_name, "display_name", policy.max_name_length, "PROF-1")
        # slow on purpose: before the unit of work, which holds locks others may wait for
        password_hash = self.context.hasher.hash(password) if password is not None else None

        with self.command() as tx:
            if tx.member_by_email(address) is not None:
                raise refusal("email_taken")
            sponsor_id = self._resolve_sponsor(tx, sponsor, address)
            member_id = tx.new_id("mem")
            nonce = None if via else self.context.keys.new_nonce()
            token = None if nonce is None else self.context.keys.link_token(
                LinkPurpose.CONFIRM_EMAIL, member_id, nonce)
            member = Member(
                id=member_id, email=address, kind=member_kind, status=AccountStatus.PENDING,
                created_at=tx.now, category=pro_category, provider=via,
                password_hash=password_hash,
                confirmation_token_hash=hash_token(token) if token else None,
                profile=Profile(display_name=name), sponsor=sponsor_id,
            )
            tx.ledger.open_wallet(member_id)
            for gift in tx.find(kinds.GIFTS, "pending_email", address):
                tx.put(kinds.GIFTS, gift.id, gift.claimed_by(member_id))
            if via is not None:
                member = self._complete_signup(tx, member.confirmed(tx.now), "provider_signup")
            else:
                tx.notify("EmailConfirmationRequested", recipients=(member_id,),
                          email=address, nonce=nonce, key=self.context.keys.current_id)
            tx.put(kinds.MEMBERS, member_id, member)
            return SignupResult(member_id=member_id, confirmation_token=token)

    def _check_password(self, password: object) -> str:
        if not isinstance(password, str):
            raise refusal("password_not_text")
        if len(password) < self.policy.password_min_length:
            raise refusal(
                "password_too_short", minimum=self.policy.password_min_length,
            )
        if len(password) > 1024:
            raise refusal("password_too_long", limit=1024)
        if not password.isascii():
            try:
                password.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise refusal("password_surrogates") from exc
        return password

    def _resolve_sponsor(self, tx: Tx, sponsor: str | None, own_email: str) -> str | None:
        """SPONSOR-2/4: one sponsor, named by email or member id, a member, not oneself."""
        if sponsor is None:
            return None
        found: Member | None
        if isinstance(sponsor, str) and "@" in sponsor:
            address = normalize_email(sponsor, self.policy)
            if address == own_email:
                raise refusal("self_sponsor")
            found = tx.member_by_email(address)
        else:
            found = tx.get(kinds.MEMBERS, sponsor) if isinstance(sponsor, str) else None
        if found is None or found.status is not AccountStatus.ACTIVE:  # deactivated: hidden
            raise refusal("unknown_sponsor")
        return found.id

    def _complete_signup(self, tx: Tx, member: Member, how: str) -> Member:
        """STAR-1: the signup bonus, once per email address ever."""
        assert member.email is not None
        fingerprints = tx.email_fingerprints(member.email)
        if all(tx.get(kinds.BONUS_EMAILS, known) is None for known in fingerprints):
            tx.ledger.issue(TransferKind.SIGNUP_BONUS, member.id, self.policy.signup_bonus,
                            reference=f"signup:{member.id}", at=tx.now)
            tx.put(kinds.BONUS_EMAILS, fingerprints[0], kinds.BonusEmail(id=fingerprints[0]))
        return member

    @command(actor=ANYONE, rules=("ACC-1", "STAR-1"))
    def confirm_email(self, member_id: str, token: str) -> None:
        """ACC-1: the link's token completes the signup; the bonus is credited (STAR-1)."""
        with self.command() as tx:
            member = tx.member(member_id)
            # anyone may call this: a confirmed, deactivated or purged account is
            # refused as a wrong link is, so that nobody learns an account's state
            if member.status is not AccountStatus.PENDING or not isinstance(token, str) or (
                    member.confirmation_token_hash != hash_token(token)):
                raise refusal("confirmation_link_invalid")
            confirmed = self._complete_signup(tx, member.confirmed(tx.now), "confirm_email")
            tx.put(kinds.MEMBERS, member.id, confirmed)

    @command(actor=ANYONE, rules=("ACC-1", "ACC-4"))
    def sign_in(self, email: str, password: str) -> str:
        """The member id for these credentials; refused until the email is confirmed
        (ACC-1: usable only after confirmation).

        An unknown address, a provider account and a wrong password get the same
        :class:`WrongPasswordError` after the same work (one password check), so the
        answer tells nothing about which addresses have accounts (ACC-4). A hash of an
        older scheme or cost is replaced by a new one once the password is right.
        """
        address = normalize_email(email, self.policy)
        with self.query() as tx:
            member = tx.member_by_email(address)
        # the hash is checked after the unit of work: slow on purpose, it holds no lock
        stored = member.password_hash if member is not None else None
        candidate = password if isinstance(password, str) else ""
        if stored is None or member is None:
            self.context.hasher.verify(candidate, self._decoy_hash())  # as long as a real check
            raise refusal("wrong_email_or_password")
        if not self.context.hasher.verify(candidate, stored) or not isinstance(password, str):
            raise refusal("wrong_email_or_password")
        if member.status is AccountStatus.PENDING:  # only once the password is right
            raise refusal("sign_in_unconfirmed", member=member.id)
        # a hasher of the former port has no needs_rehash
        needs_rehash = getattr(self.context.hasher, "needs_rehash", None)
        if needs_rehash is not None and needs_rehash(stored):
            self._rehash(member.id, stored, self.context.hasher.hash(password))
        return member.id  # a deactivated member signs in to reactivate (ACC-7)

    def _decoy_hash(self) -> str:
        """A hash of nothing anyone knows, made like real ones: what a sign-in for an
        unknown address checks, so that it takes as long as for a known one."""
        decoy = self._decoy
        if decoy is None:
            decoy = self._decoy = self.context.hasher.hash(self.context.keys.new_nonce())
        return decoy

    def _rehash(self, member_id: str, old_hash: str, new_hash: str) -> None:
        """Replace ``old_hash`` by ``new_hash`` (same password, current scheme), unless
        the password changed meanwhile."""
        with self.command() as tx:
            member = tx.get(kinds.MEMBERS, member_id)
            if member is not None and member.password_hash == old_hash:
                tx.put(kinds.MEMBERS, member.id, evolve(member, password_hash=new_hash))

    @command(actor=ANYONE, rules=("ACC-4",))
    def request_password_reset(self, email: str) -> None:
        """ACC-4: mail a single-use reset link, usable for the policy's lifetime.

        It answers the same way whatever the address (no account enumeration): nothing
        is returned and nothing is refused. A password account gets a
        PasswordResetRequested notice whose link token the host derives with
        :meth:`link_token` (only its hash is stored); a provider account gets the same
        notice naming its provider instead of a link; an unknown address gets nothing.
        """
        address = normalize_email(email, self.policy)
        with self.command() as tx:
            member = tx.member_by_email(address)
            if member is None:
                return
            if member.provider is not None:
                tx.notify("PasswordResetRequested", recipients=(member.id,), email=address,
                          provider=member.provider.value)
                return
            nonce = self.context.keys.new_nonce()
            token = self.context.keys.link_token(LinkPurpose.RESET_PASSWORD, member.id, nonce)
            expires = later(tx.now, self.policy.reset_token_lifetime, "reset request",
                            "ACC-4")
            tx.put(kinds.MEMBERS, member.id, evolve(
                member, reset_token_hash=hash_token(token), reset_expires_at=expires))
            tx.notify("PasswordResetRequested", recipients=(member.id,), email=address,
                      nonce=nonce, key=self.context.keys.current_id, expires_at=expires)

    @query(actor=HOST, rules=("ACC-1", "ACC-4"))
    def link_token(self, notice: Notification) -> str:
        """The secret of the link an EmailConfirmationRequested or PasswordResetRequested
        notice is about, for the host to put in its mail (ACC-1, ACC-4).

        The store keeps only the token's hash and the notice a nonce: the token is
        derived again here from the host's secret key, so whoever reads the database or
        the outbox cannot use a link.
        """
        found: tuple[object, ...] = ()
        try:  # a notice the host built itself may hold anything
            (member_id,) = notice.recipients
            found = (_LINK_PURPOSES[notice.event], member_id, notice.fact("nonce"),
                     notice.fact("key"))
        except (AttributeError, KeyError, TypeError, ValueError):
            pass
        if len(found) != 4 or not all(isinstance(part, str) for part in found):
            raise refusal("notice_without_link")
        return self.context.keys.link_token(*(str(part) for part in found))

    @command(actor=ANYONE, rules=("ACC-4",))
    def reset_password(self, email: str, token: str, new_password: str) -> None:
        """ACC-4: set a new password with a valid, unexpired, unused reset token."""
        address = normalize_email(email, self.policy)
        self._check_password(new_password)
        password_hash = self.context.hasher.hash(new_password)  # slow: outside the unit of work
        with self.command() as tx:
            member = tx.member_by_email(address)
            if member is None or member.reset_token_hash is None or not isinstance(
                token, str
            ) or member.reset_token_hash != hash_token(token):
                raise refusal("reset_link_invalid")
            assert member.reset_expires_at is not None
            if tx.now >= member.reset_expires_at:
                raise refusal("reset_link_expired", expired_at=member.reset_expires_at)
            tx.put(kinds.MEMBERS, member.id, evolve(
                member, password_hash=password_hash, reset_token_hash=None,
                reset_expires_at=None))

    @command(actor=MEMBER, rules=("ACC-5",))
    def change_password(self, member_id: str, current: str, new_password: str) -> None:
        """ACC-5: a password account changes its password, giving the current one."""
        self._check_password(new_password)
        with self.query() as tx:
            member = tx.actor(member_id)
        # hashing is slow on purpose: between two short units of work, holding no lock
        checked = member.password_hash
        if member.provider is not None or checked is None:
            raise refusal("no_password", rule="ACC-5")
        if not isinstance(current, str) or not self.context.hasher.verify(current, checked):
            raise refusal("current_password_wrong")
        password_hash = self.context.hasher.hash(new_password)
        with self.command() as tx:
            member = tx.actor(member_id)
            if member.password_hash != checked:  # changed meanwhile: check it again
                raise refusal("password_changed_meanwhile", member=member.id)
            # the new password revokes every outstanding reset link (ACC-4, ACC-5)
            tx.put(kinds.MEMBERS, member.id, evolve(
                member, password_hash=password_hash, reset_token_hash=None,
                reset_expires_at=None))

    @command(actor=MEMBER, rules=("ACC-7",))
    def deactivate(self, member_id: str) -> datetime:
        """ACC-7: unsubscribe. Data is kept until the returned purge instant."""
        with self.command() as tx:
            member = tx.actor(member_id)
            gone = member.deactivated(tx.now, self.policy)
            assert gone.purge_at is not None
            tx.put(kinds.MEMBERS, member.id, gone)
            for hook in self.context.visibility_hooks:
                hook(tx, gone)
            tx.schedule(PURGE_TIMER, member.id, gone.purge_at)
            tx.notify("AccountDeactivated", recipients=(member.id,), purge_at=gone.purge_at)
            return gone.purge_at

    @command(actor=OWNER, rules=("ACC-7",))
    def reactivate(self, member_id: str) -> None:
        """ACC-7: within the retention period, everything is restored as it was."""
        with self.command() as tx:
            member = tx.member(member_id)
            back = member.reactivated()
            tx.put(kinds.MEMBERS, member.id, back)
            for hook in self.context.visibility_hooks:
                hook(tx, back)
            tx.cancel_timer(PURGE_TIMER, member.id)
            # gifts sent to its address while it was hidden: now its to accept (GIFT-3)
            for gift in self._gifts_to_address(tx, back):
                tx.put(kinds.GIFTS, gift.id, gift.claimed_by(back.id))

    @staticmethod
    def _gifts_to_address(tx: Tx, member: Member) -> list[Gift]:
        """The unaccepted gifts sent to the member's address while the account was
        deactivated: kept by address, as for someone who is not a member (ACC-7)."""
        return tx.find(kinds.GIFTS, "pending_email", member.email) if member.email else []

    def _purge_due(self, tx: Tx, timer: Timer) -> None:
        member = tx.get(kinds.MEMBERS, timer.ref)
        if member is None or member.status is not AccountStatus.DEACTIVATED:
            return
        self._purge(tx, member)

    def _purge(self, tx: Tx, member: Member) -> None:
        """ACC-7 at the end of retention: cancel and refund, sweep the balance, erase."""
        LOGGER.info("purging member %s (ACC-7)", member.id)
        tx.uow.erasing()  # and the store keeps no former version of what it erases
        for hook in self.context.purge_hooks:
            hook(tx, member)
        for gift in [*tx.find(kinds.GIFTS, "pending_recipient", member.id),
                     *self._gifts_to_address(tx, member)]:
            # Nobody can ever accept these now; they never go back to the sender (GIFT-4).
            # Those sent to its address while hidden lose the address: it is erased.
            tx.ledger.transfer(TransferKind.GIFT_EXPIRED, "platform:gift_escrow",
                               "platform:issuance", gift.stars, reference=f"gift:{gift.id}",
                               at=tx.now)
            tx.put(kinds.GIFTS, gift.id, evolve(gift.expired(tx.now), recipient_email=None))
        remaining = left = tx.ledger.available(member.id)
        while left:  # in movements of at most MAX_STARS each (STAR-4)
            part = min(left, MAX_STARS)
            tx.ledger.transfer(TransferKind.ACCOUNT_PURGED, member.id, "platform:issuance",
                               part, reference=f"purge:{member.id}", at=tx.now)
            left -= part
        for follow in [*tx.find(kinds.FOLLOWS, "follower", member.id),
                       *tx.find(kinds.FOLLOWS, "followee", member.id)]:
            tx.uow.delete(kinds.FOLLOWS, follow.id)
        for message in tx.find(kinds.FEED, "author", member.id):
            tx.uow.delete(kinds.FEED, message.id)
        invitations = tx.find(kinds.INVITATIONS, "sponsor", member.id)
        if member.email:
            invitations += tx.find(kinds.INVITATIONS, "email", member.email)
        for invitation in invitations:
            tx.uow.delete(kinds.INVITATIONS, invitation.id)
        tx.uow.forget_notifications(member.id, member.email)
        tx.notify("AccountPurged", recipients=(member.id,), swept=remaining)  # the last notice
        tx.put(kinds.MEMBERS, member.id, member.purged())
