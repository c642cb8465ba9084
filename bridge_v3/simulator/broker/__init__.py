"""The paper broker behind the simulated terminal: account, orders, positions, deals."""

from .broker import PaperBroker
from .state import BrokerStateError

__all__ = ["BrokerStateError", "PaperBroker"]
