"""``make mutate``: mutation testing of the domain core and the service layer.

Usage: ``python mutation/run.py [--resume | --review] [MODULE ...]`` (default: every
module of ``targets.toml``; a module is a path under ``src/skilltroc_core`` without
``.py``, such as ``ledger`` or ``service/gifts``). ``--review`` runs nothing: it judges
the stored survivors again against ``equivalent.toml`` (after a review adds entries) and
rewrites the report.

Each module is mutated alone with cosmic-ray, in a copy of ``src`` and ``tests`` under
``mutation/work/`` (the tree you edit is never mutated), one mutant at a time, and every
mutant runs the test files ``targets.toml`` lists for its module, stopping at the first
failure. The run writes ``mutation/results/<module>.json`` and rewrites
``mutation/report.md`` from every module's last result. A survivor listed in
``equivalent.toml`` (reviewed: the mutant cannot change what the code does) counts
neither as killed nor as survived; an entry no survivor matches any more is reported as
stale. Score = killed / (killed + survived - equivalent).

Run it under ``nice`` on a shared machine (``make mutate`` does): it takes one core for
minutes per module (about two seconds a mutant).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cosmic_ray.work_db import WorkDB, use_db  # type: ignore[import-untyped]
from cosmic_ray.work_item import (  # type: ignore[import-untyped]
    TestOutcome,
    WorkerOutcome,
    WorkItem,
    WorkResult,
)

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "mutation"
WORK = HERE / "work"
RESULTS = HERE / "results"
PACKAGE = "src/skilltroc_core"

#: The goal per module (issue 20): share of the non-equivalent mutants killed.
GOALS = {"domain": 0.97, "service": 0.90}

#: The operators kept, as a reviewer mutates by hand: numbers +-1, negated conditions,
#: and/or swapped, True/False swapped, loops run zero times, break/continue swapped,
#: decorators removed, the exception caught replaced, unary minus and ``not`` removed,
#: and the comparison and arithmetic *flips* below. The other replacements cosmic-ray
#: offers (every comparison into every other one, every arithmetic operator into every
#: other one: ``<`` into ``is``, ``+`` into ``>>``...) mostly raise a TypeError at once
#: or repeat a flip, and would multiply the run time by four.
KEPT_OPERATORS = frozenset({
    "core/NumberReplacer", "core/AddNot", "core/ReplaceAndWithOr", "core/ReplaceOrWithAnd",
    "core/ReplaceTrueWithFalse", "core/ReplaceFalseWithTrue", "core/ZeroIterationForLoop",
    "core/ReplaceBreakWithContinue", "core/ReplaceContinueWithBreak",
    "core/RemoveDecorator", "core/ExceptionReplacer",
    "core/ReplaceUnaryOperator_USub_UAdd", "core/ReplaceUnaryOperator_Delete_USub",
    "core/ReplaceUnaryOperator_Delete_Not",
})
#: comparison -> what it flips to: its boundary moved, or its negation
COMPARISON_FLIPS = {
    "Lt": ("LtE", "GtE"), "LtE": ("Lt", "Gt"), "Gt": ("GtE", "LtE"), "GtE": ("Gt", "Lt"),
    "Eq": ("NotEq",), "NotEq": ("Eq",), "Is": ("IsNot",), "IsNot": ("Is",),
}
#: arithmetic operator -> its flip
ARITHMETIC_FLIPS = {
    "Add": "Sub", "Sub": "Add", "Mul": "FloorDiv", "Div": "Mul", "FloorDiv": "Mul",
    "Mod": "FloorDiv", "Pow": "Mul", "BitOr": "BitAnd", "BitAnd": "BitOr",
    "BitXor": "BitOr", "LShift": "RShift", "RShift": "LShift",
}


def kept(operator: str) -> bool:
    if operator in KEPT_OPERATORS:
        return True
    kind, _, pair = operator.partition("_")
    source, _, target = pair.partition("_")
    if kind == "core/ReplaceComparisonOperator":
        return target in COMPARISON_FLIPS.get(source, ())
    if kind == "core/ReplaceBinaryOperator":
        return ARITHMETIC_FLIPS.get(source) == target
    return False


def layer(module: str) -> str:
    return "service" if module.startswith("service/") else "domain"


def slug(module: str) -> str:
    return module.replace("/", "-")


# ---------------------------------------------------------------------- one module
def prepare(module: str, resume: bool) -> Path:
    """A fresh copy of the tree to mutate; to resume, the session a stopped run left
    with a fresh copy beside it (a run stopped during a mutant leaves it in the copy;
    resume only while the module is as it was)."""
    work = WORK / slug(module)
    if resume and (work / "session.sqlite").exists():
        for part in ("src", "tests"):
            shutil.rmtree(work / part)
    elif work.exists():
        shutil.rmtree(work)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", ".hypothesis")
    shutil.copytree(ROOT / "src", work / "src", ignore=skip)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=skip)
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    return work


def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(work / "src")  # ahead of the editable install
    env["HYPOTHESIS_PROFILE"] = "mutation"
    return env


def precompile(work: Path) -> None:
    """Compile the copy once, with byte code checked against the source's hash: a mutant
    rewritten within the same second at the same size is still never run from a stale
    .pyc, and no run compiles the whole package again."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode",
                    "checked-hash", str(work / "src")], check=True)


