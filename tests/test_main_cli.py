"""``python -m bridge_v3.main`` as users start it: a separate process, settings in the
environment, the simulated terminal, real PostgreSQL and Redis.

Each run gets a fresh database, its own Redis prefix, and its log file and spool in
``tmp_path``. The process runs in ``tmp_path`` so no ``.env`` of the working tree is read.
Waiting is a bounded poll for an effect, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "Sup3r-Secret!"  # trust authentication ignores it; it must still never show
ENVELOPE_KEYS = {"v", "type", "source", "account", "seq", "ts", "data"}


def bridge_env(pg: dict, prefix: str, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A clean environment: nothing inherited that the bridge would read as a setting."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
        "MT5_BACKEND": "simulator",
        # The default: the broker's clock read from the terminal's history, as in production.
        "MT5_SERVER_TIMEZONE": "auto",
        "SIM_SERVER_TIMEZONE": "Europe/Athens",
        "SIM_SEED": "3",
        "POSTGRES_HOST": pg["host"],
        "POSTGRES_PORT": str(pg["port"]),
        "POSTGRES_USER": pg["user"],
        "POSTGRES_DB": pg["dbname"],
        "POSTGRES_PASSWORD": PASSWORD,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": os.environ.get("TEST_REDIS_PORT", "6379"),
        "REDIS_PREFIX": prefix,
        "LOG_FILE": str(tmp_path / "bridge.log"),
        "SPOOL_PATH": str(tmp_path / "spool" / "outbox.sqlite3"),
        # BTCUSD trades all week, so bars exist whatever day the tests run.
        "FOREX_PAIRS": "EURUSD",
        "FOREX_TIMEFRAME": "M1",
        "CRYPTO_ENABLED": "true",
        "CRYPTO_PAIRS": "BTCUSD",
        "CRYPTO_TIMEFRAME": "M1",
        "INITIAL_HISTORY_DAYS": "1",
        # No endpoint unless a test asks for one on a free port: test runs share the machine.
        "METRICS_PORT": "0",
        "PRICE_FETCH_INTERVAL": "1",
        "METRICS_SYNC_INTERVAL": "1",
        "HEARTBEAT_INTERVAL": "1",
        "STATS_INTERVAL": "1",
    }
    env.update(overrides)
    return env


def run_cli(
    args: list[str], env: dict, cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge_v3.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def poll(condition: Callable[[], object], seconds: float, what: str) -> object:
    """Return the first truthy value of ``condition`` within ``seconds``, else fail."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds}s waiting for {what}")


