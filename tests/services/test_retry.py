import random
import threading

import pytest

from bridge_v3.exceptions import DependencyError, TemporaryError
from bridge_v3.services.retry import Backoff, Retry, RetryAborted, wait_in_slices


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def no_wait_retry(**kwargs) -> Retry:
    return Retry(Backoff(base=0.0, cap=0.0), **kwargs)


def test_retries_temporary_errors_until_success():
    flaky = Flaky(3, TemporaryError("down"))
    assert no_wait_retry(attempts=5).call(flaky) == "done"
    assert flaky.calls == 4


def test_gives_up_after_the_attempts_and_reraises():
    flaky = Flaky(10, TemporaryError("down"))
    with pytest.raises(TemporaryError):
        no_wait_retry(attempts=3).call(flaky)
    assert flaky.calls == 3


def test_other_errors_are_not_retried():
    flaky = Flaky(1, DependencyError("bad item"))
    with pytest.raises(DependencyError):
        no_wait_retry(attempts=5).call(flaky)
    assert flaky.calls == 1


def test_a_set_stop_event_interrupts_the_wait():
    stop = threading.Event()
    stop.set()
    retry = Retry(Backoff(base=3600, cap=3600), attempts=None, stop=stop)
    flaky = Flaky(10, TemporaryError("down"))
    with pytest.raises(RetryAborted):
        retry.call(flaky)
    assert flaky.calls == 1


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_capped_and_jittered_within_bounds(attempt):
    backoff = Backoff(base=1.0, cap=30.0, jitter=0.5, rng=random.Random(attempt))
    raw = min(30.0, 2.0**attempt)
    delay = backoff.delay(attempt)
    assert raw * 0.5 <= delay <= raw


def test_backoff_jitter_spreads_delays():
    backoff = Backoff(base=10.0, cap=10.0, jitter=1.0, rng=random.Random(7))
    delays = {round(backoff.delay(0), 6) for _ in range(20)}
    assert len(delays) > 10


class CountingEvent(threading.Event):
    """A stop event that records the timeout of every wait on it."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return super().wait(timeout)


def test_waiting_to_retry_is_cut_in_short_slices():
    stop = CountingEvent()
    assert wait_in_slices(stop, 1.2, piece=0.3) is False
    assert len(stop.timeouts) >= 4 and max(stop.timeouts) <= 0.3
    stop.set()
    assert wait_in_slices(stop, 60) is True
