"""The command registry: every operation declared once, and every harness checked against it.

Each public command and query is declared on its implementation
(:mod:`skilltroc_core.service.registry`). These tests fail, naming the operation and the
harness, when a harness lacks a declared operation: the facade, the fuzz table, the
authorization table, and the scenario runner, the testing kit and the simulator, which
are run while every call they make is recorded (a command counts only if the harness
really calls it). A harness may leave a command out only with a reason written in
:data:`~tests.operations.NOT_IN`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
from collections.abc import Iterator, Set
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.catalogue import rule_ids
from skilltroc_core.ledger import SupplyReport
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.facade import AREAS
from skilltroc_core.service.registry import (
    ANYONE,
    HOST,
    REGISTRY,
    Declaration,
    command,
    declaration_of,
)
from skilltroc_core.simulation import Simulator, generate
from skilltroc_core.testing import SkilltrocMachine
from skilltroc_core.tools.facadegen import END, FACADE, refresh_facade
from skilltroc_core.tools.scenarios import Runner, example_files, load_scenario

from . import test_fuzz
from .members_support import START
from .operations import ACTING, HARNESSES, NOT_IN

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = example_files()
SCENARIO_FILES = Path(__file__).resolve().parent / "scenario_files"
#: What the facade shows besides the declared operations: wiring a host does itself.
WIRING = {"command", "query", "add_purge_hook"}
@contextlib.contextmanager
def _recording() -> Iterator[set[str]]:
    """Every declared operation called while the block runs, on any service built in it."""
    called: set[str] = set()
    originals = []
    for name, declared in REGISTRY.items():
        area = next(a for a in AREAS if declared.function.__qualname__.startswith(
            f"{a.__name__}."))
        original = inspect.getattr_static(area, name)

        def recorded(self: object, *args: Any, _name: str = name, _original: Any = original,
                     **kwargs: Any) -> Any:
            called.add(_name)
            return _original(self, *args, **kwargs)

        originals.append((area, name, original))
        setattr(area, name, recorded)
    try:
        yield called
    finally:
        for area, name, original in originals:
            setattr(area, name, original)


@functools.cache
def driven_by(harness: str) -> frozenset[str]:
    """What ``harness`` calls when it runs: every example scenario and test scenario
    file; two seeds of the simulator; the testing kit's machine on a fixed seed."""
    with _recording() as called:
        if harness == "scenario runner":
            for path in (*EXAMPLES, *sorted(SCENARIO_FILES.glob("*.toml"))):
                Runner(load_scenario(path), MemoryStore(), io.StringIO()).run()
        elif harness == "simulator":
            for seed in (1, 2):
                Simulator(seed).run(generate(seed), limit=3000)
        else:
            run_state_machine_as_test(SkilltrocMachine, settings=settings(
                max_examples=40, stateful_step_count=60, database=None, derandomize=True,
                deadline=None, suppress_health_check=list(HealthCheck), print_blob=False,
                phases=[Phase.generate]))
    return frozenset(called)


_DRIVE_IT = "drive it there, or say why not in tests/operations.py NOT_IN"
_ACT_IT = "say who may call it in tests/operations.py ACTING"


def _missing(harness: str, names: Set[str], wanted: Set[str],
             remedy: str = _DRIVE_IT) -> list[str]:
    return [f"{name} is declared ({REGISTRY[name].function.__qualname__}) but the {harness} "
            f"lacks it: {remedy}" for name in sorted(wanted - names)]


def test_the_facade_shows_every_declared_operation_and_nothing_undeclared() -> None:
    public = {name for name, _ in inspect.getmembers(Skilltroc)
              if not name.startswith("_") and callable(getattr(Skilltroc, name))}
    assert public - WIRING == set(REGISTRY), (
        f"declared but not on the facade: {sorted(set(REGISTRY) - public)} (run `skilltroc "
        f"docs`); on the facade but not declared: {sorted(public - WIRING - set(REGISTRY))}")
    for name, declared in REGISTRY.items():
        assert declaration_of(getattr(Skilltroc, name)) is declared, name
        assert any(declared.function.__qualname__.startswith(f"{area.__name__}.")
                   for area in AREAS), f"{name}: its area is not one the facade composes"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_declaration_names_known_rules_and_matches_its_unit_of_work(name: str) -> None:
    declared = REGISTRY[name]
    assert declared.rules or declared.actors == (HOST,), f"{name} names no rule"
    assert set(declared.rules) <= rule_ids(), f"{name}: {set(declared.rules) - rule_ids()}"
    assert declared.summary, f"{name} has no docstring"
    source = inspect.getsource(declared.function)
    if declared.kind == "query":  # a query reads in a read-only unit: it can write nothing
        assert "self.command()" not in source, f"{name} is a query but opens a command"
    else:
        assert "self.query(" not in source or "self.command()" in source or (
            "context" in source), f"{name} is a command but only reads"
    for parameter in declared.parameters:
        assert parameter.annotation is not inspect.Parameter.empty, (name, parameter.name)


def test_a_second_declaration_of_a_name_is_refused_and_so_is_an_unknown_actor() -> None:
    def refuse(self: object) -> None:
        """A command of the same name as the organizer's refusal."""

    with pytest.raises(TypeError, match="declared twice"):
        command(actor=ANYONE, rules=("BOOK-14",))(refuse)
    with pytest.raises(TypeError, match="unknown actor"):
        command(actor="visitor", rules=("BOOK-14",))  # type: ignore[arg-type]
    assert REGISTRY["refuse"].function.__qualname__ == "RequestService.refuse"


