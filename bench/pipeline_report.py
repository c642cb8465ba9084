"""Figures of ``bench.bench_pipeline``: rates and ratios from raw timings, the table, the aims.

Every ratio is ours over its baseline's, both measured in the same run, so > 1 means the
bridge is faster — except the steady cycle, where the figure is a cost (lower is better).
"""

from __future__ import annotations

AIM_COPY_RATIO = 0.60
AIM_V2_RATIO = 30.0
AIM_CYCLE_SECONDS = 0.020
AIM_TICKS_PER_SECOND = 1_000_000
AIM_PUBLISH_RATIO = 0.80
AIM_AGAIN_RATIO = 0.50  # a second --backfill over stored rows: under half the first
AIM_TICK_CATCHUP_PER_SECOND = 50_000
AIM_MEMORY_MB = 150.0
AIM_MEMORY_GROWTH_PCT = 10.0
AIM_SCALE_RATIO = 0.80  # into a bars table already holding millions of rows


def figures(found: dict) -> dict[str, float]:
    """Every figure as a number (rates per second, times in ms, ratios)."""
    return {
        **_backfill(found),
        **_cycle(found),
        **_ticks(found),
        **_publish(found),
        **_latency(found),
        **found.get("backfill_process", {}),
        **found.get("tick_catchup", {}),
        **found.get("fleet", {}),
        **_memory(found),
    }


def _memory(found: dict) -> dict[str, float]:
    return {f"memory_{name}": value for name, value in found.get("memory", {}).items()}


def _backfill(found: dict) -> dict[str, float]:
    b, v2 = found["backfill"], found["v2"]
    bars, storage = b["bars"], b["seconds"] - b["terminal_seconds"]
    v2_rate = v2["rows"] / (v2["insert_seconds"] + v2["publish_seconds"])
    v2_insert_rate = v2["rows"] / v2["insert_seconds"]
    return {
        "backfill_bars": bars,
        "backfill_seconds": round(b["seconds"], 3),
        "backfill_terminal_seconds": round(b["terminal_seconds"], 3),
        "backfill_bars_per_s": round(bars / b["seconds"]),
        "backfill_storage_bars_per_s": round(bars / storage),
        "raw_copy_rows_per_s": round(bars / found["copy_seconds"]),
        "backfill_storage_vs_raw_copy": round(found["copy_seconds"] / storage, 3),
        "backfill_vs_raw_copy": round(found["copy_seconds"] / b["seconds"], 3),
        "v2_rows": v2["rows"],
        "v2_rows_per_s": round(v2_rate, 1),
        "v2_insert_only_rows_per_s": round(v2_insert_rate, 1),
        "backfill_vs_v2": round(bars / b["seconds"] / v2_rate, 1),
        "backfill_vs_v2_insert_only": round(bars / b["seconds"] / v2_insert_rate, 1),
    }


def _cycle(found: dict) -> dict[str, float]:
    c, v2 = found["cycle"], found["v2"]
    v2_per_bar = (v2["insert_seconds"] + v2["publish_seconds"]) / v2["rows"]
    return {
        "cycle_series": c["series"],
        "cycle_wall_ms": round(c["wall_seconds"] * 1000, 2),
        "cycle_terminal_ms": round(c["terminal_seconds"] * 1000, 2),
        "cycle_overhead_ms": round(c["overhead_seconds"] * 1000, 2),
        "cycle_overhead_vs_aim": round(c["overhead_seconds"] / AIM_CYCLE_SECONDS, 3),
        "cycle_overhead_vs_terminal": round(c["overhead_seconds"] / c["terminal_seconds"], 2),
        "cycle_v2_estimate_ms": round(v2_per_bar * c["series"] * 1000, 2),
        "cycle_overhead_vs_v2_estimate": round(
            c["overhead_seconds"] / (v2_per_bar * c["series"]), 3
        ),
    }


def _ticks(found: dict) -> dict[str, float]:
    t = found["ticks"]
    return {
        "ticks": t["ticks"],
        "tick_ticks_per_s": t["ticks_per_s"],
        "tick_pandas_ticks_per_s": t["pandas_ticks_per_s"],
        "tick_vs_pandas": round(t["ticks_per_s"] / t["pandas_ticks_per_s"], 2),
        "tick_vs_aim": round(t["ticks_per_s"] / AIM_TICKS_PER_SECOND, 2),
    }


