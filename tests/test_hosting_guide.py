"""docs/hosting.md's code is executed, so the guide stays true."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

GUIDE = Path(__file__).parent.parent / "docs" / "hosting.md"
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)


def test_the_guide_has_its_five_examples() -> None:
    assert len(BLOCKS) == 5


@pytest.mark.rule("STAR-2", "BOOK-11", "BOOK-4", "BOOK-16")
def test_the_small_host_example_runs(tmp_path: Path) -> None:
    exec(compile(BLOCKS[0], str(GUIDE), "exec"), {"workdir": tmp_path})


# The guide shows the wiring; a short run of the machine is enough to prove it works.
settings.register_profile("hosting-guide", max_examples=5, stateful_step_count=20,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _Passed:
    """A pytest plugin noting the tests that passed."""

    def __init__(self) -> None:
        self.passed: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.passed.append(report.nodeid)


def _passed_tests(block: str, module: Path) -> list[str]:
    """Run ``block`` as the pytest module ``module`` (it must pass): its passed tests."""
    module.write_text(block, encoding="utf-8")
    passed = _Passed()
    settings.load_profile("hosting-guide")  # the machine's TestCase takes it when built
    try:
        status = pytest.main(["-q", "-p", "no:cacheprovider", str(module)], plugins=[passed])
    finally:
        settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
    assert status == 0
    return passed.passed


def test_the_adapter_check_example_passes_the_contract_suite_and_the_machine(
    tmp_path: Path,
) -> None:
    passed = _passed_tests(BLOCKS[1], tmp_path / "test_my_store.py")
    ran = {nodeid.split("::")[1] for nodeid in passed}
    assert ran == {"TestMyStore", "TestMyStoreMachine"}
    assert sum("TestMyStore::" in nodeid for nodeid in passed) >= 10


@pytest.mark.rule("GIFT-1", "STAR-2", "AD-7", "BOOK-14")
def test_the_race_example_runs_every_race_on_the_store(tmp_path: Path) -> None:
    passed = _passed_tests(BLOCKS[2], tmp_path / "test_my_races.py")
    assert sorted(nodeid.split("[")[1].rstrip("]") for nodeid in passed) == [
        "ad_goal_race", "killed_process_race", "seat_race", "wallet_race"]


@pytest.mark.rule("AD-7", "SOCIAL-1")
def test_the_pages_example_walks_the_catalogue_through_its_cursors(tmp_path: Path) -> None:
    exec(compile(BLOCKS[3], str(GUIDE), "exec"), {"workdir": tmp_path})


@pytest.mark.rule("AD-7", "BOOK-5", "BOOK-18")
def test_the_change_feed_example_keeps_a_search_index_in_step(tmp_path: Path) -> None:
    exec(compile(BLOCKS[4], str(GUIDE), "exec"), {"workdir": tmp_path})