def query(pg: dict, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def count(pg: dict, table: str) -> int:
    return query(pg, f"SELECT count(*) FROM {table}")[0][0]


def table_exists(pg: dict, table: str) -> bool:
    return bool(query(pg, "SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0])


def all_bars(pg: dict) -> list[tuple]:
    return query(
        pg,
        "SELECT account, symbol, timeframe, EXTRACT(EPOCH FROM time)::bigint, open, high, low,"
        " close, tick_volume, spread, real_volume FROM bars ORDER BY symbol, timeframe, time",
    )


# -- the daemon ------------------------------------------------------------------------------


def read_messages(pubsub, wanted: set[str], seconds: float) -> list[dict]:
    """Envelopes received until each type in ``wanted`` was seen (bounded)."""
    messages: list[dict] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "pmessage":
            messages.append(json.loads(message["data"]))
            if wanted <= {m["type"] for m in messages}:
                return messages
    pytest.fail(f"only {sorted({m['type'] for m in messages})} published, wanted {wanted}")


def test_daemon_stores_publishes_logs_and_stops_on_sigterm(
    fresh_database, redis_client, redis_prefix, tmp_path
):
    env = bridge_env(fresh_database, redis_prefix, tmp_path, LOG_LEVEL="DEBUG")
    pubsub = redis_client.pubsub()
    pubsub.psubscribe(f"{redis_prefix}:*")
    pubsub.get_message(timeout=1)
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge_v3.main"],
            env=env,
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            log = tmp_path / "bridge.log"
            poll(lambda: table_exists(fresh_database, "bars"), 30, "the schema")
            poll(lambda: count(fresh_database, "bars") > 0, 30, "bars in PostgreSQL")
            poll(lambda: count(fresh_database, "account_snapshots") > 0, 30, "an account snapshot")
            messages = read_messages(pubsub, {"bar", "account", "status"}, 30)
            poll(
                lambda: log.is_file() and "Worker Stats - Active:" in log.read_text("utf-8"),
                30,
                "worker statistics in the log",
            )
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    pubsub.close()

    assert code == 0
    for message in messages:
        assert set(message) == ENVELOPE_KEYS
        assert message["v"] == 1 and message["account"] == 10000001
        assert message["ts"].endswith("Z")
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    bar = next(m for m in messages if m["type"] == "bar")
    assert bar["data"]["symbol"] in {"EURUSD", "BTCUSD"}

    text = log.read_text("utf-8")
    assert "MT5 Bridge v" in text and "Configuration validated" in text
    assert "Traceback" not in text
    # Shutdown in order: scheduler, worker, terminal last.
    order = [
        text.index("scheduler stopped"),
        text.index("worker stopped"),
        text.index("MT5 terminal connection closed"),
        text.index("Bridge stopped"),
    ]
    assert order == sorted(order)
    for path in (log, out, err):
        assert PASSWORD not in path.read_text("utf-8"), path.name


# -- configuration errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [("POSTGRES_PORT", "abc"), ("FOREX_TIMEFRAME", "M7"), ("MAX_WORKERS", "0")],
)
def test_malformed_setting_exits_2_naming_the_variable(variable, value, redis_prefix, tmp_path):
    pg = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "unused"}
    env = bridge_env(pg, redis_prefix, tmp_path, **{variable: value})
    result = run_cli([], env, tmp_path)
    assert result.returncode == 2
    assert variable in result.stderr
    assert value in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert PASSWORD not in result.stderr + result.stdout


# -- --check -----------------------------------------------------------------------------------


def check_rows(stdout: str) -> dict[str, str]:
    """Part -> OK/FAIL from the status table."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        for part in ("settings", "postgresql", "redis", "mt5 terminal"):
            if line.startswith(part + " "):
                rows[part] = line[len(part) :].split()[0]
    return rows


def test_check_all_up(fresh_database, redis_prefix, tmp_path):
    result = run_cli(["--check"], bridge_env(fresh_database, redis_prefix, tmp_path), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert check_rows(result.stdout) == {
        "settings": "OK",
        "postgresql": "OK",
        "redis": "OK",
        "mt5 terminal": "OK",
    }
    assert PASSWORD not in result.stdout + result.stderr
    postgres_row = next(line for line in result.stdout.splitlines() if line.startswith("postg"))
    assert "migration(s) to apply" in postgres_row
    assert not table_exists(fresh_database, "bars")  # --check only looks


@pytest.mark.parametrize(
    ("part", "overrides", "named"),
    [
        ("postgresql", {"POSTGRES_PORT": "1"}, "127.0.0.1:1"),
        ("redis", {"REDIS_PORT": "1"}, "127.0.0.1:1"),
        ("mt5 terminal", {"MT5_BACKEND": "remote", "MT5_REMOTE_PORT": "1"}, "127.0.0.1:1"),
    ],
)
def test_check_names_the_part_that_is_down(
    part, overrides, named, fresh_database, redis_prefix, tmp_path
):
    env = bridge_env(fresh_database, redis_prefix, tmp_path, **overrides)
    result = run_cli(["--check"], env, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = check_rows(result.stdout)
    assert rows.pop(part) == "FAIL"
    assert set(rows.values()) == {"OK"}, result.stdout
    failing = next(line for line in result.stdout.splitlines() if line.startswith(part))
    assert named in failing
    assert "Traceback" not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr


# -- --once and --backfill -----------------------------------------------------------------------


def test_once_stores_bars_and_exits_0(fresh_database, redis_prefix, tmp_path):
    result = run_cli(["--once"], bridge_env(fresh_database, redis_prefix, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    stored = query(
        fresh_database, "SELECT symbol, count(*) FROM bars GROUP BY symbol ORDER BY symbol"
    )
    btc = dict(stored)["BTCUSD"]
    assert 1438 <= btc <= 1440  # one day of M1 bars, closed ones only
    assert count(fresh_database, "account_snapshots") == 1


def test_backfill_twice_leaves_the_same_rows(fresh_database, redis_prefix, tmp_path):
    env = bridge_env(fresh_database, redis_prefix, tmp_path)
    # Four days always hold forex hours, whatever day of the week the test runs.
    args = ["--backfill", "4", "--symbols", "EURUSD", "--timeframes", "M15"]
    first = run_cli(args, env, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    rows_first = all_bars(fresh_database)
    assert len(rows_first) > 50
    second = run_cli(args, env, tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    rows_second = all_bars(fresh_database)

    assert {(r[1], r[2]) for r in rows_second} <= {("EURUSD", "M15")}
    # The wall clock runs on between the runs: a bar may have closed in between. Every row
    # of the first run is still there unchanged, and the second wrote only the newer ones.
    newest_first = max((r[3] for r in rows_first), default=0)
    assert [r for r in rows_second if r[3] <= newest_first] == rows_first
    newer = len(rows_second) - len(rows_first)
    assert newer in (0, 1)
    for result in (first, second):
        assert "rows written:" in result.stdout and "bars/s:" in result.stdout
    assert f"rows written: {newer} " in second.stdout
    assert f"rows written: {len(rows_first)} " in first.stdout


# -- a service missing at start-up ----------------------------------------------------------------


def start_daemon(env: dict, tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bridge_v3.main"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_daemon(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stderr


def log_has(tmp_path: Path, text: str) -> bool:
    log = tmp_path / "bridge.log"
    return log.is_file() and text in log.read_text("utf-8")


def test_postgres_unreachable_at_start_is_retried_and_named_and_sigterm_still_works(
    redis_prefix, tmp_path
):
    pg = {"host": "127.0.0.1", "port": 1, "user": "postgres", "dbname": "unused"}
    process = start_daemon(bridge_env(pg, redis_prefix, tmp_path), tmp_path)
    poll(lambda: log_has(tmp_path, "retry 1 in"), 30, "a retry of PostgreSQL")
    code, stderr = stop_daemon(process)
    text = (tmp_path / "bridge.log").read_text("utf-8")
    assert code == 0
    assert "PostgreSQL at 127.0.0.1:1 failed" in text
    assert "Stopped before start-up completed" in text
    assert "Traceback" not in text + stderr
    assert PASSWORD not in text + stderr


def test_redis_unreachable_at_start_bars_are_stored_and_messages_spooled(
    fresh_database, redis_prefix, tmp_path
):
    env = bridge_env(fresh_database, redis_prefix, tmp_path, REDIS_PORT="1")
    process = start_daemon(env, tmp_path)
    poll(lambda: table_exists(fresh_database, "bars"), 30, "the schema")
    poll(lambda: count(fresh_database, "bars") > 0, 30, "bars in PostgreSQL")
    code, stderr = stop_daemon(process)
    text = (tmp_path / "bridge.log").read_text("utf-8")
    assert code == 0
    assert text.count("Redis at 127.0.0.1:1 is unreachable") == 1  # once, not per message
    assert "storing goes on; messages wait in" in text
    assert "Traceback" not in text + stderr
    with sqlite3.connect(tmp_path / "spool" / "outbox.sqlite3") as spool:
        types = dict(spool.execute("SELECT type, count(*) FROM outbox GROUP BY type").fetchall())
    assert types.get("bar", 0) >= count(fresh_database, "bars")


# -- --stop ---------------------------------------------------------------------------------------


def test_stop_asks_the_running_bridge_to_shut_down_in_order(fresh_database, redis_prefix, tmp_path):
    env = bridge_env(fresh_database, redis_prefix, tmp_path)
    process = start_daemon(env, tmp_path)
    try:
        poll(lambda: log_has(tmp_path, "Bridge running"), 60, "the bridge to run")
        result = run_cli(["--stop", "--wait", "30"], env, tmp_path)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert result.returncode == 0 and "has stopped" in result.stdout
    assert code == 0
    text = (tmp_path / "bridge.log").read_text("utf-8")
    assert text.index("Stop requested by") < text.index("Bridge stopped")
    assert not (tmp_path / "spool" / "outbox.sqlite3.stop").exists()


def test_stop_with_no_bridge_running_fails_and_leaves_no_request(redis_prefix, tmp_path):
    pg = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "unused"}
    env = bridge_env(pg, redis_prefix, tmp_path)
    result = run_cli(["--stop", "--wait", "1"], env, tmp_path)

    assert result.returncode == 1 and "No bridge stopped" in result.stderr
    assert not (tmp_path / "spool" / "outbox.sqlite3.stop").exists()


def test_two_bridges_sharing_a_spool_folder_have_their_own_stop_requests(tmp_path):
    from bridge_v3.stop_file import stop_file_for

    first = stop_file_for(str(tmp_path / "spool" / "a.sqlite3"))
    second = stop_file_for(str(tmp_path / "spool" / "b.sqlite3"))
    assert first != second and first.parent == second.parent
