"""A fixed pool of named threads that runs tasks by priority, one run per job name at a time."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bridge_v3.config.constants import Priority
from bridge_v3.exceptions import CircuitOpenError, UnavailableError
from bridge_v3.services.log_context import task_run

logger = logging.getLogger(__name__)

# Stop markers sort after every real priority, so a draining thread runs all real work first.
_STOP_PRIORITY = max(Priority) + 1
# An idle thread normally wakes on a stop marker; this is only the fallback re-check of `halt`.
_IDLE_WAIT = 1.0


@dataclass(frozen=True)
class Task:
    """One unit of work. ``timeout`` None means the worker's default timeout (seconds)."""

    name: str
    func: Callable[[], object]
    priority: Priority
    timeout: float | None = None


@dataclass(frozen=True, order=True)
class QueueItem:
    """Queue entry ordered by (priority, seq): ``seq`` keeps equal priorities first-in-first-out."""

    priority: int
    seq: int
    task: Task = field(compare=False)


@dataclass(frozen=True)
class WorkerStats:
    """A snapshot of the worker's counters (completed/failed/timed_out/skipped/held are
    totals). ``held``: runs that did not start work because a dependency they need has its
    circuit breaker open."""

    active: int
    queued: int
    completed: int
    failed: int
    timed_out: int
    skipped: int
    held: int = 0

    def line(self) -> str:
        """The operator's one-line summary, as logged by ``TaskWorker.log_stats``."""
        return (
            f"Worker Stats - Active: {self.active}, Queued: {self.queued}, "
            f"Completed: {self.completed}, Failed: {self.failed}, "
            f"Timed out: {self.timed_out}, Skipped: {self.skipped}, Held: {self.held}"
        )


_STOP = Task("<stop>", lambda: None, Priority.LOW)


@dataclass
class _Run:
    """A task in progress: when it started, its time limit, and whether an overrun was reported."""

    task: Task
    started: float
    limit: float
    thread: str = ""
    reported: bool = False


