"""Nonces already seen, kept in Redis with a TTL: a command is executed at most once."""

from __future__ import annotations

import math

import redis

from bridge_v3.control.envelope import Refused


class NonceRegistry:
    """``claim(nonce)`` is True the first time, False for a replay, per bridge (``source``):
    two bridges listening on one channel each execute a command meant for both."""

    def __init__(self, client: redis.Redis, prefix: str, source: str, ttl: float) -> None:
        self._client = client
        self._key = f"{prefix}:control:nonce:{source}:"
        self._ttl = max(1, math.ceil(ttl))

    def claim(self, nonce: str) -> bool:
        """SET NX EX: atomic, so the same command arriving twice at once runs once. Redis
        unreachable: ``Refused`` (a nonce that cannot be checked is never trusted)."""
        try:
            return bool(self._client.set(self._key + nonce, 1, nx=True, ex=self._ttl))
        except redis.RedisError as error:
            raise Refused("unavailable", f"cannot check the nonce: Redis {error}") from error
