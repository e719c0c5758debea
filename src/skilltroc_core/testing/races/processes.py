"""Worker processes for the races: the service each one runs, starting and waiting.

A race hands its store factory to every worker it starts: the factory is pickled into
the worker's command line (``python -m skilltroc_core.testing.races PAYLOAD MODE
ARGS...``), with the parent's ``sys.path`` so the worker can import whatever the
factory needs. The worker runs one mode (:mod:`.__main__`) on a service over a store of
that factory, then closes the store.
"""

from __future__ import annotations

import base64
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import attrs

from ...adapters.clocks import ManualClock
from ...ports import Store
from ...rules import DEFAULT_POLICY
from ...service import Skilltroc
from .. import TEST_SECRET_KEY

__all__ = [
    "RACE_POLICY", "RACE_START", "StoreFactory", "load_factory", "race_service",
    "run_workers", "spawn",
]

#: A picklable callable with no argument returning a store on the race's database.
StoreFactory = Callable[[], Store]

#: The instant every process of a race starts at (each has its own manual clock).
RACE_START = datetime(2027, 3, 1, 8, tzinfo=UTC)
#: The default policy with the cheapest password hashing.
RACE_POLICY = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)

_TIMEOUT = 300  # seconds a worker may take
_WORKER = __name__.rpartition(".")[0]  # the package: its __main__ runs a worker


@contextmanager
def race_service(factory: StoreFactory) -> Iterator[Skilltroc]:
    """A service over a new store of ``factory``, its store closed on leaving."""
    app = Skilltroc(factory(), ManualClock(RACE_START), policy=RACE_POLICY,
                    secret_key=TEST_SECRET_KEY)
    try:
        yield app
    finally:
        app.store.close()


def _payload(factory: StoreFactory) -> str:
    try:
        pickled = pickle.dumps(factory)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(
            "a race's store factory must be picklable (a module-level function or class, "
            f"or a functools.partial of one), not {factory!r}: {exc}") from exc
    return base64.b64encode(pickle.dumps((sys.path, pickled))).decode("ascii")


def load_factory(payload: str) -> StoreFactory:
    """In a worker: the factory :func:`spawn` sent, after its parent's ``sys.path``."""
    path, pickled = pickle.loads(base64.b64decode(payload))
    sys.path.extend(entry for entry in path if entry not in sys.path)
    factory: StoreFactory = pickle.loads(pickled)
    return factory


def spawn(factory: StoreFactory, mode: str, *args: object, out: bool = False
          ) -> subprocess.Popen[str]:
    """A worker process running ``mode`` with ``args`` (its output piped if ``out``)."""
    return subprocess.Popen(
        [sys.executable, "-m", _WORKER, _payload(factory), mode, *map(str, args)],
        stdout=subprocess.PIPE if out else None, text=True)


def run_workers(factory: StoreFactory, mode: str, args: Iterable[Sequence[object]],
                *, out: bool = False) -> list[str]:
    """One worker of ``mode`` per item of ``args``, all at once; waits for all of them
    (each must succeed) and returns what each printed (empty unless ``out``)."""
    workers = [spawn(factory, mode, *each, out=out) for each in args]
    try:
        outputs = [worker.communicate(timeout=_TIMEOUT)[0] or "" for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [worker.returncode for worker in workers] == [0] * len(workers)
    return outputs
