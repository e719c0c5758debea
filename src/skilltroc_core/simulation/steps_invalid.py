"""The simulator's ``invalid`` step: a command the rules refuse whatever the state (a bad
amount, seat count, instant, text or id), which must change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..ports import EntityKind
from ..service import kinds
from .context import AreaSteps, pick, recent
from .workload import Step

__all__ = ["InvalidSteps"]


class InvalidSteps(AreaSteps):
    """Commands refused on purpose."""

    def do_invalid(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        app = self.app
        model = self.model
        actor = self._member(a1)
        if actor is None:
            self.ctx.skip()
        now = self.clock.now()
        variant = a0 % 16
        any_reg = pick([r.id for r in recent(model.regs)], a2) or "req_none"
        session = pick(recent(model.sessions), a2)
        workshop = pick([w.id for w in recent(model.workshops)], a2) or "ws_none"
        bad: dict[int, Callable[[], object]] = {
            0: lambda: app.buy_stars(actor, -(a2 % 5), "pay-bad"),
            1: lambda: app.request(actor, seats=0, workshop_id=workshop),
            2: lambda: app.gift(actor, model.members[actor].email or "x@y.example", 1),
            3: lambda: app.plan_session(actor, workshop, datetime(2030, 1, 1)),  # noqa: DTZ001
            4: lambda: app.plan_session(actor, workshop, now - timedelta(hours=1)),
            5: lambda: app.accept(actor, "req_does_not_exist"),
            6: lambda: app.evaluate(actor, any_reg, satisfaction=11, conformity=5,
                                    teaching=5, duration=5, recommend=True),
            7: lambda: app.create_workshop(actor, title="T", description="D", domain="code",
                                           cost=1, capacity=0),
            8: lambda: app.create_workshop(actor, title="  ", description="D", domain="code",
                                           cost=1, capacity=2),
            9: lambda: app.create_campaign(actor, budget=5, visual="v", visual_rights_free=True,
                                           text="t", start=now, domains=["code"]),
            10: lambda: app.record_view("tuto_none", "", "view-bad"),
            11: lambda: app.serve("code", ""),
            12: lambda: app.signup("not-an-email", provider="google"),
            13: lambda: app.delete_campaign(actor, "ad_1"),
            14: lambda: app.gift(actor, "friend@elsewhere.example", "5"),  # type: ignore[arg-type]
            15: lambda: app.move_session(actor, session.id if session else "ses_none",
                                         now - timedelta(minutes=5)),
        }
        members = [actor]
        entities: list[tuple[EntityKind[Any], str]] = [(kinds.MEMBERS, actor)]
        if session is not None:
            entities.append((kinds.SESSIONS, session.id))
        self.ctx.command("invalid", bad[variant], expect=False, members=members, entities=entities)

