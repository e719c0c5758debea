"""What mutation testing of ``service/social.py`` found untested (issue 20): an imported
address book read past a hidden account, and an empty member id to unfollow."""

from __future__ import annotations

import pytest

from skilltroc_core.errors import SkilltrocError

from .members_support import email_of, make_world, signup_confirmed, signup_pending


@pytest.mark.rule("SOCIAL-1", "ACC-7")
def test_contacts_after_a_hidden_or_unconfirmed_account_are_still_found() -> None:
    app = make_world().service
    alice, bob = signup_confirmed(app, "alice"), signup_confirmed(app, "bob")
    eve = signup_confirmed(app, "eve")
    app.deactivate(eve)
    signup_pending(app, "dave")
    found = app.import_contacts(alice, [email_of("eve"), email_of("dave"), email_of("bob")])
    assert [match.member_id for match in found] == [bob]


@pytest.mark.rule("SOCIAL-1")
def test_unfollowing_an_empty_member_id_is_refused() -> None:
    app = make_world().service
    alice = signup_confirmed(app, "alice")
    with pytest.raises(SkilltrocError) as refused:
        app.unfollow(alice, "")
    assert (refused.value.code, refused.value.rule) == ("not_found", "ACC-1")
