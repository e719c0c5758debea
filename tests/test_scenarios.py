"""The scenario runner honours its format (docs/scenario-format.md): format errors,
fails, expectations, output."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.catalogue import rule_ids
from skilltroc_core.errors import ScenarioFormatError
from skilltroc_core.ports import Store, Timer, UnitOfWork
from skilltroc_core.tools.cli import main, run_scenarios
from skilltroc_core.tools.scenarios import (
    COMMAND_SUMMARIES,
    COMMANDS,
    Runner,
    example_files,
    load_scenario,
)
from skilltroc_core.tools.scenarios.derived import DERIVED

from .pg_fixtures import pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

HERE = Path(__file__).parent / "scenario_files"
EXAMPLES = example_files()
HEADER = 'start = 2027-03-01T09:00:00+01:00\n\n[[step]]\ndo = "signup"\nmember = "alice"\n'


def _file(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "case.toml"
    path.write_text(header + body, encoding="utf-8")
    return path


def _run(path: Path, store: Store | None = None) -> tuple[bool, str]:
    out = io.StringIO()
    result = Runner(load_scenario(path), store or MemoryStore(), out).run()
    return result.passed, out.getvalue()


@pytest.mark.rule("GIFT-1", "GIFT-3", "STAR-1")
def test_a_good_scenario_narrates_each_step_with_the_stars_that_moved() -> None:
    passed, text = _run(HERE / "good.toml")
    assert passed, text
    assert "alice +10" in text
    assert "gift refused as expected: floor_breach" in text
    assert "bob +5" in text
    assert "passed" in text.splitlines()[-1]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('\n[[step]]\ndo = "teleport"\nmember = "alice"\n', "do"),
        ('\n[[step]]\ndo = "buy_stars"\nmember = "alice"\nstars = 5\npayment = "p"\ncolour = 1\n',
         "colour"),
        ('\n[[step]]\ndo = "buy_stars"\nmember = "zoe"\nstars = 5\npayment = "p"\n', "member"),
        ('\n[[step]]\ndo = "buy_stars"\nmember = "alice"\nstars = "5"\npayment = "p"\n',
         "stars"),
        ('\n[[step]]\ndo = "buy_stars"\nmember = "alice"\nstars = 5\n', "payment"),
        ("\n[[step]]\nexpect = { balance = { alice = 1 } }\nadvance = { days = 1 }\n", None),
        ("\n[[step]]\nexpect = { wealth = { alice = 1 } }\n", "wealth"),
        ("\n[[step]]\nadvance = { weeks = 1 }\n", "weeks"),
        ("\n[[step]]\nat = 2027-03-02T09:00:00\n", "at"),
        ('\n[[step]]\ndo = "signup"\nmember = "alice"\n', "member"),
        ('\n[[step]]\ndo = "reset_password"\nmember = "alice"\n', "password"),
        ('\n[[step]]\ndo = "see_contact"\nmember = "alice"\nrequest = "r9"\n', "request"),
        ("\n[[step]]\nexpect = { public = { alice = 1 } }\n", "public"),
        ('\n[[step]]\nexpect = { attached = { alice = "w1" } }\n', "attached"),
        ('\n[[step]]\nexpect = { attached = { alice = ["w9"] } }\n', "attached"),
        ('\n[[step]]\ndo = "create_workshop"\nmember = "alice"\nworkshop = "w1"\ncost = 1\n'
         'capacity = 2\n\n[[step]]\nexpect = { attached = { alice = ["w1", "w1"] } }\n',
         "attached"),
        ('\n[[step]]\ndo = "create_workshop"\nmember = "alice"\nworkshop = "bread"\ncost = 1\n'
         'capacity = 2\n\n[[step]]\ndo = "publish_tutorial"\nmember = "alice"\n'
         'tutorial = "bread"\nupload = "v.mp4"\ndomain = "cooking"\n\n'
         '[[step]]\nexpect = { attached = { alice = ["bread"] } }\n', "attached"),
        ('\n[[step]]\nexpect = { catalogue = { cooking = ["s9"] } }\n', "catalogue"),
        ('\n[[step]]\nexpect = { catalogue = { " " = [] } }\n', "catalogue"),
        ('\n[[step]]\nexpect = { search = { bread = "alice" } }\n', "search"),
        ('\n[[step]]\nexpect = { members_found = { al = ["alice", "alice"] } }\n',
         "members_found"),
        ('\n[[step]]\nexpect = { roster = { s1 = ["alice"] } }\n', "roster"),
        ('\n[[step]]\nexpect = { search = { "!!!" = [] } }\n', "search"),
        ('\n[[step]]\nexpect = { members_found = { "' + "a" * 101 + '" = [] } }\n',
         "members_found"),
    ],
)
def test_a_malformed_file_is_refused_before_running_naming_file_step_and_key(
    tmp_path: Path, body: str, key: str | None
) -> None:
    path = _file(tmp_path, body)
    with pytest.raises(ScenarioFormatError) as refused:
        load_scenario(path)
    assert refused.value.code == "scenario_malformed"
    assert refused.value.facts["step"] == body.count("[[step]]") + 1
    # the scenario's key is the fact "field" ("key" is the refusal's own key)
    assert refused.value.facts["field"] == key
    assert refused.value.reason is not None and refused.value.reason.startswith("scenario_")
    assert str(path) in refused.value.message


def test_a_malformed_file_is_told_in_french_with_the_same_place_and_suggestion(
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, '\n[[step]]\ndo = "buy_star"\nmember = "alice"\n')
    with pytest.raises(ScenarioFormatError) as refused:
        load_scenario(path)
    error = refused.value
    assert error.reason == "scenario_unknown_command_near"
    assert (error.facts["place"], error.facts["line"]) == (f"{path}:8", 8)
    assert (error.facts["step"], error.facts["field"]) == (2, "do")
    assert (error.facts["got"], error.facts["suggestion"]) == ("'buy_star'", "buy_stars")
    assert error.message == (f"{path}:8, step 2, key 'do': unknown command 'buy_star' "
                             "(did you mean 'buy_stars'?)")
    assert error.message_in("fr") == (
        f"{path}:8, étape 2, clé « do » : commande inconnue : 'buy_star' (vouliez-vous "
        "dire « buy_stars » ?)")
    far = _file(tmp_path, '\n[[step]]\ndo = "zzzzzz"\nmember = "alice"\n')
    with pytest.raises(ScenarioFormatError) as refused:
        load_scenario(far)
    assert refused.value.reason == "scenario_unknown_command"  # nothing near: no suggestion
    assert "suggestion" not in refused.value.facts
    assert refused.value.message.endswith("unknown command 'zzzzzz'")


def test_rules_must_exist_in_the_catalogue(tmp_path: Path) -> None:
    path = _file(tmp_path, "", header='rules = ["BOOK-99"]\n' + HEADER)
    with pytest.raises(ScenarioFormatError, match="BOOK-99"):
        load_scenario(path, known_rules=set(rule_ids()))


def test_a_naive_start_is_malformed(tmp_path: Path) -> None:
    path = _file(tmp_path, "", header=HEADER.replace("+01:00", ""))
    with pytest.raises(ScenarioFormatError, match="start"):
        load_scenario(path)


def test_a_failed_expectation_stops_the_scenario_with_expected_and_actual(tmp_path: Path) -> None:
    passed, text = _run(HERE / "wrong_expectation.toml")
    assert not passed
    assert "step 2" in text
    assert "expected balance of alice = 11, found 10" in text
    assert "signup bob" not in text


def test_a_fails_step_that_succeeds_fails_the_scenario() -> None:
    passed, text = _run(HERE / "accepted_but_should_fail.toml")
    assert not passed
    assert "should have been refused" in text


def test_a_refusal_with_another_code_than_named_fails_the_scenario(tmp_path: Path) -> None:
    path = _file(tmp_path, '\n[[step]]\ndo = "gift"\nmember = "alice"\nto = "b@example.org"\n'
                 'stars = 1\nfails = true\nerror = "insufficient_stars"\n')
    passed, text = _run(path)
    assert not passed
    assert "floor_breach, expected insufficient_stars" in text


class _LeavesATimer:
    """A unit of work whose rollback leaves a timer behind (and commits it)."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit, name)

    def rollback(self) -> None:
        self._unit.schedule(Timer(kind="stray", ref="timer", due=datetime(2030, 1, 1,
                                                                           tzinfo=UTC)))
        self._unit.commit()


