"""Bad input on the command line, in ``.env``, ``SPOOL_PATH`` and ``LOG_FILE``: a clear message
naming what is wrong and the right exit code (2 for configuration, 1 for a run that did
nothing), never a traceback; and a damaged outbox or an unwritable log file cost nothing.

Each run is a separate process, as users start it (see ``tests/test_main_cli.py``).
"""

from __future__ import annotations

import random
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_main_cli import (
    PASSWORD,
    bridge_env,
    count,
    poll,
    query,
    run_cli,
    table_exists,
)

# Nothing listens on port 1: a run that got as far as connecting would retry, not exit 2.
NOWHERE = {"host": "127.0.0.1", "port": 1, "user": "postgres", "dbname": "unused"}


def no_traceback(result: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in result.stdout + result.stderr


# -- --backfill and its arguments ----------------------------------------------------------------


@pytest.mark.parametrize("days", ["-2", "0", "nan", "1e9", "", "three"])
def test_backfill_days_out_of_range_exits_2_naming_the_argument(days, redis_prefix, tmp_path):
    result = run_cli(["--backfill", days], bridge_env(NOWHERE, redis_prefix, tmp_path), tmp_path)

    assert result.returncode == 2
    assert (
        "argument --backfill: must be a number greater than 0 and at most 100000" in result.stderr
    )
    assert no_traceback(result)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ["--backfill", "1", "--timeframes", "M7"],
            "argument --timeframes: 'M7' is not a timeframe",
        ),
        (
            ["--backfill", "1", "--symbols", "EUR USD"],
            "argument --symbols: 'EUR USD' is not a symbol",
        ),
        (["--symbols", "EURUSD"], "--symbols and --timeframes only go with --backfill"),
        (["--once", "--timeframes", "M1"], "--symbols and --timeframes only go with --backfill"),
    ],
)
def test_bad_backfill_arguments_exit_2_before_connecting(args, named, redis_prefix, tmp_path):
    result = run_cli(args, bridge_env(NOWHERE, redis_prefix, tmp_path), tmp_path)

    assert result.returncode == 2
    assert named in result.stderr
    assert no_traceback(result)
    assert not (tmp_path / "bridge.log").exists()  # stopped before even logging a banner


def test_backfill_loads_exactly_the_symbols_asked_for(fresh_database, redis_prefix, tmp_path):
    env = bridge_env(fresh_database, redis_prefix, tmp_path, CRYPTO_ENABLED="false")
    args = ["--backfill", "2", "--symbols", "EURUSD,BTCUSD", "--timeframes", "H1"]

    result = run_cli(args, env, tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    stored = query(fresh_database, "SELECT DISTINCT symbol, timeframe FROM bars ORDER BY 1")
    assert stored == [("BTCUSD", "H1"), ("EURUSD", "H1")]  # BTCUSD is not configured: asked for


def test_backfill_keeps_the_case_of_symbols_and_exits_1_when_all_are_skipped(
    fresh_database, redis_prefix, tmp_path
):
    env = bridge_env(fresh_database, redis_prefix, tmp_path)

    result = run_cli(["--backfill", "1", "--symbols", "EURUSDm"], env, tmp_path)

    assert result.returncode == 1
    assert "EURUSDm M1 skipped" in result.stderr and "EURUSDM" not in result.stderr
    assert "every series asked for was skipped" in result.stderr
    assert no_traceback(result)


def test_backfill_of_more_days_than_exist_counts_each_bar_once_and_reports_briefly(
    fresh_database, redis_prefix, tmp_path
):
    env = bridge_env(fresh_database, redis_prefix, tmp_path)

    result = run_cli(
        ["--backfill", "100000", "--timeframes", "D1", "--symbols", "BTCUSD"], env, tmp_path
    )

    assert result.returncode == 0, result.stderr[-2000:]
    distinct = count(fresh_database, "bars")
    assert distinct >= 300  # the simulated terminal holds more than 400 days
    assert f"bars fetched: {distinct}  rows written: {distinct} " in result.stdout
    progress = [line for line in result.stderr.splitlines() if "[1/1] BTCUSD D1" in line]
    assert 1 <= len(progress) <= 3  # not one line per empty month back to 1970


# -- .env --------------------------------------------------------------------------------------


def test_an_unreadable_env_line_exits_2_naming_file_and_line(redis_prefix, tmp_path):
    (tmp_path / ".env").write_text(
        "# settings\nMT5_BACKEND=simulator\nMT5_PASSWORD hunter2-secret\nFOREX_PAIRS=EURUSD\n"
    )
    env = bridge_env(NOWHERE, redis_prefix, tmp_path)

    for args in ([], ["--check"]):
        result = run_cli(args, env, tmp_path)
        assert result.returncode == 2
        assert "Configuration error: .env: line 3 is not NAME=value" in result.stderr
        assert "hunter2" not in result.stdout + result.stderr  # the line may hold a secret
        assert no_traceback(result)


def test_a_misspelt_name_is_warned_about_with_the_right_one(fresh_database, redis_prefix, tmp_path):
    (tmp_path / ".env").write_text("MT5_SERVER_TIMEZON=Europe/Athens\nUNRELATED_TOOL=1\n")

    result = run_cli(["--check"], bridge_env(fresh_database, redis_prefix, tmp_path), tmp_path)

    warning = (
        "MT5_SERVER_TIMEZON (in .env) is not a setting of this bridge: ignored; "
        "did you mean MT5_SERVER_TIMEZONE?"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"WARNING bridge_v3: {warning}" in result.stderr
    settings_row = next(line for line in result.stdout.splitlines() if line.startswith("settings"))
    assert warning in settings_row and "UNRELATED_TOOL" not in result.stdout + result.stderr


# -- SPOOL_PATH --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp: (tmp / "spool").mkdir() or tmp / "spool", "is a directory, not a file"),
        (lambda tmp: Path("/sys/outbox.sqlite3"), "cannot be created (Permission denied)"),
    ],
    ids=["directory", "read-only folder"],
)
def test_an_unusable_spool_path_exits_2_before_connecting(make, problem, redis_prefix, tmp_path):
    spool = make(tmp_path)
    env = bridge_env(NOWHERE, redis_prefix, tmp_path, SPOOL_PATH=str(spool))

    result = run_cli([], env, tmp_path, timeout=30)

    assert result.returncode == 2
    assert f"Configuration error: SPOOL_PATH: {spool} {problem}" in result.stderr
    assert "PostgreSQL at" not in result.stderr  # nothing was connected first
    assert no_traceback(result)


