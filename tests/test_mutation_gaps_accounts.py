"""What mutation testing of ``service/accounts.py`` found untested (issue 20): the
password's length bound, the bonus record kept under the host's current key, a password
changed while a sign-in rehashes it, a reset link for an address without an account, and
a purge deadline left behind for a member who came back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from skilltroc_core.accounts import AccountStatus
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.passwords import Argon2Hasher
from skilltroc_core.ports import Timer
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.service.accounts import PURGE_TIMER
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

from .members_support import (
    CHEAP_POLICY,
    PASSWORD,
    START,
    email_of,
    make_world,
    reset_link,
    signup_confirmed,
)

NEW_KEY = b"the host's new secret key, 32 bytes or more"


def _code(call: object) -> tuple[str, str | None]:
    assert callable(call)
    with pytest.raises(SkilltrocError) as refused:
        call()
    return refused.value.code, refused.value.rule


@pytest.mark.rule("ACC-4")
def test_a_password_has_at_most_1024_characters() -> None:
    app = make_world().service
    longest = "p" * 1024
    member = signup_confirmed(app, "lou", password=longest)
    assert app.sign_in(email_of("lou"), longest) == member
    with pytest.raises(SkilltrocError) as too_long:
        app.signup(email_of("max"), password=longest + "p")
    assert (too_long.value.code, too_long.value.rule) == ("invalid_input", "ACC-4")
    assert too_long.value.facts["limit"] == 1024
    assert _code(lambda: app.change_password(member, longest, longest + "q")) == (
        "invalid_input", "ACC-4")
    app.change_password(member, longest, longest[:-1] + "q")  # 1024 again: accepted
    assert app.sign_in(email_of("lou"), longest[:-1] + "q") == member


@pytest.mark.rule("STAR-1", "ACC-7")
def test_the_bonus_is_remembered_under_the_current_key_not_a_previous_one() -> None:
    """An address that had the bonus while the host also listed a previous key is still
    remembered once that previous key is dropped (the record is kept under the current
    key), and each remembered record is stored under its own id."""
    store, clock = MemoryStore(), ManualClock(START)
    rotating = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=NEW_KEY,
                         previous_secret_keys=(TEST_SECRET_KEY,))
    bea = rotating.signup(email_of("bea"), provider="google").member_id
    assert rotating.balance(bea).available == CHEAP_POLICY.signup_bonus
    rotating.deactivate(bea)
    clock.advance(days=CHEAP_POLICY.account_retention_days)
    rotating.run_due()
    uow = store.begin(read_only=True)
    remembered = uow.scan(kinds.BONUS_EMAILS, limit=100)
    uow.rollback()
    assert remembered and all(record.id == key for key, record in remembered)
    later = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=NEW_KEY)
    back = later.signup(email_of("bea"), provider="google").member_id
    assert later.balance(back).available == 0  # no second bonus
    later.check_invariants(deep=True)


class _ChangingHasher(Argon2Hasher):
    """The cheap argon2 hasher; a hash it is asked about while ``meanwhile`` holds a
    change needs rehashing, and asking runs the change (another process changing the
    password at that moment)."""

    def __init__(self) -> None:
        super().__init__(CHEAP_POLICY)
        self.meanwhile: list[object] = []

    def needs_rehash(self, hashed: str) -> bool:
        if not self.meanwhile:
            return False
        change = self.meanwhile.pop()
        assert callable(change)
        change()
        return True


@pytest.mark.rule("ACC-4", "ACC-5")
def test_a_password_changed_while_a_sign_in_rehashes_it_is_kept() -> None:
    hasher = _ChangingHasher()
    app = Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY, hasher=hasher,
                    secret_key=TEST_SECRET_KEY)
    member = signup_confirmed(app, "ivy")
    hasher.meanwhile.append(lambda: app.change_password(member, PASSWORD, "a newer password"))
    assert app.sign_in(email_of("ivy"), PASSWORD) == member  # it was right when checked
    assert app.sign_in(email_of("ivy"), "a newer password") == member
    assert _code(lambda: app.sign_in(email_of("ivy"), PASSWORD)) == (
        "wrong_password", "ACC-4")


@pytest.mark.rule("ACC-4")
def test_a_reset_for_an_address_without_an_account_is_an_invalid_link() -> None:
    world = make_world()
    app = world.service
    member = signup_confirmed(app, "ned")
    token = reset_link(app, email_of("ned"))
    before = state_of(world.store)
    assert _code(lambda: app.reset_password(email_of("nobody"), token, "another password")
                 ) == ("invalid_token", "ACC-4")
    assert _code(lambda: app.reset_password(
        email_of("ned"), 12345, "another password")) == ("invalid_token", "ACC-4")  # type: ignore[arg-type]
    assert state_of(world.store) == before
    app.reset_password(email_of("ned"), token, "another password")
    assert app.sign_in(email_of("ned"), "another password") == member


@pytest.mark.rule("ACC-7")
def test_a_purge_deadline_left_behind_for_a_member_who_came_back_changes_nothing() -> None:
    """Reactivation cancels the purge; one left behind all the same (a store restored from
    a backup, say) finds the member active and erases nothing."""
    world = make_world()
    app = world.service
    member = signup_confirmed(app, "ada")
    app.deactivate(member)
    app.reactivate(member)
    world.advance(timedelta(hours=1))
    before = state_of(world.store)
    uow = world.store.begin()
    uow.schedule(Timer(kind=PURGE_TIMER, ref=member, due=world.clock.now()))
    uow.commit()
    assert app.run_due() == 1
    assert state_of(world.store) == before
    assert app.member(member).status is AccountStatus.ACTIVE
    assert app.balance(member).available == CHEAP_POLICY.signup_bonus


@pytest.mark.rule("ACC-1")
def test_a_confirmation_link_used_again_is_refused_as_a_wrong_link() -> None:
    world = make_world()
    app = world.service
    signed = app.signup(email_of("pam"), password=PASSWORD)
    assert signed.confirmation_token is not None
    app.confirm_email(signed.member_id, signed.confirmation_token)
    before = state_of(world.store)
    with pytest.raises(SkilltrocError) as refused:
        app.confirm_email(signed.member_id, signed.confirmation_token)
    assert refused.value.reason == "confirmation_link_invalid"
    assert state_of(world.store) == before


@pytest.mark.rule("STAR-5")
def test_a_statement_pages_on_to_its_last_line_and_no_further() -> None:
    app = make_world().service
    ann = app.signup(email_of("ann"), provider="google").member_id
    app.buy_stars(ann, 5, "PAY-1")
    app.buy_stars(ann, 7, "PAY-2")  # three lines: the bonus and two purchases
    first = app.statement(ann, limit=2)
    assert [line.amount for line in first.items] == [10, 5] and first.total == 3
    assert first.next is not None
    last = app.statement(ann, limit=2, after=first.next)
    assert [line.amount for line in last.items] == [7] and last.next is None
