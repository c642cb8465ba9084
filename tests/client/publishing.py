"""Publishing test messages the way the bridge does (its own RedisService)."""

from __future__ import annotations

from bridge_v3.config.settings import RedisSettings
from bridge_v3.services.redis_service import RedisService


def account_data(n: int) -> dict:
    return {
        "account": 7,
        "time": f"2026-03-25T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "balance": 1000.0 + n,
        "equity": 1000.0 + n,
        "margin": 0.0,
        "margin_free": 1000.0,
        "margin_level": 0.0,
        "profit": 0.0,
        "currency": "USD",
        "leverage": 100,
    }


def bar_data(symbol: str, n: int) -> dict:
    return {
        "symbol": symbol,
        "timeframe": "M1",
        "time": f"2026-03-25T09:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "open": 1.1,
        "high": 1.2,
        "low": 1.0,
        "close": 1.15,
        "tick_volume": n,
        "spread": 3,
        "real_volume": 0,
    }


def publisher(prefix: str, source: str = "b1", *, host="127.0.0.1", port=6379) -> RedisService:
    service = RedisService(
        RedisSettings(host=host, port=port, prefix=prefix), source=source, account=7
    )
    service.start()
    return service


def publish_accounts(service: RedisService, numbers) -> list[int]:
    """One account message per number; returns their seqs."""
    prepared = service.prepare(
        (service.channel("account"), "account", account_data(n)) for n in numbers
    )
    service.send(prepared)
    return [p.seq for p in prepared]
