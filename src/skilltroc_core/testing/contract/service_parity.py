"""Service parity: whole service flows give the in-memory reference's results.

Each test runs service commands over the store under test (members and gifts, ads,
tutorials, refused input, and every command no other flow uses, the last one against a
fresh memory store too) and checks balances, states and the notices in the outbox. The
booking flows are in :mod:`.booking_parity`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest

from ...adapters.clocks import ManualClock
from ...adapters.memory import MemoryStore
from ...ads import CampaignState
from ...errors import InvalidInputError, SkilltrocError
from ...ledger import MAX_STARS, SupplyReport, TransferKind
from ...ports import Store
from ...service import Skilltroc, kinds
from ...tutorials import ViewVerdict
from ..snapshot import Scope, changes_nothing
from .base import CHEAP_POLICY, T0, StoreUnderTest, service_on

__all__ = ["ServiceParityContract"]


class ServiceParityContract(StoreUnderTest):
    """Abstract: service flows on ``create_store()`` (see :class:`StoreUnderTest`)."""

    @pytest.mark.rule("STAR-1", "STAR-2", "GIFT-3", "SPONSOR-3", "ACC-7")
    def test_a_member_flow_gives_the_same_results_on_every_store(self, store: Store) -> None:
        service, clock = service_on(store)
        alice = service.signup("Alice@Example.org", password="correct horse")
        assert service.balance(alice.member_id) == (0, 0)
        assert alice.confirmation_token is not None
        service.confirm_email(alice.member_id, alice.confirmation_token)
        bob = service.signup("bob@example.org", provider="google",
                             sponsor="alice@example.org").member_id
        first = service.buy_stars(bob, 20, "PAY-1")
        assert service.buy_stars(bob, 20, "PAY-1") == first
        with pytest.raises(SkilltrocError) as refused:
            service.buy_stars(bob, 25, "PAY-1")
        assert refused.value.code == "idempotency_conflict"
        gift = service.gift(bob, "carol@example.org", 15)
        carol = service.signup("carol@example.org", provider="facebook").member_id
        service.accept_gift(carol, gift)
        service.follow(carol, bob)
        service.post_message(bob, "hello")
        service.deactivate(carol)
        clock.advance(days=15, zone=CHEAP_POLICY.timezone)
        assert service.run_due() == 1

        assert service.balance(alice.member_id) == (15, 0)
        assert service.balance(bob) == (15, 0)
        assert service.balance(carol) == (0, 0)
        supply = service.supply()
        assert dict(supply.issued_by_kind) == {
            "signup_bonus": 30, "purchase": 20, "referral_reward": 5
        }
        assert dict(supply.returned_by_kind) == {"account_purged": 25}
        events = [(i.notification.event, i.notification.rule)
                  for i in service.drain_notifications()]
        assert events == [
            ("EmailConfirmationRequested", "ACC-1"),
            ("ReferralRewardPaid", "SPONSOR-3"),
            ("GiftAccepted", "GIFT-3"),
            ("AccountPurged", "ACC-7"),
        ]
        lines = service.statement(bob).items
        assert [(line.kind, line.amount, line.balance) for line in lines] == [
            (TransferKind.SIGNUP_BONUS, 10, 10),
            (TransferKind.PURCHASE, 20, 30),
            (TransferKind.GIFT_SENT, -15, 15),
        ]
        service.check_invariants(deep=True)

    @pytest.mark.rule("AD-7", "AD-8")
    def test_ads_are_served_furthest_behind_first_and_stop_at_their_goal(
        self, store: Store
    ) -> None:
        service, clock = service_on(store, impressions_per_ad_star=1)
        shop = service.signup("shop@example.org", provider="google", kind="professional",
                              category="company").member_id
        service.update_profile(shop, display_name="Shop", description="Pots", photo="p.jpg",
                               locality="Lyon")
        service.buy_stars(shop, 60, "pay-1")
        made = {budget: service.create_campaign(
            shop, budget=budget, visual="a.png", visual_rights_free=True, text="Pots",
            start=T0 + timedelta(minutes=minutes), domains=domains)
            for budget, minutes, domains in ((10, 0, ["cooking"]),
                                             (20, 0, ["cooking", "music"]),
                                             (13, 10, ["music"]))}
        served: list[str | None] = []
        for n in range(45):
            clock.advance(timedelta(minutes=1))
            domain = ("cooking", "music", "cooking")[n % 3]
            running = [c for c in map(service.campaign, made.values())
                       if c.state is CampaignState.RUNNING and domain in c.domains]
            expected = min(running, default=None, key=lambda c: (
                Fraction(c.impressions, c.goal), c.start, c.id))
            shown = service.serve(domain, f"page-{n}")
            assert (shown.id if shown else None) == (expected.id if expected else None)
            served.append(shown.id if shown else None)
            assert service.serve(domain, f"page-{n}") == shown  # a repeat counts nothing
        ended = [service.campaign(c) for c in made.values()]
        assert [(c.state, c.impressions) for c in ended] == [
            (CampaignState.COMPLETED, 10), (CampaignState.COMPLETED, 20),
            (CampaignState.RUNNING, 12)]
        assert served[-3:] == [None, made[13], None]  # nothing left for cooking
        assert [n.notification.event for n in service.drain_notifications(100)
                ].count("CampaignEnded") == 2
        service.check_ad_queues()
        service.check_invariants(deep=True)

    @pytest.mark.rule("TUTO-1", "TUTO-2", "TUTO-3", "TUTO-4")
    def test_a_tutorial_flow_gives_the_same_results_on_every_store(self, store: Store) -> None:
        service, clock = service_on(store, views_per_tutorial_star=2)
        ann = service.signup("ann@example.org", provider="google").member_id
        url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
        first = service.publish_tutorial(ann, title="Bread", domain="cooking",
                                         rights_attested=True, youtube_url=url)
        record = service.record_view
        assert record(first, "visitor-1", "v1") is ViewVerdict.COUNTED
        assert record(first, "visitor-1", "v1") is ViewVerdict.COUNTED  # a retried report
        assert record(first, "visitor-1", "v2") is ViewVerdict.WITHIN_WINDOW
        assert record(first, ann, "v3") is ViewVerdict.OWN_VIEW
        assert record(first, "visitor-2", "v4") is ViewVerdict.COUNTED  # 2 views: 1 star
        service.edit_tutorial(ann, first, title="Sourdough bread")
        clock.advance(timedelta(hours=25))
        assert record(first, "visitor-1", "v5") is ViewVerdict.COUNTED  # a day later
        service.delete_tutorial(ann, first)
        with pytest.raises(SkilltrocError) as refused:
            record(first, "visitor-3", "v6")
        assert (refused.value.code, refused.value.rule) == ("state_conflict", "TUTO-1")
        again = service.publish_tutorial(ann, title="Bread again", domain="cooking",
                                          rights_attested=True, youtube_url=url)
        assert record(again, "visitor-3", "v7") is ViewVerdict.COUNTED  # 4 views: 2 stars
        lines = service.my_tutorials(ann, include_deleted=True)
        assert [(line.tutorial.id, line.tutorial.title, line.views, line.stars_earned,
                 line.video_views, line.video_stars) for line in lines] == [
            (first, "Sourdough bread", 3, 1, 4, 2), (again, "Bread again", 1, 1, 4, 2)]
        assert [line.tutorial.id for line in service.my_tutorials(ann)] == [again]
        assert service.balance(ann) == (12, 0)
        assert service.supply().issued_by_kind["tutorial_payout"] == 2
        told = [(i.notification.event, i.notification.fact("views"))
                for i in service.drain_notifications()]
        assert told == [("TutorialThresholdPaid", 2), ("TutorialThresholdPaid", 4)]
        service.check_invariants(deep=True)

    @pytest.mark.rule("AD-7", "TUTO-4")
    def test_ids_are_forgotten_after_the_replay_window_on_every_store(
            self, store: Store) -> None:
        """With a replay window, view and page-view ids leave the store once their time
        came (run_due): storage does not grow with traffic."""
        window = timedelta(hours=168)
        service, clock = service_on(store, replay_window=window)
        ann = service.signup("ann@example.org", provider="google").member_id
        tutorial = service.publish_tutorial(ann, title="Bread", domain="cooking",
                                            rights_attested=True,
                                            youtube_url="https://youtu.be/dQw4w9WgXcQ")
        assert service.record_view(tutorial, "visitor-1", "v1") is ViewVerdict.COUNTED

        def kept(key: str) -> bool:
            uow = store.begin()
            try:
                return uow.get(kinds.COMMAND_KEYS, key) is not None
            finally:
                uow.rollback()

        clock.advance(timedelta(hours=24))
        assert service.record_view(tutorial, "visitor-1", "v2") is ViewVerdict.COUNTED
        clock.advance(window - timedelta(hours=24))
        assert service.run_due() == 0
        assert (kept("tutorial_view:v1"), kept("tutorial_view:v2")) == (False, True)
        assert service.record_view(tutorial, "visitor-2", "v1") is ViewVerdict.COUNTED
        assert service.tutorial(tutorial).views == 3
        longest = "\U0001f35e" * 200  # the longest id, in 4-byte characters: still indexed
        assert service.record_view(tutorial, "visitor-3", longest) is ViewVerdict.COUNTED
        clock.advance(window)
        assert service.run_due() == 0 and not kept(f"tutorial_view:{longest}")
        service.check_invariants(deep=True)

    @pytest.mark.rule("STAR-4")
    def test_text_no_database_can_hold_is_refused_alike_on_every_store(
        self, store: Store
    ) -> None:
        """A NUL character or a lone surrogate is refused as input by every command and
        query, whatever the store (PostgreSQL cannot hold the one, no driver the other)."""
        service, _ = service_on(store)
        bob = service.signup("bob@example.org", provider="google").member_id
        for odd in ("\x00", "\ud800"):
            calls: tuple[tuple[Callable[..., object], tuple[object, ...], dict[str, Any]],
                         ...] = (
                (service.balance, (bob + odd,), {}),
                (service.buy_stars, (bob, 5, "PAY" + odd), {}),
                (service.update_profile, (bob,), {"display_name": "Bob" + odd}),
                (service.serve, ("cooking" + odd, "page-1"), {}),
                (service.import_contacts, (bob, ["ann@example.org", odd]), {}),
            )
            for command, args, kwargs in calls:
                with (changes_nothing(store, Scope(entities=[(kinds.MEMBERS, bob)],
                                                   accounts=[bob])),
                      pytest.raises(SkilltrocError) as refused):
                    command(*args, **kwargs)
                assert refused.value.code == "invalid_input", str(refused.value)

    @pytest.mark.rule("STAR-4", "STAR-2", "GIFT-1", "BOOK-11", "AD-2", "AD-5", "ACC-7")
    def test_no_command_moves_more_than_max_stars_at_once_on_every_store(
        self, store: Store
    ) -> None:
        """Each command that moves stars refuses an amount above MAX_STARS (STAR-4) before
        anything else (a balance too small to pay it included), and changes nothing;
        exactly MAX_STARS is moved; a purge sweeps a larger balance in parts."""
        service, clock = service_on(store)
        shop = service.signup("shop@example.org", provider="google", kind="professional",
                              category="company").member_id
        service.update_profile(shop, display_name="Shop", description="Pots",
                               photo="p.jpg", locality="Lyon")
        ann, rich, org = (service.signup(f"{n}@example.org", provider="google").member_id
                          for n in ("ann", "rich", "org"))
        for member in (shop, rich):
            for n in range(2):
                service.buy_stars(member, MAX_STARS, f"pay-{member}-{n}")
        workshop = service.create_workshop(org, title="Gold", description="Leaf",
                                           domain="gilding", cost=MAX_STARS // 2 + 1,
                                           capacity=2)  # two seats: MAX_STARS + 2
        session = service.plan_session(org, workshop, T0 + timedelta(days=2))
        creative: dict[str, Any] = {"visual": "a.png", "visual_rights_free": True,
                                    "text": "Pots", "domains": ["cooking"]}
        campaign = service.create_campaign(shop, budget=MAX_STARS,
                                           start=T0 + timedelta(days=1), **creative)
        above = MAX_STARS + 1
        refusals: list[tuple[str, Callable[[], object]]] = [
            ("a purchase", lambda: service.buy_stars(ann, above, "pay-big")),
            ("a gift", lambda: service.gift(ann, "bob@example.org", above)),
            ("a request", lambda: service.request(ann, session_id=session, seats=2)),
            ("a campaign budget", lambda: service.create_campaign(
                shop, budget=2 * MAX_STARS, start=T0, **creative)),
            ("a campaign budget", lambda: service.edit_campaign(shop, campaign, budget=above)),
        ]
        scope = Scope(entities=[(kinds.MEMBERS, m) for m in (shop, ann, rich, org)],
                      accounts=[shop, ann, rich, org])
        for what, call in refusals:
            with (changes_nothing(store, scope),
                  pytest.raises(InvalidInputError) as refused):
                call()
            assert (refused.value.code, refused.value.rule) == ("invalid_amount", "STAR-4")
            assert refused.value.message.startswith(
                f"one movement carries at most {MAX_STARS} stars"), what
            assert refused.value.facts["amount"] > MAX_STARS
        assert service.balance(shop) == (MAX_STARS + 10, 0)
        assert service.balance(rich) == (2 * MAX_STARS + 10, 0)
        service.deactivate(rich)
        clock.advance(days=15, zone=CHEAP_POLICY.timezone)
        service.run_due()
        supply = service.supply()
        assert supply.returned_by_kind == {"account_purged": 2 * MAX_STARS + 10}
        assert supply.in_wallets == MAX_STARS + 30  # shop, ann and org
        service.check_invariants(deep=True)

    @staticmethod
    def _every_other_command(service: Skilltroc, clock: ManualClock) -> list[object]:
        """The commands and queries the other flows leave out, with what each returned
        and every notice (no token or password hash: those are random by design)."""
        seen: list[object] = []
        note = seen.append
        org, al, bo, cy = (service.signup(f"{n}@example.org", provider="google").member_id
                           for n in ("org", "al", "bo", "cy"))
        # accounts and social
        pam = service.signup("pam@example.org", password="correct horse")
        assert pam.confirmation_token is not None
        service.confirm_email(pam.member_id, pam.confirmation_token)
        note(service.sign_in("PAM@example.org", "correct horse"))
        service.change_password(pam.member_id, "correct horse", "battery staple")
        service.request_password_reset("pam@example.org")
        token = service.link_token(next(
            i.notification for i in reversed(service.drain_notifications(1000))
            if i.notification.event == "PasswordResetRequested"))
        service.reset_password("pam@example.org", token, "staple horse")
        note(service.sign_in("pam@example.org", "staple horse"))
        service.update_profile(al, display_name="Al", description="Baker", locality="Lyon")
        note(service.profile(al))
        service.follow(bo, al)
        service.follow(cy, al)
        service.unfollow(cy, al)
        note((service.followers(al), service.following(bo)))
        note(service.invite(bo, "dan@example.org"))
        note(service.import_contacts(bo, ["al@example.org", "dan@example.org"]))
        service.buy_stars(bo, 10, "pay-bo")
        gift = service.gift(bo, "al@example.org", 3)
        note(service.gift_state(gift).state)
        service.deactivate(cy)
        service.reactivate(cy)
        note(service.member(cy).status)
        # booking answers and cancellations
        ws = service.create_workshop(org, title="Rope", description="Knots", domain="sailing",
                                     cost=2, capacity=3)
        first = service.plan_session(org, ws, T0 + timedelta(days=2))
        second = service.plan_session(org, ws, T0 + timedelta(days=5))
        r_al = service.request(al, session_id=first, seats=1)
        r_bo = service.request(bo, session_id=first, seats=2)
        r_cy = service.request(cy, session_id=first, seats=1)
        service.refuse(org, r_cy)
        service.accept(org, r_al)
        service.accept(org, r_bo)
        service.set_capacity(org, first, 4)
        r_cy2 = service.request(cy, session_id=second, seats=1)
        service.cancel_request(cy, r_cy2)
        r_cy3 = service.request(cy, session_id=second, seats=1)
        service.accept(org, r_cy3)
        service.unregister(cy, r_cy3)
        r_al2 = service.request(al, session_id=second, seats=1)
        service.accept(org, r_al2)
        service.cancel_transaction(org, r_al2)
        service.cancel_session(org, second)
        note((service.workshop(ws), service.sessions_of(ws)))
        note((service.organizer_agenda(org), service.participant_agenda(al)))
        clock.set(T0 + timedelta(days=2, hours=3))
        service.run_due()
        service.confirm_held(org, first)
        service.declare_absent(bo, r_bo)
        # ads
        shop = service.signup("shop@example.org", provider="google", kind="professional",
                              category="company").member_id
        service.update_profile(shop, display_name="Shop", description="Pots",
                               photo="p.jpg", locality="Lyon")
        service.buy_stars(shop, 30, "pay-ads")
        campaign = service.create_campaign(
            shop, budget=10, visual="a.png", visual_rights_free=True, text="Pots",
            start=clock.now() + timedelta(hours=1), domains=["cooking"])
        note(service.edit_campaign(shop, campaign, budget=20, domains=["cooking", "music"]))
        clock.advance(timedelta(hours=2))
        note([service.serve("music", f"page-{i}") for i in range(3)])
        note((service.campaign_progress(shop, campaign), service.my_campaigns(shop)))
        with pytest.raises(SkilltrocError) as refused:
            service.delete_campaign(shop, campaign)
        note((refused.value.code, refused.value.rule))
        note(service.rebuild_ad_queues())
        note(service.serve("cooking", "page-9"))
        note([service.balance(m) for m in (org, al, bo, cy, shop)])
        note(service.supply())
        note([(i.notification.event, i.notification.rule, i.notification.recipients,
               i.notification.facts) for i in service.drain_notifications(1000)
              if i.notification.event not in ("PasswordResetRequested",
                                              "EmailConfirmationRequested")])
        service.check_invariants(deep=True)
        return seen

    @pytest.mark.rule("ACC-4", "ACC-5", "SOCIAL-1", "SOCIAL-3", "SPONSOR-1", "BOOK-7",
                      "BOOK-14", "BOOK-17", "BOOK-19", "BOOK-20", "BOOK-33", "AD-6", "AD-8")
    def test_every_other_command_gives_the_reference_stores_results(
        self, store: Store
    ) -> None:
        """The commands and queries no other flow above uses, run here and on a fresh
        memory store (the reference): every result, balance and notice is the same."""
        service, clock = service_on(store)
        reference, reference_clock = service_on(MemoryStore())
        seen = self._every_other_command(service, clock)
        assert seen == self._every_other_command(reference, reference_clock)
        balances, supply = seen[-3], seen[-2]
        assert balances == [(16, 0), (8, 0), (13, 0), (10, 0), (20, 0)]
        assert isinstance(supply, SupplyReport) and supply.ad_spent == 20

    @pytest.mark.rule("STAR-4")
    def test_a_refused_command_changes_nothing_in_the_store(self, store: Store) -> None:
        service, _ = service_on(store)
        bob = service.signup("bob@example.org", provider="google").member_id
        with (changes_nothing(store, Scope(entities=[(kinds.MEMBERS, bob)], accounts=[bob])),
              pytest.raises(SkilltrocError) as refused):
            service.gift(bob, "carol@example.org", 1)
        assert refused.value.code == "floor_breach"
        assert service.gifts_waiting(bob) == []
