"""Convert the server-time fields of MT5 records (ticks, positions, orders, deals) to UTC."""

from __future__ import annotations

import numpy as np

from bridge_v3.services.server_time import ServerTime

SECOND_FIELDS = ("time", "time_setup", "time_done", "time_update", "time_expiration")
MILLISECOND_FIELDS = ("time_msc", "time_setup_msc", "time_done_msc", "time_update_msc")


def to_utc_fields(record: dict, server_time: ServerTime) -> dict:
    """A copy of ``record`` whose time fields are UTC epochs. Zero means "not set" and stays 0."""
    converted = dict(record)
    for name in SECOND_FIELDS:
        if converted.get(name):
            converted[name] = _to_utc(int(converted[name]), server_time)
    for name in MILLISECOND_FIELDS:
        if converted.get(name):
            msc = int(converted[name])
            converted[name] = _to_utc(msc // 1000, server_time) * 1000 + msc % 1000
    return converted


def _to_utc(server_seconds: int, server_time: ServerTime) -> int:
    return int(server_time.to_utc_array(np.array([server_seconds], dtype=np.int64))[0])
