"""Contacts, follows, the feed and invitations (SOCIAL-1..3, SPONSOR-1)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import attrs

from ..accounts import AccountStatus, normalize_email
from ..errors import AlreadyExistsError, InvalidInputError, NotAllowedError, NotFoundError
from ..events import FactValue
from ..social import FeedMessage, Follow, Invitation, RecentMessages, follow_id
from . import kinds
from .context import Area
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


def _limit(limit: object, page: int) -> int:
    """``limit`` checked against the policy's page (None: a whole page)."""
    if limit is None:
        return page
    if type(limit) is not int or not 1 <= limit <= page:
        raise InvalidInputError(f"a page of messages holds 1 to {page}, not {limit!r}",
                                rule="SOCIAL-3")
    return limit


def _newest(messages: list[FeedMessage], limit: int) -> list[FeedMessage]:
    """The ``limit`` newest, newest first (the same instant: by id, for a stable order)."""
    return heapq.nlargest(limit, messages, key=lambda m: (m.posted_at, m.id))


def _recent_ids(tx: Tx, author: str, limit: int) -> tuple[str, ...]:
    """The ids of the author's ``limit`` newest messages, newest first, from the author's
    recent list (a store written before the lists existed has none until the author
    posts again: then the author's messages are read once)."""
    recent = tx.get(kinds.RECENT_MESSAGES, author)
    if recent is None:
        return tuple(m.id for m in _newest(tx.find(kinds.FEED, "author", author), limit))
    return recent.message_ids[:limit]


def _recent(tx: Tx, author: str, limit: int) -> list[FeedMessage]:
    """The author's ``limit`` newest messages, newest first: O(limit) reads."""
    return [tx.require(kinds.FEED, message_id) for message_id in _recent_ids(tx, author, limit)]


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
            raise InvalidInputError(f"contacts are a list of email addresses, got {emails!r}",
                                    rule=rule)
        return list(dict.fromkeys(normalize_email(e, self.policy) for e in emails))

    @query(actor=MEMBER, rules=("SOCIAL-1",))
    def import_contacts(self, member_id: str, emails: Iterable[str]) -> list[ContactMatch]:
        """SOCIAL-1: which of these addresses belong to members (self and hidden excluded)."""
        addresses = self._addresses(emails, "SOCIAL-1")
        with self.query() as tx:
            member = tx.actor(member_id, "SOCIAL-1")
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
            tx.actor(member_id, "SPONSOR-1")
            return [address for address in addresses if tx.addressee(address) is None]

    @command(actor=MEMBER, rules=("SOCIAL-1",))
    def follow(self, member_id: str, whom: str) -> None:
        """SOCIAL-1: follow any other member; following twice changes nothing."""
        with self.command() as tx:
            member = tx.actor(member_id, "SOCIAL-1")
            other = tx.visible_member(whom, "SOCIAL-1")
            if other.id == member.id:
                raise NotAllowedError("a member cannot follow themselves", rule="SOCIAL-1")
            key = follow_id(member.id, other.id)
            if tx.get(kinds.FOLLOWS, key) is None:
                tx.put(kinds.FOLLOWS, key,
                       Follow(follower=member.id, followee=other.id, since=tx.now))

    @command(actor=MEMBER, rules=("SOCIAL-1",))
    def unfollow(self, member_id: str, whom: str) -> None:
        """Stop following; not following already changes nothing."""
        if not isinstance(whom, str) or not whom:
            raise NotFoundError(f"{whom!r} is not a member id", rule="SOCIAL-1")
        with self.command() as tx:
            member = tx.actor(member_id, "SOCIAL-1")
            tx.uow.delete(kinds.FOLLOWS, follow_id(member.id, whom))

    @query(actor=ANYONE, rules=("SOCIAL-2",))
    def followers(self, member_id: str) -> list[str]:
        """SOCIAL-2: who follows this member ("they follow me"), oldest first.

        Deactivated followers are hidden (ACC-7); their follows come back with them.
        """
        with self.query() as tx:
            tx.member(member_id, "SOCIAL-2")
            return shown_members(
                tx, [f.follower for f in tx.find(kinds.FOLLOWS, "followee", member_id)])

    @query(actor=ANYONE, rules=("SOCIAL-1",))
    def following(self, member_id: str) -> list[str]:
        """Whom this member follows, oldest first (deactivated members hidden, ACC-7)."""
        with self.query() as tx:
            tx.member(member_id, "SOCIAL-1")
            return shown_members(
                tx, [f.followee for f in tx.find(kinds.FOLLOWS, "follower", member_id)])

    @command(actor=MEMBER, rules=("SOCIAL-3",))
    def post_message(self, member_id: str, text: str) -> str:
        """SOCIAL-3: a message on the member's feed; their followers are told."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("a message needs some text", rule="SOCIAL-3")
        if len(text) > self.policy.max_bio_length:
            raise InvalidInputError(
                f"a message has at most {self.policy.max_bio_length} characters",
                rule="SOCIAL-3",
            )
        with self.command() as tx:
            member = tx.actor(member_id, "SOCIAL-3")
            message_id = tx.new_id("msg")
            earlier = _recent_ids(tx, member.id, self.policy.feed_page_size - 1)
            tx.put(kinds.FEED, message_id, FeedMessage(
                id=message_id, author=member.id, text=text.strip(), posted_at=tx.now))
            tx.put(kinds.RECENT_MESSAGES, member.id, RecentMessages(
                id=member.id, message_ids=(message_id, *earlier)))
            # the text stays out of the notice: a purge erases the message (ACC-7), and a
            # notice already sent to followers would keep it; hosts read it by its id
            notify_followers(tx, member.id, "MessagePosted",
                                  {"message": message_id, "author": member.id})
            return message_id

    @query(actor=ANYONE, rules=("SOCIAL-3",))
    def messages(self, member_id: str, *, limit: int | None = None) -> list[FeedMessage]:
        """SOCIAL-3: the newest messages on a member's feed, newest first (``limit`` of
        them, at most and by default ``Policy.feed_page_size``); a deactivated member's
        feed is hidden (ACC-7). O(limit), whatever the member posted before."""
        limit = _limit(limit, self.policy.feed_page_size)
        with self.query() as tx:
            author = tx.visible_member(member_id, "SOCIAL-3")
            return _recent(tx, author.id, limit)

    @query(actor=ANYONE, rules=("SOCIAL-3",))
    def feed(self, member_id: str, *, limit: int | None = None) -> list[FeedMessage]:
        """SOCIAL-3: what the member reads: the newest messages of the members they
        follow, newest first (``limit`` of them, at most and by default
        ``Policy.feed_page_size``), deactivated authors hidden (ACC-7).
        O(followed x limit), whatever they posted before."""
        limit = _limit(limit, self.policy.feed_page_size)
        with self.query() as tx:
            reader = tx.member(member_id, "SOCIAL-3")
            authors = shown_members(
                tx, [f.followee for f in tx.find(kinds.FOLLOWS, "follower", reader.id)])
            return _newest([m for author in authors for m in _recent(tx, author, limit)],
                           limit)

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
            member = tx.actor(member_id, "SPONSOR-1")
            if tx.addressee(address) is not None:
                raise AlreadyExistsError(f"{address} is already a member", rule="SPONSOR-1")
            invitation_id = tx.new_id("inv")
            tx.put(kinds.INVITATIONS, invitation_id, Invitation(
                id=invitation_id, sponsor=member.id, email=address, sent_at=tx.now))
            tx.notify("InvitationSent", emails=(address,),
                      sponsor_id=member.id)
            return invitation_id
