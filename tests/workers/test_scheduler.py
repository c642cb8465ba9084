"""Scheduler: due jobs enqueue at their interval on an injected clock, and only enqueue."""

from __future__ import annotations

import threading

import pytest

from bridge_v3.config.constants import Priority
from bridge_v3.workers.scheduler import Scheduler
from bridge_v3.workers.task_worker import TaskWorker

WAIT = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingWorker:
    """Stands in for the TaskWorker's submit and records what was enqueued."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, Priority, float | None]] = []
        self.first = threading.Event()

    def submit(self, name, func, priority, timeout) -> bool:
        self.submitted.append((name, priority, timeout))
        self.first.set()
        return True

    def names(self) -> list[str]:
        return [name for name, _, _ in self.submitted]


def noop() -> None:
    """A job body; the scheduler must never call it itself."""


def count_over(scheduler: Scheduler, clock: FakeClock, seconds: int, step: float = 1.0) -> None:
    for _ in range(int(seconds / step)):
        clock.advance(step)
        scheduler.run_pending()


def test_a_job_is_enqueued_once_its_interval_has_passed() -> None:
    clock, worker = FakeClock(), RecordingWorker()
    scheduler = Scheduler(worker, clock=clock)
    scheduler.add_job("prices", noop, every=10, priority=Priority.NORMAL, timeout=7.5)

    scheduler.run_pending()
    clock.advance(9.9)
    scheduler.run_pending()
    assert worker.submitted == []

    clock.advance(0.1)
    scheduler.run_pending()
    assert worker.submitted == [("prices", Priority.NORMAL, 7.5)]

    clock.advance(10)
    scheduler.run_pending()
    assert worker.names() == ["prices", "prices"]


def test_each_job_keeps_its_own_interval() -> None:
    clock, worker = FakeClock(), RecordingWorker()
    scheduler = Scheduler(worker, clock=clock)
    scheduler.add_job("fast", noop, every=10, priority=Priority.NORMAL)
    scheduler.add_job("slow", noop, every=15, priority=Priority.HIGH)
    scheduler.add_job("tick", noop, every=0.5, priority=Priority.LOW)

    count_over(scheduler, clock, seconds=30, step=0.5)

    names = worker.names()
    assert (names.count("fast"), names.count("slow"), names.count("tick")) == (3, 2, 60)


def test_a_late_poll_enqueues_a_job_once_not_once_per_missed_interval() -> None:
    clock, worker = FakeClock(), RecordingWorker()
    scheduler = Scheduler(worker, clock=clock)
    scheduler.add_job("prices", noop, every=10, priority=Priority.NORMAL)

    clock.advance(95)
    scheduler.run_pending()

    assert worker.names() == ["prices"]


def test_run_all_enqueues_every_job_now_and_the_next_run_an_interval_later() -> None:
    clock, worker = FakeClock(), RecordingWorker()
    scheduler = Scheduler(worker, clock=clock)
    scheduler.add_job("account", noop, every=30, priority=Priority.HIGH)
    scheduler.add_job("prices", noop, every=10, priority=Priority.NORMAL)
    clock.advance(5)

    scheduler.run_all()
    assert sorted(worker.names()) == ["account", "prices"]

    clock.advance(9)
    scheduler.run_pending()
    assert len(worker.submitted) == 2
    clock.advance(1)
    scheduler.run_pending()
    assert worker.names()[2:] == ["prices"]


def test_jobs_lists_name_interval_and_priority_in_order_added() -> None:
    scheduler = Scheduler(RecordingWorker(), clock=FakeClock())
    scheduler.add_job("heartbeat", noop, every=10, priority=Priority.HIGH)
    scheduler.add_job("prices", noop, every=2.5, priority=Priority.NORMAL)

    assert scheduler.jobs() == [
        ("heartbeat", 10.0, Priority.HIGH),
        ("prices", 2.5, Priority.NORMAL),
    ]


def test_bad_jobs_are_refused() -> None:
    scheduler = Scheduler(RecordingWorker(), clock=FakeClock())
    scheduler.add_job("prices", noop, every=10, priority=Priority.NORMAL)

    with pytest.raises(ValueError):
        scheduler.add_job("prices", noop, every=5, priority=Priority.NORMAL)
    with pytest.raises(ValueError):
        scheduler.add_job("never", noop, every=0, priority=Priority.NORMAL)


def test_the_thread_enqueues_due_jobs_into_a_real_worker() -> None:
    clock, ran = FakeClock(), threading.Event()
    worker = TaskWorker(1, 5.0, name="sched-worker")
    worker.start()
    scheduler = Scheduler(worker, clock=clock, poll_seconds=0.005)
    scheduler.add_job("heartbeat", ran.set, every=10, priority=Priority.HIGH)
    scheduler.start()
    try:
        clock.advance(10)
        assert ran.wait(WAIT)
    finally:
        scheduler.stop()
        worker.stop(drain=False, timeout=1.0)
    assert worker.stats().completed == 1


def test_jobs_only_enqueue_they_never_run_on_the_scheduler_thread() -> None:
    worker = TaskWorker(1, 5.0, name="sched-worker")  # not started: nothing can run
    calls: list[str] = []
    scheduler = Scheduler(worker, clock=FakeClock())
    scheduler.add_job("prices", lambda: calls.append("ran"), every=10, priority=Priority.NORMAL)

    scheduler.run_all()

    assert calls == []
    assert worker.stats().queued == 1
    assert worker.stop(drain=False, timeout=1.0) == ["prices"]


def test_stop_is_prompt_even_with_a_long_poll() -> None:
    scheduler = Scheduler(RecordingWorker(), clock=FakeClock(), poll_seconds=3600, name="prompt")
    scheduler.start()
    [thread] = [t for t in threading.enumerate() if t.name == "prompt"]

    scheduler.stop(timeout=WAIT)

    # Only a wake-up on stop lets the thread end inside a poll that lasts an hour.
    assert not thread.is_alive()
    with pytest.raises(RuntimeError):
        scheduler.start()


def test_a_failing_pass_is_logged_and_scheduling_goes_on(caplog) -> None:
    clock, attempts, second = FakeClock(), [], threading.Event()

    class FlakyWorker:
        def submit(self, name, func, priority, timeout) -> bool:
            attempts.append(name)
            if len(attempts) == 1:
                raise RuntimeError("queue unavailable")
            second.set()
            return True

    scheduler = Scheduler(FlakyWorker(), clock=clock, poll_seconds=0.005, name="flaky")
    scheduler.add_job("prices", noop, every=10, priority=Priority.NORMAL)
    scheduler.start()
    try:
        clock.advance(10)
        assert wait_until(lambda: len(attempts) >= 1)  # a retry may follow at once
        clock.advance(10)
        assert second.wait(WAIT)
    finally:
        scheduler.stop()
    assert "queue unavailable" in caplog.text


def wait_until(predicate) -> bool:
    pause = threading.Event()
    for _ in range(1000):
        if predicate():
            return True
        pause.wait(0.005)
    return predicate()
