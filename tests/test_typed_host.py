"""A small host written only against the package's top level, as a host would write it:
``make check`` runs ``mypy --strict`` over it (no ``Any``, no ``cast``, no ignore), and
this test runs it. The values it reads are typed: agendas, pages, cards, profile views;
optional profile fields are ``str | None | Unset`` (``None`` clears, ``UNSET`` leaves);
any sequence does where a list or a tuple makes no difference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from skilltroc_core import (
    DEFAULT_POLICY,
    UNSET,
    ManualClock,
    MemoryStore,
    NotAllowedError,
    OrganizerAgenda,
    Page,
    SessionCard,
    Skilltroc,
    SkilltrocError,
    Unset,
)

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)


class Host:
    """The pages of a small web host."""

    def __init__(self) -> None:
        policy = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)
        self.app = Skilltroc(MemoryStore(), ManualClock(T0), policy=policy,
                             secret_key=bytes(range(32)))

    def join(self, email: str, name: str, *, pro: bool = False) -> str:
        member = self.app.signup(email, provider="google", display_name=name,
                                 kind="professional" if pro else "individual",
                                 category="craftsperson" if pro else None).member_id
        if pro:
            self.edit_profile(member, description="Workshops", photo="https://e.org/p.jpg",
                              locality="Lyon")
        return member

    def edit_profile(self, member: str, *, description: str | Unset | None = UNSET,
                     photo: str | Unset | None = UNSET, locality: str | Unset | None = UNSET,
                     bio: str | Unset | None = UNSET) -> bool:
        view = self.app.update_profile(member, description=description, photo=photo,
                                       locality=locality, bio=bio)
        return view.complete

    def catalogue(self, domain: str, after: str | None = None) -> Page[SessionCard]:
        return self.app.upcoming_sessions(domain=domain, min_seats_left=1, after=after)

    def desk(self, organizer: str) -> OrganizerAgenda:
        return self.app.organizer_agenda(organizer)

    def error_page(self, error: SkilltrocError) -> tuple[int, str]:
        status = 403 if isinstance(error, NotAllowedError) else 400
        return status, f"{error.code}: {error.message}"


@pytest.mark.rule("BOOK-1", "BOOK-18", "PROF-1", "AD-6", "AD-7")
def test_a_typed_host_uses_the_top_level_alone() -> None:
    host = Host()
    app = host.app
    olga = host.join("olga@example.org", "Olga", pro=True)
    ann = host.join("ann@example.org", "Ann")
    assert host.edit_profile(olga, bio="Baker") is True
    assert app.profile(olga).profile.bio == "Baker"
    host.edit_profile(olga, bio=None)  # None clears; what is not given stays
    assert app.profile(olga).profile.bio is None
    assert app.profile(olga).profile.locality == "Lyon"
    bread = app.create_workshop(olga, title="Bread", description="Loaves", domain="Cuisine",
                                cost=2, capacity=3, media=["photos/bread.jpg"])
    assert app.workshop(bread).media == ("photos/bread.jpg",)
    session = app.plan_session(olga, bread, T0 + timedelta(days=2))
    registration = app.request(ann, session_id=session, seats=1)
    app.accept(olga, registration)
    page = host.catalogue("cuisine")
    assert [(card.session_id, card.seats_left) for card in page.items] == [(session, 2)]
    desk = host.desk(olga)
    assert [item.registration.id for item in desk.validated] == [registration]
    assert desk.to_answer == () and desk.to_confirm == ()
    app.buy_stars(olga, 20, "pay-1")
    campaign = app.create_campaign(olga, budget=10, visual="a.png", visual_rights_free=True,
                                   text="Bread", start=T0, domains=("Cuisine",))
    with pytest.raises(SkilltrocError) as refused:
        app.delete_campaign(olga, campaign)
    assert host.error_page(refused.value)[0] == 403  # a NotAllowedError (AD-6)
    assert refused.value.code == "campaign_not_deletable"
    app.check_invariants(deep=True)
