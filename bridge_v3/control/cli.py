"""``python -m bridge_v3.control``: sign a command, send it, wait for the reply, print it.

    python -m bridge_v3.control --secret-env BRIDGE_CONTROL_SECRET halt --reason "news at 14:30"

The key is read from the environment variable named by ``--secret-env`` (never from the
command line, where other users of the host could read it). ``--redis-url`` defaults to
``$BRIDGE_REDIS_URL``, else ``redis://127.0.0.1:6379/0``; ``--prefix`` to ``$REDIS_PREFIX``,
else ``mt5``. Exit codes: 0 done, 1 refused or failed, 2 no reply (no bridge listening,
none answered in time, Redis unreachable) or a bad argument.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from datetime import datetime, timezone
from typing import TextIO

import redis

from bridge_v3.client.streams import connect, safe_url
from bridge_v3.control import envelope as env

EXIT_OK, EXIT_REFUSED, EXIT_NO_REPLY = 0, 1, 2
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bridge_v3.control", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--secret-env", required=True, metavar="VAR", help="variable holding CONTROL_SECRET"
    )
    parser.add_argument("--redis-url", default=os.environ.get("BRIDGE_REDIS_URL", DEFAULT_URL))
    parser.add_argument("--prefix", default=os.environ.get("REDIS_PREFIX", "mt5"))
    parser.add_argument("--by", default=None, help="who sends it (default: your user name)")
    parser.add_argument(
        "--bridge", default=None, help="BRIDGE_ID of the one bridge meant (default: all)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("status", help="the bridge's health, risk and readiness")
    commands.add_parser("halt", help="halt new exposure now").add_argument("--reason")
    commands.add_parser("resume", help="lift a risk halt (recorded with --by)")
    flatten = commands.add_parser("flatten", help="close the bridge's positions (--all: every one)")
    flatten.add_argument("--all", action="store_true")
    close = commands.add_parser("close", help="close a position")
    close.add_argument("ticket", type=int)
    close.add_argument("--volume", type=float, help="lots to close (default: all)")
    commands.add_parser("cancel", help="cancel a pending order").add_argument("ticket", type=int)
    stops = commands.add_parser(
        "set-sl-tp", help="move a position's stops (tighter only while halted)"
    )
    stops.add_argument("ticket", type=int)
    stops.add_argument("--sl", type=float)
    stops.add_argument("--tp", type=float)
    commands.add_parser("pause-strategy").add_argument("name")
    commands.add_parser("resume-strategy").add_argument("name")
    commands.add_parser("reload-strategies")
    return parser.parse_args(argv)


def command_args(args: argparse.Namespace) -> dict:
    """The ``args`` object of the envelope, from the command line."""
    names = {
        "halt": ("reason",),
        "close": ("ticket", "volume"),
        "cancel": ("ticket",),
        "set-sl-tp": ("ticket", "sl", "tp"),
        "pause-strategy": ("name",),
        "resume-strategy": ("name",),
    }.get(args.command, ())
    found = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.command == "flatten" and args.all:
        found["scope"] = "all"
    return found


def main(
    argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = parse_args(argv)
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        err.write(f"--secret-env {args.secret_env}: that variable is not set (or empty)\n")
        return EXIT_NO_REPLY
    command = env.build(
        args.command,
        command_args(args),
        by=args.by or _user(),
        secret=secret,
        issued_at=datetime.now(timezone.utc),
        bridge=args.bridge,
    )
    try:
        reply = send(connect(args.redis_url), args.prefix, command, args.timeout, err)
    except (redis.RedisError, ValueError) as error:
        err.write(f"Redis at {safe_url(args.redis_url)}: {error}\n")
        return EXIT_NO_REPLY
    if reply is None:
        return EXIT_NO_REPLY
    out.write(json.dumps(reply, indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK if reply.get("ok") else EXIT_REFUSED


def send(
    client: redis.Redis, prefix: str, command: dict, timeout: float, err: TextIO
) -> dict | None:
    """Publish ``command`` and return the data of its reply (None: no reply, said on ``err``).
    Subscribed to the replies before sending, so a quick reply is not missed."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(f"{prefix}:control:reply")
        listeners = client.publish(f"{prefix}:control", json.dumps(command, ensure_ascii=False))
        if not listeners:
            err.write(
                f"No bridge listens on {prefix}:control (is it running, with this --prefix?)\n"
            )
            return None
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = pubsub.get_message(timeout=min(left, 0.5))
            if message and message["type"] == "message":
                data = json.loads(message["data"]).get("data", {})
                if data.get("id") == command["id"]:
                    return data
        err.write(f"No reply to {command['id']} within {timeout:g} s\n")
        return None
    finally:
        pubsub.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "unknown"