def _publish(found: dict) -> dict[str, float]:
    p, v2 = found["publish"], found["v2"]
    one_by_one = v2["rows"] / v2["publish_seconds"]
    return {
        "publish_messages": p["messages"],
        "publish_msgs_per_s": round(p["messages"] / p["seconds"]),
        "bare_publish_msgs_per_s": round(p["messages"] / p["bare_seconds"]),
        "v2_publish_msgs_per_s": round(one_by_one),
        "publish_vs_bare": round(p["bare_seconds"] / p["seconds"], 3),
        "publish_vs_v2": round(p["messages"] / p["seconds"] / one_by_one, 1),
    }


def _latency(found: dict) -> dict[str, float]:
    lat = found["latency"]
    return {
        "latency_bars": lat["bars"],
        "latency_p50_ms": lat["p50_ms"],
        "latency_p99_ms": lat["p99_ms"],
        "latency_market_p50_ms": lat["market_p50_ms"],
        "latency_bridge_p50_ms": lat["bridge_p50_ms"],
        "latency_bridge_p99_ms": lat["bridge_p99_ms"],
    }


def aims(f: dict[str, float]) -> dict[str, dict]:
    """Each DESIGN §6 aim: the figure, the aim, and whether this run met it."""
    checks = {
        "backfill_storage_vs_raw_copy": (AIM_COPY_RATIO, True),
        "backfill_vs_v2": (AIM_V2_RATIO, True),
        "backfill_vs_v2_insert_only": (AIM_V2_RATIO, True),
        "cycle_overhead_ms": (AIM_CYCLE_SECONDS * 1000, False),
        "tick_ticks_per_s": (AIM_TICKS_PER_SECOND, True),
        "publish_vs_bare": (AIM_PUBLISH_RATIO, True),
        "backfill_process_vs_raw_copy": (AIM_COPY_RATIO, True),
        "backfill_again_vs_first": (AIM_AGAIN_RATIO, False),
    }
    if "scale_backfill_vs_empty" in f:
        checks["scale_backfill_vs_empty"] = (AIM_SCALE_RATIO, True)
        checks["scale_cycle_vs_empty"] = (AIM_SCALE_RATIO, True)
    if "tick_catchup_ticks_per_s" in f:
        checks["tick_catchup_ticks_per_s"] = (AIM_TICK_CATCHUP_PER_SECOND, True)
    if "memory_rss_end_mb" in f:
        checks["memory_rss_peak_mb"] = (AIM_MEMORY_MB, False)
        checks["memory_bridge_alone_peak_mb"] = (AIM_MEMORY_MB, False)
        checks["memory_growth_after_10_min_pct"] = (AIM_MEMORY_GROWTH_PCT, False)
    return {
        name: {"value": f[name], "aim": aim, "met": f[name] >= aim if at_least else f[name] < aim}
        for name, (aim, at_least) in checks.items()
        if name in f
    }


def table(f: dict[str, float], found: dict, *, quick: bool = False) -> str:
    """The human-readable report: figure, baseline, ratio, aim."""
    rows = _table_rows(f, found) + _process_rows(f)
    met = aims(f)
    head = f"{'figure':<44}{'ours':>12}  {'baseline':<36}{'theirs':>12}{'ratio':>9}  aim"
    lines = [_title(f, found, quick), head, "-" * len(head)]
    for label, ours, baseline, theirs, ratio, aim_key, aim_text in rows:
        verdict = ""
        if aim_key:
            verdict = f"{aim_text} {'met' if met[aim_key]['met'] else 'MISSED'}"
        lines.append(f"{label:<44}{ours:>12}  {baseline:<36}{theirs:>12}{ratio:>9}  {verdict}")
    return "\n".join(lines) + "\n"


