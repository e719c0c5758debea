"""Progress of a long run on a terminal: done, total, rate and time left, on one line.

Shown only when the stream is a terminal (a pipe, a file or CI gets nothing), at most a
few times a second, and cleared at the end. The standard library is enough for a line
of text; no dependency earns its place for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

__all__ = ["Progress", "shown"]

T = TypeVar("T")


class Progress:
    """A progress line for ``total`` items (None: unknown) of ``what``, on ``stream``."""

    def __init__(self, stream: TextIO, what: str, total: int | None, *,
                 every: float = 0.25) -> None:
        self.stream = stream
        self.what = what
        self.total = total
        self.every = every
        self.on = stream.isatty()
        self.started = self.last = time.monotonic()
        self.done = 0

    def step(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.on and now - self.last >= self.every:
            self.last = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()

    def line(self, now: float) -> str:
        """``12,000/50,000 steps  4,100/s  9 s left``."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.what}"
        text += f"  {rate:,.0f}/s"
        if self.total and rate > 0:
            text += f"  {max(self.total - self.done, 0) / rate:,.0f} s left"
        return text

    def close(self) -> None:
        if self.on and self.done:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def shown(items: Iterable[T], progress: Progress) -> Iterator[T]:
    """``items``, counting each one on ``progress`` (closed at the end)."""
    try:
        for item in items:
            yield item
            progress.step()
    finally:
        progress.close()
