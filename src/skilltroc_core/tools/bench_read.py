"""``skilltroc bench read``: the pages members read most, on SQLite, in a small and a big
world.

A catalogue page (upcoming sessions of one skill domain with a seat left), a search page
(workshops and tutorials holding every word) and a statement page, each read as the first
page and as a page in the middle reached through cursors, in a world of 10,000 and in one
of 1,000,000 sessions (statements of 1,000 and of 1,000,000 lines). A page is read through
an ordered index, so it should cost its size, not the world's: the time of a page in the
big world over the same page in the small one (``ratio_catalogue_1m_vs_10k``...) should
stay <= 2. Both worlds stay open and their pages are read in turns, round after round
(each read with the garbage collector paused), and each page's best time is kept: a
burst of load on a shared machine weighs on both worlds alike. Every page timed is first
checked, item by item, against what was written, and so is every page walked through to
reach the middle.

Building a world: the organizers and the member whose statement is read are made by
service commands; the statement lines go through the ledger on the store port, 50,000
to a unit of work; the workshops, the sessions (with their catalogue cards and end
timers) and the tutorials are written as the SQL store writes new entities
(:class:`BulkRows`), many rows to a statement. Through ``UnitOfWork.put`` a session and
its card take about 0.2 ms here (each row sent alone, the new entity's keys looked up
first): over three minutes for a million. ``tests/test_bench_read.py`` checks that the
rows written in bulk are the very rows the service writes.
"""

from __future__ import annotations

import functools
import gc
import json
import math
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

import attrs

from ..adapters._sql import (
    _ADD_ENTITY,
    _ORDER_KEY,
    _POST_KEY,
    _SET_SEQUENCE,
    _SET_TIMER,
    _position,
)
from ..adapters.codec import dumps
from ..adapters.sqlite import SQLiteStore
from ..booking import Mode, Session, Workshop
from ..instants import instant_text
from ..ledger import Ledger, TransferKind
from ..listings import (
    Page,
    SessionCard,
    TutorialCard,
    WorkshopCard,
    newest_first,
    sortable_instant,
    words,
)
from ..ports import EntityKind, Timer, ordered_key, position_of
from ..service import Skilltroc, kinds
from ..service.booking_steps import SESSION_END
from ..service.read_side import SESSION_CARDS, session_card
from ..service.tutorials import TUTORIALS, VIDEO_HISTORIES
from ..tutorials import Tutorial, VideoHistory, VideoKind, VideoSource
from .bench import _AT, _bench_app

__all__ = ["DOMAIN", "SEARCH", "BulkRows", "Catalogue", "Rows", "Sink", "bench_read", "label"]

_DOMAINS: Final = (
    "cooking", "gardening", "music", "languages", "woodwork", "sewing", "photography",
    "coding", "yoga", "painting", "pottery", "chess", "cycling", "baking", "knitting",
    "theatre", "dance", "drawing", "climbing", "writing",
)
_LEVELS: Final = ("beginners", "improvers", "experts", "everyone")
_CITIES: Final = ("Lyon", "Nantes", "Lille", "Rennes", "Dijon")
#: The domain whose upcoming sessions the catalogue page lists (a twentieth of them).
DOMAIN: Final = _DOMAINS[0]
#: What the search page looks for: the longer word, the one whose index is read, is in a
#: quarter of the titles; the other word in half of those.
SEARCH: Final = "guided beginners"
_SESSIONS_PER_WORKSHOP: Final = 10
_SESSIONS_PER_TUTORIAL: Final = 100
_ORGANIZERS: Final = 20
#: Sessions start from a day after now to this long after that.
_FIRST_START: Final = _AT + timedelta(days=1)
_SPAN: Final = timedelta(days=365)
#: Statement lines written in one unit of work.
_LINES_PER_UNIT: Final = 50_000
#: Every so many sessions written in bulk, their rows are checked against the store's.
_CHECK_EVERY: Final = 997


def label(n: int) -> str:
    """A size as the figures' names spell it: 1k, 10k, 1m (else the number)."""
    for size, suffix in ((1_000_000, "m"), (1_000, "k")):
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


