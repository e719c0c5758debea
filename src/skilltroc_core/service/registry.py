"""The one declaration of every command and query a host calls.

Each public operation of the service is declared once, on its implementation::

    @command(actor=ORGANIZER, rules=("BOOK-14",))
    def refuse(self, member_id: str, registration_id: str) -> None: ...

The declaration says whether it changes state (a ``command``) or only reads it (a
``query``), who may call it (:data:`Actor`), the rule IDs it enforces, and, from the
signature, its typed parameters. The :data:`REGISTRY` built from these declarations is
what the rest derives from or is checked against: the facade
(:class:`~skilltroc_core.service.Skilltroc`), the generated docs (docs/commands.md),
and the harnesses (scenario runner, testing kit, simulator, fuzz and authorization
tables), which a test checks cover every registered command.

The decorator also wraps the implementation in what every public call goes through:
the text guard (:mod:`._text`) and the retry of a unit of work that met another one.
"""

from __future__ import annotations

import functools
import inspect
import random
import re
import time
import typing
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import attrs

from ..errors import ConcurrencyError
from ..logs import LOGGER
from ._text import check_text

if TYPE_CHECKING:
    from .context import Area

__all__ = [
    "ACTORS", "ANYONE", "HOST", "MEMBER", "ORGANIZER", "OWNER", "REGISTRY", "REQUESTER",
    "Actor", "Declaration", "Kind", "Parameter", "command", "declaration_of", "query",
]

F = TypeVar("F", bound=Callable[..., Any])


#: A command changes state (one writing unit of work); a query only reads (a read-only
#: unit of work: it can write nothing, see ``Store.begin(read_only=True)``).
Kind = Literal["command", "query"]
#: Who may call an operation:
#:
#: - ``member``: any active member, acting as themselves (their id comes first);
#: - ``organizer``: the organizer of the workshop, session or request named;
#: - ``requester``: the member who made the request named;
#: - ``owner``: the member the thing named belongs to (their tutorial, campaign, the
#:   gift waiting for them, their own account while deactivated);
#: - ``host``: the host application itself (serving ads, counting views, scheduling,
#:   delivering notices, checking the books), never on a member's word;
#: - ``anyone``: no actor is checked (sign-up, public reads, links carrying a token);
#:   a read about a member whose audience the host decides.
Actor = Literal["member", "organizer", "requester", "owner", "host", "anyone"]
MEMBER: Final = "member"
ORGANIZER: Final = "organizer"
REQUESTER: Final = "requester"
OWNER: Final = "owner"
HOST: Final = "host"
ANYONE: Final = "anyone"
ACTORS: Final[tuple[Actor, ...]] = (MEMBER, ORGANIZER, REQUESTER, OWNER, HOST, ANYONE)


@attrs.frozen
class Parameter:
    """One parameter of a declared operation, with its type as annotated."""

    name: str
    annotation: Any
    required: bool
    keyword_only: bool

    @property
    def type_text(self) -> str:
        """The annotation as a reader sees it (``str | None``, ``datetime``...)."""
        text = self.annotation if isinstance(self.annotation, str) else inspect.formatannotation(
            self.annotation)
        return re.sub(r"\b(?:[a-z_]+\.)+(?=[A-Za-z])", "", text)  # no module paths