class _RollsBackBadly(MemoryStore):
    """Broken: a command that is refused leaves something in the store."""

    def begin(self, *, read_only: bool = False) -> Any:
        unit = super().begin(read_only=read_only)
        return unit if read_only else _LeavesATimer(unit)


def test_a_refused_step_that_changed_the_store_fails_the_scenario(tmp_path: Path) -> None:
    path = _file(tmp_path, '\n[[step]]\ndo = "gift"\nmember = "alice"\nto = "b@example.org"\n'
                 'stars = 1\nfails = true\n')
    assert _run(path)[0]
    passed, text = _run(path, _RollsBackBadly())
    assert not passed
    assert "gift was refused but changed the store: timers stray:timer: added" in text


@pytest.mark.rule("PROF-2")
def test_attached_names_every_item_on_the_profile_in_any_order(tmp_path: Path) -> None:
    steps = ('\n[[step]]\ndo = "create_workshop"\nmember = "alice"\nworkshop = "w1"\n'
             'cost = 1\ncapacity = 2\n\n[[step]]\ndo = "create_workshop"\nmember = "alice"\n'
             'workshop = "w2"\ncost = 1\ncapacity = 2\n\n[[step]]\ndo = "delete_workshop"\n'
             'member = "alice"\nworkshop = "w1"\n')
    passed, text = _run(_file(tmp_path, steps + '\n[[step]]\nexpect = { attached = '
                              '{ alice = ["w2"] } }\n'))
    assert passed, text
    passed, text = _run(_file(tmp_path, steps + '\n[[step]]\nexpect = { attached = '
                              '{ alice = ["w2", "w1"] } }\n'))
    assert not passed
    assert "expected attached of alice = ['w1', 'w2'], found ['w2']" in text


