"""TaskWorker: priorities, FIFO, no overlap, failures, timeouts, statistics and bounded stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from bridge_v3.config.constants import Priority
from bridge_v3.exceptions import CircuitOpenError, DatabaseUnavailableError
from bridge_v3.services.log_context import TaskContextFilter
from bridge_v3.workers.task_worker import QueueItem, Task, TaskWorker, WorkerStats

WAIT = 5.0  # upper bound for a wait that normally ends at once; reached only on a bug


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Gate:
    """A task that signals it started, then holds its thread until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.started.set()
        assert self.release.wait(WAIT), "gate never released"

    def wait_started(self) -> None:
        assert self.started.wait(WAIT), "gated task never started"


def wait_for(predicate: Callable[[], bool]) -> bool:
    """Poll ``predicate`` on short Event waits; True as soon as it holds."""
    pause = threading.Event()
    for _ in range(int(WAIT / 0.005)):
        if predicate():
            return True
        pause.wait(0.005)
    return predicate()


def recorder(log: list[str], name: str) -> Callable[[], None]:
    return lambda: log.append(name)


class Gates:
    """Builds gates and remembers them, so teardown can open every one."""

    def __init__(self) -> None:
        self.made: list[Gate] = []

    def __call__(self) -> Gate:
        self.made.append(Gate())
        return self.made[-1]

    def open_all(self) -> None:
        for gate in self.made:
            gate.release.set()


@pytest.fixture
def new_gate() -> Gates:
    return Gates()


@pytest.fixture
def workers(new_gate: Gates) -> Iterator[Callable[..., TaskWorker]]:
    """Builds started workers and stops every one of them afterwards (gates opened first)."""
    made: list[TaskWorker] = []

    def make(max_workers: int = 1, default_timeout: float = 30.0, **kwargs) -> TaskWorker:
        kwargs.setdefault("name", "test-worker")
        worker = TaskWorker(max_workers, default_timeout, **kwargs)
        worker.start()
        made.append(worker)
        return worker

    yield make
    new_gate.open_all()  # no thread may stay blocked after its test
    for worker in made:
        worker.stop(drain=False, timeout=1.0)