def test_the_fuzz_table_has_every_declared_operation() -> None:
    names = set(test_fuzz.TABLE)
    assert not _missing("fuzz table", names, set(REGISTRY))
    assert names <= set(REGISTRY), sorted(names - set(REGISTRY))


#: The roles of a member acting (each needs the member's id and refuses one who may not).
ACTING_ROLES = {"member", "organizer", "requester", "owner"}


def _acting(declared: Declaration) -> bool:
    return bool(ACTING_ROLES & set(declared.actors))


def test_the_authorization_table_has_exactly_the_operations_a_member_performs() -> None:
    acting = {name for name, declared in REGISTRY.items() if _acting(declared)}
    table = set(ACTING)
    assert not _missing("authorization table", table, acting, _ACT_IT)
    assert table <= acting, f"in the authorization table, declared for no member: {table - acting}"


@pytest.mark.parametrize("name", sorted(n for n, d in REGISTRY.items() if _acting(d)))
def test_a_party_role_has_strangers_to_refuse_in_the_authorization_table(name: str) -> None:
    """An organizer, requester or owner is one member: the table names others who must
    be refused; any active member may act as ``member``."""
    declared = REGISTRY[name]
    assert name in ACTING, _missing("authorization table", set(ACTING), {name}, _ACT_IT)
    acting = ACTING[name]
    strangers = acting.strangers(_Names())  # type: ignore[arg-type]
    if set(declared.actors) - {"member"}:
        assert strangers or acting.always_refused, f"{name}: no stranger is refused"


class _Names:
    """A stand-in cast: each member or thing it is asked for is its name."""

    def __getattr__(self, name: str) -> str:
        return name


@pytest.mark.parametrize("harness", sorted(HARNESSES))
def test_every_harness_drives_every_declared_command(harness: str) -> None:
    names = driven_by(harness)
    exempt = NOT_IN[harness]
    commands = {name for name, declared in REGISTRY.items() if declared.kind == "command"}
    assert set(exempt) <= commands, f"{harness}: NOT_IN names no command {set(exempt) - commands}"
    assert not set(exempt) & names, (
        f"the {harness} drives {sorted(set(exempt) & names)}: remove them from NOT_IN")
    assert not (missing := _missing(harness, names | set(exempt), commands)), "\n".join(missing)


def test_the_recording_sees_only_what_a_harness_calls() -> None:
    with _recording() as called:
        Runner(load_scenario(SCENARIO_FILES / "good.toml"), MemoryStore(), io.StringIO()).run()
    assert "signup" in called and "unfollow" not in called  # good.toml never unfollows
    assert REGISTRY["signup"].function is inspect.unwrap(Skilltroc.signup)  # put back


def test_the_check_names_the_command_and_the_harness_it_lacks() -> None:
    assert _missing("simulator", {"accept"}, {"accept", "refuse"}) == [
        "refuse is declared (RequestService.refuse) but the simulator lacks it: drive it "
        "there, or say why not in tests/operations.py NOT_IN"]


@pytest.mark.rule("STAR-6", "ACC-1")
def test_the_facade_honours_a_subclass_and_calls_through_the_class() -> None:
    """A host's subclass may override an operation; ``Skilltroc.op(app, ...)`` calls the
    area's; the facade's attributes are the context's, never stale copies."""

    class Audited(Skilltroc):
        calls: list[str]

        def supply(self) -> SupplyReport:
            self.calls.append("supply")
            return super().supply()

    app = Audited(MemoryStore(), ManualClock(START))
    app.calls = []
    bob = app.signup("bob@example.org", provider="google").member_id
    assert app.supply().in_wallets == 10 and app.calls == ["supply"]
    assert Skilltroc.balance(app, bob).available == 10
    assert Skilltroc.sign_in.__name__ == "sign_in"
    assert (app.store, app.policy, app.keys, app.attempts) == (
        app.context.store, app.context.policy, app.context.keys, app.context.attempts)


def test_the_facade_lines_are_written_from_the_declarations(tmp_path: Path) -> None:
    """`skilltroc docs` writes the facade's operation lines; `--check` sees a stale one."""
    assert not refresh_facade(ROOT, check=True), "run `skilltroc docs` and commit"
    written = (ROOT / FACADE).read_text(encoding="utf-8")
    copy = tmp_path / FACADE
    copy.parent.mkdir(parents=True)
    stale = written.replace("    unregister = via(RequestService.unregister)\n", "")
    assert stale != written
    copy.write_text(stale, encoding="utf-8")
    assert refresh_facade(tmp_path, check=True)
    assert copy.read_text(encoding="utf-8") == stale  # a check writes nothing
    assert refresh_facade(tmp_path, check=False)
    assert copy.read_text(encoding="utf-8") == written
    assert not refresh_facade(tmp_path, check=True)
    copy.write_text(written.replace(END, ""), encoding="utf-8")
    with pytest.raises(SystemExit, match="lost its marker lines"):
        refresh_facade(tmp_path, check=True)
    assert not refresh_facade(tmp_path / "elsewhere", check=True)  # not a source checkout