class TaskWorker:
    """Runs submitted tasks on ``max_workers`` named threads, most urgent first.

    Contract:
    - a lower ``Priority`` runs first; equal priorities run in submission order; a task leaves
      the queue only when a thread is free to run it, so a late CRITICAL task still overtakes
      everything queued;
    - a name that is queued or running is refused: ``submit`` returns False, ``skipped`` += 1;
    - a task that raises is logged once with its traceback and counted in ``failed``; one
      that raises ``UnavailableError`` (a dependency down, already told) is only counted in
      ``failed``, and one that raises ``CircuitOpenError`` (a breaker open: nothing was
      called) only in ``held``;
    - every line logged during a run carries the task's name and a run id (``log_context``);
    - ``listen(callback)`` is told of every finished run: ``(name, seconds, outcome)`` with
      outcome ``completed``, ``failed`` or ``held``;
    - a task running past its timeout is reported once and counted in ``timed_out``. Python
      cannot kill a thread, so its name stays busy until it really returns, and it is then
      also counted in ``completed`` or ``failed``;
    - threads are daemons: a task stuck in a foreign call cannot keep the process alive once
      ``stop`` has given up on it.
    """

    def __init__(
        self,
        max_workers: int,
        default_timeout: float,
        *,
        name: str = "worker",
        clock: Callable[[], float] = time.monotonic,
        monitor_interval: float = 1.0,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        if default_timeout <= 0 or monitor_interval <= 0:
            raise ValueError("default_timeout and monitor_interval must be positive seconds")
        self._max_workers = max_workers
        self._default_timeout = default_timeout
        self._name = name
        self._clock = clock
        self._monitor_interval = monitor_interval
        self._queue: queue.PriorityQueue[QueueItem] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._lock = threading.Lock()  # guards everything below
        self._stop_lock = threading.Lock()  # serialises concurrent stop() calls
        self._queued: set[str] = set()
        self._running: dict[str, _Run] = {}
        self._dropped: list[str] = []
        self._completed = self._failed = self._timed_out = self._skipped = self._held = 0
        self._listeners: list[Callable[[str, float, str], None]] = []
        self._accepting = True
        self._stopped = False
        self._halt = threading.Event()  # threads take no further task once set
        self._monitor_stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads and the timeout monitor; a second call does nothing."""
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"{self._name} was stopped; build a new TaskWorker")
            if self._threads:
                return
            for index in range(self._max_workers):
                self._threads.append(self._spawn(f"{self._name}-{index + 1}", self._work))
            self._threads.append(self._spawn(f"{self._name}-monitor", self._watch))
        logger.info("%s started with %d threads", self._name, self._max_workers)

    @staticmethod
    def _spawn(name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    @property
    def accepting(self) -> bool:
        """True until ``stop`` begins; afterwards every ``submit`` is refused."""
        with self._lock:
            return self._accepting

    def stop(self, *, drain: bool = True, timeout: float = 10.0) -> list[str]:
        """Stop within about ``timeout`` real seconds; return the names not run or not finished.

        New submissions are refused at once. ``drain=True`` lets the threads run what is
        queued until the deadline; ``drain=False`` drops the queue now. Whatever is still queued
        at the deadline is dropped; tasks still running then are abandoned to their daemon
        threads. The result lists dropped names (queue order) then unfinished ones. Later
        calls return only the names still running.
        """
        with self._stop_lock:
            if not self._begin_stop(drain):
                return self._names_running()
            deadline = time.monotonic() + timeout
            if not drain:
                self._take_queued()
            self._wake_threads()
            self._join(self._threads[: self._max_workers], deadline)
            self._halt.set()
            self._take_queued()
            self._monitor_stop.set()
            self._join(self._threads[self._max_workers :], time.monotonic() + 1.0)
            return self._report_stop()

    def _begin_stop(self, drain: bool) -> bool:
        """Refuse new work; False when stop already ran. Halting here, under the same lock,
        means no task can start once a caller has seen ``accepting`` turn False."""
        with self._lock:
            if self._stopped:
                return False
            self._stopped = True
            self._accepting = False
            if not drain:
                self._halt.set()
        logger.info("%s stopping (%s the queue)", self._name, "draining" if drain else "dropping")
        return True

    def _wake_threads(self) -> None:
        for _ in self._threads[: self._max_workers]:
            self._queue.put(QueueItem(_STOP_PRIORITY, next(self._seq), _STOP))

    @staticmethod
    def _join(threads: Iterable[threading.Thread], deadline: float) -> None:
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _take_queued(self) -> None:
        """Empty the queue, recording every real task in it as dropped."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item.task is not _STOP:
                self._drop(item.task)

    def _drop(self, task: Task) -> None:
        with self._lock:
            self._queued.discard(task.name)
            self._dropped.append(task.name)

    def _names_running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def _report_stop(self) -> list[str]:
        with self._lock:
            dropped, running = list(self._dropped), list(self._running)
        if dropped:
            logger.warning("%s stopped; not run: %s", self._name, ", ".join(dropped))
        if running:
            logger.warning(
                "%s stopped; still running and abandoned: %s", self._name, ", ".join(running)
            )
        if not dropped and not running:
            logger.info("%s stopped; all work finished", self._name)
        return dropped + running

    # -- submitting --------------------------------------------------------------------------

    def submit(
        self,
        name: str,
        func: Callable[[], object],
        priority: Priority = Priority.NORMAL,
        timeout: float | None = None,
    ) -> bool:
        """Queue ``func`` under ``name``; False if that name is queued or running, or if stopping.

        A refusal because the name is busy counts in ``skipped``; one because ``stop`` began
        does not (it is shutdown, not overlap).
        """
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout of task {name!r} must be positive seconds, got {timeout}")
        task = Task(name, func, Priority(priority), timeout)
        with self._lock:
            if not self._accepting:
                logger.debug("%s is stopping; task %s not accepted", self._name, name)
                return False
            if name in self._queued or name in self._running:
                self._skipped += 1
                logger.debug("Task %s is still queued or running; this run is skipped", name)
                return False
            self._queued.add(name)
            self._queue.put(QueueItem(int(task.priority), next(self._seq), task))
        return True

    # -- running -----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._halt.is_set():
            try:
                item = self._queue.get(timeout=_IDLE_WAIT)
            except queue.Empty:
                continue
            if item.task is _STOP:
                return
            if self._halt.is_set():
                self._drop(item.task)
                return
            self._execute(item.task)

    def _execute(self, task: Task) -> None:
        limit = task.timeout if task.timeout is not None else self._default_timeout
        with self._lock:
            self._queued.discard(task.name)
            self._running[task.name] = _Run(
                task, self._clock(), limit, threading.current_thread().name
            )
        started = time.perf_counter()
        with task_run(task.name):
            outcome = self._call(task)
        seconds = time.perf_counter() - started
        with self._lock:
            run = self._running.pop(task.name)
            if outcome == "completed":
                self._completed += 1
            elif outcome == "held":
                self._held += 1
            else:
                self._failed += 1
        if run.reported:
            age = self._clock() - run.started
            logger.info("Task %s returned after %.1fs (timeout %.1fs)", task.name, age, limit)
        self._tell(task.name, seconds, outcome)

    @staticmethod
    def _call(task: Task) -> str:
        try:
            task.func()
        except CircuitOpenError as error:
            logger.debug("Task %s held: %s", task.name, error)
            return "held"
        except UnavailableError as error:
            # A dependency is down and its tracker has said so once: count, nothing more.
            logger.debug("Task %s failed: %s", task.name, error)
            return "failed"
        except Exception:
            # The edge of the worker loop: one task's failure must not stop the others.
            logger.exception("Task %s failed; the worker goes on", task.name)
            return "failed"
        return "completed"

    def listen(self, callback: Callable[[str, float, str], None]) -> None:
        """Call ``callback(name, seconds, outcome)`` after every run (metrics)."""
        self._listeners.append(callback)

    def _tell(self, name: str, seconds: float, outcome: str) -> None:
        for callback in self._listeners:
            try:
                callback(name, seconds, outcome)
            except Exception:  # a listener must never cost the worker its thread
                logger.exception("Run listener failed for task %s", name)

    # -- timeouts ----------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._monitor_stop.wait(self._monitor_interval):
            self.check_timeouts()

    def check_timeouts(self) -> list[str]:
        """Report, once each, tasks running past their timeout; return the names reported now.

        The monitor thread calls this every ``monitor_interval`` seconds.
        """
        now = self._clock()
        late: list[tuple[str, float, float]] = []
        with self._lock:
            for run in self._running.values():
                age = now - run.started
                if not run.reported and age > run.limit:
                    run.reported = True
                    self._timed_out += 1
                    late.append((run.task.name, age, run.limit))
        for name, age, limit in late:
            logger.warning(
                "Task %s has run %.1fs, past its %.1fs timeout; it cannot be interrupted, "
                "so new runs of it are skipped until it returns",
                name,
                age,
                limit,
            )
        return [name for name, _, _ in late]

    # -- statistics --------------------------------------------------------------------------

    def stats(self, *, excluding_thread: str | None = None) -> WorkerStats:
        """A consistent snapshot of the counters. ``excluding_thread``: leave out the task
        that thread runs (the task asking, which would otherwise count itself as active)."""
        with self._lock:
            others = [r for r in self._running.values() if r.thread != excluding_thread]
            return WorkerStats(
                active=len(others),
                queued=len(self._queued),
                completed=self._completed,
                failed=self._failed,
                timed_out=self._timed_out,
                skipped=self._skipped,
                held=self._held,
            )

    def health(self) -> dict:
        """Liveness: how many threads run (of how many), and how many are held by a task
        past its timeout. ``alive`` is False when a thread died or every thread is stuck."""
        with self._lock:
            threads = self._threads[: self._max_workers]
            stuck = sum(1 for run in self._running.values() if run.reported)
        running = sum(1 for thread in threads if thread.is_alive())
        alive = bool(threads) and running == self._max_workers and stuck < self._max_workers
        return {"alive": alive, "threads": running, "of": self._max_workers, "stuck": stuck}

    def log_stats(self) -> None:
        """Log the one-line summary at INFO (the daemon's job calls this every minute). Run
        as a task itself, it does not count itself as active."""
        logger.info(self.stats(excluding_thread=threading.current_thread().name).line())
