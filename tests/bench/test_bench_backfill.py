"""The --backfill benchmark runs the real process end to end (quick sizes) and reports its
figures; they are not judged here (tests never assert on time)."""

from __future__ import annotations

import json

from bench import bench_backfill

FIGURES = (
    "backfill_process_bars", "backfill_process_seconds", "backfill_process_bars_per_s",
    "backfill_raw_copy_seconds", "backfill_raw_copy_rows_per_s",
    "backfill_process_vs_raw_copy", "backfill_outside_load_seconds", "backfill_load_seconds",
    "backfill_again_seconds", "backfill_again_vs_first",
)  # fmt: skip


def test_quick_run_reports_every_figure_and_both_aims(capsys):
    assert bench_backfill.main(["--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])

    for name in FIGURES:
        assert isinstance(report[name], (int, float)) and report[name] > 0, name
    # 2 symbols x 1 day of M1: crypto trades every minute, gold most of them
    assert 2000 < report["backfill_process_bars"] <= 2 * 1440
    assert set(report["aims"]) == {"backfill_process_vs_raw_copy", "backfill_again_vs_first"}
    assert any(line.startswith("second run / first") for line in lines[:-1])


def test_symbols_are_forex_gold_and_crypto():
    forex, crypto = bench_backfill.pick_symbols(15)
    assert len(forex) + len(crypto) == 15 and "XAUUSD" in forex
    assert crypto == ["BTCUSD", "ETHUSD", "LTCUSD", "XRPUSD"]
    assert bench_backfill.pick_symbols(2) == (["XAUUSD"], ["BTCUSD"])
