"""A race's worker process: ``python -m skilltroc_core.testing.races PAYLOAD MODE ARGS...``.

The races start their workers this way (:func:`.processes.spawn`), never a person:
``PAYLOAD`` is the pickled store factory, ``MODE`` one of the worker functions below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .ad_goal import serve_pages
from .processes import load_factory, race_service
from .seats import answer_requests, request_seats
from .wallet import gift_and_buy, hold_open, purchases


def main(argv: list[str]) -> None:
    """Run the mode ``argv[1]`` on a service over a store of the factory ``argv[0]``."""
    payload, mode, *args = argv
    with race_service(load_factory(payload)) as app:
        if mode == "gift_and_buy":
            gift_and_buy(app, args[0], int(args[1]), int(args[2]))
        elif mode == "purchases":
            purchases(app, args[0], int(args[1]))
        elif mode == "hold_open":
            hold_open(app, args[0], float(args[1]))
        elif mode == "serve_pages":
            print(serve_pages(app, int(args[0]), int(args[1])), flush=True)
        elif mode == "request_seats":
            request_seats(app, args[0], int(args[1]), int(args[2]))
        elif mode == "answer_requests":
            print(json.dumps(answer_requests(app, args[0], Path(args[1]))), flush=True)
        else:
            raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