def _title(f: dict[str, float], found: dict, quick: bool) -> str:
    b = found["backfill"]
    note = " (QUICK: smoke sizes, figures mean nothing)" if quick else ""
    return (
        f"bridge_v3 price pipeline{note}: backfill {f['backfill_bars']:,} M1 bars in "
        f"{b['seconds']:.2f} s ({b['terminal_seconds']:.2f} s inside terminal calls); "
        f"cycle {f['cycle_series']} series; ratios are ours / baseline, same run"
    )


def _table_rows(f: dict[str, float], found: dict) -> list[tuple]:
    period = found["ticks"]["period"]
    return [
        ("backfill, end to end (bars/s)", _n(f["backfill_bars_per_s"]), "raw COPY (rows/s)",
         _n(f["raw_copy_rows_per_s"]), f"{f['backfill_vs_raw_copy']:.2f}", None, ""),
        ("backfill, storage: minus terminal (bars/s)", _n(f["backfill_storage_bars_per_s"]),
         "raw COPY (rows/s)", _n(f["raw_copy_rows_per_s"]),
         f"{f['backfill_storage_vs_raw_copy']:.2f}", "backfill_storage_vs_raw_copy", ">= 0.60"),
        ("backfill, end to end (bars/s)", _n(f["backfill_bars_per_s"]),
         "V2: INSERT+commit+PUBLISH per bar", _n(f["v2_rows_per_s"]),
         f"{f['backfill_vs_v2']:.1f}x", "backfill_vs_v2", ">= 30x"),
        ("backfill, end to end (bars/s)", _n(f["backfill_bars_per_s"]),
         "V2: INSERT+commit per bar only", _n(f["v2_insert_only_rows_per_s"]),
         f"{f['backfill_vs_v2_insert_only']:.1f}x", "backfill_vs_v2_insert_only", ">= 30x"),
        (f"steady cycle, {f['cycle_series']} series: beyond terminal (ms)",
         f"{f['cycle_overhead_ms']:.1f}", "aim (ms)", f"{AIM_CYCLE_SECONDS * 1000:.1f}",
         f"{f['cycle_overhead_vs_aim']:.2f}", "cycle_overhead_ms",
         f"< {AIM_CYCLE_SECONDS * 1000:.0f} ms"),
        ("steady cycle: beyond terminal (ms)", f"{f['cycle_overhead_ms']:.1f}",
         "terminal calls in the cycle (ms)", f"{f['cycle_terminal_ms']:.1f}",
         f"{f['cycle_overhead_vs_terminal']:.2f}", None, ""),
        ("steady cycle: beyond terminal (ms)", f"{f['cycle_overhead_ms']:.1f}",
         "V2 per-bar cost x series (ms, est.)", f"{f['cycle_v2_estimate_ms']:.1f}",
         f"{f['cycle_overhead_vs_v2_estimate']:.3f}", None, ""),
        (f"tick aggregation, slowest: {period} (ticks/s)", _n(f["tick_ticks_per_s"]),
         "pandas resample (ticks/s)", _n(f["tick_pandas_ticks_per_s"]),
         f"{f['tick_vs_pandas']:.2f}x", "tick_ticks_per_s", ">= 1,000,000/s"),
        ("Publisher.publish_many (msg/s)", _n(f["publish_msgs_per_s"]),
         "bare pipeline: PUBLISH+XADD (msg/s)", _n(f["bare_publish_msgs_per_s"]),
         f"{f['publish_vs_bare']:.2f}", "publish_vs_bare", f">= {AIM_PUBLISH_RATIO:.2f}"),
        ("Publisher.publish_many (msg/s)", _n(f["publish_msgs_per_s"]),
         "V2: one PUBLISH per message (msg/s)", _n(f["v2_publish_msgs_per_s"]),
         f"{f['publish_vs_v2']:.1f}x", None, ""),
        ("bar close -> subscriber, p50 (ms)", f"{f['latency_p50_ms']:.0f}",
         "of it close -> first tick, p50 (ms)", f"{f['latency_market_p50_ms']:.0f}", "", None,
         ""),
        ("bar close -> subscriber, p99 (ms)", f"{f['latency_p99_ms']:.0f}",
         "polling interval (ms)", "1000", "", None, ""),
        ("first tick after close -> subscriber, p50 (ms)", f"{f['latency_bridge_p50_ms']:.0f}",
         "polling interval (ms)", "1000", "", None, ""),
        ("first tick after close -> subscriber, p99 (ms)", f"{f['latency_bridge_p99_ms']:.0f}",
         "polling interval (ms)", "1000", "", None, ""),
    ] + _separate_rows(f)  # fmt: skip


