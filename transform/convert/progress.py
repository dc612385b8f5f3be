"""One progress line on stderr: profiles done, profiles/s and time left, rewritten in place."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

MIN_INTERVAL_S = 1.0  # between two updates of the line


class Progress:
    """Counts converted profiles (from any thread) against the job's total.

    The rate counts only the profiles converted since this run started, so a resumed job shows
    its real speed; profiles done before count towards the total.
    """

    def __init__(self, total: int, *, done: int = 0, stream: TextIO | None = None) -> None:
        self.total, self.done, self.done_before = total, done, done
        self.stream = stream if stream is not None else sys.stderr
        self.started = self.shown_at = time.perf_counter()
        self.lock = threading.Lock()
        self.in_place = self.stream.isatty()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def rate(self) -> float:
        """Profiles per second converted by this run."""
        return (self.done - self.done_before) / max(self.seconds, 1e-9)

    def advance(self, profiles: int) -> None:
        with self.lock:
            self.done += profiles
            if time.perf_counter() - self.shown_at >= MIN_INTERVAL_S or self.done >= self.total:
                self._show()

    def note(self, message: str) -> None:
        """A line of its own (the progress line is written again below it)."""
        with self.lock:
            end = "\n" if self.in_place else ""
            print(f"{end}{message}", file=self.stream, flush=True)

    def finish(self) -> None:
        with self.lock:
            if self.in_place:
                print(file=self.stream, flush=True)

    def _show(self) -> None:
        self.shown_at = time.perf_counter()
        rate = self.rate
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        line = (
            f"convert: {self.done:,}/{self.total:,} profiles "
            f"({100 * self.done / max(self.total, 1):.1f}%), {rate:,.0f} profiles/s, "
            f"{_duration(left)} left"
        )
        print(
            f"\r{line:<90}" if self.in_place else line,
            end="" if self.in_place else "\n",
            file=self.stream,
            flush=True,
        )


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN: no rate yet
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
