"""Units of work as the service runs them: :class:`Tx`, what one unit gives a command
(the store, ``now``, the ledger, helpers), and the context managers that open, commit or
roll back a command's unit (:class:`CommandUnit`) or a query's (:class:`QueryUnit`).

A command runs as: apply every deadline due up to now (each at its own instant), in the
same unit of work, then load, call the domain, save, append notifications and timers,
commit. Any exception rolls everything back, so a refused command changes nothing. A
query reads in a read-only unit: it can write nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from ..accounts import AccountStatus, Member
from ..errors import (
    ConcurrencyError,
    SkilltrocError,
)
from ..events import FactValue, sorted_notification, stored_notification
from ..idempotency import first_result
from ..instants import microseconds_since_year_one, require_aware
from ..ledger import Ledger, refuse_debit
from ..ports import EntityKind, Store, Timer, UnitOfWork
from ..refusals import refusal, shown, shown_id
from . import kinds
from .read_side import projection_of

if TYPE_CHECKING:
    from .context import ServiceContext

__all__ = ["CommandUnit", "QueryUnit", "Tx", "commit", "host_key", "take_out_stored_key"]

E = TypeVar("E")
R = TypeVar("R")
TimerHandler = Callable[["Tx", Timer], None]


class Tx:
    """One unit of work as the service sees it: the store, ``now``, the ledger, helpers."""

    def __init__(self, service: ServiceContext, uow: UnitOfWork, now: datetime) -> None:
        self.service = service
        self.uow = uow
        self.now = now
        self.policy = service.policy
        self.ledger = Ledger(uow.book)

    # Entities ---------------------------------------------------------------
    def get(self, kind: EntityKind[E], entity_id: str) -> E | None:
        return self.uow.get(kind, entity_id)

    def require(self, kind: EntityKind[E], entity_id: object) -> E:
        """The entity, or :class:`NotFoundError` (refusal ``unknown_<kind>``, citing the
        rule by which such things exist) naming what was looked for."""
        found = (self.uow.get(kind, entity_id) if isinstance(entity_id, str) and entity_id
                 else None)
        if found is None:
            raise refusal(f"unknown_{kind.name}", id=shown_id(entity_id))
        return found

    def put(self, kind: EntityKind[E], entity_id: str, entity: E) -> None:
        """Store ``entity``, and bring the read side and the change feed in step with it
        (:mod:`.read_side`)."""
        projection = projection_of(kind)
        if projection is None:
            self.uow.put(kind, entity_id, entity)
            return
        old = self.uow.get(kind, entity_id)
        self.uow.put(kind, entity_id, entity)
        projection(self, entity_id, old, entity)

    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        return self.uow.find(kind, index, key)

    def find_one(self, kind: EntityKind[E], index: str, key: str) -> E | None:
        found = self.uow.find(kind, index, key)
        return found[0] if found else None

    # Members ------------------------------------------------------------------
    def member(self, member_id: object) -> Member:
        """A member who exists and was not purged (any status otherwise)."""
        member = self.require(kinds.MEMBERS, member_id)
        if member.status is AccountStatus.PURGED:
            raise refusal("member_gone", id=shown_id(member_id))
        return member

    def actor(self, member_id: object) -> Member:
        """The member acting: must exist, be confirmed and not deactivated (ACC-1, ACC-7)."""
        member = self.require(kinds.MEMBERS, member_id)
        member.require_active()
        return member

    def shown(self, member_id: str) -> bool:
        """Whether others may see this member and what they show (ACC-7: active only)."""
        return self.shown_member(member_id) is not None

    def shown_member(self, member_id: str) -> Member | None:
        """This member if others may see them (active: PROF-1, ACC-7), else None."""
        member = self.get(kinds.MEMBERS, member_id)
        return member if member is not None and member.status is AccountStatus.ACTIVE else None

    def visible_member(self, member_id: object) -> Member:
        """Another member as others see them: active only (deactivated ones are hidden,
        and refused exactly as an unknown id, ACC-7)."""
        member = self.require(kinds.MEMBERS, member_id)
        if member.status is not AccountStatus.ACTIVE:
            raise refusal("unknown_member", id=shown_id(member_id))
        return member

    def require_stars(self, member: Member, amount: int, *, keep: int = 0, rule: str) -> None:
        """Refuse, naming the member, unless ``amount`` can leave and ``keep`` stays."""
        available = self.ledger.available(member.id)
        if available - keep < amount:
            refuse_debit(member.id, available, amount, keep, rule=rule)

    def member_by_email(self, email: str) -> Member | None:
        return self.find_one(kinds.MEMBERS, "email", email)

    def addressee(self, email: str) -> Member | None:
        """The account another member reaches by naming ``email`` (a gift, an
        invitation): None when no account uses it, and when its account is deactivated:
        hidden (ACC-7), it is answered for exactly as an address with no account."""
        member = self.member_by_email(email)
        if member is None or member.status is AccountStatus.DEACTIVATED:
            return None
        return member

    # Outbox, timers, ids ---------------------------------------------------------
    def notify(
        self, event: str, *, recipients: tuple[str, ...] = (), emails: tuple[str, ...] = (),
        **facts: FactValue | datetime,
    ) -> None:
        """Append a notice for ``event`` (its rule comes from the NOTIFY table)."""
        self.notify_with(event, facts, recipients=recipients, emails=emails)

    def notify_with(
        self, event: str, facts: Mapping[str, FactValue | datetime], *,
        recipients: tuple[str, ...] = (), emails: tuple[str, ...] = (),
    ) -> None:
        """:meth:`notify` with the facts as a mapping; nothing when nobody is to be told.

        A purged account is told nothing more (ACC-7): it has no address left, and a
        notice naming it would keep a trace of it in the outbox.
        """
        if recipients:
            recipients = self._reachable(recipients)
        if recipients or emails:
            self.uow.append_notification(
                sorted_notification(event, self.now, recipients, emails, sorted(facts.items()))
            )

    def tell(self, event: str, recipient: str, facts: tuple[tuple[str, FactValue], ...]
             ) -> None:
        """One notice to one member (none if purged, ACC-7), its facts as stored: in name
        order, instants as :func:`~skilltroc_core.events.iso_text` (the path of the
        notices every booking command sends)."""
        member = self.uow.get(kinds.MEMBERS, recipient)
        if member is None or member.status is not AccountStatus.PURGED:
            self.uow.append_notification(
                stored_notification(event, self.now, (recipient,), (), facts))

    def _reachable(self, recipients: tuple[str, ...]) -> tuple[str, ...]:
        get, purged = self.uow.get, AccountStatus.PURGED
        return tuple(r for r in recipients
                     if (m := get(kinds.MEMBERS, r)) is None or m.status is not purged)

    def schedule(self, kind: str, ref: str, due: datetime) -> None:
        self.uow.schedule(Timer(kind=kind, ref=ref, due=due))

    def cancel_timer(self, kind: str, ref: str) -> None:
        self.uow.cancel_timer(kind, ref)

    def new_id(self, prefix: str) -> str:
        ids = self.service.ids
        if ids is not None:
            return ids.new_id(prefix)
        return f"{prefix}_{self.uow.next_in_sequence(prefix):06d}"

    # Command idempotency ---------------------------------------------------------
    def replay(self, key: str | None, command: str, fingerprint: str, rule: str, *,
               also: tuple[str, ...] = (), call: str | None = None) -> str | None:
        """The first result of ``key`` if it was used for the same call; None if new.

        ``key`` is the library's own (``purchase:<reference>``, ``page_view:<id>``...) or
        a host's, made by :func:`host_key` so that the two can never meet. ``also``: other
        fingerprints of the same call (made under the host's previous secret keys);
        ``call``: what a refusal names of the call, when the fingerprint holds a hash.
        """
        if key is None:
            return None
        record = self.uow.get(kinds.COMMAND_KEYS, key)
        if record is not None and record.until is not None and self.now >= record.until:
            record = None  # forgotten (its deletion may still be pending)
        return first_result(record, key.removeprefix(HOST_KEY_PREFIX), command, fingerprint,
                            also=also, call=call, rule=rule)

    def remember(self, key: str | None, command: str, fingerprint: str, result: str, *,
                 keep_for: timedelta | None = None) -> None:
        """Keep what ``key`` did, for good, or for ``keep_for`` (see :meth:`forget_at`)."""
        if key is not None:
            until = self.later(keep_for) if keep_for is not None else None
            self.uow.put(kinds.COMMAND_KEYS, key, kinds.CommandKey(
                key=key, command=command, fingerprint=fingerprint, result=result, until=until))
            if keep_for is not None:
                self.forget_at(kinds.COMMAND_KEYS, key, until)

    # Records kept for a while -----------------------------------------------------
    def later(self, delay: timedelta) -> datetime | None:
        """``now + delay``; None past year 9999 (a record then is simply kept)."""
        try:
            return self.now + delay
        except OverflowError:
            return None

    def forget_at(self, kind: EntityKind[Any], entity_id: str, at: datetime | None) -> None:
        """Delete this record at ``at``; None: keep it for good. Either replaces what an
        earlier call said.

        For records only needed for a while, whose number grows with traffic (page-view
        and view ids when a replay window is set): :meth:`~.context.ServiceContext.run_due`, which a
        host's scheduler calls, deletes them when their time came, so storage stays
        bounded. Until then they are only kept: whoever reads them checks their time
        (see :meth:`replay`).
        """
        if at is None:
            self.uow.queue_remove(expiry_queue(kind), entity_id)
        else:
            self.uow.queue_put(expiry_queue(kind), entity_id, expiry_key(at))

    def email_fingerprints(self, email: str) -> tuple[str, ...]:
        """Keyed one-way hashes of an email, under the host's current secret key first,
        then its previous ones (STAR-1: remembered after a purge, see
        :mod:`skilltroc_core.keys`)."""
        return self.service.keys.fingerprints(email)


def take_out_stored_key(store: Store) -> bytes | None:
    """Remove from ``store`` the key of email fingerprints that earlier versions kept in
    it, and return it (None if it holds none).

    The host then gives it as one of its ``previous_secret_keys``, so that the addresses
    remembered under it stay remembered (STAR-1), while the store no longer holds what
    confirms them.
    """
    uow = store.begin()
    try:
        setting = uow.get(kinds.SETTINGS, kinds.LEGACY_KEY_SETTING)
        if setting is not None:
            uow.erasing()  # and no copy of it stays on disk
            uow.delete(kinds.SETTINGS, setting.id)
        uow.commit()
    except BaseException:
        uow.rollback()
        raise
    return None if setting is None else bytes.fromhex(setting.value)


def expiry_queue(kind: EntityKind[Any]) -> str:
    """The store queue of the ``kind`` records to delete, ordered by when."""
    return f"expiry:{kind.name}"


def expiry_key(at: datetime) -> str:
    """``at`` as fixed-width text (microseconds since year 1, 18 digits), so that text
    order is time order in every store."""
    return f"{microseconds_since_year_one(require_aware(at)):018d}"


def forget_due(uow: UnitOfWork, kind: EntityKind[Any], now: datetime, limit: int) -> int:
    """Delete the ``kind`` records whose time came by ``now`` (at most ``limit``): the
    earliest first, O(log n) each. Returns how many."""
    queue, due, count = expiry_queue(kind), expiry_key(now), 0
    while count < limit:
        first = uow.queue_first(queue)
        if first is None:
            break
        uow.get(kind, first)  # this unit's now: another may be remembering it again
        at = uow.queue_key(queue, first)
        if at is None:  # it left the queue meanwhile: the next one
            continue
        if at > due:
            break
        uow.delete(kind, first)
        uow.queue_remove(queue, first)
        count += 1
    return count


HOST_KEY_PREFIX: Final = "host:"
# expired records deleted per unit of work by run_due: short units, since each holds the
# store's lock (about 1 ms per record on PostgreSQL)
_FORGET_BATCH: Final = 100


def host_key(key: object, rule: str) -> str | None:
    """The stored form of an idempotency key a host gave (None: none given).

    Host keys live under their own prefix, apart from the keys the library makes itself
    (``purchase:PAY-1``, ``page_view:...``): a host key that happens to read like one of
    those is still only the host's.
    """
    if key is None:
        return None
    if not isinstance(key, str) or not key:
        raise refusal("idempotency_key_invalid", rule=rule, got=shown(key))
    return HOST_KEY_PREFIX + key


class CommandUnit:
    """``with context.command() as tx``: open a unit of work, commit it if the block ends
    normally, roll it back on any exception (a class, not a generator: every command
    goes through it)."""

    __slots__ = ("_apply_due", "_now", "_service", "_uow")

    def __init__(self, service: ServiceContext, now: datetime, apply_due: bool) -> None:
        self._service = service
        self._now = now
        self._apply_due = apply_due

    def __enter__(self) -> Tx:
        service = self._service
        uow = self._uow = service.store.begin()
        try:
            if not service.store_checked:
                service.check_store(uow)
            if self._apply_due:
                if uow.next_due(self._now) is not None:  # rarely: most commands find none
                    service.apply_due(uow, self._now, limit=None)
                uow.guard_due(self._now)  # and none may come due unseen before the commit
        except BaseException:
            uow.rollback()
            raise
        return Tx(service, uow, self._now)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> Literal[False]:
        uow = self._uow
        if kind is None:
            try:  # as _commit does, inline: every command ends here
                uow.commit()
            except BaseException:
                uow.rollback()
                raise
        elif (self._apply_due and isinstance(error, SkilltrocError)
              and not isinstance(error, ConcurrencyError)):
            try:  # a refusal must not rest on a state a deadline due by now changes
                uow.confirm_due()
            finally:
                uow.rollback()
        else:
            uow.rollback()
        return False


class QueryUnit(CommandUnit):
    """``with context.query() as tx``: a read-only unit of work, rolled back at the end
    (deadlines due applied before it, in a unit of their own)."""

    __slots__ = ()

    def __enter__(self) -> Tx:
        service, now = self._service, self._now
        uow = self._uow = service.store.begin(read_only=True)
        if not service.store_checked:
            try:
                service.check_store(uow)
            except BaseException:
                uow.rollback()
                raise
        # until the snapshot shows nothing due (another unit may commit a due timer
        # while these are applied): rarely more than once, most queries find none
        while self._apply_due:
            try:
                due = uow.next_due(now) is not None
            except BaseException:
                uow.rollback()
                raise
            if not due:
                break
            uow.rollback()
            service.in_own_unit(lambda unit: service.applied_all_due(unit, now))
            uow = self._uow = service.store.begin(read_only=True)
        return Tx(service, uow, now)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> Literal[False]:
        self._uow.rollback()
        return False


def commit(uow: UnitOfWork) -> None:
    """Commit; if the commit itself fails, roll back, so that the store is not left
    inside an open unit of work (every later command would find it busy)."""
    try:
        uow.commit()
    except BaseException:
        uow.rollback()
        raise
