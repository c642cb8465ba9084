"""``python -m bridge_v3.simulator``: bad options exit 2 naming the option, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bridge_v3.simulator.__main__ import main
from bridge_v3.simulator.cli import build_parser, config_from_args


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--port", "eighteen"], "--port"),
        (["serve", "--seed", "-3"], "--seed"),
        (["serve", "--speed", "0"], "--speed"),
        (["serve", "--speed", "nan"], "--speed"),
        (["serve", "--server-timezone", "Mars/Olympus"], "--server-timezone"),
        (["serve", "--balance", "-5"], "--balance"),
        (["serve", "--leverage", "0"], "--leverage"),
        (["serve", "--replay", "EURUSD"], "--replay"),
        (["serve", "--replay", "EURUSD=/no/such/file.csv"], "--replay"),
        (["serve", "--state", "/no/such/dir/state.json"], "--state"),
        (["serve", "--start", "yesterday"], "--start"),
        (["serve", "--no-such-option"], "--no-such-option"),
        (["serve", "--requote-rate", "1.5"], "--requote-rate"),
        (["serve", "--ipc-timeout-rate", "-0.1"], "--ipc-timeout-rate"),
        (["serve", "--latency", "inf"], "--latency"),
        (["serve", "--initialize-fails", "two"], "--initialize-fails"),
    ],
)
def test_bad_option_exits_2_naming_it(argv, named, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)

    assert caught.value.code == 2
    assert named in capsys.readouterr().err


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as caught:
        main([])

    assert caught.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_options_become_the_simulator_config(tmp_path):
    prices = tmp_path / "eurusd.csv"
    prices.write_text("time,open,high,low,close,volume\n")
    state = tmp_path / "state.json"
    argv = ["serve", "--seed", "7", "--server-timezone", "UTC", "--speed", "60",
            "--state", str(state), "--balance", "2500", "--leverage", "30", "--netting",
            "--symbols-suffix", ".m", "--replay", f"EURUSD.m={prices}",
            "--start", "2026-03-02T08:00:00Z"]  # fmt: skip

    config = config_from_args(build_parser().parse_args(argv))

    assert (config.seed, config.server_timezone, config.speed) == (7, "UTC", 60.0)
    assert (config.balance, config.leverage, config.hedging) == (2500.0, 30, False)
    assert config.state_file == str(state)
    assert config.symbols_suffix == ".m"
    assert dict(config.replays) == {"EURUSD.m": str(prices)}
    assert config.start == 1772438400.0  # 2026-03-02 08:00 UTC


def test_no_fault_option_means_no_fault_plan():
    assert config_from_args(build_parser().parse_args(["serve"])).faults is None


def test_fault_options_become_the_fault_plan():
    argv = ["serve", "--fault-seed", "4", "--ipc-timeout-rate", "0.25", "--requote-rate", "1",
            "--latency", "0.5", "--initialize-fails", "2", "--autotrading-off",
            "--missing-symbol", "XAUUSD", "--missing-symbol", "BTCUSD"]  # fmt: skip

    plan = config_from_args(build_parser().parse_args(argv)).faults

    assert (plan.seed, plan.ipc_timeout_rate, plan.requote_rate) == (4, 0.25, 1.0)
    assert (plan.latency_seconds, plan.initialize_fails, plan.autotrading_off) == (0.5, 2, True)
    assert plan.missing_symbols == frozenset({"XAUUSD", "BTCUSD"})


def test_password_comes_from_the_environment_and_stays_out_of_the_repr(monkeypatch):
    monkeypatch.setenv("BRIDGE_SIM_PASSWORD", "hunter2-secret")

    config = config_from_args(build_parser().parse_args(["serve"]))

    assert config.password == "hunter2-secret"
    assert "hunter2-secret" not in repr(config)


def test_the_real_command_line_reports_a_bad_option_without_a_traceback():
    completed = subprocess.run(
        [sys.executable, "-m", "bridge_v3.simulator", "serve", "--port", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 2
    assert "--port" in completed.stderr
    assert "Traceback" not in completed.stderr
