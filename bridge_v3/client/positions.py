"""Where a subscriber keeps its position, so a restart resumes exactly where it stopped.

A position is a small JSON object: ``{"v": 1, "streams": {type: last stream ID handled},
"seqs": {source: last seq handled}}``. The stream IDs say where to read again; the seqs say
which of the entries read again were already handled (they are dropped as repeats).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Protocol

import redis

logger = logging.getLogger(__name__)

POSITION_VERSION = 1


class PositionStore(Protocol):
    def load(self) -> dict | None: ...

    def save(self, position: dict) -> None: ...


def empty_position() -> dict:
    return {"v": POSITION_VERSION, "streams": {}, "seqs": {}}


def checked(position: object, where: str) -> dict:
    """``position`` if it has the expected shape, else ValueError naming ``where``."""
    ok = (
        isinstance(position, dict)
        and position.get("v") == POSITION_VERSION
        and isinstance(position.get("streams"), dict)
        and isinstance(position.get("seqs"), dict)
    )
    if not ok:
        raise ValueError(f"{where}: not a subscriber position (expected v, streams, seqs)")
    return position


class FilePosition:
    """A JSON file, replaced atomically on every save (write a temporary file, rename)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"FilePosition({str(self.path)!r})"

    def load(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return checked(json.loads(text), str(self.path))
        except json.JSONDecodeError as error:
            raise ValueError(f"{self.path}: position file is not JSON ({error})") from None

    def save(self, position: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(position, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, self.path)  # a crash leaves the old file or the new one, whole


class RedisPosition:
    """A Redis string key (for workers without a disk of their own).

    The subscriber passes its own client through ``bind``. A failed save is logged and
    retried with the next one: the position in memory stays right, only a crash while Redis
    is away would hand the last events again.
    """

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("key: the position needs a Redis key name")
        self.key = key
        self._client: redis.Redis | None = None

    def __repr__(self) -> str:
        return f"RedisPosition({self.key!r})"

    def bind(self, client: redis.Redis) -> None:
        self._client = client

    def load(self) -> dict | None:
        raw = self._require().get(self.key)
        return None if raw is None else checked(json.loads(raw), f"Redis key {self.key}")

    def save(self, position: dict) -> None:
        try:
            self._require().set(self.key, json.dumps(position, separators=(",", ":")))
        except redis.RedisError as error:
            logger.warning(
                "Position not saved to Redis key %s (%s); saved next time", self.key, error
            )

    def _require(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError(f"RedisPosition({self.key!r}) is not bound to a client")
        return self._client
