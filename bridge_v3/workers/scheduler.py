"""Periodic jobs, timed by a monotonic clock, that only enqueue into the TaskWorker."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import schedule

from bridge_v3.config.constants import Priority

logger = logging.getLogger(__name__)


class Submitter(Protocol):
    """What the scheduler needs from the worker (``TaskWorker`` satisfies it)."""

    def submit(
        self, name: str, func: Callable[[], object], priority: Priority, timeout: float | None
    ) -> bool: ...


@dataclass(frozen=True, repr=False)
class _JobSpec:
    name: str
    func: Callable[[], object]
    every: float
    priority: Priority
    timeout: float | None

    def __repr__(self) -> str:  # shown in ``schedule``'s debug lines
        return self.name


class _ClockJob(schedule.Job):
    """A ``schedule`` job timed by the scheduler's clock instead of ``datetime.now()``.

    ``schedule`` compares naive local wall-clock times, so a DST change or a clock correction
    would stall every job for up to an hour, or fire them in a burst. Here "now" is a wall
    time taken once plus the monotonic seconds elapsed since: it reads sensibly in reprs,
    never jumps, and a test drives it with a fake clock. Only interval jobs in seconds are
    built, so the next run is simply now + interval (late polls drift; missed runs are not
    replayed, as in ``schedule`` itself).
    """

    def __init__(
        self,
        every: float,
        scheduler: schedule.Scheduler,
        now: Callable[[], datetime.datetime],
    ) -> None:
        super().__init__(every, scheduler)  # type: ignore[arg-type]  # float seconds work
        self.unit = "seconds"
        self._now = now

    @property
    def should_run(self) -> bool:
        return self.next_run is not None and self._now() >= self.next_run

    def _schedule_next_run(self) -> None:
        self.next_run = self._now() + datetime.timedelta(seconds=self.interval)


class Scheduler:
    """Enqueues named jobs into the worker at fixed intervals, from its own thread.

    Jobs never run here: each due job is only ``worker.submit``-ed, so a slow job delays
    nothing but itself, and a run still queued or running is skipped by the worker.
    """

    def __init__(
        self,
        worker: Submitter,
        *,
        poll_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        name: str = "scheduler",
    ) -> None:
        if poll_seconds <= 0:
            raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
        self._worker = worker
        self._poll = poll_seconds
        self._clock = clock
        self._name = name
        self._schedule = schedule.Scheduler()
        self._specs: dict[str, _JobSpec] = {}
        self._lock = threading.Lock()  # the schedule's job list is shared with the thread
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._wall_anchor = datetime.datetime.now()
        self._clock_anchor = clock()
        self.last_pass: float | None = None  # clock time of the thread's last pass

    def _now(self) -> datetime.datetime:
        return self._wall_anchor + datetime.timedelta(seconds=self._clock() - self._clock_anchor)

    def add_job(
        self,
        name: str,
        func: Callable[[], object],
        every: float,
        priority: Priority,
        timeout: float | None = None,
    ) -> None:
        """Enqueue ``func`` as task ``name`` every ``every`` seconds, first ``every`` from now."""
        if every <= 0:
            raise ValueError(f"job {name!r}: interval must be positive seconds, got {every}")
        spec = _JobSpec(name, func, float(every), Priority(priority), timeout)
        with self._lock:
            if name in self._specs:
                raise ValueError(f"a job named {name!r} is already scheduled")
            self._specs[name] = spec
            _ClockJob(spec.every, self._schedule, self._now).do(self._enqueue, spec)
        logger.info("Job %s scheduled every %gs at priority %s", name, every, spec.priority.name)

    def _enqueue(self, spec: _JobSpec) -> None:
        self._worker.submit(spec.name, spec.func, spec.priority, spec.timeout)

    def jobs(self) -> list[tuple[str, float, Priority]]:
        """(name, interval seconds, priority) of every job, in the order they were added."""
        with self._lock:
            return [(s.name, s.every, s.priority) for s in self._specs.values()]

    def run_pending(self) -> None:
        """Enqueue every job that is due by the clock; the thread calls this every poll."""
        with self._lock:
            self._schedule.run_pending()

    def run_all(self) -> None:
        """Enqueue every job once now (start-up, ``--once``); each next run is then due one
        interval later."""
        with self._lock:
            self._schedule.run_all()

    def start(self) -> None:
        """Start the scheduler thread; a second call does nothing."""
        with self._lock:
            if self._stop_event.is_set():
                raise RuntimeError(f"{self._name} was stopped; build a new Scheduler")
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()
        logger.info(
            "%s started: %d jobs, polling every %gs", self._name, len(self._specs), self._poll
        )

    def _loop(self) -> None:
        while not self._stop_event.wait(self._poll):
            self.last_pass = self._clock()
            try:
                self.run_pending()
            except Exception:
                # The edge of the loop: a failed pass must not end scheduling.
                logger.exception("%s pass failed; trying again in %gs", self._name, self._poll)

    def alive(self, within: float) -> bool:
        """The thread runs and made a pass in the last ``within`` seconds (liveness)."""
        thread, last = self._thread, self.last_pass
        if thread is None or not thread.is_alive() or last is None:
            return False
        return self._clock() - last <= within

    def stop(self, timeout: float = 5.0) -> None:
        """Stop enqueueing; returns at once after the current pass (bounded by ``timeout``)."""
        self._stop_event.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("%s did not stop within %gs", self._name, timeout)
        else:
            logger.info("%s stopped", self._name)
