"""``python -m bridge_v3.client``: watch a bridge's events, or look for missing ones.

    tail [--types bar,deal] [--symbols EURUSD] [--from now|start|ID] [--json] [--count N]
    gaps --since 1h

Common options: ``--redis-url`` (default ``$BRIDGE_REDIS_URL``, else
``redis://127.0.0.1:6379/0``) and ``--prefix`` (default ``$REDIS_PREFIX``, else ``mt5``).
Exit codes: 0 ok (``gaps``: none found), 1 gaps found or Redis unreachable, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TextIO

import redis

from bridge_v3.client.events import Event, Gap, Invalid
from bridge_v3.client.gaps import find_gaps, parse_duration
from bridge_v3.client.streams import connect, safe_url
from bridge_v3.client.subscriber import BridgeSubscriber
from bridge_v3.client.summary import summary

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bridge_v3.client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--redis-url", default=os.environ.get("BRIDGE_REDIS_URL", DEFAULT_URL))
    parser.add_argument("--prefix", default=os.environ.get("REDIS_PREFIX", "mt5"))
    commands = parser.add_subparsers(dest="command", required=True)
    tail = commands.add_parser("tail", help="print events as they come, one line each")
    tail.add_argument("--types", help="comma list of message types (default: all)")
    tail.add_argument("--symbols", help="comma list of symbols (events without one always pass)")
    tail.add_argument(
        "--from", dest="start", default="now", help="now (default), start, or a stream ID"
    )
    tail.add_argument("--json", action="store_true", help="print each envelope as received")
    tail.add_argument("--count", type=int, help="stop after this many events")
    gaps = commands.add_parser("gaps", help="report missing seq ranges per source")
    gaps.add_argument("--since", default="1h", help="how far back: 30m, 1h, 2d (default 1h)")
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=err, format="%(levelname)s %(message)s")
    try:
        if args.command == "tail":
            return tail(args, out, err)
        return gaps(args, out)
    except ValueError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    except redis.RedisError as error:
        err.write(f"error: Redis at {safe_url(args.redis_url)}: {error}\n")
        return EXIT_FOUND
    except KeyboardInterrupt:
        return EXIT_OK


def tail(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.count is not None and args.count < 1:
        raise ValueError(f"--count: expected a whole number of at least 1, got {args.count}")
    subscriber = BridgeSubscriber(
        args.redis_url,
        args.prefix,
        types=args.types,
        symbols=args.symbols,
        start=args.start,
        on_gap=lambda gap: err.write(_gap_line(gap) + "\n"),
        on_invalid=lambda invalid: err.write(_invalid_line(invalid) + "\n"),
    )
    try:
        for n, event in enumerate(subscriber.events(), start=1):
            out.write((json.dumps(event.envelope) if args.json else line(event)) + "\n")
            out.flush()
            if args.count is not None and n >= args.count:
                break
    finally:
        subscriber.close()
    return EXIT_OK


def line(event: Event) -> str:
    """One line for a person: when, what, who#seq, then the event's own summary."""
    ts = event.ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{ts} {event.type:<8} {event.source}#{event.seq} {summary(event)}"


def gaps(args: argparse.Namespace, out: TextIO) -> int:
    since = parse_duration(args.since)
    client = connect(args.redis_url)
    try:
        reports = find_gaps(client, args.prefix, since)
    finally:
        client.close()
    if not reports:
        out.write(f"no messages under {args.prefix}:stream:* in the last {args.since}\n")
    for report in reports:
        missing = sum(gap.size for gap in report.gaps)
        out.write(
            f"{report.source}: seq {report.first}-{report.last}, {report.messages} messages, "
            f"{missing} missing, {report.repeats} repeated\n"
        )
        for gap in report.gaps:
            out.write(f"  missing {gap.first}-{gap.last} ({gap.size})\n")
    return EXIT_FOUND if any(report.gaps for report in reports) else EXIT_OK


def _gap_line(gap: Gap) -> str:
    return f"GAP {gap.source}: seq {gap.first}-{gap.last} missing ({gap.size})"


def _invalid_line(invalid: Invalid) -> str:
    who = f"{invalid.source}#{invalid.seq}" if invalid.seq is not None else "?"
    return f"INVALID {invalid.stream} {invalid.id} {who}: {invalid.reason}"
