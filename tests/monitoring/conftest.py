"""The fault rig's fixtures (a clock, TCP relays, bridges stopped afterwards)."""

from tests.test_daemon_faults import bridges, clock, relays  # noqa: F401
