"""What --backfill shows while it runs: a bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from bridge_v3 import backfill_progress
from bridge_v3.backfill_progress import BarProgress, LogProgress, interactive, progress_for


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("stdout", "stderr", "expected"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_a_bar_only_when_stdout_and_stderr_are_terminals(stdout, stderr, expected) -> None:
    assert interactive(Stream(stdout), Stream(stderr)) is expected


def test_a_closed_stream_is_not_a_terminal() -> None:
    closed = Stream(True)
    closed.close()
    closed.isatty = io.StringIO().isatty  # raises ValueError on a closed stream
    assert interactive(closed, Stream(True)) is False


def test_not_a_terminal_means_log_lines(monkeypatch) -> None:
    monkeypatch.setattr(backfill_progress, "interactive", lambda: False)
    with progress_for(3, Clock()) as progress:
        assert isinstance(progress, LogProgress)


def test_log_lines_at_most_every_interval_with_totals_and_time_left(caplog) -> None:
    clock = Clock()
    progress = LogProgress(4, clock)
    with caplog.at_level(logging.INFO, logger="bridge_v3.backfill"):
        clock.now += 1
        progress.update(0, 0.5, 10_000)  # too soon: no line
        clock.now += backfill_progress.LOG_SECONDS
        progress.update(1, 0.0, 50_000)  # 1 of 4 series after 11 s: 33 s left
        clock.now += 1
        progress.update(1, 0.5, 60_000)  # too soon again
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["Backfill progress: 1.0/4 series, 50,000 bars, 4,545 bars/s, about 33 s left"]


def test_no_progress_line_once_every_series_is_done(caplog) -> None:
    clock = Clock()
    progress = LogProgress(2, clock)
    with caplog.at_level(logging.INFO, logger="bridge_v3.backfill"):
        clock.now += 60
        progress.update(1, 1.0, 500)
    assert caplog.records == []


def test_the_bar_shows_series_bars_rate_and_time_left() -> None:
    clock = Clock()
    screen = Stream(True)
    progress = BarProgress(15, clock, screen)
    clock.now += 10
    progress.update(2, 0.5, 250_000)
    progress.close()
    last = screen.getvalue().split("\r")[-1]
    assert "2.5/15 series" in last
    assert "250,000 bars, 25,000 bars/s" in last
    assert " 17%|" in last


def test_log_lines_go_above_the_bar_while_it_shows(monkeypatch) -> None:
    console = Stream(True)
    handler = logging.StreamHandler(console)
    root = logging.getLogger()
    root.addHandler(handler)
    monkeypatch.setattr(backfill_progress, "interactive", lambda: True)
    monkeypatch.setattr(backfill_progress.sys, "stderr", console)
    try:
        with progress_for(2, Clock()) as progress:
            assert isinstance(progress, BarProgress)
            assert handler.stream is not console
            logging.getLogger("bridge_v3.test").warning("a line above the bar")
    finally:
        root.removeHandler(handler)
    assert handler.stream is console
    assert "a line above the bar\n" in console.getvalue()