def baseline(work: Path, command: list[str]) -> float:
    """Run the tests on the unmutated copy: they must pass, and they give the timeout."""
    check = [sys.executable, "-c", "import skilltroc_core; print(skilltroc_core.__file__)"]
    found = subprocess.run(check, cwd=work, env=environment(work), capture_output=True,
                           text=True, check=True).stdout.strip()
    if not found.startswith(str(work)):
        sys.exit(f"the tests would import {found}, not the copy in {work}")
    started = time.monotonic()
    run = subprocess.run(command, cwd=work, env=environment(work), capture_output=True,
                         text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"the tests fail before any mutation:\n{run.stdout[-3000:]}")
    return time.monotonic() - started


def configure(work: Path, module: str, command: list[str], timeout: float) -> Path:
    config = work / "cosmic-ray.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{PACKAGE}/{module}.py"\n'
        f"timeout = {timeout:.1f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(shlex.join(command))}\n\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n',
        encoding="utf-8",
    )
    return config


def cosmic_ray(work: Path, *args: str) -> None:
    tool = Path(sys.executable).with_name("cosmic-ray")
    subprocess.run([str(tool), *args], cwd=work, env=environment(work), check=True)


def annotation_spans(module: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the module's annotations are (start and end, as (line, column)).

    Annotations are not mutated: every module has ``from __future__ import annotations``,
    so they are strings at run time. Two places evaluate some of them, each checked for
    all it reads by its own tests rather than by a module's: the SQL codec (the field
    types of the stored entities: the store contract on SQLite) and the registry (the
    parameters of the commands: test_registry)."""
    tree = ast.parse((ROOT / PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        for part in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if isinstance(part, ast.expr) and part.end_lineno is not None:
                found.append(((part.lineno, part.col_offset),
                              (part.end_lineno, part.end_col_offset or 0)))
    return found


def skip_unkept(module: str, session: Path) -> int:
    """Mark as skipped the mutants of the operators not kept and those inside an
    annotation; the number left to run."""
    places = annotation_spans(module)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            mutation = item.mutations[0]
            at = tuple(mutation.start_pos)
            why = ("operator not kept" if not kept(mutation.operator_name) else
                   "in an annotation" if any(a <= at < b for a, b in places) else None)
            if why is not None:
                db.set_result(item.job_id,
                              WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=why))
        return sum(1 for _ in db.pending_work_items)


def execute(work: Path, config: Path, session: Path, total: int) -> None:
    """``cosmic-ray exec``, with a line of progress every minute."""
    tool = Path(sys.executable).with_name("cosmic-ray")
    process = subprocess.Popen([str(tool), "exec", str(config), str(session)], cwd=work,
                               env=environment(work))
    started = time.monotonic()
    while process.poll() is None:
        time.sleep(5)
        if int(time.monotonic() - started) % 60 < 5:
            with use_db(str(session), WorkDB.Mode.open) as db:
                left = sum(1 for _ in db.pending_work_items)
            print(f"  {total - left}/{total} mutants run", flush=True)
    if process.returncode != 0:
        sys.exit(f"cosmic-ray exec failed ({process.returncode})")


def mutated_line(diff: str | None) -> str:
    for line in (diff or "").splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def survivor(item: WorkItem, result: WorkResult, source: list[str]) -> dict[str, Any]:
    mutation = item.mutations[0]
    line = mutation.start_pos[0]
    return {
        "line": line,
        "operator": mutation.operator_name,
        "definition": mutation.definition_name or "",
        "original": source[line - 1].strip(),
        "mutant": mutated_line(result.diff),
    }


def equivalents(module: str) -> list[dict[str, str]]:
    listed = tomllib.loads((HERE / "equivalent.toml").read_text(encoding="utf-8"))
    return [entry for entry in listed.get("equivalent", []) if entry["module"] == module]


def same_mutant(entry: dict[str, str], found: dict[str, Any]) -> bool:
    """Whether a reviewed entry is this survivor: the same operator, original line and
    mutated line, and, when the entry names one, the same function (``definition``: a
    line written alike in two functions may be equivalent in one of them only)."""
    keys = ("operator", "original", "mutant", *(("definition",) if "definition" in entry else ()))
    return all(entry[key] == found[key] for key in keys)


def tally(module: str, tests: list[str], session: Path, seconds: float, measured: str
          ) -> dict[str, Any]:
    source = (ROOT / PACKAGE / f"{module}.py").read_text(encoding="utf-8").splitlines()
    counts = {"killed": 0, "timeouts": 0, "survived": 0, "incompetent": 0}
    survivors: list[dict[str, Any]] = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome is WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome is TestOutcome.KILLED:
                counts["killed"] += 1
                counts["timeouts"] += (result.output or "") == "timeout"
            elif result.test_outcome is TestOutcome.SURVIVED:
                counts["survived"] += 1
                survivors.append(survivor(item, result, source))
            else:
                counts["incompetent"] += 1
    return judge({
        "module": module, "layer": layer(module), "tests": tests,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"), "commit": measured,
        "seconds": round(seconds), **counts,
    }, survivors)


def judge(result: dict[str, Any], survivors: list[dict[str, Any]]) -> dict[str, Any]:
    """``result`` with its survivors split by ``equivalent.toml`` as it now reads, and its
    score: the survivors an entry matches go to ``equivalent_survivors`` (kept, so that a
    later review can judge them again without running the mutants)."""
    reviewed = equivalents(result["module"])
    equivalent = [s for s in survivors if any(same_mutant(e, s) for e in reviewed)]
    judged = result["killed"] + result["survived"] - len(equivalent)

    def in_order(found: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(found, key=lambda s: (s["line"], s["operator"]))

    return {
        **result, "equivalent": len(equivalent),
        "score": round(result["killed"] / judged, 4) if judged else 1.0,
        "survivors": in_order(s for s in survivors if s not in equivalent),
        "equivalent_survivors": in_order(equivalent),
        "stale_equivalents": [e for e in reviewed
                              if not any(same_mutant(e, s) for s in survivors)],
    }


def review(path: Path) -> dict[str, Any]:
    """A stored result judged again against ``equivalent.toml`` (``--review``). Its
    survivors that a result written before they were kept counted as equivalent (the
    survived count less those listed) stay equivalent: only the listed ones are judged."""
    result = json.loads(path.read_text(encoding="utf-8"))
    listed = result["survivors"] + result.get("equivalent_survivors", [])
    unlisted = result["survived"] - len(listed)
    again = judge(result, listed)
    if unlisted:
        again["equivalent"] += unlisted
        judged = again["killed"] + again["survived"] - again["equivalent"]
        again["score"] = round(again["killed"] / judged, 4) if judged else 1.0
        # its unknown survivors keep the stale entries its run found; say so once
        again["stale_equivalents"] = result.get("stale_equivalents", [])
        print(f"{result['module']}: {unlisted} equivalent survivor(s) of a result written "
              "before they were listed are kept as equivalent; run the module again to "
              "judge them anew", file=sys.stderr)
    return again


#: The documents showing the scores, between these two lines (their table is rewritten).
SCORE_PAGES = (ROOT / "CONTRIBUTING.md", ROOT / "docs" / "reliability.md")
SCORES_START = "<!-- mutation scores: written from mutation/results -->"
SCORES_END = "<!-- end of mutation scores -->"


def write_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (another run may read it meanwhile)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_report() -> None:
    """``mutation/report.md`` from every module's last result, and the score tables of
    :data:`SCORE_PAGES` (the text before a table, in its block, is kept)."""
    everything = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS.glob("*.json"))]
    write_text(HERE / "report.md", report(everything))
    table = score_table(everything)
    for page in SCORE_PAGES:
        text = page.read_text(encoding="utf-8")
        before, start, rest = text.partition(SCORES_START)
        block, end, after = rest.partition(SCORES_END)
        if not (start and end):
            continue
        intro = block.split("\n| module", 1)[0].rstrip("\n")
        write_text(page, f"{before}{start}{intro}\n\n{table}{end}{after}")


def score_table(results: list[dict[str, Any]]) -> str:
    rows = sorted(results, key=lambda r: (r["layer"] == "service", r["module"]))
    out = ["| module | mutants | killed | survived | equivalent | score |",
           "|---|---|---|---|---|---|"]
    out += [f"| `{r['module']}.py` | {r['killed'] + r['survived'] + r['incompetent']} | "
            f"{r['killed']} | {r['survived']} | {r['equivalent']} | {100 * r['score']:.1f}% |"
            for r in rows]
    return "\n".join(out) + "\n"


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def mutate(module: str, tests: list[str], args: list[str], resume: bool) -> dict[str, Any]:
    started = time.monotonic()
    measured = commit()  # the tree copied now is what the mutants run against
    work = prepare(module, resume)
    command = [sys.executable, "-m", "pytest", *args, *tests]
    session = work / "session.sqlite"
    precompile(work)
    if not (resume and session.exists()):
        took = baseline(work, command)
        config = configure(work, module, command, timeout=max(20.0, 10 * took))
        cosmic_ray(work, "init", str(config), str(session))
    config = work / "cosmic-ray.toml"
    total = skip_unkept(module, session)
    print(f"{module}: {total} mutants to run against {' '.join(tests)}", flush=True)
    execute(work, config, session, total)
    result = tally(module, tests, session, time.monotonic() - started, measured)
    shutil.rmtree(work)
    return result


# ---------------------------------------------------------------------- the report
def report(results: Iterable[dict[str, Any]]) -> str:
    rows = sorted(results, key=lambda r: (r["layer"] == "service", r["module"]))
    out = [
        "# Mutation testing: the last scores",
        "",
        "Written by `make mutate` (`mutation/run.py`) from `mutation/results/`; do not edit",
        "by hand. Score = killed / (killed + survived - equivalent); goal: 97% of the",
        "non-equivalent mutants killed in each domain module, 90% in each service module.",
        "Timeouts count as killed; incompetent mutants (the copy could not be mutated) as",
        "neither. The equivalent mutants, each with its reason, are in",
        "`mutation/equivalent.toml`.",
        "",
        "| module | mutants | killed | survived | equivalent | score | goal | date | commit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        goal = GOALS[r["layer"]]
        mutants = r["killed"] + r["survived"] + r["incompetent"]
        mark = "met" if r["score"] >= goal else "not met"
        out.append(
            f"| `{r['module']}.py` | {mutants} | {r['killed']} | {r['survived']} | "
            f"{r['equivalent']} | {100 * r['score']:.1f}% | {100 * goal:.0f}% ({mark}) | "
            f"{r['date']} | {r['commit']} |")
    for r in rows:
        if not (r["survivors"] or r["stale_equivalents"]):
            continue
        out += ["", f"## `{r['module']}.py`: what survived", ""]
        out += [f"- line {s['line']} (`{s['definition']}`, {s['operator']}): "
                f"`{s['original']}` -> `{s['mutant']}`" for s in r["survivors"]]
        out += [f"- stale entry in equivalent.toml (no survivor matches it): "
                f"`{e['original']}` -> `{e['mutant']}`" for e in r["stale_equivalents"]]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all)")
    parser.add_argument("--resume", action="store_true",
                        help="go on with the mutants a stopped run left")
    parser.add_argument("--review", action="store_true",
                        help="run nothing: judge the stored survivors again against "
                             "equivalent.toml and rewrite the report")
    options = parser.parse_args(argv)
    if options.review:
        for path in sorted(RESULTS.glob("*.json")):
            module = json.loads(path.read_text(encoding="utf-8"))["module"]
            if not options.modules or module in options.modules:
                write_text(path, json.dumps(review(path), indent=1) + "\n")
        write_report()
        return
    targets = tomllib.loads((HERE / "targets.toml").read_text(encoding="utf-8"))
    modules: dict[str, list[str]] = targets["modules"]
    unknown = [m for m in options.modules if m not in modules]
    if unknown:
        sys.exit(f"not in mutation/targets.toml: {', '.join(unknown)}")
    RESULTS.mkdir(exist_ok=True)
    for module in options.modules or list(modules):
        result = mutate(module, modules[module], targets["pytest"]["args"], options.resume)
        write_text(RESULTS / f"{slug(module)}.json", json.dumps(result, indent=1) + "\n")
        print(f"{module}: {100 * result['score']:.1f}% ({result['killed']} killed, "
              f"{result['survived']} survived, {result['equivalent']} equivalent)",
              flush=True)
        write_report()


if __name__ == "__main__":
    main()