@attrs.frozen
class Declaration:
    """What :func:`command` or :func:`query` declared of one operation."""

    name: str
    kind: Kind
    #: Who may call it (one role or more: either party of a request...).
    actors: tuple[Actor, ...]
    rules: tuple[str, ...]
    #: The implementation as written (unwrapped), and the area class it belongs to
    #: (its module's name: ``requests``, ``ads``...).
    function: Callable[..., Any] = attrs.field(repr=False)
    area: str

    @property
    def summary(self) -> str:
        """The first paragraph of the implementation's docstring, on one line."""
        return " ".join((inspect.getdoc(self.function) or "").split("\n\n", 1)[0].split())

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The parameters after ``self``, with their annotations resolved (read when
        asked: docs, harnesses and tests ask, commands never do)."""
        try:
            hints = typing.get_type_hints(self.function)
        except Exception:  # an annotation only a type checker resolves: keep its text
            hints = {}
        found = []
        for name, parameter in list(inspect.signature(self.function).parameters.items())[1:]:
            required = parameter.default is inspect.Parameter.empty
            found.append(Parameter(
                name=name, annotation=hints.get(name, parameter.annotation), required=required,
                keyword_only=parameter.kind is inspect.Parameter.KEYWORD_ONLY))
        return tuple(found)


#: Every declared operation by name, in declaration order (filled as the service's
#: modules are imported: ``import skilltroc_core.service`` fills it whole).
REGISTRY: dict[str, Declaration] = {}


def _declare(kind: Kind, actor: Actor | tuple[Actor, ...], rules: tuple[str, ...]
             ) -> Callable[[F], F]:
    actors = (actor,) if isinstance(actor, str) else tuple(actor)
    if not actors or not set(actors) <= set(ACTORS):
        raise TypeError(f"unknown actor {actor!r}: one or more of {ACTORS}")
    if isinstance(rules, str) or not all(isinstance(r, str) and "-" in r for r in rules):
        raise TypeError(f"rules are a tuple of rule IDs, not {rules!r}")

    def declare(function: F) -> F:
        name = function.__name__
        if name in REGISTRY:
            raise TypeError(f"{name} is declared twice ({REGISTRY[name].function.__qualname__} "
                            f"and {function.__qualname__})")
        REGISTRY[name] = Declaration(
            name=name, kind=kind, actors=actors, rules=rules, function=function,
            area=function.__module__.rsplit(".", 1)[-1])
        return typing.cast(F, _public(function))

    return declare


def command(*, actor: Actor | tuple[Actor, ...], rules: tuple[str, ...]) -> Callable[[F], F]:
    """Declare a command: it changes state in one unit of work (see the module)."""
    return _declare("command", actor, rules)


def query(*, actor: Actor | tuple[Actor, ...], rules: tuple[str, ...]) -> Callable[[F], F]:
    """Declare a query: it reads in a read-only unit of work (see the module)."""
    return _declare("query", actor, rules)


def declaration_of(function: Callable[..., Any]) -> Declaration | None:
    """The declaration of a public operation (as the facade or an area shows it)."""
    declared = REGISTRY.get(getattr(function, "__name__", ""))
    if declared is None:
        return None
    return declared if inspect.unwrap(function) is declared.function else None


#: Whether a public operation is running in this thread (or task): calls it makes are
#: not retried on their own, the outermost one is retried whole.
_IN_OPERATION: ContextVar[bool] = ContextVar("skilltroc_in_operation", default=False)


def _public(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a host calls it: text arguments checked (:func:`check_text`), then
    run, and run again whole, after a short random pause, when its unit of work met
    another one and nothing of it was written (a :class:`ConcurrencyError` with
    ``nothing_written``), up to the service's ``attempts``: a command applies once."""
    takes_arguments = len(inspect.signature(function).parameters) > 1

    @functools.wraps(function)
    def run(area: Area, *args: Any, **kwargs: Any) -> Any:
        if takes_arguments:
            check_text(function, args, kwargs)
        if _IN_OPERATION.get():
            return function(area, *args, **kwargs)
        token = _IN_OPERATION.set(True)
        try:
            attempt = 1
            while True:
                try:
                    return function(area, *args, **kwargs)
                except ConcurrencyError as exc:
                    context = area.context
                    if not exc.nothing_written or attempt >= context.attempts:
                        raise
                    context.retries += 1
                    LOGGER.info("%s met another unit of work (%s); running it again, "
                                "attempt %d of %d", function.__name__, exc.code, attempt + 1,
                                context.attempts)
                    # full jitter: units that met once rarely meet again at the same moment
                    time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** attempt)))
                    attempt += 1
        finally:
            _IN_OPERATION.reset(token)

    return run


def by_area() -> Mapping[str, list[Declaration]]:
    """The declarations grouped by area, each in declaration order."""
    grouped: dict[str, list[Declaration]] = {}
    for declared in REGISTRY.values():
        grouped.setdefault(declared.area, []).append(declared)
    return grouped
