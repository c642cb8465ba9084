"""Create the configured PostgreSQL database if it does not exist (used by scripts/run.sh)."""

from __future__ import annotations

import sys

import psycopg2
from psycopg2 import sql

from bridge_v3.config.loader import load_settings
from bridge_v3.exceptions import ConfigError


def main() -> int:
    try:
        pg = load_settings().postgres
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    params = {**pg.connect_params(), "dbname": "postgres"}
    try:
        connection = psycopg2.connect(**params)
    except psycopg2.OperationalError as error:
        print(f"PostgreSQL unreachable at {pg.host}:{pg.port}: {error}".strip(), file=sys.stderr)
        return 1
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:  # autocommit: CREATE DATABASE refuses a transaction
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg.db,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg.db)))
                print(f"Created database {pg.db}")
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