def test_a_damaged_spool_is_kept_aside_and_the_bridge_runs_on(
    fresh_database, redis_prefix, tmp_path
):
    spool = tmp_path / "spool" / "outbox.sqlite3"
    spool.parent.mkdir()
    garbage = bytes(random.Random(8).randrange(256) for _ in range(4096))
    spool.write_bytes(garbage)
    env = bridge_env(fresh_database, redis_prefix, tmp_path)

    result = run_cli(["--once"], env, tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    kept = [p for p in spool.parent.iterdir() if p.name.startswith("outbox.sqlite3.damaged-")]
    assert [p.read_bytes() for p in kept] == [garbage]
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"kept as {kept[0]}" in errors[0]
    assert count(fresh_database, "bars") > 0
    assert no_traceback(result)


def test_a_second_bridge_on_the_same_spool_exits_2(fresh_database, redis_prefix, tmp_path):
    env = bridge_env(fresh_database, redis_prefix, tmp_path)
    first = subprocess.Popen(
        [sys.executable, "-m", "bridge_v3.main"], env=env, cwd=tmp_path, stderr=subprocess.PIPE
    )
    try:
        poll(lambda: table_exists(fresh_database, "bars"), 30, "the first bridge")
        other_log = dict(env, LOG_FILE=str(tmp_path / "second.log"))
        second = run_cli([], other_log, tmp_path, timeout=30)
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=15)

    assert second.returncode == 2
    assert f"in use by another bridge (process {first.pid})" in second.stderr
    assert first.returncode == 0


# -- LOG_FILE on a full disk -------------------------------------------------------------------


def test_a_log_file_that_cannot_be_written_falls_back_to_the_console_once(
    fresh_database, redis_prefix, tmp_path
):
    env = bridge_env(fresh_database, redis_prefix, tmp_path, LOG_FILE="/dev/full")
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge_v3.main"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        poll(lambda: table_exists(fresh_database, "bars"), 30, "the schema")
        poll(lambda: count(fresh_database, "bars") > 0, 30, "bars stored")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)

    assert process.returncode == 0
    assert stderr.count("LOG_FILE /dev/full cannot be written (No space left on device)") == 1
    assert "Logging error" not in stderr and "Traceback" not in stderr
    assert "Bridge stopped" in stderr  # the console kept every line to the end
    assert PASSWORD not in stderr


# -- what --once and --check say ---------------------------------------------------------------


def test_once_says_what_it_did_in_a_sentence(fresh_database, redis_client, redis_prefix, tmp_path):
    result = run_cli(["--once"], bridge_env(fresh_database, redis_prefix, tmp_path), tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    bars = count(fresh_database, "bars")
    assert f"Bars: {bars} bars fetched, {bars} new stored" in result.stderr
    assert "SyncResult(" not in result.stderr
    assert "Activity last" in result.stderr
    # Messages carry the host and the account as their source when BRIDGE_ID is not set.
    entry = redis_client.xrange(f"{redis_prefix}:stream:bar", count=1)[0][1]
    assert f'"source":"{socket.gethostname()}-10000001"' in entry[b"envelope"].decode()


def test_check_says_nothing_of_seq(fresh_database, redis_prefix, tmp_path):
    result = run_cli(["--check"], bridge_env(fresh_database, redis_prefix, tmp_path), tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"\bseq\b", result.stdout + result.stderr)
    outbox_row = next(line for line in result.stdout.splitlines() if line.startswith("outbox"))
    assert "created at the first start" in outbox_row
