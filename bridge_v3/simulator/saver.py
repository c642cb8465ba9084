"""Saving a simulation's state while it runs, so that a kill loses at most one interval.

Both ways of running the simulator use it: the RPyC server (``--state``) and the bridge's
in-process terminal (``SIM_STATE_FILE``). A save in passing records how far the clock may
run before the next one (its lease); after a kill the clock resumes at most that far on,
never behind a time the terminal has already shown. The save at a clean stop records the
clock exactly.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from bridge_v3.simulator.state import save_state

if TYPE_CHECKING:
    from bridge_v3.simulator.factory import Simulation

logger = logging.getLogger(__name__)

_JOIN_SECONDS = 5.0
LEASE_INTERVALS = 2.0  # a save may come one interval late without time going back


class StateSaver:
    """Saves the simulation's state every ``interval`` seconds on its own thread.

    ``lock`` is held while the state is read, so no terminal call is half done in it.
    """

    def __init__(self, simulation: Simulation, lock: threading.RLock, interval: float) -> None:
        self._simulation = simulation
        self._lock = lock
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-state-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (without saving: call ``save()`` for the last word)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(_JOIN_SECONDS)

    def save(self, final: bool = True) -> None:
        """Snapshot under the lock, write outside it. ``final``: the clock stops here;
        otherwise it may run on for a lease of ``LEASE_INTERVALS`` intervals."""
        lease = 0.0 if final else LEASE_INTERVALS * self._interval
        with self._lock:
            state = self._simulation.snapshot(lease=lease)
        save_state(self._simulation.config.state_file, state)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.save(final=False)
            except Exception:  # the loop's edge: a failed save is retried at the next one
                logger.exception(
                    "could not save the terminal state to %s; retrying in %.0f s",
                    self._simulation.config.state_file,
                    self._interval,
                )
