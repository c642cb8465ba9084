"""Consumer groups: two workers share a stream; one is killed; nothing is lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bridge_v3.client.groups import GroupSubscriber
from tests.client.publishing import account_data, publish_accounts, publisher

# A worker that takes events, prints each one it has handled (and so acknowledged), and is
# killed with SIGKILL while it holds one more, unacknowledged.
WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from bridge_v3.client.groups import GroupSubscriber
    url, prefix, handle = sys.argv[1], sys.argv[2], int(sys.argv[3])
    worker = GroupSubscriber(url, prefix, "workers", "w1", types="account", count=5)
    for n, event in enumerate(worker.events()):
        if n == handle:
            print("holding", event.seq, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        print("handled", event.seq, flush=True)
    """
)


def run_killed_worker(redis_url: str, prefix: str, handle: int) -> tuple[list[int], int]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, redis_url, prefix, str(handle)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -9, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    handled = [int(seq) for word, seq in lines if word == "handled"]
    held = [int(seq) for word, seq in lines if word == "holding"]
    return handled, held[0]


def test_two_consumers_split_a_stream_and_lose_nothing_when_one_is_killed(
    redis_prefix, redis_url, redis_client
):
    service = publisher(redis_prefix)
    seqs = publish_accounts(service, range(30))

    handled_by_w1, held_by_w1 = run_killed_worker(redis_url, redis_prefix, handle=3)
    w2 = GroupSubscriber(
        redis_url, redis_prefix, "workers", "w2", types="account", block_ms=50, claim_idle_ms=0
    )
    handled_by_w2 = [event.seq for event in w2.events(drain=True)]

    assert handled_by_w1 == [1, 2, 3] and held_by_w1 == 4
    assert sorted(handled_by_w1 + handled_by_w2) == seqs  # each exactly once
    assert held_by_w1 in handled_by_w2 and w2.stats["claimed"] >= 1
    pending = redis_client.xpending(f"{redis_prefix}:stream:account", "workers")
    assert pending["pending"] == 0


def test_a_redelivery_is_dropped_by_the_whole_group(redis_prefix, redis_url):
    service = publisher(redis_prefix)
    prepared = service.prepare(
        (service.channel("account"), "account", account_data(n)) for n in range(4)
    )
    service.send(prepared)
    w1 = GroupSubscriber(redis_url, redis_prefix, "g", "w1", types="account", block_ms=50)
    w2 = GroupSubscriber(redis_url, redis_prefix, "g", "w2", types="account", block_ms=50)
    first = [e.seq for e in w1.events(drain=True)]
    service.send(prepared[1:3])  # the bridge sends two again after a crash
    second = [e.seq for e in w2.events(drain=True)]
    assert first == [1, 2, 3, 4] and second == []
    assert w2.stats["repeats"] == 2


def test_two_live_consumers_share_the_work(redis_prefix, redis_url):
    service = publisher(redis_prefix)
    seqs = publish_accounts(service, range(10))
    w1 = GroupSubscriber(redis_url, redis_prefix, "g", "w1", types="account", count=4, block_ms=50)
    w2 = GroupSubscriber(redis_url, redis_prefix, "g", "w2", types="account", count=4, block_ms=50)
    taken_1, taken_2 = [], []
    events_1, events_2 = w1.events(drain=True), w2.events(drain=True)
    for _ in range(4):
        taken_1.append(next(events_1).seq)
        taken_2.append(next(events_2).seq)
    taken_1 += [e.seq for e in events_1]
    taken_2 += [e.seq for e in events_2]
    assert sorted(taken_1 + taken_2) == seqs
    assert taken_1 and taken_2 and not set(taken_1) & set(taken_2)
