"""The health strip's memory: the newest heartbeat of each bridge, and when it arrived.

Arrival is the heartbeat's stream-entry time (the Redis server's clock), not the bridge's
own ``time``: a bridge whose clock is off, or a simulated terminal's, must not look late or
early. The page compares arrival with the dashboard server's clock, sent with every event.
"""

from __future__ import annotations

import json
import logging
import threading

import redis

from bridge_v3.client.streams import stream_key

logger = logging.getLogger(__name__)

RECENT_HEARTBEATS = 200  # entries read back at start: enough to see every bridge of a prefix


def entry_ms(entry_id: str | bytes) -> int:
    """The millisecond part of a stream ID."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


class BridgeBoard:
    def __init__(self) -> None:
        self._latest: dict[str, dict] = {}
        self._lock = threading.Lock()

    def note(self, source: str, account: int | None, received_ms: int, data: dict) -> dict:
        """Keep this heartbeat if it is the newest of ``source``; return what is kept."""
        beat = {"source": source, "account": account, "received_ms": received_ms, "data": data}
        with self._lock:
            kept = self._latest.get(source)
            if kept is None or kept["received_ms"] <= received_ms:
                self._latest[source] = kept = beat
            return kept

    def bridges(self) -> list[dict]:
        with self._lock:
            return [self._latest[source] for source in sorted(self._latest)]

    def accounts(self) -> list[int]:
        """Accounts of the bridges seen, the most recently heard first."""
        beats = sorted(self.bridges(), key=lambda beat: -beat["received_ms"])
        return list(dict.fromkeys(b["account"] for b in beats if b["account"] is not None))

    def load_recent(self, client: redis.Redis, prefix: str) -> int:
        """Read the newest heartbeats back from the status stream; return how many bridges."""
        entries = client.xrevrange(stream_key(prefix, "status"), count=RECENT_HEARTBEATS)
        for entry_id, fields in reversed(entries):
            try:
                envelope = json.loads(fields[b"envelope"])
                source, data = envelope["source"], envelope["data"]
            except (KeyError, ValueError, TypeError):
                logger.debug("status entry %s is not a heartbeat; skipped", entry_id)
                continue
            self.note(source, envelope.get("account"), entry_ms(entry_id), data)
        return len(self.bridges())