def _process_rows(f: dict[str, float]) -> list[tuple]:
    """``--backfill`` as a whole process (``bench.bench_backfill``), when it was measured."""
    if "backfill_process_seconds" not in f:
        return []
    return [
        (f"--backfill process, {f['backfill_process_bars']:,} bars (bars/s)",
         _n(f["backfill_process_bars_per_s"]), "raw COPY of its rows (rows/s)",
         _n(f["backfill_raw_copy_rows_per_s"]), f"{f['backfill_process_vs_raw_copy']:.2f}",
         "backfill_process_vs_raw_copy", ">= 0.60"),
        ("--backfill again, all stored (s)", f"{f['backfill_again_seconds']:.2f}",
         "the first run (s)", f"{f['backfill_process_seconds']:.2f}",
         f"{f['backfill_again_vs_first']:.2f}", "backfill_again_vs_first", "< 0.50"),
    ] + _scale_rows(f)  # fmt: skip


def _scale_rows(f: dict[str, float]) -> list[tuple]:
    """The big ``bars`` table (``--scale``), when it was measured."""
    if "scale_rows_before" not in f:
        return []
    rows = f"{f['scale_rows_before']:,} rows"
    return [
        (f"backfill into {rows} (bars/s)", _n(f["scale_backfill_bars_per_s"]),
         "the same into an empty table (bars/s)", _n(f["backfill_process_bars_per_s"]),
         f"{f['scale_backfill_vs_empty']:.2f}", "scale_backfill_vs_empty", ">= 0.80"),
        (f"steady cycle on {rows}: beyond terminal (ms)", f"{f['scale_cycle_overhead_ms']:.1f}",
         "on an empty table (ratio of rates)", "", f"{f['scale_cycle_vs_empty']:.2f}",
         "scale_cycle_vs_empty", ">= 0.80"),
    ]  # fmt: skip


def _separate_rows(f: dict[str, float]) -> list[tuple]:
    rows = []
    if "tick_catchup_ticks_per_s" in f:
        rows.append(
            (f"tick catch-up, {f['tick_catchup_ticks']:,} ticks (ticks/s)",
             _n(f["tick_catchup_ticks_per_s"]), "raw COPY text (rows/s)",
             _n(f["tick_raw_copy_rows_per_s"]), f"{f['tick_catchup_vs_raw_copy']:.2f}",
             "tick_catchup_ticks_per_s", ">= 50,000/s"))  # fmt: skip
    if "fleet_backfill_bars_per_s" in f:
        rows.append(
            (f"{f['fleet_bridges']} bridges, one database (bars/s)",
             _n(f["fleet_backfill_bars_per_s"]), "one bridge alone (bars/s)",
             _n(f["alone_backfill_bars_per_s"]), f"{f['fleet_vs_alone']:.2f}", None, ""))  # fmt: skip
    if "memory_rss_end_mb" in f:
        rows += [
            (f"memory, {f['memory_minutes']} min: process RSS peak (MiB)",
             f"{f['memory_rss_peak_mb']:.1f}", "aim (MB)", "150", "", "memory_rss_peak_mb",
             "< 150 MB"),
            ("memory: bridge alone (RSS - simulator) peak", f"{f['memory_bridge_alone_peak_mb']:.1f}",
             "simulator's cached bars/ticks (MiB)", f"{f['memory_simulator_end_mb']:.1f}", "",
             "memory_bridge_alone_peak_mb", "< 150 MB"),
            ("memory: RSS growth minute 10 -> end (%)", f"{f['memory_growth_after_10_min_pct']:.1f}",
             "aim (%)", "10", "", "memory_growth_after_10_min_pct", "< 10 %"),
        ]  # fmt: skip
    return rows


def _n(value: float) -> str:
    return f"{value:,.0f}"
