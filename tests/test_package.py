"""The package stands alone: the built wheel, installed in a fresh virtual environment
without the development extras, imports, says its version, plays the example scenarios
it carries and writes the rule docs; with the ``testing`` extra, a host's test built on
the kit runs with the kit's ``rule`` marker registered."""

from __future__ import annotations

import subprocess
import sys
import venv
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HOST_TEST = '''
import pytest

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.testing.contract import PortContract


class TestMyStore(PortContract):
    def create_store(self):
        return MemoryStore()


@pytest.mark.rule("BOOK-14")
def test_a_rule_of_my_own():
    assert True
'''


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          cwd=cwd, check=False, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_installs_alone_and_runs_its_examples(tmp_path: Path) -> None:
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
         tmp_path / "dist", ROOT)
    [wheel] = (tmp_path / "dist").glob("skilltroc_core-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel)
    assert _run(bin_dir / "skilltroc", "--version").strip() == (
        f"skilltroc {version('skilltroc-core')}")
    assert _run(bin_dir / "python", "-c", "import importlib.util as u, skilltroc_core.service;"
                " print(u.find_spec('pytest'), u.find_spec('hypothesis'))").split() == [
        "None", "None"]  # no development dependency came along
    examples = _run(bin_dir / "skilltroc", "run", "--examples", "--quiet")
    assert examples.strip().endswith(" passed, 0 failed"), examples
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tests").mkdir(parents=True)  # a host's project has tests of its own
    _run(bin_dir / "skilltroc", "docs", "--out", "pages", cwd=elsewhere)
    rules = (elsewhere / "pages" / "rules.md").read_text(encoding="utf-8")
    assert "### BOOK-14" in rules and "Examples: `skilltroc_core/examples/" in rules
    trace = (elsewhere / "pages" / "traceability.md").read_text(encoding="utf-8")
    assert "| tests |" not in trace and "no tests to name" in trace  # it cannot know them

    _run(bin_dir / "python", "-m", "pip", "install", "--quiet", f"{wheel}[testing]")
    (elsewhere / "test_my_store.py").write_text(HOST_TEST, encoding="utf-8")
    report = _run(bin_dir / "python", "-m", "pytest", "-q", "--strict-markers",
                  "-W", "error::pytest.PytestUnknownMarkWarning", "-p", "no:cacheprovider",
                  "test_my_store.py", cwd=elsewhere)
    assert " passed" in report and "warning" not in report, report
