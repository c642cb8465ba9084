"""Stream names and connections shared by the subscriber, the consumer groups and the CLI."""

from __future__ import annotations

import re
from collections.abc import Iterable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# Types the bridge publishes or has reserved (DESIGN §4). Streams are read even before they
# exist, so a type that starts later is followed from its first message.
KNOWN_TYPES = (
    "bar",
    "tick",
    "ticks",
    "account",
    "position",
    "order",
    "deal",
    "signal",
    "risk",
    "status",
    "control_reply",
)
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def stream_key(prefix: str, type_: str) -> str:
    return f"{prefix}:stream:{type_}"


def checked_types(types: Iterable[str] | str | None, argument: str = "types") -> tuple[str, ...]:
    """Type names from a list or a comma list; ValueError naming ``argument`` if malformed."""
    if types is None:
        return ()
    items = types.split(",") if isinstance(types, str) else list(types)
    names = tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    bad = [name for name in names if not _TYPE_NAME.match(name)]
    if bad:
        raise ValueError(f"{argument}: {bad[0]!r} is not a message type name (e.g. bar, deal)")
    return names


def checked_symbols(symbols: Iterable[str] | str | None) -> frozenset[str]:
    if symbols is None:
        return frozenset()
    items = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    return frozenset(item.strip() for item in items if item.strip())


def discover_types(client: redis.Redis, prefix: str) -> set[str]:
    """Types that have a stream now under ``prefix`` (SCAN, never KEYS)."""
    head = f"{prefix}:stream:"
    found = set()
    for key in client.scan_iter(match=f"{_glob_escape(head)}*", count=500, _type="stream"):
        name = key.decode() if isinstance(key, bytes) else key
        found.add(name[len(head) :])
    return {t for t in found if _TYPE_NAME.match(t)}


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def connect(redis_url: str, *, block_ms: int = 0) -> redis.Redis:
    """A client for ``redis_url`` whose socket timeout outlasts a blocking read.

    No silent retries inside redis-py: the subscriber's own loop reconnects and resumes, so
    it can report the outage and never re-issue a read from a stale cursor.
    """
    if not isinstance(redis_url, str) or not redis_url.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise ValueError(
            "redis_url: expected redis://[:password@]host:port/db (or rediss://, unix://)"
        )
    timeout = block_ms / 1000 + 10
    return redis.Redis.from_url(
        redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=5,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


def safe_url(redis_url: str) -> str:
    """``redis_url`` without its password, for logs and reprs."""
    return re.sub(r"//([^@/]*)@", lambda m: "//" + _mask(m.group(1)) + "@", redis_url)


def _mask(userinfo: str) -> str:
    user, _, password = userinfo.partition(":")
    return f"{user}:***" if password else ("***" if user and not password else userinfo)


def last_id(client: redis.Redis, key: str) -> str:
    """ID of the newest entry of stream ``key`` ("0-0" if it is empty or missing)."""
    newest = client.xrevrange(key, count=1)
    if not newest:
        return "0-0"
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id
