import threading

from bridge_v3.services.mt5.priority_lock import PriorityLock


def wait_until_waiting(lock: PriorityLock, count: int) -> None:
    with lock._condition:
        assert lock._condition.wait_for(lambda: len(lock._waiters) >= count, timeout=5)


def test_waiters_are_served_by_priority_then_arrival():
    lock = PriorityLock()
    order: list[str] = []
    release = threading.Event()

    def holder():
        with lock.hold(0):
            release.wait(5)

    def waiter(name: str, priority: int):
        with lock.hold(priority):
            order.append(name)

    first = threading.Thread(target=holder)
    first.start()
    wait_until_waiting(lock, 0)
    threads = []
    for count, (name, priority) in enumerate(
        [("low", 3), ("normal-1", 2), ("trade", 1), ("normal-2", 2)], 1
    ):
        thread = threading.Thread(target=waiter, args=(name, priority))
        thread.start()
        wait_until_waiting(lock, count)
        threads.append(thread)
    release.set()
    for thread in [first, *threads]:
        thread.join(5)
    assert order == ["trade", "normal-1", "normal-2", "low"]


def test_lock_is_released_when_the_body_raises():
    lock = PriorityLock()
    try:
        with lock.hold(1):
            raise ValueError("boom")
    except ValueError:
        pass
    acquired = threading.Event()

    def take():
        with lock.hold(1):
            acquired.set()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(5)
    assert acquired.is_set()
