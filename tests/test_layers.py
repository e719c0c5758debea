"""The layout's layers, checked on every import of the package (``make check`` runs it).

- **The rules** (the modules at the top of ``skilltroc_core`` and ``catalogue/``) import
  only one another, the standard library and their few dependencies: nothing from the
  service, the stores, the kits or the tools, and no database or process module.
- **The service** (``service/``) adds the rules only: it sees stores through the ports.
- **The stores** (``adapters/``) build on the rules only.
- **The kits** (``testing/``, ``simulation/``) may use the service and the stores.
- **The tools** (``tools/``: the command, scenarios, docs, benchmarks) may use anything;
  nothing uses them.
- Nothing in the package imports the test suite (``tests``): the kits ship without it.

The package's ``__init__`` is the facade hosts import: it re-exports the clocks and id
generators of the adapters, and is left out of the check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "skilltroc_core"
RULES = "rules"
#: Which layers each layer may import from (itself included).
ALLOWED = {
    RULES: {RULES},
    "service": {RULES, "service"},
    "adapters": {RULES, "adapters"},
    "testing": {RULES, "service", "adapters", "testing"},
    "simulation": {RULES, "service", "adapters", "testing", "simulation"},
    "tools": {RULES, "service", "adapters", "testing", "simulation", "tools"},
}
#: Modules that do I/O of their own: never in the rules.
IO_MODULES = {"sqlite3", "psycopg", "subprocess", "socket", "multiprocessing", "tomllib"}
#: The one exception: the catalogue parses its own TOML data, carried in the package
#: (``tomllib.loads`` on the package's resources, never a path from outside).
IO_ALLOWED = {("skilltroc_core.catalogue", "tomllib")}


def layer_of(module: str) -> str:
    """``skilltroc_core.service.booking`` -> ``service``; a top-level module -> rules."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ALLOWED:
        return parts[1]
    return RULES


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, the module ``module``,
    relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                found.append((node.lineno, node.module or ""))
                continue
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            if node.module is None:  # from . import a, b: the submodules
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, f"{base}.{node.module}"))
    return found


def check_file(path: Path, module: str) -> list[str]:
    """The imports of ``path`` (the module ``module``) that its layer may not make."""
    layer = layer_of(module)
    wrong = []
    for line, target in imports_of(path, module):
        where = f"{module}:{line}"
        if target.split(".")[0] == "skilltroc_core":
            if layer_of(target) not in ALLOWED[layer]:
                wrong.append(f"{where}: {layer} imports {target} ({layer_of(target)})")
        elif layer == RULES and target.split(".")[0] in IO_MODULES and (
                (module, target) not in IO_ALLOWED):
            wrong.append(f"{where}: the rules import {target}, which does I/O")
        elif target.split(".")[0] == "tests":
            wrong.append(f"{where}: the package imports {target}, a test module")
    return wrong


def test_every_layer_imports_only_from_the_layers_it_builds_on() -> None:
    wrong = [problem for path in sorted(PACKAGE.rglob("*.py"))
             if path != PACKAGE / "__init__.py"  # the facade
             for problem in check_file(path, _module_name(path))]
    assert wrong == []


@pytest.mark.parametrize(("module", "layer"), [
    ("skilltroc_core.booking", RULES), ("skilltroc_core.catalogue", RULES),
    ("skilltroc_core.service.booking", "service"), ("skilltroc_core.adapters.codec", "adapters"),
    ("skilltroc_core.tools.cli", "tools"), ("skilltroc_core.testing.contract", "testing"),
])
def test_modules_are_told_apart_by_their_package(module: str, layer: str) -> None:
    assert layer_of(module) == layer


def test_the_check_catches_a_rule_module_reaching_down(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlite3\nfrom .service import kinds\nfrom . import tools\n"
                      "from .ledger import Ledger\nfrom ..skilltroc_core import rules\n")
    assert check_file(sample, "skilltroc_core.sample") == [
        "skilltroc_core.sample:1: the rules import sqlite3, which does I/O",
        "skilltroc_core.sample:2: rules imports skilltroc_core.service (service)",
        "skilltroc_core.sample:3: rules imports skilltroc_core.tools (tools)",
    ]
    # the same lines are fine for a tool
    assert check_file(sample, "skilltroc_core.tools.sample") == []


def test_the_check_catches_a_kit_leaning_on_the_test_suite(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from tests import store_races\nimport tests.pg_fixtures\n")
    assert check_file(sample, "skilltroc_core.testing.sample") == [
        "skilltroc_core.testing.sample:1: the package imports tests, a test module",
        "skilltroc_core.testing.sample:2: the package imports tests.pg_fixtures, a test module",
    ]


#: The most lines a class may take (issue 15: no class over about 400 lines).
MAX_CLASS_LINES = 400
#: Classes still over it, and why they are not split yet.
LARGE_CLASSES: dict[str, str] = {}


def test_no_class_is_longer_than_about_four_hundred_lines() -> None:
    long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name not in LARGE_CLASSES:
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert not long, f"classes over {MAX_CLASS_LINES} lines: {long}"
