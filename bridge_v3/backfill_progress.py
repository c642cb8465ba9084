"""What a user sees while ``--backfill`` runs: series done of all, bars, bars/s, time left.

On an interactive terminal a live progress bar (tqdm) on stderr, with log lines printed
above it; otherwise (a service, a pipe, a file) a plain INFO line at most every
``LOG_SECONDS``, so a log is not flooded and still shows that work goes on.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

logger = logging.getLogger("bridge_v3.backfill")

LOG_SECONDS = 10.0


def interactive(stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """True when both stdout and stderr are terminals: only then is a bar drawn."""
    streams = (stdout or sys.stdout, stderr or sys.stderr)
    return all(stream is not None and _isatty(stream) for stream in streams)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: not a terminal
        return False


class Progress:
    """Totals over every series. ``update`` after each chunk: which series (0-based), how
    much of its time span is loaded (0..1), and the bars fetched so far in all series."""

    def __init__(self, series: int, clock: Callable[[], float]) -> None:
        self.series = series
        self._clock = clock
        self._started = clock()
        self.done = 0.0  # series done, fractional
        self.bars = 0

    def update(self, index: int, fraction: float, bars: int) -> None:
        self.done = min(self.series, index + min(max(fraction, 0.0), 1.0))
        self.bars = bars
        self.show()

    def elapsed(self) -> float:
        return max(self._clock() - self._started, 1e-9)

    def rate(self) -> float:
        return self.bars / self.elapsed()

    def seconds_left(self) -> float | None:
        """Time left at the pace so far (None before anything is done)."""
        if self.done <= 0:
            return None
        return self.elapsed() * (self.series - self.done) / self.done

    def show(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """The last figures, whatever the interval."""


class LogProgress(Progress):
    """A plain INFO line at most every ``LOG_SECONDS`` (and none for no progress)."""

    def __init__(self, series: int, clock: Callable[[], float]) -> None:
        super().__init__(series, clock)
        self._last_line = self._clock()

    def show(self) -> None:
        if self._clock() - self._last_line >= LOG_SECONDS and self.done < self.series:
            self._last_line = self._clock()
            logger.info("Backfill progress: %s", self.line())

    def line(self) -> str:
        """``3.5/15 series, 245,000 bars, 150,000 bars/s, about 12 s left``."""
        left = self.seconds_left()
        return (
            f"{self.done:.1f}/{self.series} series, {self.bars:,} bars, {self.rate():,.0f} bars/s"
            + (f", about {left:.0f} s left" if left is not None else "")
        )


class BarProgress(Progress):
    """A tqdm bar over the series (fractions included, so time left moves smoothly)."""

    def __init__(self, series: int, clock: Callable[[], float], stream: TextIO) -> None:
        super().__init__(series, clock)
        self._bar = tqdm(
            total=series,
            file=stream,
            desc="Backfill",
            unit="series",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} series "
            "[{elapsed}<{remaining}]{postfix}",
            mininterval=0.25,
            dynamic_ncols=True,
        )

    def show(self) -> None:
        self._bar.set_postfix_str(f"{self.bars:,} bars, {self.rate():,.0f} bars/s", refresh=False)
        self._bar.update(self.done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


@contextmanager
def progress_for(series: int, clock: Callable[[], float]) -> Iterator[Progress]:
    """A bar on a terminal, log lines elsewhere; while the bar shows, console log lines
    are printed above it instead of through it."""
    if not interactive():
        yield LogProgress(series, clock)
        return
    bar = BarProgress(series, clock, sys.stderr)
    try:
        with _lines_above(bar):
            yield bar
    finally:
        bar.close()


@contextmanager
def _lines_above(bar: BarProgress) -> Iterator[None]:
    """Console handlers of the root logger write through ``tqdm.write`` meanwhile."""
    swapped = []
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # the console, not a file
            swapped.append((handler, handler.setStream(_AboveTheBar(handler.stream))))
    try:
        yield
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


class _AboveTheBar:
    """A stream whose lines tqdm prints above its bar."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        tqdm.write(text, file=self._stream, end="")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