def stop_in_background(worker: TaskWorker, **kwargs) -> tuple[threading.Thread, list]:
    """Call ``worker.stop`` in a thread and return once stopping has begun."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(worker.stop(**kwargs)), name="stopper")
    thread.start()
    assert wait_for(lambda: not worker.accepting)
    return thread, result


# -- ordering ---------------------------------------------------------------------------------


def test_queue_items_order_by_priority_then_submission() -> None:
    task = Task("t", lambda: None, Priority.NORMAL)
    items = [QueueItem(2, 5, task), QueueItem(0, 9, task), QueueItem(2, 1, task)]

    assert [(i.priority, i.seq) for i in sorted(items)] == [(0, 9), (2, 1), (2, 5)]


def test_queued_tasks_run_most_urgent_first(new_gate, workers) -> None:
    worker = workers(max_workers=1)
    gate, ran = new_gate(), []
    worker.submit("gate", gate)
    gate.wait_started()
    for priority in (Priority.LOW, Priority.NORMAL, Priority.CRITICAL, Priority.HIGH):
        worker.submit(priority.name, recorder(ran, priority.name), priority)

    gate.release.set()
    worker.stop(drain=True, timeout=WAIT)

    assert ran == ["CRITICAL", "HIGH", "NORMAL", "LOW"]


def test_equal_priorities_run_in_submission_order(new_gate, workers) -> None:
    worker = workers(max_workers=1)
    gate, ran = new_gate(), []
    worker.submit("gate", gate)
    gate.wait_started()
    names = [f"job-{n}" for n in (3, 1, 4, 15, 9, 2, 6)]
    for name in names:
        worker.submit(name, recorder(ran, name), Priority.HIGH)

    gate.release.set()
    worker.stop(drain=True, timeout=WAIT)

    assert ran == names


def test_max_workers_run_tasks_side_by_side(workers) -> None:
    worker = workers(max_workers=2)
    # Each task waits for the other: this completes only if both run at the same time.
    barrier = threading.Barrier(2, timeout=WAIT)
    worker.submit("a", barrier.wait)
    worker.submit("b", barrier.wait)

    worker.stop(drain=True, timeout=WAIT)

    assert (worker.stats().completed, worker.stats().failed) == (2, 0)


def test_threads_are_named_after_the_worker(workers) -> None:
    workers(max_workers=2, name="pool")

    names = {thread.name for thread in threading.enumerate()}

    assert {"pool-1", "pool-2", "pool-monitor"} <= names


# -- no overlap -------------------------------------------------------------------------------


def test_a_running_job_is_not_run_again_and_is_counted_skipped(new_gate, workers) -> None:
    worker = workers(max_workers=2)
    gate = new_gate()
    assert worker.submit("sync", gate) is True
    gate.wait_started()

    assert worker.submit("sync", gate) is False

    assert worker.stats().skipped == 1
    assert worker.stats().active == 1


def test_a_queued_job_is_not_queued_twice(new_gate, workers) -> None:
    worker = workers(max_workers=1)
    gate, ran = new_gate(), []
    worker.submit("gate", gate)
    gate.wait_started()

    assert worker.submit("prices", recorder(ran, "first")) is True
    assert worker.submit("prices", recorder(ran, "second")) is False
    gate.release.set()
    worker.stop(drain=True, timeout=WAIT)

    assert ran == ["first"]
    assert worker.stats().skipped == 1


def test_a_name_is_free_again_once_its_run_has_ended(workers) -> None:
    worker = workers(max_workers=1)
    first_done = threading.Event()
    worker.submit("heartbeat", first_done.set)
    assert first_done.wait(WAIT)
    assert wait_for(lambda: worker.stats().completed == 1)

    assert worker.submit("heartbeat", lambda: None) is True


# -- failures ---------------------------------------------------------------------------------


def test_a_failing_task_is_logged_once_with_traceback_and_the_worker_goes_on(
    workers, caplog
) -> None:
    worker = workers(max_workers=1)
    ran: list[str] = []

    def broken() -> None:
        raise ValueError("terminal said no")

    with caplog.at_level(logging.ERROR, logger="bridge_v3.workers.task_worker"):
        worker.submit("account", broken)
        worker.submit("after", recorder(ran, "after"))
        worker.stop(drain=True, timeout=WAIT)

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "account" in errors[0].getMessage()
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is ValueError
    assert "terminal said no" in caplog.text  # the traceback text is in the log
    assert ran == ["after"]
    assert (worker.stats().failed, worker.stats().completed) == (1, 1)


# -- timeouts ---------------------------------------------------------------------------------


def test_a_task_past_its_timeout_is_reported_once_and_stays_busy(new_gate, workers, caplog) -> None:
    clock = FakeClock()
    worker = workers(max_workers=1, default_timeout=5.0, clock=clock, monitor_interval=3600)
    gate = new_gate()
    worker.submit("history", gate)
    gate.wait_started()

    clock.advance(4.0)
    assert worker.check_timeouts() == []
    clock.advance(2.0)
    with caplog.at_level(logging.WARNING, logger="bridge_v3.workers.task_worker"):
        assert worker.check_timeouts() == ["history"]
    clock.advance(60.0)
    assert worker.check_timeouts() == []

    assert worker.stats().timed_out == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "history" in warning.getMessage() and "6.0s" in warning.getMessage()
    assert worker.submit("history", gate) is False  # it has not returned, so no overlap


def test_a_timed_out_task_that_returns_frees_its_name(new_gate, workers) -> None:
    clock = FakeClock()
    worker = workers(max_workers=1, default_timeout=5.0, clock=clock, monitor_interval=3600)
    gate = new_gate()
    worker.submit("history", gate)
    gate.wait_started()
    clock.advance(10.0)
    worker.check_timeouts()

    gate.release.set()
    assert wait_for(lambda: worker.stats().active == 0)

    assert worker.submit("history", lambda: None) is True
    assert (worker.stats().timed_out, worker.stats().completed) == (1, 1)


def test_a_task_timeout_overrides_the_default(new_gate, workers) -> None:
    clock = FakeClock()
    worker = workers(max_workers=2, default_timeout=60.0, clock=clock, monitor_interval=3600)
    short, long_ = new_gate(), new_gate()
    worker.submit("short", short, timeout=1.0)
    worker.submit("long", long_)
    short.wait_started()
    long_.wait_started()

    clock.advance(2.0)

    assert worker.check_timeouts() == ["short"]


def test_the_monitor_thread_reports_timeouts_by_itself(new_gate, workers) -> None:
    clock = FakeClock()
    worker = workers(max_workers=1, default_timeout=5.0, clock=clock, monitor_interval=0.005)
    gate = new_gate()
    worker.submit("stuck", gate)
    gate.wait_started()

    clock.advance(30.0)

    assert wait_for(lambda: worker.stats().timed_out == 1)


# -- statistics -------------------------------------------------------------------------------


def test_stats_line_has_the_documented_format() -> None:
    stats = WorkerStats(active=2, queued=0, completed=145, failed=0, timed_out=0, skipped=3)

    assert stats.line() == (
        "Worker Stats - Active: 2, Queued: 0, Completed: 145, Failed: 0, Timed out: 0, Skipped: 3, Held: 0"
    )


def test_log_stats_reports_the_live_counters(new_gate, workers, caplog) -> None:
    worker = workers(max_workers=1)
    gate = new_gate()
    worker.submit("ok-1", lambda: None)
    worker.submit("ok-2", lambda: None)
    worker.submit("bad", lambda: 1 / 0)
    worker.submit("gate", gate)
    gate.wait_started()
    worker.submit("waiting", lambda: None)
    worker.submit("gate", gate)  # still running: skipped

    with caplog.at_level(logging.INFO, logger="bridge_v3.workers.task_worker"):
        worker.log_stats()

    assert caplog.records[-1].getMessage() == (
        "Worker Stats - Active: 1, Queued: 1, Completed: 2, Failed: 1, Timed out: 0, Skipped: 1, Held: 0"
    )


def test_log_stats_run_as_a_task_does_not_count_itself(new_gate, workers, caplog) -> None:
    worker = workers(max_workers=2)
    gate = new_gate()
    worker.submit("busy", gate)
    gate.wait_started()

    with caplog.at_level(logging.INFO, logger="bridge_v3.workers.task_worker"):
        worker.submit("worker-stats", worker.log_stats)
        assert wait_for(lambda: worker.stats().completed == 1)

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Worker Stats")]
    assert lines == [
        "Worker Stats - Active: 1, Queued: 0, Completed: 0, Failed: 0, Timed out: 0, Skipped: 0, Held: 0"
    ]


def test_a_dependency_outage_is_counted_without_a_log_line(workers, caplog) -> None:
    worker = workers(max_workers=1)

    def lost() -> None:
        raise DatabaseUnavailableError("PostgreSQL unreachable at test")

    with caplog.at_level(logging.INFO, logger="bridge_v3.workers.task_worker"):
        worker.submit("prices", lost)
        assert wait_for(lambda: worker.stats().failed == 1)
        worker.submit("other", lambda: 1 / 0)
        assert wait_for(lambda: worker.stats().failed == 2)

    # The tracker of the dependency told the operator; an unexpected error keeps its traceback.
    assert [(r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("Task other failed; the worker goes on", True)
    ]


def test_a_run_held_by_an_open_breaker_is_counted_held_not_failed(workers, caplog) -> None:
    worker = workers(max_workers=1)
    finished: list[tuple[str, str]] = []
    worker.listen(lambda name, seconds, outcome: finished.append((name, outcome)))

    def held() -> None:
        raise CircuitOpenError("PostgreSQL breaker open")

    with caplog.at_level(logging.INFO, logger="bridge_v3.workers.task_worker"):
        worker.submit("prices", held)
        worker.submit("account", lambda: None)
        assert wait_for(lambda: len(finished) == 2)

    stats = worker.stats()
    assert (stats.held, stats.failed, stats.completed) == (1, 0, 1)
    assert finished == [("prices", "held"), ("account", "completed")]
    assert caplog.records == []


def test_lines_logged_by_a_task_name_its_run(workers) -> None:
    worker = workers(max_workers=1)
    seen: list[tuple] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.getMessage(), record.task, record.run_id))

    handler = Keep()
    handler.addFilter(TaskContextFilter())
    log = logging.getLogger("bridge_v3.test.runs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        for _ in range(2):
            worker.submit("prices", lambda: log.info("one line"))
            assert wait_for(lambda: worker.stats().active == 0 and worker.stats().queued == 0)
        log.info("outside")
    finally:
        log.removeHandler(handler)

    assert [task for _, task, _ in seen] == ["prices", "prices", None]
    assert seen[0][2] != seen[1][2] and seen[0][2] and seen[2][2] is None


# -- stopping ---------------------------------------------------------------------------------


def test_stop_with_drain_runs_what_is_queued(new_gate, workers) -> None:
    worker = workers(max_workers=1)
    gate, ran = new_gate(), []
    worker.submit("gate", gate)
    gate.wait_started()
    for name in ("a", "b", "c"):
        worker.submit(name, recorder(ran, name))

    stopper, result = stop_in_background(worker, drain=True, timeout=WAIT)
    refused = worker.submit("late", recorder(ran, "late"))
    gate.release.set()
    stopper.join(WAIT)

    assert refused is False
    assert ran == ["a", "b", "c"]
    assert result == [[]]
    assert worker.stats().skipped == 0  # refusal while stopping is not overlap


def test_stop_without_drain_returns_the_dropped_names(new_gate, workers) -> None:
    worker = workers(max_workers=1)
    gate, ran = new_gate(), []
    worker.submit("gate", gate)
    gate.wait_started()
    for name in ("a", "b", "c"):
        worker.submit(name, recorder(ran, name))

    stopper, result = stop_in_background(worker, drain=False, timeout=WAIT)
    gate.release.set()
    stopper.join(WAIT)

    assert sorted(result[0]) == ["a", "b", "c"]
    assert ran == []
    assert worker.stats().queued == 0


def test_stop_is_bounded_when_a_task_is_stuck(new_gate, workers) -> None:
    worker = workers(max_workers=1, name="bounded")
    [thread] = [t for t in threading.enumerate() if t.name == "bounded-1"]
    stuck, ran = new_gate(), []
    worker.submit("stuck", stuck)
    stuck.wait_started()
    worker.submit("behind", recorder(ran, "behind"))

    unfinished = worker.stop(drain=True, timeout=0.05)

    assert unfinished == ["behind", "stuck"]
    stuck.release.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert ran == []  # the abandoned thread took nothing more once it was free


def test_stop_is_idempotent_and_refuses_new_work(workers) -> None:
    worker = workers(max_workers=1)
    worker.submit("a", lambda: None)

    first = worker.stop(drain=True, timeout=WAIT)
    second = worker.stop(drain=False, timeout=WAIT)

    assert (first, second) == ([], [])
    assert worker.submit("b", lambda: None) is False
    with pytest.raises(RuntimeError):
        worker.start()


def test_stop_before_start_returns_what_was_queued() -> None:
    worker = TaskWorker(1, 5.0, name="never-started")
    worker.submit("a", lambda: None)
    worker.submit("b", lambda: None, Priority.CRITICAL)

    assert worker.stop(drain=True, timeout=1.0) == ["b", "a"]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        TaskWorker(0, 5.0)
    with pytest.raises(ValueError):
        TaskWorker(1, 0)
    with pytest.raises(ValueError):
        TaskWorker(1, 5.0).submit("a", lambda: None, timeout=0)
