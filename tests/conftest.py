"""Shared fixtures: a fresh PostgreSQL database per test run and an isolated Redis prefix.

Both services are real. If either is missing the tests fail loudly: there is no skip.
Connection defaults match a local install; override with TEST_POSTGRES_HOST, TEST_POSTGRES_PORT,
TEST_POSTGRES_USER, TEST_POSTGRES_PASSWORD, TEST_REDIS_HOST, TEST_REDIS_PORT.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
import redis

PG_HOST = os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_POSTGRES_PORT", "5432"))
PG_USER = os.environ.get("TEST_POSTGRES_USER", "postgres")
PG_PASSWORD = os.environ.get("TEST_POSTGRES_PASSWORD", "")
REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))


def _admin_connection():
    try:
        conn = psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname="postgres"
        )
    except psycopg2.OperationalError as error:
        pytest.fail(f"PostgreSQL is required at {PG_HOST}:{PG_PORT}: {error}", pytrace=False)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def pg_database() -> Iterator[dict]:
    """A fresh, empty database for this test run, dropped afterwards.

    Yields the connection parameters (host, port, user, password, dbname).
    """
    name = f"bridge_v3_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_connection()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    params = {
        "host": PG_HOST,
        "port": PG_PORT,
        "user": PG_USER,
        "password": PG_PASSWORD,
        "dbname": name,
    }
    try:
        yield params
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def fresh_database() -> Iterator[dict]:
    """A database of its own for one test (for migration tests that need an empty schema)."""
    name = f"bridge_v3_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_connection()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            "host": PG_HOST,
            "port": PG_PORT,
            "user": PG_USER,
            "password": PG_PASSWORD,
            "dbname": name,
        }
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is required at {REDIS_HOST}:{REDIS_PORT}: {error}", pytrace=False)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key/channel prefix unique to one test; its keys are deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        redis_client.delete(*keys)
