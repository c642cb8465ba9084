"""What the benchmarks share: scratch services, timing, and the two reference writers.

Every benchmark runs against the real PostgreSQL and Redis of TEST_POSTGRES_* /
TEST_REDIS_* (default: localhost), in a database and under a key prefix of its own that
are removed afterwards.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import psycopg2
import redis

from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import PostgresSettings, RedisSettings
from bridge_v3.services.bar_store import BAR_COLUMNS
from bridge_v3.services.copy_text import copy_text
from bridge_v3.services.database_service import DatabaseService

COLUMNS = list(BAR_COLUMNS)
KEY = ["account", "symbol", "timeframe", "time"]


def timed(func: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call, on the performance counter."""
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def postgres_params() -> dict:
    return {
        "host": os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1"),
        "port": int(os.environ.get("TEST_POSTGRES_PORT", "5432")),
        "user": os.environ.get("TEST_POSTGRES_USER", "postgres"),
        "password": os.environ.get("TEST_POSTGRES_PASSWORD", ""),
    }


@contextmanager
def scratch_database(pool_max: int = 10) -> Iterator[PostgresSettings]:
    """A new empty database for one run, dropped (connections forced off) afterwards."""
    params = postgres_params()
    name = f"bridge_v3_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield PostgresSettings(
            host=params["host"], port=params["port"], db=name, user=params["user"],
            password=Secret(params["password"]), pool_min=1, pool_max=pool_max,
        )  # fmt: skip
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def scratch_redis() -> Iterator[tuple[redis.Redis, RedisSettings]]:
    """A client and settings with a key prefix of this run's own; its keys deleted afterwards."""
    host = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("TEST_REDIS_PORT", "6379"))
    settings = RedisSettings(host=host, port=port, prefix=f"bench{uuid.uuid4().hex[:8]}")
    client = redis.Redis(host=host, port=port, socket_timeout=10)
    try:
        client.ping()
        yield client, settings
    finally:
        keys = list(client.scan_iter(match=f"{settings.prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()


def raw_copy(db: DatabaseService, rows: Sequence[tuple], table: str) -> None:
    """The limit: format the rows and COPY them straight into an empty table like ``bars``."""
    with db.connection() as conn, conn.cursor() as cur:
        data = io.BytesIO(copy_text(list(zip(*rows, strict=True))))
        cur.copy_expert(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN", data, size=1 << 20)


def row_by_row(db: DatabaseService, rows: Sequence[tuple], table: str = "bars_v2") -> None:
    """The V2 way: one INSERT and one commit per bar."""
    statement = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        " ON CONFLICT DO NOTHING"
    )
    with db.connection() as conn, conn.cursor() as cur:
        for row in rows:
            cur.execute(statement, row)
            conn.commit()
