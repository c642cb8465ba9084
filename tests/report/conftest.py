from __future__ import annotations

import psycopg2
import pytest

from bridge_v3.services.migrations.runner import MigrationRunner
from tests.report.hand_deals import load_hand_deals


@pytest.fixture
def analytics_db(fresh_database) -> dict:
    """A migrated database holding the hand-computed trade history."""
    conn = psycopg2.connect(**fresh_database)
    try:
        MigrationRunner(conn).run()
    finally:
        conn.close()
    load_hand_deals(fresh_database)
    return fresh_database


def query(pg: dict, sql: str, params=()) -> list[dict]:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
