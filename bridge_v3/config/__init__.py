"""Configuration: the settings shape, its loader, and the shared constants.

``load_settings()`` is the one way the running bridge obtains its ``Settings``.
"""

from bridge_v3.config.loader import ConfigErrors, load_settings
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import (
    LoggingSettings,
    MarketSettings,
    MT5Settings,
    PostgresSettings,
    RedisSettings,
    RiskSettings,
    Settings,
    SimulatorSettings,
    WorkerSettings,
)

__all__ = [
    "ConfigErrors",
    "LoggingSettings",
    "MT5Settings",
    "MarketSettings",
    "PostgresSettings",
    "RedisSettings",
    "RiskSettings",
    "Secret",
    "Settings",
    "SimulatorSettings",
    "WorkerSettings",
    "load_settings",
]
