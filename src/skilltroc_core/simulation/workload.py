"""The simulator's workload: a seeded, replayable list of steps.

A :class:`Step` is a frozen record: a kind and a few raw random integers. It names no
id: the runner reads each integer as an index into what it knows at that moment (the
members, the pending requests, the sessions not started...), so a step list recorded
from one run replays exactly, and a step list with steps removed (shrinking) still
replays meaningfully: the remaining steps pick among what exists then.

Everything comes from ``random.Random(seed)``: the kinds (weighted), their integers,
and, with faults, the injected store failure and the duplicate delivery of each step.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

__all__ = ["KINDS", "Step", "generate", "step_from_json", "step_to_json"]

#: Step kinds and their weights (how often each is drawn).
KINDS: Mapping[str, float] = {
    # members
    "signup": 5.0,
    "signup_pro": 1.5,
    "signup_password": 0.8,
    "confirm_email": 0.8,
    "complete_profile": 1.5,
    "buy": 2.5,
    "deactivate": 0.5,
    "reactivate": 0.4,
    # workshops and sessions
    "create_workshop": 2.5,
    "delete_workshop": 0.3,
    "plan_session": 4.0,
    "move_session": 0.8,
    "set_capacity": 0.8,
    "cancel_session": 0.5,
    # requests and answers
    "request": 10.0,
    "request_future": 3.0,
    "accept": 7.0,
    "accept_future": 2.0,
    "refuse": 1.5,
    "cancel_request": 1.2,
    "unregister": 1.0,
    "cancel_transaction": 0.8,
    "join": 3.0,
    "leave_waitlist": 0.8,
    # after the session
    "confirm_held": 3.0,
    "confirm_not_held": 0.8,
    "confirm_attendance": 2.0,
    "declare_absent": 0.7,
    "evaluate": 2.0,
    # gifts
    "gift": 1.5,
    "gift_outsider": 0.4,
    "accept_gift": 1.5,
    # tutorials
    "publish_tutorial": 0.8,
    "delete_tutorial": 0.15,
    "view": 6.0,
    # campaigns
    "create_campaign": 0.8,
    "edit_campaign": 0.4,
    "serve": 5.0,
    # time
    "advance": 2.5,
    "run_due": 2.5,
    # refused on purpose
    "invalid": 4.0,
}

_NAMES = tuple(KINDS)
_CUMULATIVE = tuple(itertools.accumulate(KINDS.values()))
_ARGS = 4  # raw integers per step
_FAULT_SHARE = 0.06  # steps whose unit of work meets a store failure (with faults)
_TWICE_SHARE = 0.08  # steps delivered twice with their idempotency key (with faults)
_MAX_FAULT_CALL = 30  # the failure hits one of the first store calls of the unit of work


@attrs.frozen
class Step:
    """One thing the simulator does: a kind and raw integers the runner interprets.

    ``fault`` > 0 makes the ``fault``-th store call inside the step's first unit of work
    fail; ``twice`` delivers the step's command a second time with the same idempotency
    key (purchases, gifts, campaigns, views, page views).
    """

    kind: str
    args: tuple[int, ...]
    fault: int = 0
    twice: bool = False


def generate(seed: int, *, faults: bool = False) -> Iterator[Step]:
    """An endless, deterministic stream of steps for ``seed``."""
    rng = random.Random(seed)
    total = _CUMULATIVE[-1]
    bits = rng.getrandbits
    pick = bisect.bisect_right
    while True:
        kind = _NAMES[min(pick(_CUMULATIVE, rng.random() * total), len(_NAMES) - 1)]
        args = (bits(30), bits(30), bits(30), bits(30))
        fault = 0
        twice = False
        if faults:
            if rng.random() < _FAULT_SHARE:
                fault = rng.randint(1, _MAX_FAULT_CALL)
            twice = rng.random() < _TWICE_SHARE
        yield Step(kind, args, fault, twice)


def step_to_json(step: Step) -> dict[str, Any]:
    """A step as JSON-able data (the replay file's format)."""
    data: dict[str, Any] = {"kind": step.kind, "args": list(step.args)}
    if step.fault:
        data["fault"] = step.fault
    if step.twice:
        data["twice"] = True
    return data


def step_from_json(data: Any) -> Step:
    """A step back from :func:`step_to_json`'s data; ``ValueError`` if it is not one."""
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise ValueError(f"not a simulator step: {data!r}")
    args = data.get("args")
    if not isinstance(args, list) or len(args) != _ARGS or not all(
        type(a) is int and a >= 0 for a in args
    ):
        raise ValueError(f"a step has {_ARGS} non-negative integer args: {data!r}")
    fault = data.get("fault", 0)
    twice = data.get("twice", False)
    if type(fault) is not int or fault < 0 or not isinstance(twice, bool):
        raise ValueError(f"bad fault or twice in step {data!r}")
    return Step(str(data["kind"]), tuple(args), fault, twice)
