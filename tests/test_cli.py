"""The ``skilltroc`` command behaves: one line and exit status 2 for a user's mistake,
never a traceback; 1 when a scenario or a check fails; 0 when all is done; scenario
format errors name the file, the line, the step and the key, echo the bad value and
suggest the nearest valid name."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from skilltroc_core import __version__
from skilltroc_core.simulation.progress import Progress, shown
from skilltroc_core.tools.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from skilltroc_core.tools.scenarios import example_files

HEADER = ('title = "t"\nstart = 2027-03-01T09:00:00+01:00\n\n[[step]]\ndo = "signup"\n'
          'member = "alice"\n')


def _scenario(tmp_path: Path, steps: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(HEADER + steps, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return status, out.out + out.err


@pytest.mark.parametrize(("steps", "shown"), [
    ('\n[[step]]\ndo = "buy_star"\nmember = "alice"\n',
     "s.toml:9, step 2, key 'do': unknown command 'buy_star' (did you mean 'buy_stars'?)"),
    ('\n[[step]]\ndo = "buy_stars"\nmember = "alice"\nstars = "5"\npayment = "p"\n',
     "s.toml:11, step 2, key 'stars': 'stars' must be integer, not '5'"),
    ('\n[[step]]\ndo = "buy_stars"\nmember = "alice"\nstar = 5\npayment = "p"\n',
     "s.toml:11, step 2, key 'star': buy_stars has no key 'star' (did you mean 'stars'?)"),
    ('\n[[step]]\nexpect = { balanse = { alice = 1 } }\n',
     "s.toml:9, step 2, key 'balanse': unknown expectation 'balanse' (did you mean "
     "'balance'?)"),
    ('\n[[step]]\nexpect = { balance = { alica = 1 } }\n',
     "s.toml:9, step 2, key 'balance': unknown member alias 'alica' (did you mean 'alice'?)"),
])
def test_a_malformed_file_is_shown_at_its_line_with_the_bad_value_and_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str, shown: str
) -> None:
    status, out = _run(capsys, "run", str(_scenario(tmp_path, steps)))
    assert status == EXIT_USAGE
    assert shown in out, out
    assert "0 passed, 1 failed (1 malformed)" in out


def test_a_missing_or_unreadable_scenario_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _run(capsys, "run", str(tmp_path / "nothere.toml"), str(tmp_path))
    assert status == EXIT_USAGE
    assert "nothere.toml: no such file" in out
    assert f"{tmp_path}: is a folder, not a scenario file" in out
    (tmp_path / "broken.toml").write_text("title = \n", encoding="utf-8")
    status, out = _run(capsys, "run", str(tmp_path / "broken.toml"))
    assert status == EXIT_USAGE and "broken.toml: is not valid TOML" in out


@pytest.mark.rule("GIFT-1")
def test_exit_status_0_when_every_scenario_passes_and_1_when_one_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _run(capsys, "run", "--store", "memory", "--quiet", str(example_files()[0]))
    assert (status, out.strip()) == (EXIT_OK, "1 passed, 0 failed")
    failing = _scenario(tmp_path, '\n[[step]]\nexpect = { balance = { alice = 11 } }\n')
    status, out = _run(capsys, "run", "--store", "memory", str(failing))
    assert status == EXIT_FAILED
    assert "expected balance of alice = 11, found 10" in out


@pytest.mark.parametrize(("store", "shown"), [
    ("sqlite:{tmp}/no/such/folder/s.db", "the folder {tmp}/no/such/folder does not exist"),
    ("sqlite:{tmp}/taken.db", "{tmp}/taken.db exists; name a new database file"),
    ("oracle", "unknown store 'oracle': memory, sqlite:PATH or postgresql://..."),
    ("postgresql://127.0.0.1:1/nothing", "cannot connect to PostgreSQL"),
])
def test_a_store_it_cannot_open_is_one_line_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: str, shown: str
) -> None:
    (tmp_path / "taken.db").write_bytes(b"")
    status, out = _run(capsys, "run", "--store", store.format(tmp=tmp_path),
                       str(example_files()[0]))
    assert status == EXIT_USAGE
    assert out.startswith("skilltroc run: ") and shown.format(tmp=tmp_path) in out, out


def test_postgresql_without_psycopg_names_the_extra_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "skilltroc_core.adapters.postgres", None)
    status, out = _run(capsys, "run", "--store", "postgresql://localhost/x",
                       str(example_files()[0]))
    assert status == EXIT_USAGE
    assert "pip install 'skilltroc-core[postgres]'" in out


def test_usage_mistakes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["simulate", "--steps", "-1"], ["simulate", "--check-every", "x"],
                 ["bench", "nothing"], ["frobnicate"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == EXIT_USAGE, argv
    capsys.readouterr()  # argparse's own usage lines
    status, out = _run(capsys, "run")
    assert (status, out.strip()) == (EXIT_USAGE, "skilltroc run: name scenario files, or "
                                                 "--examples")
    status, out = _run(capsys, "secret", "take-out")
    assert status == EXIT_USAGE and "name one store" in out


def test_the_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == EXIT_OK
    assert capsys.readouterr().out.strip() == f"skilltroc {__version__}"
    assert __version__[0].isdigit()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_runs_show_progress_on_a_terminal_and_nothing_elsewhere() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress(stream, "steps", 10, every=0)
        for _ in shown(range(10), progress):
            pass
    assert pipe.getvalue() == ""
    lines = terminal.getvalue()
    assert "10/10 steps" in lines and "/s" in lines and "s left" in lines
    assert lines.endswith("\r\x1b[K")  # the line is cleared at the end


@pytest.mark.parametrize(("steps", "shown"), [
    ("\n[[step]]\nadvance = { days = 100000000 }\n", "'days' is a whole number from 0 to"),
    ("\n[[step]]\nadvance = { hours = 1000000000000 }\n", "'hours' is a whole number"),
])
def test_an_advance_beyond_a_century_is_malformed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str, shown: str
) -> None:
    status, out = _run(capsys, "run", "--store", "memory", str(_scenario(tmp_path, steps)))
    assert status == EXIT_USAGE and shown in out, out


def test_values_no_instant_can_take_fail_the_step_or_the_file_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "early.toml"
    path.write_text(HEADER.replace("2027-03-01T09:00:00+01:00", "0001-01-01T00:00:00+01:00"),
                    encoding="utf-8")
    status, out = _run(capsys, "run", "--store", "memory", str(path))
    assert status == EXIT_USAGE and "key 'start'" in out, out
    late = _scenario(tmp_path, "\n[[step]]\nat = 9999-12-31T23:59:00-05:00\n")
    status, out = _run(capsys, "run", "--store", "memory", str(late))
    assert status == EXIT_FAILED and "FAILED" in out, out
    huge = _scenario(tmp_path, '\n[[step]]\ndo = "create_workshop"\nmember = "alice"\n'
                     'workshop = "w"\ncost = 1\ncapacity = 2\nduration = { hours = '
                     '100000000000000000 }\n')
    status, out = _run(capsys, "run", "--store", "memory", str(huge))
    assert status == EXIT_FAILED and "out of range" in out, out


def test_an_unwritable_docs_folder_and_bad_bench_numbers_are_usage_errors(
    capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _run(capsys, "docs", "--out", "/dev/null/docs")
    assert status == EXIT_USAGE and out.startswith("skilltroc docs: "), out
    for argv in (["bench", "ledger", "--members", "0"], ["bench", "scale", "--seconds", "-1"],
                 ["bench", "ledger", "--n", "0"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == EXIT_USAGE, argv
