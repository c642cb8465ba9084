"""``python -m bridge_v3.dashboard`` as a user starts it: settings, bad input, a port in use,
an address beyond loopback, and a clean stop."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import replace

import pytest

from bridge_v3.dashboard import cli
from tests.dashboard.conftest import settings_for
from tests.dashboard.processes import DashboardProcess
from tests.test_main_cli import bridge_env


def test_the_process_serves_the_page_and_stops_in_order_on_sigterm(
    fresh_database, redis_prefix, tmp_path
):
    dashboard = DashboardProcess(bridge_env(fresh_database, redis_prefix, tmp_path), tmp_path)
    try:
        page = dashboard.get("/")
    finally:
        code = dashboard.stop()

    assert b"bridge_v3 dashboard" in page
    assert code == 0
    log = (tmp_path / "dashboard.log").read_text()
    assert f"Dashboard at http://127.0.0.1:{dashboard.port}/" in log and "Dashboard stopping" in log
    assert not (tmp_path / "bridge.log").exists()  # the bridge's log file is the bridge's alone


def test_a_port_in_use_is_a_clear_error(fresh_database, redis_prefix, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        settings = settings_for(fresh_database, redis_prefix)
        settings = replace(settings, dashboard=replace(settings.dashboard, port=port))

        code = cli.serve(settings, threading.Event())

    assert code == 2
    assert f"Dashboard cannot listen on 127.0.0.1:{port}" in caplog.text
    assert "DASHBOARD_PORT" in caplog.text


def test_an_address_beyond_loopback_is_a_warning(fresh_database, redis_prefix, caplog):
    settings = settings_for(fresh_database, redis_prefix)
    settings = replace(settings, dashboard=replace(settings.dashboard, host="0.0.0.0"))
    stop = threading.Event()
    stop.set()

    with caplog.at_level(logging.WARNING):
        code = cli.serve(settings, stop)

    assert code == 0
    warning = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "beyond this machine" in r.message
    ]
    assert len(warning) == 1 and "no DASHBOARD_PASSWORD set" in warning[0].message


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--port", "99999"], "--port: expected a port from 1 to 65535, got '99999'"),
        (["--port", "web"], "--port: expected a port from 1 to 65535, got 'web'"),
        (["--host", "http://0.0.0.0"], "--host: must be a host name or IP address, not a URL"),
        (["--env-file", "no-such.env"], "--env-file: no such file: no-such.env"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SystemExit) as stopped:
        raise SystemExit(cli.main(argv))

    assert stopped.value.code == 2
    assert words in capsys.readouterr().err


def test_a_bad_setting_exits_2_naming_the_variable(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_PORT", "eighty")

    code = cli.main([])

    assert code == 2
    assert "DASHBOARD_PORT: must be a whole number" in capsys.readouterr().err
