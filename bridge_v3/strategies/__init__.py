"""Strategy plug-ins: pure functions of closed bars that return a signal or nothing.

Write your own by subclassing :class:`bridge_v3.strategies.base.Strategy` (see the README,
"Writing your own strategy"); the built-in ones are ``ma_cross`` and ``donchian``.
"""

from bridge_v3.strategies.base import Signal, Strategy

__all__ = ["Signal", "Strategy"]
