"""docs/hosting.md's code is executed, so the guide stays true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).parent.parent / "docs" / "hosting.md"
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)


def test_the_guide_has_its_two_examples() -> None:
    assert len(BLOCKS) == 2


@pytest.mark.rule("STAR-2", "BOOK-11", "BOOK-4", "BOOK-16")
def test_the_small_host_example_runs(tmp_path: Path) -> None:
    exec(compile(BLOCKS[0], str(GUIDE), "exec"), {"workdir": tmp_path})


def test_the_adapter_check_example_passes_the_contract_suite(tmp_path: Path) -> None:
    module = tmp_path / "test_my_store.py"
    module.write_text(BLOCKS[1], encoding="utf-8")
    status = pytest.main(["-q", "-p", "no:cacheprovider", str(module)])
    assert status == 0
