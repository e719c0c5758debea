"""The facade's operation lines, written from the declarations.

:class:`~skilltroc_core.service.facade.Skilltroc` shows every declared operation
(:mod:`skilltroc_core.service.registry`) as one typed line,
``name = via(AreaClass.name)``. Those lines sit between two marker comments in
``service/facade.py`` and are written by ``skilltroc docs`` (checked by
``skilltroc docs --check``) in a source checkout, so that declaring an operation on its
area is all it takes to show it to hosts, typed as the area declares it.
"""

from __future__ import annotations

from pathlib import Path

from ..service.facade import AREAS
from ..service.registry import REGISTRY

__all__ = ["BEGIN", "END", "FACADE", "facade_lines", "refresh_facade"]

#: Where the facade is, from a project root.
FACADE = Path("src/skilltroc_core/service/facade.py")
BEGIN = "    # BEGIN operations: written by `skilltroc docs` from the declarations, not by hand\n"
END = "    # END operations\n"


def facade_lines() -> str:
    """The facade's operation lines: one per declaration, grouped by area in the order of
    :data:`~skilltroc_core.service.facade.AREAS`, each area's in the order it declares
    them."""
    out = []
    for area in AREAS:
        out.append(f"\n    # {area.__module__.rsplit('.', 1)[-1]}\n")
        out += [f"    {name} = via({area.__name__}.{name})\n"
                for name, declared in REGISTRY.items()
                if declared.function.__qualname__ == f"{area.__name__}.{name}"]
    return "".join(out)[1:]


def refresh_facade(root: Path, check: bool) -> bool:
    """Write the facade's operation lines under ``root`` (or with ``check`` only compare);
    True when they differed. False as well when ``root`` is not a source checkout.

    A facade whose marker lines were edited away stops the command (:class:`SystemExit`
    with what to restore): the lines cannot be placed without them.
    """
    path = root / FACADE
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"skilltroc docs: {FACADE} lost its marker lines; put back "
                         f"{BEGIN.strip()!r} and {END.strip()!r} around the operations")
    fresh = head + BEGIN + facade_lines() + END + tail
    if fresh == text:
        return False
    if not check:
        path.write_text(fresh, encoding="utf-8")
    return True
