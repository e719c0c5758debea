"""The context the service's areas share, and the base of every area.

:class:`ServiceContext` holds the ports (store, clock, ids, password hasher), the
policy and the host's keys; it opens the units of work (:meth:`~ServiceContext.command`,
:meth:`~ServiceContext.query`), keeps the instant of the next one (STAR-5) and applies
due deadlines. Each area of the service (members, gifts, social, workshops, requests,
aftermath, tutorials, ads, platform) is an :class:`Area` over the one context; the
:class:`~skilltroc_core.service.Skilltroc` facade composes them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from ..accounts import Member
from ..errors import (
    SkilltrocError,
)
from ..instants import require_aware
from ..keys import HostKeys
from ..logs import LOGGER
from ..passwords import Argon2Hasher
from ..ports import Clock, IdGenerator, PasswordHasher, Store, UnitOfWork
from ..refusals import refusal, shown
from ..rules import DEFAULT_POLICY, Policy
from . import kinds
from .units import _FORGET_BATCH, CommandUnit, QueryUnit, TimerHandler, Tx, commit, forget_due

__all__ = ["DEFAULT_ATTEMPTS", "Area", "ServiceContext"]


#: Attempts of one command when units of work keep meeting conflicts (DECISION: enough
#: for 8 processes on the same session's last seats; then the host sees the error).
DEFAULT_ATTEMPTS: Final = 12


class ServiceContext:
    """What every area of the service shares: the ports, the policy, the host's keys,
    the instant of the next unit of work, and the units of work themselves (one
    transaction context: an area's command and another's timer handler run in the same
    unit). Areas register here what others must run: timer handlers, purge hooks,
    visibility hooks, and what a profile shows of them."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        policy: Policy = DEFAULT_POLICY,
        ids: IdGenerator | None = None,
        hasher: PasswordHasher | None = None,
        secret_key: bytes | str | None = None,
        previous_secret_keys: Sequence[bytes | str] = (),
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        if type(attempts) is not int or not 1 <= attempts <= 1000:
            raise refusal("attempts_invalid", got=shown(attempts))
        #: How many times a command is run when its units of work keep meeting others.
        self.attempts = attempts
        #: Commands run again so far because of a conflict (for hosts' metrics).
        self.retries = 0
        self.store = store
        self.clock = clock
        self.policy = policy
        self.ids = ids
        self.hasher: PasswordHasher = hasher or Argon2Hasher(policy)
        if secret_key is None:
            if getattr(store, "keeps_data", True):  # a store of the former port: it may
                raise refusal("secret_key_needed")
            if previous_secret_keys:
                raise refusal("previous_keys_without_current")
            self.keys = HostKeys.ephemeral()
        else:
            self.keys = HostKeys(secret_key, previous_secret_keys)
        self.store_checked = False  # see check_store
        #: What each kind of timer runs when it is due (each area adds its own).
        self.timer_handlers: dict[str, TimerHandler] = {}
        #: Run inside the purge of an account, before its balance is swept (ACC-7).
        self.purge_hooks: list[Callable[[Tx, Member], None]] = []
        # run with the member as it now is, when an account is deactivated or reactivated
        # (ACC-7: a deactivated account is hidden, and so is what it shows to others)
        self.visibility_hooks: list[Callable[[Tx, Member], None]] = []
        #: The latest instant this service used (see :meth:`now`), None before any; it
        #: starts from the store's recent instant, read here (``_store_read``) or, if the
        #: store could not answer now, at the first command or query.
        self._last_instant: datetime | None = None
        self._store_read = policy.clock_tolerance is None
        self._instant_lock = threading.Lock()
        if not self._store_read:
            try:  # here rather than in a command: never inside a unit of work of a host's
                self._last_instant = store.recent_instant()
                self._store_read = True
            except SkilltrocError:  # unreachable for now: read at the first command
                pass

    def check_store(self, uow: UnitOfWork) -> None:
        """What the first unit of work of this service checks of its store, once: that
        it holds no key of email fingerprints, as earlier versions kept (STAR-1)."""
        if uow.get(kinds.SETTINGS, kinds.LEGACY_KEY_SETTING) is not None:
            raise refusal("secret_key_in_store")
        self.store_checked = True

    def add_purge_hook(self, hook: Callable[[Tx, Member], None]) -> None:
        """Run ``hook`` inside the purge of an account, before its balance is swept (ACC-7)."""
        self.purge_hooks.append(hook)

    def now(self) -> datetime:
        """The instant the next command or query runs at: the clock's, never earlier than
        the last instant this service used (STAR-5, ``Policy.clock_tolerance``).

        The service keeps the latest instant it used, in this process; it starts from the
        newest instant the store's star ledger recorded
        (:meth:`~skilltroc_core.ports.Store.recent_instant`: one cheap read, once, when the
        service is made, or at its first call if the store could not answer then). A
        clock behind that instant by at most the tolerance gives that instant instead (the
        instants recorded never go backwards); further behind, :class:`TimeWentBackwardsError`
        and nothing is done, until the clock catches up. Nothing is written for it: each
        process keeps its own instant, so processes whose clocks differ by less than the
        tolerance all keep working (see docs/concurrency.md). A clock giving anything but
        a valid aware instant is an :class:`InvalidInputError` ("clock time").
        """
        now = require_aware(self.clock.now(), "clock time")
        tolerance = self.policy.clock_tolerance
        if tolerance is None:
            return now
        with self._instant_lock:
            last = self._last_instant
            if not self._store_read:
                last = self.store.recent_instant()
                self._store_read = True
            if last is None:
                last = now
            if now < last:
                self._last_instant = last
                if last - now > tolerance:
                    raise refusal("clock_went_backwards", now=now, behind=last - now,
                                  last=last, tolerance=tolerance)
                return last
            self._last_instant = now
        return now

    def command(self) -> CommandUnit:
        """One command as one unit of work at ``now``.

        Deadlines due by ``now`` are applied first, each at its own instant, in the same
        unit of work: if the command is refused they roll back with it and apply again
        on the next command or :meth:`run_due`, so a refusal changes nothing at all.
        """
        return CommandUnit(self, self.now(), True)

    def query(self, *, apply_due: bool = True) -> QueryUnit:
        """One query as a read-only unit of work at ``now``: one consistent state, no lock
        taken, no write possible.

        Deadlines due by ``now`` are applied first, in a unit of work of their own (so a
        query never shows stale state); ``apply_due=False`` reads the state as it is
        (invariant checks).
        """
        return QueryUnit(self, self.now(), apply_due)

    def apply_due(self, uow: UnitOfWork, until: datetime, limit: int | None, *,
                   wait: bool = True) -> int:
        count = 0
        while limit is None or count < limit:
            timer = uow.next_due(until, wait=wait)
            if timer is None:
                break
            uow.cancel_timer(timer.kind, timer.ref)
            handler = self.timer_handlers.get(timer.kind)
            if handler is not None:
                LOGGER.debug("deadline %s of %s due at %s applied", timer.kind, timer.ref,
                             timer.due.isoformat())
                handler(Tx(self, uow, timer.due), timer)
            count += 1
        return count

    def applied_all_due(self, uow: UnitOfWork, until: datetime) -> int:
        """Every deadline due by ``until``, in due order, none left behind: like a
        command, the unit cannot commit once another one committed a deadline due by then
        that it did not see (it runs again)."""
        count = self.apply_due(uow, until, None)
        uow.guard_due(until)
        return count

    def run_due(self, until: datetime | None = None) -> int:
        """Apply every deadline due by ``until`` (default: now), each in its own unit of
        work at its due instant; what the host calls as
        :meth:`~skilltroc_core.service.platform.PlatformService.run_due`."""
        now = self.now()
        limit = now if until is None else require_aware(until)
        if limit > now:  # deadlines apply at their instant, never before it
            raise refusal("run_due_in_future", now=now, until=limit)
        count = 0
        # several schedulers share the due timers: each takes one no other is applying
        while self.in_own_unit(lambda uow: self.apply_due(uow, limit, limit=1, wait=False)):
            count += 1
        if count:
            LOGGER.info("run_due applied %d deadline(s) due by %s", count, limit.isoformat())
        # and the ids a replay window let go whose time came
        forget = functools.partial(forget_due, kind=kinds.COMMAND_KEYS, now=limit,
                                   limit=_FORGET_BATCH)
        while self.in_own_unit(forget):
            pass
        return count

    def in_own_unit(self, work: Callable[[UnitOfWork], int]) -> int:
        """Run ``work`` in a unit of work of its own, committed unless it raises."""
        uow = self.store.begin()
        try:
            done = work(uow)
        except BaseException:
            uow.rollback()
            raise
        commit(uow)
        return done


class Area:
    """One area of the service over the shared :class:`ServiceContext`: its declared
    commands and queries (:mod:`.registry`), and what it registers in the context
    (:meth:`register`)."""

    #: One command's unit of work (:meth:`ServiceContext.command`), one query's
    #: read-only unit (:meth:`ServiceContext.query`): the context's, bound once.
    command: Callable[[], CommandUnit]
    query: Callable[..., QueryUnit]

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.policy = context.policy
        self.command = context.command
        self.query = context.query
        self.register(context)

    def register(self, context: ServiceContext) -> None:
        """Add this area's timer handlers and hooks to ``context`` (none by default)."""
