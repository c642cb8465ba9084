"""``python -m bridge_v3.report --day YYYY-MM-DD [--account N] [--out DIR] [--pdf]``.

Reads PostgreSQL with the bridge's own settings (POSTGRES_* from the environment or
``--env-file``) and writes ``report-{account}-{day}.html`` with its two PNG charts, and the
same as ``report-{account}-{day}.pdf`` with ``--pdf``. Exit codes: 0 written, 1 PostgreSQL
unreachable, 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TextIO

import psycopg2

from bridge_v3.config.loader import load_settings
from bridge_v3.exceptions import ConfigError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bridge_v3.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--day", required=True, help="the UTC day, YYYY-MM-DD")
    parser.add_argument(
        "--account", type=int, help="account login (needed when several share the database)"
    )
    parser.add_argument("--out", default=".", help="folder for the files (created if missing)")
    parser.add_argument("--pdf", action="store_true", help="write a PDF of the same report too")
    parser.add_argument("--env-file", default=".env", help="settings file (default: .env)")
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = parse_args(argv)
    try:
        day = _day(args.day)
        if args.env_file != ".env" and not Path(args.env_file).is_file():
            raise ValueError(f"--env-file: no such file: {args.env_file}")
        settings = load_settings(env_file=args.env_file)
        from bridge_v3.report.writer import write_report  # matplotlib only once arguments are good

        conn = psycopg2.connect(**settings.postgres.connect_params(), connect_timeout=10)
    except (ValueError, ConfigError) as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    except psycopg2.OperationalError as error:
        pg = settings.postgres
        err.write(f"error: PostgreSQL at {pg.host}:{pg.port}/{pg.db}: {str(error).strip()}\n")
        return EXIT_FAILURE
    try:
        written = write_report(conn, day, args.account, Path(args.out), pdf=args.pdf)
    except ValueError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    finally:
        conn.close()
    for path in written:
        out.write(f"{path}\n")
    return EXIT_OK


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--day: expected a date as YYYY-MM-DD, got {text!r}") from None
