"""bridge_v3: MetaTrader 5 to PostgreSQL and Redis bridge."""

__version__ = "3.0.0"
