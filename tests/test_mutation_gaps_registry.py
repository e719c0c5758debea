"""What mutation testing of ``service/registry.py`` found untested (issue 20): what a
declaration reads of its implementation (summary, parameters, area, repr), the checks of
a declaration's actors and rules, and the retry every public call goes through: how many
attempts, the retries counted, the pauses between attempts, the log line, and that a
call made inside another one is not retried on its own."""

from __future__ import annotations

import logging
import random
import time
from types import SimpleNamespace
from typing import Any

import pytest

from skilltroc_core.errors import ConcurrencyError
from skilltroc_core.service import registry
from skilltroc_core.service.registry import (
    ACTORS,
    ANYONE,
    REGISTRY,
    Declaration,
    by_area,
    command,
    query,
)
from skilltroc_core.testing import state_of

from .members_support import CHEAP_POLICY, make_world


# ---------------------------------------------------------------------- declarations
def test_a_summary_is_the_first_paragraph_of_the_docstring_on_one_line() -> None:
    assert REGISTRY["serve"].summary == (
        "AD-7: the campaign to show on a page of ``domain``, its impression counted.")
    assert REGISTRY["unregister"].summary == (
        "BOOK-19: before the start the member may unregister and is refunded.")


def test_parameters_are_read_after_self_with_their_types_and_kinds() -> None:
    request = {p.name: p for p in REGISTRY["request"].parameters}
    assert list(request) == ["member_id", "seats", "session_id", "workshop_id"]
    assert request["member_id"].required and not request["member_id"].keyword_only
    assert request["session_id"].keyword_only and not request["session_id"].required
    assert request["session_id"].type_text == "str | None"
    rebuild = REGISTRY["rebuild_read_side"].parameters
    assert [(p.name, p.keyword_only, p.required) for p in rebuild] == [("batch", True, False)]


def test_an_annotation_only_a_type_checker_resolves_is_kept_as_its_text() -> None:
    def later(self: object, when: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
        """An operation annotated with a name nothing defines at run time."""

    declared = Declaration(name="later", kind="query", actors=(ANYONE,), rules=(),
                           function=later, area="tests")
    (when,) = declared.parameters
    assert (when.name, when.annotation, when.type_text) == ("when", "NoSuchType", "NoSuchType")


def test_the_area_is_the_implementations_module_and_the_repr_leaves_the_function_out(
) -> None:
    assert REGISTRY["request"].area == "requests"
    assert REGISTRY["serve"].area == "ads"
    assert "<function" not in repr(REGISTRY["request"])
    assert "name='request'" in repr(REGISTRY["request"])


def test_by_area_groups_every_declaration_in_declaration_order() -> None:
    grouped = by_area()
    assert sum(len(found) for found in grouped.values()) == len(REGISTRY)
    assert [d.name for d in grouped["requests"]][:2] == ["request", "cancel_request"]
    assert all(d.area == area for area, found in grouped.items() for d in found)


def test_every_actor_at_once_is_a_valid_declaration_and_a_rule_needs_its_dash() -> None:
    command(actor=ACTORS, rules=("BOOK-1",))  # the decorator, not applied: nothing declared
    query(actor=(ANYONE,), rules=())
    for wrong in (("BOOK1",), ("BOOK-1", 7), "BOOK-1"):
        with pytest.raises(TypeError, match="rules are a tuple of rule IDs"):
            command(actor=ANYONE, rules=wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown actor"):
        query(actor=(), rules=())


# ---------------------------------------------------------------------- the retry
class _Conflicts:
    """An operation, ``buy``, whose first ``failures`` runs meet another unit of work."""

    def __init__(self, failures: int, *, nothing_written: bool = True) -> None:
        self.runs = 0

        def buy(area: Any, value: str) -> str:
            self.runs += 1
            if self.runs <= failures:
                raise ConcurrencyError("another unit won", nothing_written=nothing_written)
            return value

        self.buy = buy


def _area(attempts: int) -> Any:
    return SimpleNamespace(context=SimpleNamespace(attempts=attempts, retries=0))


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """The bounds of each random pause between attempts (no real sleep)."""
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)  # as the registry draws them
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    return drawn


def test_a_call_runs_again_up_to_its_attempts_after_pauses_that_double_up_to_50_ms(
    pauses: list[tuple[float, float]],
) -> None:
    conflicts = _Conflicts(failures=7)
    area = _area(attempts=8)
    assert registry._public(conflicts.buy)(area, "done") == "done"
    assert conflicts.runs == 8
    assert area.context.retries == 7
    assert [low for low, _ in pauses] == [0] * 7
    assert [high for _, high in pauses] == pytest.approx(
        [0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05])


def test_the_last_attempt_and_a_conflict_that_may_have_written_are_not_run_again(
    pauses: list[tuple[float, float]],
) -> None:
    conflicts = _Conflicts(failures=3)
    area = _area(attempts=3)
    with pytest.raises(ConcurrencyError):
        registry._public(conflicts.buy)(area, "x")
    assert (conflicts.runs, area.context.retries) == (3, 2)
    maybe_written = _Conflicts(failures=1, nothing_written=False)
    area = _area(attempts=3)
    with pytest.raises(ConcurrencyError):
        registry._public(maybe_written.buy)(area, "x")
    assert (maybe_written.runs, area.context.retries) == (1, 0)
    once = _Conflicts(failures=1)
    area = _area(attempts=1)
    with pytest.raises(ConcurrencyError):
        registry._public(once.buy)(area, "x")
    assert (once.runs, area.context.retries) == (1, 0)


def test_each_run_again_is_logged_with_its_attempt_number(
    caplog: pytest.LogCaptureFixture, pauses: list[tuple[float, float]],
) -> None:
    caplog.set_level(logging.INFO, logger="skilltroc_core")
    conflicts = _Conflicts(failures=2)
    registry._public(conflicts.buy)(_area(attempts=5), "x")
    said = [r.getMessage() for r in caplog.records if "met another unit" in r.getMessage()]
    assert said == [
        "buy met another unit of work (concurrency_conflict); running it again, "
        f"attempt {n} of 5" for n in (2, 3)]


def test_a_call_made_inside_another_is_not_run_again_on_its_own(
    pauses: list[tuple[float, float]],
) -> None:
    """The outermost call is run again whole: the inner one's conflict goes up to it."""
    inner = registry._public(_Conflicts(failures=1).buy)
    outer_runs: list[str] = []

    def outer(area: Any) -> str:
        outer_runs.append("run")
        result: str = inner(area, "inner")
        return result

    area = _area(attempts=3)
    assert registry._public(outer)(area) == "inner"
    assert outer_runs == ["run", "run"] and area.context.retries == 1
    # and a call outside any operation is one of its own again
    assert registry._public(_Conflicts(failures=1).buy)(area, "again") == "again"
    assert area.context.retries == 2


# ---------------------------------------------------------------------- the facade's own units
@pytest.mark.rule("ACC-7")
def test_a_hosts_own_query_applies_the_deadlines_due_first_unless_told_not_to() -> None:
    world = make_world()
    app = world.service
    for name in ("ann", "bob"):
        app.deactivate(app.signup(f"{name}@example.org", provider="google").member_id)
    world.advance(days=CHEAP_POLICY.account_retention_days)
    before = state_of(world.store)
    with app.query(apply_due=False):
        pass
    assert state_of(world.store) == before
    with app.query():  # the two purges due are applied before the read
        pass
    assert state_of(world.store) != before
    assert app.run_due() == 0