class Sink(Protocol):
    """Where a world's entities and timers are written."""

    def put(self, kind: EntityKind[Any], entity_id: str, entity: object) -> None: ...

    def schedule(self, timer: Timer) -> None: ...


@attrs.frozen
class Catalogue:
    """The workshops, sessions and tutorials of a world of ``sessions`` sessions, each made
    from its number, the same every run: workshop ``k`` is of the domain ``k % 20``, for
    the level ``k // 20 % 4``, guided when ``k // 80`` is even; session ``j`` is the
    ``j``-th by start, of workshop ``j % workshops``, all planned and with every seat
    left, spread over a year from tomorrow."""

    sessions: int
    organizers: tuple[str, ...]

    @property
    def workshops(self) -> int:
        return max(1, self.sessions // _SESSIONS_PER_WORKSHOP)

    @property
    def tutorials(self) -> int:
        return max(1, self.sessions // _SESSIONS_PER_TUTORIAL)

    def _facts(self, k: int) -> tuple[str, str, str, str]:
        """Domain, level, guided or open, and organizer (publisher) of number ``k``."""
        return (_DOMAINS[k % len(_DOMAINS)],
                _LEVELS[k // len(_DOMAINS) % len(_LEVELS)],
                "Guided" if k // (len(_DOMAINS) * len(_LEVELS)) % 2 == 0 else "Open",
                self.organizers[k % len(self.organizers)])

    def workshop(self, k: int) -> Workshop:
        domain, level, how, organizer = self._facts(k)
        face = k % 3 == 0
        return Workshop(
            id=f"ws_bench_{k:07d}", organizer=organizer,
            title=f"{domain.capitalize()} for {level}", description=f"{how} practice, group {k}",
            domain=domain, cost=1 + k % 5, capacity=10, duration_minutes=120,
            mode=Mode.FACE_TO_FACE if face else Mode.ONLINE,
            locality=_CITIES[k % len(_CITIES)] if face else None,
            created_at=_AT - timedelta(minutes=self.workshops - k))

    def start(self, j: int) -> datetime:
        return _FIRST_START + _SPAN * j // self.sessions

    def session(self, j: int, workshop: Workshop) -> Session:
        start = self.start(j)
        return Session(id=_session_id(j), workshop=workshop.id, organizer=workshop.organizer,
                       start=start, end=start + workshop.duration, capacity=workshop.capacity)

    def card(self, j: int) -> SessionCard:
        """What the catalogue shows of session ``j``."""
        workshop = self.workshop(j % self.workshops)
        return session_card(self.session(j, workshop), workshop)

    def tutorial(self, k: int) -> tuple[Tutorial, VideoHistory]:
        domain, level, how, publisher = self._facts(k)
        source = VideoSource(kind=VideoKind.UPLOAD, ref=f"bench-video-{k}")
        history = VideoHistory(id=f"vh_bench_{k:06d}", publisher=publisher, video=source.key)
        return Tutorial(
            id=f"tuto_bench_{k:06d}", publisher=publisher,
            title=f"{domain.capitalize()} for {level}, {how.lower()} tour", domain=domain,
            source=source, history=history.id,
            published_at=_AT - timedelta(minutes=10 * (self.tutorials - k), seconds=30),
        ), history

    def _write_listed(self, sink: Sink) -> list[Workshop]:
        """Every workshop and tutorial (with its video's history); the workshops."""
        workshops = [self.workshop(k) for k in range(self.workshops)]
        for workshop in workshops:
            sink.put(kinds.WORKSHOPS, workshop.id, workshop)
        for k in range(self.tutorials):
            tutorial, history = self.tutorial(k)
            sink.put(VIDEO_HISTORIES, history.id, history)
            sink.put(TUTORIALS, tutorial.id, tutorial)
        return workshops

    def write(self, sink: Sink) -> None:
        """Every workshop, tutorial and session, as the service writes them: a session
        with its catalogue card and its end timer."""
        workshops = self._write_listed(sink)
        for j in range(self.sessions):
            workshop = workshops[j % len(workshops)]
            _put_session(sink, self.session(j, workshop), workshop)

    def write_bulk(self, rows: Rows) -> None:
        """:meth:`write` into ``rows``, each session's rows made from its workshop's
        first session's (:class:`_SessionRows`) and checked against those ``put`` makes
        every :data:`_CHECK_EVERY` sessions."""
        workshops = self._write_listed(rows)
        count = len(workshops)
        made: list[_SessionRows] = []
        for j in range(self.sessions):
            if j < count:  # the workshop's first session
                made.append(_SessionRows(self.session(j, workshops[j]), workshops[j]))
            elif j % _CHECK_EVERY == 0:
                made[j % count].check(self.session(j, workshops[j % count]),
                                      workshops[j % count])
            made[j % count].write(rows, _session_id(j), self.start(j))

    def in_domain(self, domain: str) -> list[int]:
        """The sessions of ``domain``, soonest first."""
        count = self.workshops
        return [j for j in range(self.sessions)
                if _DOMAINS[j % count % len(_DOMAINS)] == domain]

    def found(self, text: str) -> list[str]:
        """The ids of the workshops and tutorials holding every word of ``text``, newest
        first: the search's answer, worked out naively."""
        wanted = set(words(text))
        found = []
        for k in range(self.workshops):
            w = self.workshop(k)
            if wanted.issubset(words(w.title, w.description, w.domain, w.locality)):
                found.append((position_of(newest_first(w.created_at), w.id), w.id))
        for k in range(self.tutorials):
            t, _ = self.tutorial(k)
            if wanted.issubset(words(t.title, t.domain)):
                found.append((position_of(newest_first(t.published_at), t.id), t.id))
        return [entity_id for _, entity_id in sorted(found)]


def _session_id(j: int) -> str:
    return f"ses_bench_{j:07d}"


def _put_session(sink: Sink, session: Session, workshop: Workshop) -> None:
    """What planning ``session`` writes: it, its catalogue card, its end timer."""
    sink.put(kinds.SESSIONS, session.id, session)
    sink.put(SESSION_CARDS, session.id, session_card(session, workshop))
    sink.schedule(Timer(kind=SESSION_END, ref=session.id, due=session.end))


class Rows:
    """The rows a SQL store's units of work write for new entities and timers (its own
    statements and encoding, from :mod:`..adapters._sql`), gathered by table, without
    reading anything: the index postings and timers numbered on from ``numbers`` (the
    store's sequences), as the store numbers them."""

    def __init__(self, numbers: dict[str, int]) -> None:
        self.numbers = numbers
        self.entities: list[tuple[str, str, str]] = []
        self.postings: list[tuple[str, str, str, str, int]] = []
        self.positions: list[tuple[str, str, str, bytes, str]] = []
        self.timers: list[tuple[str, str, str, str, int]] = []
        self._ordered: dict[str, frozenset[int]] = {}

    def tables(self) -> tuple[tuple[str, list[Any]], ...]:
        """Each table's statement and its rows."""
        return ((_ADD_ENTITY, self.entities), (_POST_KEY, self.postings),
                (_ORDER_KEY, self.positions), (_SET_TIMER, self.timers))

    def _next(self, sequence: str) -> int:
        value = self.numbers[sequence] = self.numbers.get(sequence, 0) + 1
        return value

    def entity(self, kind: str, entity_id: str, text: str) -> None:
        """A new entity's row (its JSON ``text``)."""
        self.entities.append((kind, entity_id, text))

    def post(self, kind: str, index: str, key: str, entity_id: str) -> None:
        """An entity under ``key`` in a plain index."""
        self.postings.append((kind, index, key, entity_id, self._next("entity_key")))

    def order(self, kind: str, keys: Sequence[tuple[str, str]], sort: str,
              entity_id: str) -> None:
        """An entity at its sort text under each ``(ordered index, key)`` of ``keys``."""
        position = _position(sort, entity_id)
        self.positions.extend([(kind, index, key, position, entity_id) for index, key in keys])

    def timer(self, timer_id: str, kind: str, ref: str, due: str) -> None:
        """A timer's row (its due instant as stored)."""
        self.timers.append((timer_id, kind, ref, due, self._next("timer")))

    def put(self, kind: EntityKind[Any], entity_id: str, entity: object) -> None:
        name = kind.name
        ordered = self._ordered.get(name)
        if ordered is None:
            ordered = self._ordered[name] = kind.ordered
        for position, text in kind.keys_of(entity):
            index = kind.indexes[position].name
            if position in ordered:
                key, sort = ordered_key(text)
                self.order(name, ((index, key),), sort, entity_id)
            else:
                self.post(name, index, text, entity_id)
        self.entity(name, entity_id, dumps(entity))

    def schedule(self, timer: Timer) -> None:
        self.timer(timer.id, timer.kind, timer.ref, instant_text(timer.due))


class BulkRows(Rows):
    """:class:`Rows` written into a SQLite store's file: each table's rows sorted (its
    B-trees are then filled in order, twice as fast) and sent in one ``executemany``,
    about ``every`` rows to a transaction. The rows of a world far too big to build one
    ``put`` at a time: only for new entities whose unique keys are free, on a file no
    other connection has open (the journal is off meanwhile; ``close`` puts the file back
    in WAL mode)."""

    def __init__(self, path: str, every: int = 500_000) -> None:
        self.every = every
        self.conn = conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=OFF")  # a throwaway benchmark file
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # KiB: the B-trees being filled
        super().__init__(dict(conn.execute("SELECT name, value FROM sequences").fetchall()))

    def entity(self, kind: str, entity_id: str, text: str) -> None:
        super().entity(kind, entity_id, text)
        if len(self.entities) + len(self.positions) >= self.every:
            self.flush()

    def flush(self) -> None:
        """Write every row waiting, and the sequences, in one transaction."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        for sql, rows in self.tables():
            rows.sort()  # by primary key
            conn.executemany(sql, rows)
            rows.clear()
        conn.executemany(_SET_SEQUENCE, list(self.numbers.items()))
        conn.execute("COMMIT")

    def close(self) -> None:
        self.flush()
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.close()


class _SessionRows:
    """The rows of one workshop's sessions, made from its first session's: the JSON of
    the session and of its card with the id, start and end left blank, the session's
    plain index keys and its card's ordered ones (where a session stands in those is its
    start, then its id). Several times faster than encoding each session and card."""

    def __init__(self, model: Session, workshop: Workshop) -> None:
        card = session_card(model, workshop)
        values = (model.id, instant_text(model.start), instant_text(model.end))
        self.length = model.end - model.start
        self.session = _blanks(dumps(model), values)
        self.card = _blanks(dumps(card), values)
        self.postings = tuple((kinds.SESSIONS.indexes[position].name, key)
                              for position, key in kinds.SESSIONS.keys_of(model))
        self.keys = tuple((SESSION_CARDS.indexes[position].name, ordered_key(text)[0])
                          for position, text in SESSION_CARDS.keys_of(card))

    def write(self, rows: Rows, session_id: str, start: datetime) -> None:
        """What :func:`_put_session` writes for the session ``session_id`` at ``start``."""
        end = start + self.length
        values = (session_id, instant_text(start), instant_text(end))
        for index, key in self.postings:
            rows.post(kinds.SESSIONS.name, index, key, session_id)
        rows.entity(kinds.SESSIONS.name, session_id, self.session.format(*values))
        rows.order(SESSION_CARDS.name, self.keys, sortable_instant(start), session_id)
        rows.entity(SESSION_CARDS.name, session_id, self.card.format(*values))
        rows.timer(f"{SESSION_END}:{session_id}", SESSION_END, session_id, values[2])

    def check(self, session: Session, workshop: Workshop) -> None:
        """Raise unless :meth:`write` writes for ``session`` what ``put`` writes."""
        fast, put = Rows({}), Rows({})
        self.write(fast, session.id, session.start)
        _put_session(put, session, workshop)
        if fast.tables() != put.tables():
            raise RuntimeError(f"bench read: the rows of session {session.id} are not "
                               "those the store writes")


def _blanks(text: str, values: tuple[str, ...]) -> str:
    """``text`` (JSON) as a format string where each of ``values``, a JSON string in it,
    is the blank of its position."""
    blanked = text.replace("{", "{{").replace("}", "}}")
    for at, value in enumerate(values):
        blanked = blanked.replace(json.dumps(value), f'"{{{at}}}"')
    if blanked.format(*values) != text:
        raise RuntimeError(f"bench read: cannot make {text} from blanks")
    return blanked


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of new objects kept a while: collections would only rescan them."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _add_lines(store: SQLiteStore, member: str, start: int, total: int) -> None:
    """Purchases of one star through the ledger until ``member``'s statement holds
    ``total`` lines, line ``i`` with the reference ``bench-line-i``."""
    for first in range(start, total, _LINES_PER_UNIT):
        uow = store.begin()
        ledger = Ledger(uow.book)
        for i in range(first, min(first + _LINES_PER_UNIT, total)):
            ledger.issue(TransferKind.PURCHASE, member, 1, reference=f"bench-line-{i}", at=_AT)
        uow.commit()


@attrs.frozen
class _Listing:
    """A list read page by page: ``read(after, limit)``; what each item is compared by,
    and what the ``i``-th item should be; how many items it holds; the largest page."""

    name: str
    read: Callable[[str | None, int], Page[Any]]
    seen: Callable[[Any], object]
    expected: Callable[[int], object]
    count: int
    most: int


@attrs.frozen
class _World:
    """A world built, the lists read in it, and what building it took."""

    app: Skilltroc
    catalogue: Catalogue
    reader: str
    listings: tuple[_Listing, ...]
    build_s: float


def _searched(item: WorkshopCard | TutorialCard) -> object:
    if isinstance(item, WorkshopCard):
        return item.workshop.workshop_id, item.next_session
    return item.tutorial_id, None


def _build(folder: Path, sessions: int, lines: int) -> _World:
    """A world of ``sessions`` sessions whose reader has ``lines`` statement lines, and
    the lists read in it."""
    start = time.perf_counter()
    path = folder / f"read-{sessions}.db"
    store = SQLiteStore(path, synchronous="normal")
    app = _bench_app(store)
    organizers = tuple(
        app.signup(f"organizer{i}@example.org", provider="google",
                   display_name=f"Organizer {i}").member_id for i in range(_ORGANIZERS))
    reader = app.signup("reader@example.org", provider="google",
                        display_name="Reader").member_id
    first_lines = [line.reference for line in app.statement(reader).items]
    catalogue = Catalogue(sessions, organizers)
    with _gc_paused():
        _add_lines(store, reader, len(first_lines), lines)
    store.close()
    # The file is closed once the statements of its units' cursors are freed: the units
    # are reference cycles, freed by a collection.
    gc.collect()
    with _gc_paused():
        rows = BulkRows(str(path))
        catalogue.write_bulk(rows)
        rows.close()
    app = _bench_app(SQLiteStore(path, synchronous="normal"))
    app.check_invariants()
    build_s = time.perf_counter() - start

    in_domain = catalogue.in_domain(DOMAIN)
    found = catalogue.found(SEARCH)
    policy = app.policy

    def search_expected(i: int) -> object:
        entity_id = found[i]
        if entity_id.startswith("ws_"):
            k = int(entity_id.rsplit("_", 1)[1])
            return entity_id, catalogue.card(k)  # its next session: its first, j = k
        return entity_id, None

    listings = (
        _Listing("catalogue",
                 lambda after, limit: app.upcoming_sessions(
                     domain=DOMAIN, min_seats_left=1, after=after, limit=limit),
                 lambda card: card, lambda i: catalogue.card(in_domain[i]), len(in_domain),
                 policy.catalogue_page_limit),
        _Listing("search", lambda after, limit: app.search(SEARCH, after=after, limit=limit),
                 _searched, search_expected, len(found), policy.catalogue_page_limit),
        _Listing("statement",
                 lambda after, limit: app.statement(reader, after=after, limit=limit),
                 lambda line: line.reference,
                 lambda i: first_lines[i] if i < len(first_lines) else f"bench-line-{i}",
                 lines, policy.statement_page_limit),
    )
    return _World(app, catalogue, reader, listings, build_s)


def _checked(listing: _Listing, after: str | None, at: int, limit: int) -> Page[Any]:
    """The page of ``listing`` after ``after``, checked: it holds items ``at`` to
    ``at + limit`` (fewer at the end), and a cursor while more follow."""
    page = listing.read(after, limit)
    want = min(limit, listing.count - at)
    seen = [listing.seen(item) for item in page.items]
    expected = [listing.expected(at + i) for i in range(want)]
    if seen != expected or (page.next is None) != (at + want >= listing.count):
        raise RuntimeError(
            f"bench read: the {listing.name} page at item {at} is not what was written: "
            f"{seen[:3]}... where {expected[:3]}... were expected")
    return page


def _middle(listing: _Listing, page: int) -> tuple[str | None, int]:
    """The cursor of a page in the middle of ``listing``, reached from the first page
    through cursors (pages of up to ``listing.most`` items), and how many pages were
    read; each page read, the first and the middle one checked."""
    middle = listing.count // 2
    stride = min(listing.most, max(1, middle // 8))
    steps = middle // stride
    if steps * stride + page > listing.count:
        raise ValueError(f"bench read: {listing.count} items in the {listing.name} list "
                         f"are too few for a page of {page} in its middle")
    _checked(listing, None, 0, page)
    cursor = None
    for step in range(steps):
        cursor = _checked(listing, cursor, step * stride, stride).next
    _checked(listing, cursor, steps * stride, page)
    return cursor, steps + 2


def _best_times(reads: Sequence[Callable[[], object]], rounds: int) -> list[float]:
    """The best time (s) of each read over ``rounds`` rounds, each round making every
    read once in turn, the garbage collector paused."""
    best = [math.inf] * len(reads)
    with _gc_paused():
        for _ in range(rounds):
            for at, read in enumerate(reads):
                start = time.perf_counter()
                read()
                best[at] = min(best[at], time.perf_counter() - start)
    return best


#: The name of each list's ratio in the figures (the issue's names).
_RATIO: Final = {"catalogue": "catalogue", "search": "search", "statement": "statement_page"}


def bench_read(sizes: tuple[int, int] = (10_000, 1_000_000),
               lines: tuple[int, int] = (1_000, 1_000_000), *, page: int = 20,
               rounds: int = 40) -> dict[str, Any]:
    """Page times in a small and a big world (``sizes`` sessions; ``lines`` statement
    lines for the member read): the first page and a page in the middle of each list
    (``..._first_page_ms_``, ``..._further_page_ms_``, the slower of the two
    ``..._page_ms_``), each figure named by the size of its world (``_10k``, ``_1m``; a
    statement by its lines: ``_1k``), and the big world's time over the small one's."""
    started = time.perf_counter()
    results: dict[str, Any] = {"page_items": page, "rounds": rounds}
    timed: list[tuple[str, str, str | None, Callable[[str | None, int], Page[Any]]]] = []
    checked = 0
    with tempfile.TemporaryDirectory(prefix="skilltroc-read-") as folder:
        worlds: list[_World] = []
        try:
            for size, sessions, statement in zip(("small", "big"), sizes, lines, strict=True):
                world = _build(Path(folder), sessions, statement)
                worlds.append(world)
                results.update({
                    f"sessions_{size}": sessions, f"statement_lines_{size}": statement,
                    f"workshops_{size}": world.catalogue.workshops,
                    f"tutorials_{size}": world.catalogue.tutorials,
                    f"build_s_{size}": round(world.build_s, 1)})
                for listing in world.listings:
                    results[f"{listing.name}_items_{size}"] = listing.count
                    cursor, pages = _middle(listing, page)
                    checked += pages
                    at = label(statement if listing.name == "statement" else sessions)
                    timed += [(f"{listing.name}_first_page_ms_{at}", at, None, listing.read),
                              (f"{listing.name}_further_page_ms_{at}", at, cursor, listing.read)]
            best = _best_times([functools.partial(read, after, page)
                                for _, _, after, read in timed], rounds)
        finally:
            for world in worlds:
                world.app.store.close()
    for (figure, _, _, _), seconds in zip(timed, best, strict=True):
        results[figure] = round(seconds * 1000, 3)
    for name, ratio in _RATIO.items():
        slowest: dict[str, float] = {}
        for figure, at, _, _ in timed:
            if figure.startswith(f"{name}_"):
                slowest[at] = max(slowest.get(at, 0.0), results[figure])
        for at, ms in slowest.items():
            results[f"{name}_page_ms_{at}"] = ms
        (small, small_ms), (big, big_ms) = slowest.items()
        results[f"ratio_{ratio}_{big}_vs_{small}"] = round(big_ms / small_ms, 2)
    results["pages_checked"] = checked
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results
