"""The pipeline benchmark still runs end to end (quick sizes) and reports every figure.

Figures are not judged here (tests never assert on time): only that each one is produced.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import psycopg2

from bench import bench_pipeline
from bench._common import postgres_params, scratch_database, scratch_redis

FIGURES = (
    "backfill_bars", "backfill_seconds", "backfill_terminal_seconds", "backfill_bars_per_s",
    "backfill_storage_bars_per_s", "raw_copy_rows_per_s", "backfill_storage_vs_raw_copy",
    "backfill_vs_raw_copy", "v2_rows", "v2_rows_per_s", "v2_insert_only_rows_per_s",
    "backfill_vs_v2", "backfill_vs_v2_insert_only", "cycle_series", "cycle_wall_ms",
    "cycle_terminal_ms", "cycle_overhead_ms", "cycle_overhead_vs_aim",
    "cycle_overhead_vs_terminal", "cycle_v2_estimate_ms", "cycle_overhead_vs_v2_estimate",
    "ticks", "tick_ticks_per_s", "tick_pandas_ticks_per_s", "tick_vs_pandas", "tick_vs_aim",
    "publish_messages", "publish_msgs_per_s", "bare_publish_msgs_per_s",
    "v2_publish_msgs_per_s", "publish_vs_bare", "publish_vs_v2", "latency_bars",
    "latency_p50_ms", "latency_p99_ms", "latency_bridge_p50_ms", "latency_bridge_p99_ms",
    "backfill_process_bars", "backfill_process_seconds", "backfill_raw_copy_rows_per_s",
    "backfill_process_vs_raw_copy", "backfill_again_seconds", "backfill_again_vs_first",
    "tick_catchup_ticks", "tick_catchup_ticks_per_s", "tick_raw_copy_rows_per_s",
    "tick_catchup_vs_raw_copy", "fleet_bridges", "fleet_backfill_bars_per_s",
    "alone_backfill_bars_per_s", "fleet_vs_alone", "memory_rss_end_mb",
    "memory_bridge_alone_end_mb", "memory_simulator_end_mb",
)  # fmt: skip
AIMS = (
    "backfill_storage_vs_raw_copy", "backfill_vs_v2", "backfill_vs_v2_insert_only",
    "cycle_overhead_ms", "tick_ticks_per_s", "publish_vs_bare",
    "backfill_process_vs_raw_copy", "backfill_again_vs_first",
    "tick_catchup_ticks_per_s", "memory_rss_peak_mb", "memory_bridge_alone_peak_mb",
    "memory_growth_after_10_min_pct",
)  # fmt: skip


def run_quick(capsys) -> tuple[list[str], dict]:
    assert bench_pipeline.main(["--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return lines, json.loads(lines[-1])


def test_quick_run_reports_every_figure_as_a_positive_number(capsys):
    lines, report = run_quick(capsys)

    assert set(FIGURES) <= set(report)
    for name in FIGURES:
        value = report[name]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), name
        assert value > 0, name
    assert set(report["aims"]) == set(AIMS)
    for name, aim in report["aims"].items():
        assert aim["value"] == report[name] and isinstance(aim["met"], bool)
    # the quick sizes: 2 symbols x 3 timeframes in the cycle, 20 rows the V2 way
    assert report["cycle_series"] == 6 and report["v2_rows"] == 20
    assert any(line.startswith("backfill, storage") for line in lines[:-1])
    assert any(line.startswith("--backfill again") for line in lines[:-1])


def test_the_run_leaves_no_database_or_redis_keys_behind(capsys, monkeypatch, redis_client):
    used = {}

    @contextmanager
    def recorded_database():
        with scratch_database() as settings:
            used["db"] = settings.db
            yield settings

    @contextmanager
    def recorded_redis():
        with scratch_redis() as (client, settings):
            used["prefix"] = settings.prefix
            yield client, settings

    monkeypatch.setattr(bench_pipeline, "scratch_database", recorded_database)
    monkeypatch.setattr(bench_pipeline, "scratch_redis", recorded_redis)

    run_quick(capsys)

    with psycopg2.connect(dbname="postgres", **postgres_params()) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (used["db"],))
        assert cur.fetchone()[0] == 0
    assert not list(redis_client.scan_iter(match=f"{used['prefix']}:*", count=1000))
