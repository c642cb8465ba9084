"""Batch upsert of bars against a raw COPY and a one-row-per-INSERT loop, in one run.

    .venv/bin/python -m bench.bench_upsert [--rows 200000] [--baseline-rows 2000]

Creates a scratch database (dropped afterwards) on the PostgreSQL of TEST_POSTGRES_* /
localhost, applies the migrations, and prints each figure in rows/s and as a ratio to the
raw COPY measured in the same run; the last line is the same figures as one JSON object.
Aims (DESIGN §6): upsert >= 60 % of raw COPY and >= 30x the row-by-row loop.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta, timezone

from bench._common import COLUMNS, KEY, raw_copy, row_by_row, scratch_database, timed
from bridge_v3.services.database_service import DatabaseService


def make_rows(count: int, symbols: int = 20) -> list[tuple]:
    """``count`` M1 bars spread over ``symbols`` series, prices varying like real quotes."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    per_symbol = -(-count // symbols)
    rows = []
    for s in range(symbols):
        price = 1.0 + s / 10
        for i in range(per_symbol):
            if len(rows) == count:
                return rows
            price += ((i * 7919 + s) % 13 - 6) * 1e-5
            low, high = price - 0.0003, price + 0.0004
            rows.append(
                (12345678, f"SYM{s:02d}", "M1", start + timedelta(minutes=i),
                 price, high, low, price + 0.0001, 100 + i % 50, 2, 0)
            )  # fmt: skip
    return rows


def measure(db: DatabaseService, rows: list[tuple], baseline_rows: int) -> dict:
    for table in ("bars_raw", "bars_v2"):
        db.execute(f"CREATE TABLE {table} (LIKE bars INCLUDING ALL)")
    db.upsert("bars", COLUMNS, rows[:1000], KEY)  # warm caches and the plan path
    db.execute("TRUNCATE bars")
    raw, _ = timed(lambda: raw_copy(db, rows, "bars_raw"))
    first, inserted = timed(lambda: db.upsert("bars", COLUMNS, rows, KEY))
    again, unchanged = timed(lambda: db.upsert("bars", COLUMNS, rows, KEY))
    changed_rows = [
        r[:7] + (r[7] + 1e-5,) + r[8:] if i % 10 == 0 else r for i, r in enumerate(rows)
    ]
    mixed, changed = timed(lambda: db.upsert("bars", COLUMNS, changed_rows, KEY))
    subset = rows[:baseline_rows]
    v2, _ = timed(lambda: row_by_row(db, subset))
    n = len(rows)
    return {
        "rows": n,
        "raw_copy_rows_per_s": round(n / raw),
        "upsert_new_rows_per_s": round(n / first),
        "upsert_same_rows_per_s": round(n / again),
        "upsert_10pct_changed_rows_per_s": round(n / mixed),
        "row_by_row_rows_per_s": round(len(subset) / v2),
        "upsert_new_vs_raw_copy": round(raw / first, 3),
        "upsert_same_vs_raw_copy": round(raw / again, 3),
        "upsert_new_vs_row_by_row": round((n / first) / (len(subset) / v2), 1),
        "counts": {"inserted": inserted, "unchanged_batch": unchanged, "changed": changed},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    args = parser.parse_args(argv)
    rows = make_rows(args.rows)
    with scratch_database() as settings:
        db = DatabaseService(settings, application_name="bridge_v3_bench")
        db.start()
        try:
            db.migrate()
            figures = measure(db, rows, args.baseline_rows)
        finally:
            db.close()
    for name, value in figures.items():
        if name != "counts":
            sys.stdout.write(f"{name:34s} {value:>12}\n")
    sys.stdout.write(f"{'counts':34s} {figures['counts']}\n")
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
