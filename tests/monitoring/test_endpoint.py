"""/health, /ready and /metrics of a bridge on the simulated terminal, real PostgreSQL and
Redis (reached through TCP relays the tests cut), read over HTTP on loopback."""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge_v3.config.settings import MT5Settings
from bridge_v3.exceptions import ConfigError
from bridge_v3.services.mt5.backends import simulator_backend
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.test_daemon_e2e import START
from tests.test_daemon_faults import poll, settings_for
from tests.test_main_cli import bridge_env, run_cli


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_endpoint(settings, port: int | None = None, **operations):
    ops = replace(settings.operations, metrics_port=port or free_port(), **operations)
    return replace(settings, operations=ops)


def get(bridge, path: str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{bridge.operations.endpoint.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def verdict(bridge, path: str) -> tuple[int, dict]:
    status, body = get(bridge, path)
    return status, json.loads(body)


def samples(bridge) -> dict[tuple, float]:
    status, body = get(bridge, "/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def rig(fresh_database, redis_prefix, tmp_path, clock, relays, bridges):
    """A connected bridge, PostgreSQL and Redis behind relays, its endpoint open."""
    pg = relays(fresh_database["host"], fresh_database["port"])
    rd = relays(REDIS_HOST, REDIS_PORT)
    settings = with_endpoint(
        settings_for(fresh_database, redis_prefix, tmp_path, pg_port=pg.port, redis_port=rd.port)
    )
    bridge = bridges(settings, simulator_backend(settings.simulator, clock))
    bridge.operations.open_endpoint()
    return bridge, pg, rd


def test_ready_flips_with_each_dependency(rig, clock):
    bridge, pg, rd = rig
    status, body = verdict(bridge, "/ready")
    assert (status, body["failing"]) == (200, [])
    assert set(body["parts"]) == {"terminal", "postgres", "redis", "reconciliation", "clock"}

    for relay, part in ((pg, "postgres"), (rd, "redis")):
        relay.stop()
        clock.advance(2)
        poll(lambda: verdict(bridge, "/ready")[0] == 503)
        status, body = verdict(bridge, "/ready")
        assert body["failing"] == [part], body
        relay.start()
        poll(lambda: verdict(bridge, "/ready")[0] == 200)

    bridge.mt5.shutdown()  # the terminal gone
    poll(lambda: verdict(bridge, "/ready")[1]["failing"] == ["terminal"])


def test_not_ready_before_reconciliation_nor_with_an_untrusted_clock(
    fresh_database,
    redis_prefix,
    tmp_path,
    clock,
    bridges,
):
    settings = with_endpoint(settings_for(fresh_database, redis_prefix, tmp_path))
    # The broker's clock is Athens; a bridge told UTC is contradicted by the live ticks.
    settings = replace(settings, mt5=MT5Settings(server_timezone="UTC"))
    bridge = bridges(settings, simulator_backend(settings.simulator, clock))
    bridge.operations.open_endpoint()
    bridge.trades.reconciled = False

    status, body = verdict(bridge, "/ready")

    assert status == 503
    assert body["failing"] == ["reconciliation", "clock"]
    assert body["parts"]["clock"]["detail"].startswith("broker clock not trusted")


def test_health_follows_the_scheduler_and_the_worker(rig):
    bridge, _, _ = rig
    assert verdict(bridge, "/health") == (200, verdict(bridge, "/health")[1])
    assert verdict(bridge, "/health")[1]["parts"]["bridge"]["detail"].startswith("starting")

    bridge.worker.start()
    bridge.scheduler.start()
    bridge.running = True
    poll(
        lambda: (
            verdict(bridge, "/health")[0] == 200
            and "scheduler" in verdict(bridge, "/health")[1]["parts"]
        )
    )
    bridge.scheduler.stop()

    status, body = verdict(bridge, "/health")
    assert (status, body["failing"]) == (503, ["scheduler"])
    bridge.stop_event.set()
    assert verdict(bridge, "/health")[1]["parts"]["bridge"]["detail"] == "stopping"


def test_metrics_parse_and_move_as_bars_flow(rig, clock):
    bridge, _, _ = rig
    bridge.worker.start()
    series = (("symbol", "EURUSD"), ("timeframe", "M1"))

    bridge.worker.submit("prices", bridge.sync_prices)
    poll(lambda: bridge.worker.stats().completed == 1)
    first = samples(bridge)
    clock.advance(180)
    bridge.worker.submit("prices", bridge.sync_prices)
    poll(lambda: bridge.worker.stats().completed == 2)
    second = samples(bridge)

    stored = ("bridge_bars_stored_total", series)
    published = ("bridge_bars_published_total", series)
    assert first[stored] > 1000 and second[stored] == first[stored] + 3
    assert second[published] == second[stored]
    assert second[("bridge_series_last_update_timestamp_seconds", series)] == START + 180
    assert (
        second[
            ("bridge_task_duration_seconds_count", (("outcome", "completed"), ("task", "prices")))
        ]
        == 2
    )
    calls = ("bridge_mt5_call_duration_seconds_count", (("function", "copy_rates_range"),))
    assert second[calls] > first[calls] > 0
    assert second[("bridge_worker_runs_total", (("outcome", "completed"),))] == 2
    assert second[("bridge_dependency_up", (("dependency", "postgres"),))] == 1
    assert (
        second[
            ("bridge_breaker_state", (("bridge_breaker_state", "closed"), ("dependency", "redis")))
        ]
        == 1
    )
    assert second[("bridge_outbox_pending", ())] == 0
    assert second[("process_resident_memory_bytes", ())] > 10_000_000
    assert second[("process_cpu_seconds_total", ())] > 0
    assert ("bridge_risk_state", (("bridge_risk_state", "ACTIVE"),)) in second


def test_a_port_in_use_is_a_clear_configuration_error(
    fresh_database, redis_prefix, tmp_path, clock, bridges
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        settings = with_endpoint(
            settings_for(fresh_database, redis_prefix, tmp_path), taken.getsockname()[1]
        )
        bridge = bridges(settings, simulator_backend(settings.simulator, clock))

        with pytest.raises(
            ConfigError, match=r"METRICS_PORT: cannot listen on 127\.0\.0\.1:\d+ \("
        ):
            bridge.operations.open_endpoint()


def test_listening_beyond_loopback_is_a_warning(
    fresh_database, redis_prefix, tmp_path, clock, bridges, caplog
):
    settings = with_endpoint(
        settings_for(fresh_database, redis_prefix, tmp_path), metrics_host="0.0.0.0"
    )
    bridge = bridges(settings, simulator_backend(settings.simulator, clock))

    with caplog.at_level(logging.WARNING, logger="bridge_v3.monitoring.endpoint"):
        bridge.operations.open_endpoint()

    assert [r.getMessage() for r in caplog.records][0].startswith(
        "Health and metrics endpoint listens beyond loopback on 0.0.0.0:"
    )


def test_the_bridge_started_on_a_port_in_use_exits_2_naming_it(
    fresh_database, redis_prefix, tmp_path
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = bridge_env(fresh_database, redis_prefix, tmp_path, METRICS_PORT=str(port))

        result = run_cli([], env, tmp_path)

    assert result.returncode == 2, result.stderr
    assert f"Configuration error: METRICS_PORT: cannot listen on 127.0.0.1:{port} (" in (
        result.stderr
    )
    assert "Connected to PostgreSQL" not in result.stderr  # refused before connecting
