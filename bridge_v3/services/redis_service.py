"""Redis: the public envelope, pub/sub plus capped streams, and latest-value keys.

Every message is one compact JSON envelope (DESIGN §4) published on its channel and appended
to ``{prefix}:stream:{type}`` (MAXLEN ~), in one atomic server-side call per batch. ``seq`` rises
by one per message per bridge; the bridge numbers its messages in its local outbox (see
``Publisher``), and each batch sent raises the high-water mark ``{prefix}:seq:{source}``, from
which a bridge with a new outbox continues. ``publish``/``publish_many`` number messages
themselves, for tools and tests that send without an outbox. Every redis error leaves this
module as ``PublishError``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bridge_v3.config.settings import RedisSettings
from bridge_v3.exceptions import PublishError

logger = logging.getLogger(__name__)

ENVELOPE_VERSION = 1
SEND_CHUNK = 1000  # messages per atomic server-side call
# ... and at most this many bytes of envelopes (a ``ticks`` batch is ~60 kB): a call far
# larger would block Redis and overflow subscribers' output buffers (32 MB by default),
# which disconnects them.
SEND_BYTES = 4 * 1024 * 1024
TICKS_PER_BATCH = 1000  # at most, in one ``ticks`` message (tick_messages builds them)
MIN_BATCH_STREAM = 100  # entries the ``ticks`` stream keeps at least
# One batch in one server-side call: PUBLISH and XADD per message, then raise the seq
# high-water mark (never lower it: a replayed older batch must not). Atomic, so a replay
# after a failure never finds half a batch delivered; and one command per batch instead of
# two per message keeps client-side packing off the hot path. The messages travel as ONE
# argument, a line per message, ``channel<TAB>stream index<TAB>envelope``: packing one
# string costs the client nothing next to packing three per message. Compact JSON never
# holds a raw tab or newline, and channels are checked for them before sending.
# KEYS: seq key, stream keys. ARGV: batch's top seq, the lines, then each stream's maxlen.
_SEND_BATCH = """
local batch = ARGV[2]
local size = #batch
local pos = 1
while pos <= size do
  local tab1 = string.find(batch, '\\t', pos, true)
  local tab2 = string.find(batch, '\\t', tab1 + 1, true)
  local stop = string.find(batch, '\\n', tab2 + 1, true) or (size + 1)
  local channel = string.sub(batch, pos, tab1 - 1)
  local envelope = string.sub(batch, tab2 + 1, stop - 1)
  redis.call('PUBLISH', channel, envelope)
  local stream = tonumber(string.sub(batch, tab1 + 1, tab2 - 1))
  redis.call('XADD', KEYS[stream], 'MAXLEN', '~', ARGV[stream + 1], '*',
             'channel', channel, 'envelope', envelope)
  pos = stop + 1