@pytest.mark.rule("AD-7", "BOOK-18")
def test_a_catalogue_list_is_compared_in_order_and_a_roster_in_any_order(
    tmp_path: Path,
) -> None:
    steps = ('\n[[step]]\ndo = "create_workshop"\nmember = "alice"\nworkshop = "w1"\n'
             'cost = 0\ncapacity = 3\ndomain = "Cuisine"\n\n[[step]]\ndo = "signup"\n'
             'member = "bob"\n\n[[step]]\ndo = "signup"\nmember = "carol"\n')
    for day, session in ((3, "s1"), (2, "s2")):
        steps += (f'\n[[step]]\ndo = "plan_session"\nmember = "alice"\nworkshop = "w1"\n'
                  f'session = "{session}"\nat = 2027-03-0{day}T10:00:00+01:00\n')
    for member in ("carol", "bob"):
        steps += (f'\n[[step]]\ndo = "request"\nmember = "{member}"\nsession = "s1"\n'
                  f'seats = 1\nas = "r_{member}"\n\n[[step]]\ndo = "accept"\n'
                  f'member = "alice"\nrequest = "r_{member}"\n')
    passed, text = _run(_file(tmp_path, steps + '\n[[step]]\nexpect = { catalogue = '
                              '{ cuisine = ["s2", "s1"] }, roster = { s1 = ["bob", "carol"] } }\n'))
    assert passed, text
    passed, text = _run(_file(tmp_path, steps + '\n[[step]]\nexpect = { catalogue = '
                              '{ CUISINE = ["s1", "s2"] } }\n'))
    assert not passed
    assert "expected catalogue of CUISINE = ['s1', 's2'], found ['s2', 's1']" in text


@pytest.mark.rule("PROF-7", "ACC-1")
def test_an_expectation_the_library_cannot_read_fails_the_scenario_and_the_next_file_runs(
    tmp_path: Path,
) -> None:
    header = ('start = 2027-03-01T09:00:00+01:00\n\n[[step]]\ndo = "signup"\n'
              'member = "alice"\nconfirmed = false\n')
    path = _file(tmp_path, "\n[[step]]\nexpect = { public = { alice = false } }\n", header)
    out = io.StringIO()
    status = run_scenarios([str(path), str(HERE / "good.toml")], store="memory", quiet=True,
                           out=out)
    text = out.getvalue()
    assert status == 1
    assert "step 2 (expect): public of alice cannot be read: not_found" in text
    assert text.splitlines()[-1] == "1 passed, 1 failed"


