"""``kill -9`` at every point of delivery loses no message and never gives one content two seqs.

A bridge process (``tests/kill_child.py``) stores a day of bars and kills itself with SIGKILL
at one point: before the commit, between the commit and the transfer to the local outbox,
between the transfer and the PostgreSQL delete, before the send, between two chunks of a
send, after the send before the ack. A second process then starts on the same database,
outbox and Redis, as the service manager would restart it, runs a cycle later and stops.

Redis's streams ``{prefix}:stream:{type}`` keep every envelope ever sent (bars, and the
account's opening deposit the start-up reconciliation announces). Every bar stored in
PostgreSQL must be in them; a seq that appears twice (a redelivery) carries the very same
envelope text; and the seqs run 1, 2, 3 ... with no gap.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.kill_child import POINTS
from tests.test_daemon_e2e import START
from tests.test_main_cli import query

REPO = Path(__file__).resolve().parents[1]


def run_child(config: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.kill_child", json.dumps(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sent_envelopes(redis_client, prefix: str) -> list[str]:
    """Every envelope of every stream: seqs run across message types."""
    texts = []
    for key in redis_client.scan_iter(match=f"{prefix}:stream:*", _type="stream"):
        texts += [fields[b"envelope"].decode() for _, fields in redis_client.xrange(key)]
    return texts


def bar_key(envelope: dict) -> tuple[str, str, int]:
    data = envelope["data"]
    moment = datetime.fromisoformat(data["time"].replace("Z", "+00:00"))
    return data["symbol"], data["timeframe"], int(moment.timestamp())


@pytest.mark.parametrize("point", list(POINTS))
def test_a_kill_at_any_point_loses_no_message(
    point, fresh_database, redis_client, redis_prefix, tmp_path
):
    config = {
        "pg": fresh_database,
        "redis_host": REDIS_HOST,
        "redis_port": REDIS_PORT,
        "prefix": redis_prefix,
        "spool": str(tmp_path / "outbox.sqlite3"),
        "now": START,
        "kill": point,
    }
    killed = run_child(config)
    restarted = run_child(dict(config, now=START + 300, kill=None))

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    texts = sent_envelopes(redis_client, redis_prefix)
    by_seq: dict[int, set[str]] = defaultdict(set)
    for text in texts:
        by_seq[json.loads(text)["seq"]].add(text)
    assert all(len(contents) == 1 for contents in by_seq.values())  # a repeat is identical
    assert sorted(by_seq) == list(range(1, len(by_seq) + 1))  # no gap
    bars = [json.loads(text) for text in texts if json.loads(text)["type"] == "bar"]
    published = {bar_key(envelope) for envelope in bars}
    stored = query(
        fresh_database,
        "SELECT symbol, timeframe, EXTRACT(EPOCH FROM time)::bigint FROM bars",
    )
    assert len(stored) > 1400  # a day of M1 bars, then five more minutes
    assert set(stored) <= published  # every stored bar was published
    assert len(published) == len({envelope["seq"] for envelope in bars})  # none under two seqs
    assert query(fresh_database, "SELECT count(*) FROM pending_messages") == [(0,)]