end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local top = tonumber(ARGV[1])
if top > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return top
end
return current
"""
_SEPARATORS = ("\t", "\n")
# Latest values in one server-side call: SET (with EX when the TTL is positive) of each key
# in KEYS to the matching line of ARGV[2] (compact JSON values, one a line).
# ARGV: ttl seconds (0: none), the values.
_SET_LAST = """
local ttl = tonumber(ARGV[1])
local values = ARGV[2]
local pos = 1
for i = 1, #KEYS do
  local stop = string.find(values, '\\n', pos, true) or (#values + 1)
  local value = string.sub(values, pos, stop - 1)
  if ttl > 0 then
    redis.call('SET', KEYS[i], value, 'EX', ttl)
  else
    redis.call('SET', KEYS[i], value)
  end
  pos = stop + 1
end
return #KEYS
"""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message with its envelope serialised: ready to send now or to spool and send later."""

    channel: str
    type: str
    envelope: str
    seq: int


class RedisService:
    """Publishes envelopes for one bridge (``source``). ``start()`` before use."""

    def __init__(
        self,
        settings: RedisSettings,
        *,
        source: str,
        account: int | None = None,
        clock: Callable[[], float] = time.time,
        socket_timeout: float = 5.0,
        health_check_interval: int = 30,
        max_connections: int = 32,
    ) -> None:
        self._settings = settings
        self._source = source
        self._account = account
        self._clock = clock
        self._pool_options = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "health_check_interval": health_check_interval,
            "max_connections": max_connections,
            # No silent re-send: a failed batch surfaces as PublishError and the caller's
            # policy (the outbox) decides, so a half-sent batch is never sent twice blindly.
            "retry": Retry(NoBackoff(), 0),
        }
        self._client: redis.Redis | None = None
        self._send_batch: Callable | None = None
        self._set_last: Callable | None = None
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._send_lock = threading.RLock()  # keeps a batch's seqs and its wire order together
        self._source_json = dumps(source)
        self._account_json = dumps(account)

    def __repr__(self) -> str:
        return f"RedisService({self.address}, prefix={self.prefix!r}, source={self._source!r})"

    @property
    def address(self) -> str:
        s = self._settings
        return f"{s.host}:{s.port}/{s.db}"

    @property
    def prefix(self) -> str:
        return self._settings.prefix

    @property
    def source(self) -> str:
        return self._source

    @property
    def host_port(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    @property
    def seq(self) -> int:
        """The last seq handed out (0 before the first message)."""
        return self._seq

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Create the pool, check Redis answers and resume ``seq`` from its high-water mark.

        Unreachable -> PublishError naming host:port/db; the pool stays, so a later send
        works once Redis is back.
        """
        if self._client is None:
            self._client = redis.Redis(connection_pool=self._make_pool())
            self._send_batch = self._client.register_script(_SEND_BATCH)
            self._set_last = self._client.register_script(_SET_LAST)
        try:
            stored = self._client.get(self.key("seq", self._source))
        except redis.RedisError as error:
            raise PublishError(f"Redis unreachable at {self.address}: {error}") from error
        self.advance_seq(int(stored or 0))
        logger.info("Connected to Redis at %s", self.address)

    def _make_pool(self) -> redis.ConnectionPool:
        s = self._settings
        options = dict(self._pool_options, host=s.host, port=s.port, db=s.db)
        if s.password:
            options["password"] = s.password.reveal()
        if s.ssl:
            options["connection_class"] = redis.SSLConnection
        return redis.ConnectionPool(**options)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.connection_pool.disconnect()

    def health(self) -> bool:
        """True if Redis answers PING now."""
        try:
            return bool(self._require().ping())
        except (redis.RedisError, PublishError):
            return False

    def _require(self) -> redis.Redis:
        if self._client is None:
            raise PublishError(f"Redis at {self.address}: not started")
        return self._client

    # -- names and envelopes -----------------------------------------------------------------

    def channel(self, *parts: str) -> str:
        """``channel("bar", "EURUSD", "M15")`` -> ``"mt5:bar:EURUSD:M15"``."""
        return ":".join((self.prefix, *parts))

    key = channel  # keys follow the same naming: "{prefix}:last:...", "{prefix}:seq:..."

    def advance_seq(self, at_least: int) -> None:
        """Never hand out a seq <= ``at_least`` (e.g. the last one spooled locally)."""
        with self._seq_lock:
            self._seq = max(self._seq, int(at_least))

    def envelope(self, type_: str, data: dict) -> dict:
        """The next envelope of this bridge (takes a seq)."""
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
        return self._envelope(type_, data, seq, self._timestamp())

    def _envelope(self, type_: str, data: dict, seq: int, ts: str) -> dict:
        return {
            "v": ENVELOPE_VERSION,
            "type": type_,
            "source": self._source,
            "account": self._account,
            "seq": seq,
            "ts": ts,
            "data": data,
        }

    def _timestamp(self) -> str:
        return iso_utc(datetime.fromtimestamp(self._clock(), tz=timezone.utc), ms=True)

    timestamp = _timestamp  # the envelope's ``ts`` for a message published now

    def envelope_text(self, type_: str, data_json: str, seq: int, ts: str) -> str:
        """The compact JSON envelope around already serialised ``data``: the same text
        ``dumps(envelope)`` gives, without serialising the data again."""
        return (
            f'{{"v":{ENVELOPE_VERSION},"type":{_json_name(type_)},"source":{self._source_json},'
            f'"account":{self._account_json},"seq":{seq},"ts":"{ts}","data":{data_json}}}'
        )

    def prepare(self, messages: Iterable[tuple[str, str, dict]]) -> list[Prepared]:
        """Envelopes for ``(channel, type, data)`` messages, with consecutive seqs."""
        messages = list(messages)
        ts = self._timestamp()
        with self._seq_lock:
            first = self._seq + 1
            self._seq += len(messages)
        return [
            Prepared(channel, type_, self.envelope_text(type_, dumps(data), seq, ts), seq)
            for seq, (channel, type_, data) in enumerate(messages, start=first)
        ]

    # -- publishing --------------------------------------------------------------------------

    def publish(self, channel: str, type_: str, data: dict) -> None:
        self.publish_many([(channel, type_, data)])

    def publish_many(self, messages: Iterable[tuple[str, str, dict]]) -> int:
        """Publish ``(channel, type, data)`` messages as one batch; return how many.

        Each goes to its channel (PUBLISH) and to ``{prefix}:stream:{type}`` (XADD MAXLEN ~).
        """
        with self._send_lock:
            return self.send(self.prepare(messages))

    def send(self, prepared: Sequence[Prepared]) -> int:
        """Send already prepared messages (e.g. replayed from the outbox), in order.

        Each chunk of up to ``SEND_CHUNK`` messages and about ``SEND_BYTES`` is one atomic
        server-side call, so Redis is never blocked long and a failure leaves whole chunks
        delivered or not at all.
        """
        with self._send_lock:
            for chunk in send_chunks(prepared):
                self._send_chunk(chunk)
        return len(prepared)

    def _send_chunk(self, prepared: Sequence[Prepared]) -> None:
        streams: dict[str, str] = {}  # message type -> its stream's index in KEYS, as text
        lines = []
        for item in prepared:
            index = streams.get(item.type)
            if index is None:
                index = streams[item.type] = str(len(streams) + 2)  # 1-based, after seq
            lines.append(f"{item.channel}\t{index}\t{item.envelope}")
        _check_channels({item.channel for item in prepared})
        keys = [self.key("seq", self._source), *(self.key("stream", t) for t in streams)]
        top = max(item.seq for item in prepared)
        args = [top, "\n".join(lines), *(self.stream_maxlen(t) for t in streams)]
        client = self._require()
        try:
            stored = self._send_batch(keys=keys, args=args, client=client)
        except redis.RedisError as error:
            raise PublishError(f"Redis at {self.address}: {error}") from error
        self.advance_seq(int(stored))

    def stream_maxlen(self, type_: str) -> int:
        """Entries a type's stream keeps: ``REDIS_STREAM_MAXLEN``, and for ``ticks`` batches
        (up to TICKS_PER_BATCH ticks each) that many times fewer, so it holds about as many
        ticks, and bytes, as the ``tick`` stream."""
        maxlen = self._settings.stream_maxlen
        return max(MIN_BATCH_STREAM, maxlen // TICKS_PER_BATCH) if type_ == "ticks" else maxlen

    # -- latest values -----------------------------------------------------------------------

    def set_last(self, key: str, data: dict, ttl: int | None = None) -> None:
        """Store ``data`` as ``{prefix}:last:{key}`` for ``ttl`` seconds (default from settings)."""
        self.set_last_many([(key, data)], ttl)

    def set_last_many(self, items: Iterable[tuple[str, dict]], ttl: int | None = None) -> None:
        """``set_last`` of many keys in one server-side call per ``SEND_CHUNK``. The value is
        the envelope without ``type`` and ``seq``: latest values are not events, so they
        must not open gaps in the seq sequence."""
        ttl = self._settings.last_ttl if ttl is None else ttl
        head = (
            f'{{"v":{ENVELOPE_VERSION},"source":{self._source_json},'
            f'"account":{self._account_json},"ts":"{self._timestamp()}","data":'
        )
        pairs = [(self.key("last", key), f"{head}{dumps(data)}}}") for key, data in items]
        client = self._require()
        for start in range(0, len(pairs), SEND_CHUNK):
            chunk = pairs[start : start + SEND_CHUNK]
            keys = [key for key, _ in chunk]
            values = "\n".join(value for _, value in chunk)
            try:
                self._set_last(keys=keys, args=[max(ttl, 0), values], client=client)
            except redis.RedisError as error:
                raise PublishError(f"Redis at {self.address}: {error}") from error


def send_chunks(prepared: Sequence[Prepared]) -> Iterator[Sequence[Prepared]]:
    """``prepared`` cut, in order, into runs of at most ``SEND_CHUNK`` messages and
    ``SEND_BYTES`` of envelopes (a larger single message goes alone)."""
    start, size = 0, 0
    for end, item in enumerate(prepared):
        length = len(item.envelope)
        if end > start and (end - start >= SEND_CHUNK or size + length > SEND_BYTES):
            yield prepared[start:end]
            start, size = end, 0
        size += length
    if start < len(prepared):
        yield prepared[start:]


def _check_channels(channels: set[str]) -> None:
    """A tab or newline in a channel would split a batch line wrongly: refused."""
    for channel in channels:
        if any(separator in channel for separator in _SEPARATORS):
            raise PublishError(f"channel {channel!r} holds a tab or a newline")


# -- JSON ----------------------------------------------------------------------------------


def iso_utc(moment: datetime, *, ms: bool = False) -> str:
    """ISO-8601 in UTC ending in Z; naive datetimes are taken as UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    spec = "milliseconds" if ms or moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec) + "Z"


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@functools.lru_cache(maxsize=64)
def _json_name(name: str) -> str:
    """A message type as JSON: few distinct values, serialised once each."""
    return dumps(name)


def dumps(value: object) -> str:
    """Compact JSON; NaN and infinities (not valid JSON) become null."""
    try:
        return _compact(value)
    except ValueError:  # rare: walk the value only when it holds a non-finite float
        return _compact(_finite(value))


# One encoder for every message: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def _compact(value: object) -> str:
    return _ENCODER.encode(value)


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _finite(value.item())
    return value