@pytest.mark.rule("BOOK-16")
def test_advance_applies_every_deadline_due_by_the_new_instant(tmp_path: Path) -> None:
    path = _file(tmp_path, """
[[step]]
do = "signup"
member = "olga"

[[step]]
do = "create_workshop"
member = "olga"
workshop = "bread"
cost = 2
capacity = 3

[[step]]
do = "plan_session"
member = "olga"
workshop = "bread"
session = "s1"
at = 2027-03-02T09:00:00+01:00

[[step]]
do = "request"
member = "alice"
session = "s1"
seats = 1
as = "r1"

[[step]]
advance = { hours = 24 }

[[step]]
expect = { held = { alice = 0 }, balance = { alice = 10 }, notified = { alice = "BOOK-16" } }

[[step]]
do = "accept"
member = "olga"
request = "r1"
fails = true
""")
    passed, text = _run(path)
    assert passed, text
    assert "1 deadlines applied" in text


def test_the_command_line_prints_the_summary_and_exits_1_on_failure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["run", "--quiet", "--store", "memory", str(HERE / "good.toml"),
                   str(HERE / "wrong_expectation.toml")])
    out = capsys.readouterr().out
    assert status == 1
    assert out.splitlines()[-1] == "1 passed, 1 failed"
    assert "FAILED" in out
    assert "signup alice" not in out  # quiet: only failures and the summary


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_every_example_passes(store: str) -> None:
    assert EXAMPLES, "the package carries the product owners' scenarios"
    out = io.StringIO()
    status = run_scenarios([str(p) for p in EXAMPLES], store=store, quiet=True, out=out)
    assert status == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1] == f"{len(EXAMPLES)} passed, 0 failed"


def test_every_example_passes_on_postgresql(pg_dsn: str) -> None:
    """The same files on the server store: each scenario in a fresh schema of one database."""
    parts = conninfo_to_dict(pg_dsn)
    url = f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"
    out = io.StringIO()
    status = run_scenarios([str(p) for p in EXAMPLES], store=url, quiet=True, out=out)
    assert status == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1] == f"{len(EXAMPLES)} passed, 0 failed"


def test_a_sqlite_path_store_keeps_the_database_file(tmp_path: Path) -> None:
    target = tmp_path / "run.db"
    out = io.StringIO()
    assert run_scenarios([str(HERE / "good.toml")], store=f"sqlite:{target}", out=out) == 0
    assert target.exists()


@pytest.mark.rule("SOCIAL-1", "TUTO-1", "AD-6")
def test_a_declared_command_no_written_one_plays_is_a_scenario_command_read_from_it(
    tmp_path: Path,
) -> None:
    """unfollow, edit_tutorial and delete_campaign are derived from their declarations:
    their keys from their parameters (aliases for ids), their line in the docs from
    their docstrings."""
    assert {"unfollow", "edit_tutorial", "delete_campaign"} <= set(DERIVED)
    assert dict(COMMANDS["unfollow"].refs) == {"member": "member", "whom": "member"}
    assert COMMAND_SUMMARIES["unfollow"].startswith("Stop following")
    steps = ('\n[[step]]\ndo = "signup"\nmember = "bob"\n'
             '\n[[step]]\ndo = "follow"\nmember = "alice"\nwhom = "bob"\n'
             '\n[[step]]\ndo = "unfollow"\nmember = "alice"\nwhom = "bob"\n'
             '\n[[step]]\ndo = "publish_tutorial"\nmember = "alice"\ntutorial = "t1"\n'
             'domain = "Cooking"\nurl = "https://youtu.be/aaaaaaaaaaa"\n'
             '\n[[step]]\ndo = "edit_tutorial"\nmember = "bob"\ntutorial = "t1"\n'
             'fails = true\nerror = "not_allowed"\n'
             '\n[[step]]\ndo = "edit_tutorial"\nmember = "alice"\ntutorial = "t1"\n'
             'rights_attested = true\n')
    passed, text = _run(_file(tmp_path, steps))
    assert passed, text
    assert "unfollow member alice, whom bob" in text
    malformed = _file(tmp_path, '\n[[step]]\ndo = "unfollow"\nmember = "alice"\n')
    with pytest.raises(ScenarioFormatError, match="unfollow needs 'whom'"):
        load_scenario(malformed)


@pytest.mark.rule("BOOK-14", "REFUND-1", "BOOK-11")
def test_the_worked_example_of_the_scenario_guide_runs(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text(
        encoding="utf-8")
    [example] = re.findall(r"```toml\n(.*?)```", guide, re.S)
    passed, text = _run(_file(tmp_path, "", header=example))
    assert passed, text
