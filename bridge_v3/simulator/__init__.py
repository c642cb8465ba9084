"""The simulated MetaTrader 5 terminal: a paper broker that honours the real module's contract.

``create_terminal(SimulatorConfig(...))`` gives an object that stands wherever
``import MetaTrader5 as mt5`` stands; ``python -m bridge_v3.simulator serve`` serves one
over RPyC classic, as the mt5linux server serves a real terminal.
"""

from bridge_v3.simulator.factory import (
    Simulation,
    SimulatorConfig,
    create_simulation,
    create_terminal,
    save_state,
)

__all__ = ["Simulation", "SimulatorConfig", "create_simulation", "create_terminal", "save_state"]
