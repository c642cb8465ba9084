"""Risk end to end, as an operator meets it: a simulator server, a bridge process reaching
it over RPyC, a position opened by hand, a loss pushed with the shock command, a restart,
``--risk-status`` and ``--risk-reset --by NAME``.

BTCUSD trades all week, so the test does not depend on the day it runs. Waiting is a
bounded poll for an effect, never a fixed sleep.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from bridge_v3.config.settings import PostgresSettings
from bridge_v3.services.database_service import DatabaseService
from tests.simulator.test_server import ServerProcess
from tests.test_main_cli import bridge_env, poll, query, run_cli

REPO = Path(__file__).resolve().parents[1]


def migrate(pg: dict) -> None:
    database = DatabaseService(
        PostgresSettings(host=pg["host"], port=pg["port"], db=pg["dbname"], user=pg["user"])
    )
    database.start()
    try:
        database.migrate()
    finally:
        database.close()


def risk_state(pg: dict) -> dict | None:
    found = query(pg, "SELECT to_regclass('bridge_state') IS NOT NULL")
    if not found[0][0]:
        return None
    rows = query(pg, "SELECT value FROM bridge_state WHERE key = 'risk_state'")
    return rows[0][0] if rows else None


def start_bridge(env: dict, cwd: Path, name: str) -> subprocess.Popen:
    with (cwd / f"{name}.out").open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bridge_v3.main"], env=env, cwd=cwd, stdout=out, stderr=out
        )


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def shock(port: int, percent: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bridge_v3.simulator", "shock", "--port", str(port)]
    command += ["--symbol", "BTCUSD", "--percent", percent]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)


def buy_by_hand(server: ServerProcess, volume: float) -> int:
    connection = server.connect()
    try:
        mt5 = connection.modules.MetaTrader5
        assert mt5.initialize()
        request = {"action": 1, "symbol": "BTCUSD", "volume": volume, "type": 0}
        request.update(type_filling=mt5.ORDER_FILLING_FOK, deviation=50)
        result = mt5.order_send(request)
        assert result.retcode == mt5.TRADE_RETCODE_DONE, result.comment
        return int(result.order)
    finally:
        connection.close()


def risk_messages(redis_client, prefix: str) -> list[dict]:
    entries = redis_client.xrange(f"{prefix}:stream:risk")
    return [json.loads(fields[b"envelope"])["data"] for _, fields in entries]


def test_a_shock_halts_the_running_bridge_and_only_a_reset_lifts_it(
    fresh_database, redis_client, redis_prefix, tmp_path
):
    server = ServerProcess(tmp_path / "server.log", "--seed", "5")
    bridges: list[subprocess.Popen] = []
    try:
        server.wait_until_listening()
        env = bridge_env(
            fresh_database,
            redis_prefix,
            tmp_path,
            MT5_BACKEND="remote",
            MT5_REMOTE_PORT=str(server.port),
            SIM_SERVER_TIMEZONE="",
            RISK_CHECK_INTERVAL="1",
            TRADES_SYNC_INTERVAL="1",
        )
        ticket = buy_by_hand(server, 0.5)  # about 17,000 USD of BTC on a 10,000 account
        bridges.append(start_bridge(env, tmp_path, "first"))
        poll(lambda: (risk_state(fresh_database) or {}).get("open_positions") == 1, 60, "a check")
        assert risk_state(fresh_database)["state"] == "ACTIVE"

        done = shock(server.port, "-10")
        assert done.returncode == 0, done.stderr
        poll(lambda: risk_state(fresh_database)["state"] == "HALTED", 30, "the halt")
        assert stop(bridges.pop()) == 0
        assert risk_messages(redis_client, redis_prefix)[-1]["state"] == "HALTED"
        assert "CRITICAL" in (tmp_path / "bridge.log").read_text("utf-8")

        assert shock(server.port, "12").returncode == 0  # the loss is made good
        bridges.append(start_bridge(env, tmp_path, "second"))
        poll(lambda: risk_state(fresh_database)["daily_loss_pct"] < 5, 60, "the recovery seen")
        assert risk_state(fresh_database)["state"] == "HALTED"
        status = run_cli(["--risk-status"], env, tmp_path)
        assert status.returncode == 0
        assert "HALTED" in status.stdout and "--risk-reset --by NAME" in status.stdout

        reset = run_cli(["--risk-reset", "--by", "alice"], env, tmp_path)
        assert reset.returncode == 0, reset.stderr
        poll(lambda: risk_state(fresh_database)["day_start_source"] == "reset", 30, "the reset")
        assert risk_state(fresh_database)["state"] == "ACTIVE"
        # The message commits with the state and reaches Redis just after: wait for it.
        lifted = poll(
            lambda: (
                "acknowledged_by" in risk_messages(redis_client, redis_prefix)[-1]
                and risk_messages(redis_client, redis_prefix)[-1]
            ),
            30,
            "the lift published",
        )
        assert (lifted["state"], lifted["acknowledged_by"]) == ("ACTIVE", "alice")
        assert stop(bridges.pop()) == 0
        assert query(
            fresh_database, "SELECT closed_at FROM positions WHERE ticket = %s", (ticket,)
        ) == [(None,)]
    finally:
        for process in bridges:
            process.kill()
            process.wait()
        server.kill()


# -- the risk commands' bad input ---------------------------------------------------------------


def test_risk_reset_needs_by_and_a_name(redis_prefix, tmp_path):
    pg = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "unused"}
    env = bridge_env(pg, redis_prefix, tmp_path)

    alone = run_cli(["--risk-reset"], env, tmp_path)
    stray = run_cli(["--risk-status", "--by", "alice"], env, tmp_path)
    blank = run_cli(["--risk-reset", "--by", "  "], env, tmp_path)
    both = run_cli(["--risk-status", "--once"], env, tmp_path)

    assert alone.returncode == stray.returncode == 2 and "--by" in alone.stderr
    assert blank.returncode == 2 and "--by" in blank.stderr
    assert both.returncode == 2


def test_risk_status_on_a_database_the_bridge_never_used(fresh_database, redis_prefix, tmp_path):
    result = run_cli(
        ["--risk-status"], bridge_env(fresh_database, redis_prefix, tmp_path), tmp_path
    )

    assert result.returncode == 0
    assert "No risk state recorded yet" in result.stdout


def test_risk_commands_name_an_unreachable_database(redis_prefix, tmp_path):
    pg = {"host": "127.0.0.1", "port": 1, "user": "postgres", "dbname": "unused"}
    result = run_cli(["--risk-status"], bridge_env(pg, redis_prefix, tmp_path), tmp_path)

    assert result.returncode == 1
    assert "127.0.0.1:1" in result.stderr


def test_several_accounts_need_mt5_account(fresh_database, redis_prefix, tmp_path):
    env = bridge_env(fresh_database, redis_prefix, tmp_path)
    migrate(fresh_database)
    for account in (111, 222):
        query(
            fresh_database,
            "INSERT INTO bridge_state (account, key, value) VALUES (%s, 'risk_state', %s)"
            " RETURNING account",
            (account, json.dumps({"state": "HALTED", "since": "2026-03-25T10:00:00Z"})),
        )

    vague = run_cli(["--risk-reset", "--by", "alice"], env, tmp_path)
    named = run_cli(["--risk-reset", "--by", "alice"], {**env, "MT5_ACCOUNT": "222"}, tmp_path)

    assert vague.returncode == 2 and "MT5_ACCOUNT" in vague.stderr and "111, 222" in vague.stderr
    assert named.returncode == 0 and "lifted by alice" in named.stdout
    states = dict(query(fresh_database, "SELECT account, value->>'state' FROM bridge_state"))
    assert states == {111: "HALTED", 222: "ACTIVE"}
