"""Contacts, follows, the feed and invitations (SOCIAL-1..3, SPONSOR-1)."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..accounts import AccountStatus, normalize_email
from ..events import FactValue
from ..listings import Page
from ..refusals import refusal, shown_id
from ..social import FeedMessage, Follow, Invitation, follow_id
from . import kinds
from .context import Area
from .paging import page_limit, paged, read_cursor, walk
from .registry import ANYONE, MEMBER, command, query
from .units import Tx

__all__ = ["ContactMatch", "SocialService", "notify_followers", "shown_members"]


@attrs.frozen(kw_only=True)
class ContactMatch:
    """An imported address that belongs to a member, who can be followed (SOCIAL-1)."""

    email: str
    member_id: str
    display_name: str
    followed: bool


def shown_members(tx: Tx, member_ids: list[str]) -> list[str]:
    """The members among ``member_ids`` others may see: active ones (ACC-7 hides the rest)."""
    return [member_id for member_id in member_ids if tx.shown(member_id)]


def _message(message: FeedMessage) -> FeedMessage:
    return message


def notify_followers(tx: Tx, member_id: str, event: str, facts: dict[str, FactValue]
) -> None:
    """Tell every active follower of ``member_id`` (SOCIAL-3, BOOK-42).

    Deactivated followers are not told: they unsubscribed (ACC-7); their follows come
    back with them if they reactivate.
    """
    followers = shown_members(
        tx, [f.follower for f in tx.find(kinds.FOLLOWS, "followee", member_id)])
    tx.notify_with(event, facts, recipients=tuple(followers))


class SocialService(Area):
    """Follow members, post on one's feed, import contacts, invite people."""

    def _addresses(self, emails: object, rule: str) -> list[str]:
        """An imported address book: its addresses normalized, each once, in order."""
        if isinstance(emails, str | bytes) or not isinstance(emails, Iterable):
            raise refusal("contacts_not_list", rule=rule, kind=type(emails).__name__)
        return list(dict.fromkeys(normalize_email(e, self.policy) for e in emails))

    @query(actor=MEMBER, rules=("SOCIAL-1",))
    def import_contacts(self, member_id: str, emails: Iterable[str]) -> list[ContactMatch]:
        """SOCIAL-1: which of these addresses belong to members (self and hidden excluded)."""
        addresses = self._addresses(emails, "SOCIAL-1")
        with self.query() as tx:
            member = tx.actor(member_id)
            matches = []
            for address in addresses:
                found = tx.member_by_email(address)
                if found is None or found.id == member.id:
                    continue
                if found.status is not AccountStatus.ACTIVE:
                    continue
                followed = tx.get(kinds.FOLLOWS, follow_id(member.id, found.id)) is not None
                matches.append(ContactMatch(email=address, member_id=found.id,
                                            display_name=found.display, followed=followed))
            return matches

    @query(actor=MEMBER, rules=("SPONSOR-1",))
    def invitable_contacts(self, member_id: str, emails: Iterable[str]) -> list[str]:
        """SPONSOR-1: the addresses of an imported address book that no account uses (a
        deactivated one is hidden, ACC-7: its address is listed as if none did): the
        contacts the member can invite (:meth:`invite`), normalized, each once, in order."""
        addresses = self._addresses(emails, "SPONSOR-1")
        with self.query() as tx:
            tx.actor(member_id)
            return [address for address in addresses if tx.addressee(address) is None]

    @command(actor=MEMBER, rules=("SOCIAL-1",))
    def follow(self, member_id: str, whom: str) -> None:
        """SOCIAL-1: follow any other member; following twice changes nothing."""
        with self.command() as tx:
            member = tx.actor(member_id)
            other = tx.visible_member(whom)
            if other.id == member.id:
                raise refusal("follow_self")
            key = follow_id(member.id, other.id)
            if tx.get(kinds.FOLLOWS, key) is None:
                tx.put(kinds.FOLLOWS, key,
                       Follow(follower=member.id, followee=other.id, since=tx.now))

    @command(actor=MEMBER, rules=("SOCIAL-1",))
    def unfollow(self, member_id: str, whom: str) -> None:
        """Stop following; not following already changes nothing."""
        if not isinstance(whom, str) or not whom:
            raise refusal("unknown_member", id=shown_id(whom))
        with self.command() as tx:
            member = tx.actor(member_id)
            tx.uow.delete(kinds.FOLLOWS, follow_id(member.id, whom))

    @query(actor=ANYONE, rules=("SOCIAL-2",))
    def followers(self, member_id: str) -> list[str]:
        """SOCIAL-2: who follows this member ("they follow me"), oldest first.

        Deactivated followers are hidden (ACC-7); their follows come back with them.
        """
        with self.query() as tx:
            tx.member(member_id)
            return shown_members(
                tx, [f.follower for f in tx.find(kinds.FOLLOWS, "followee", member_id)])

    @query(actor=ANYONE, rules=("SOCIAL-1",))
    def following(self, member_id: str) -> list[str]:
        """Whom this member follows, oldest first (deactivated members hidden, ACC-7)."""
        with self.query() as tx:
            tx.member(member_id)
            return shown_members(
                tx, [f.followee for f in tx.find(kinds.FOLLOWS, "follower", member_id)])

    @command(actor=MEMBER, rules=("SOCIAL-3",))
    def post_message(self, member_id: str, text: str) -> str:
        """SOCIAL-3: a message on the member's feed; their followers are told."""
        if not isinstance(text, str) or not text.strip():
            raise refusal("text_required", rule="SOCIAL-3", field="text")
        if len(text) > self.policy.max_bio_length:
            raise refusal("text_too_long", rule="SOCIAL-3", field="text",
                          limit=self.policy.max_bio_length, length=len(text))
        with self.command() as tx:
            member = tx.actor(member_id)
            message_id = tx.new_id("msg")
            tx.put(kinds.FEED, message_id, FeedMessage(
                id=message_id, author=member.id, text=text.strip(), posted_at=tx.now))
            # the text stays out of the notice: a purge erases the message (ACC-7), and a
            # notice already sent to followers would keep it; hosts read it by its id
            notify_followers(tx, member.id, "MessagePosted",
                                  {"message": message_id, "author": member.id})
            return message_id

    def _page_limit(self, limit: object) -> int:
        size = self.policy.feed_page_size
        return page_limit(limit, size, size, "SOCIAL-3")

    @query(actor=ANYONE, rules=("SOCIAL-3",))
    def messages(self, member_id: str, *, after: str | None = None,
                 limit: int | None = None) -> Page[FeedMessage]:
        """SOCIAL-3: the messages on a member's feed, newest first (the same instant: by
        id), ``limit`` a page (at most and by default ``Policy.feed_page_size``); a
        deactivated member's feed is hidden (ACC-7). ``after``: the ``next`` of the page
        before. O(limit + log n), however much the member posted."""
        limit = self._page_limit(limit)
        cursor = read_cursor("messages", [member_id], after, "SOCIAL-3")
        with self.query() as tx:
            author = tx.visible_member(member_id)
            found = walk(tx, kinds.FEED, "newest", author.id, cursor, limit + 1, _message)
        return paged("messages", [member_id], found, limit)

    @query(actor=ANYONE, rules=("SOCIAL-3",))
    def feed(self, member_id: str, *, after: str | None = None,
             limit: int | None = None) -> Page[FeedMessage]:
        """SOCIAL-3: what the member reads: the messages of the members they follow,
        newest first (the same instant: by id), ``limit`` a page (at most and by default
        ``Policy.feed_page_size``), deactivated authors hidden (ACC-7). ``after``: the
        ``next`` of the page before. O(followed x (limit + log n))."""
        limit = self._page_limit(limit)
        cursor = read_cursor("feed", [member_id], after, "SOCIAL-3")
        with self.query() as tx:
            reader = tx.member(member_id)
            authors = shown_members(
                tx, [f.followee for f in tx.find(kinds.FOLLOWS, "follower", reader.id)])
            found = [item for author in authors for item in walk(
                tx, kinds.FEED, "newest", author, cursor, limit + 1, _message)]
        return paged("feed", [member_id], found, limit)

    @command(actor=MEMBER, rules=("SPONSOR-1",))
    def invite(self, member_id: str, email: str) -> str:
        """SPONSOR-1: invite someone who is not a member yet; they get an invitation mail.

        DECISION (ACC-7: no invitation naming a deactivated account, and it stays
        hidden): the address of a deactivated account is answered exactly as an address
        no account uses: the invitation is recorded and mailed to the address; it names
        no member, and the account's purge erases it with the address.
        """
        address = normalize_email(email, self.policy)
        with self.command() as tx:
            member = tx.actor(member_id)
            if tx.addressee(address) is not None:
                raise refusal("already_member")
            invitation_id = tx.new_id("inv")
            tx.put(kinds.INVITATIONS, invitation_id, Invitation(
                id=invitation_id, sponsor=member.id, email=address, sent_at=tx.now))
            tx.notify("InvitationSent", emails=(address,),
                      sponsor_id=member.id)
            return invitation_id
