"""The Linux side of the bridge: follow its Redis streams without missing or doubling events.

``BridgeSubscriber`` reads every event once, in order, across restarts and Redis outages;
``GroupSubscriber`` shares the events among several workers (Redis consumer groups);
``find_gaps`` reports missing ``seq`` ranges. Needs only redis-py.
"""

from bridge_v3.client.events import Account, Bar, Event, Gap, Invalid, InvalidMessage, Status, Tick
from bridge_v3.client.positions import FilePosition, RedisPosition
from bridge_v3.client.subscriber import BridgeSubscriber

__all__ = [
    "Account",
    "Bar",
    "BridgeSubscriber",
    "Event",
    "FilePosition",
    "Gap",
    "Invalid",
    "InvalidMessage",
    "RedisPosition",
    "Status",
    "Tick",
]
