"""Ways to reach a terminal: the module in this process, or a module on an RPyC server.

A client makes one call and returns its result as plain Python (structures become dicts,
tuples of structures become lists of dicts, numpy arrays stay arrays) together with the
``last_error()`` read right after it, so no other call can slip in between the two.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any, Protocol

logger = logging.getLogger(__name__)

LastError = tuple[int, str]


class TerminalClient(Protocol):
    name: str

    def call(self, function: str, *args: Any, **kwargs: Any) -> tuple[Any, LastError]: ...

    def close(self) -> None: ...


def to_plain(value: Any) -> Any:
    """Turn MT5 structure sequences into dicts (recursively); leave everything else."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: to_plain(item) for key, item in value._asdict().items()}
    if isinstance(value, tuple) and value and hasattr(value[0], "_asdict"):
        return [to_plain(item) for item in value]
    return value


class ModuleClient:
    """Calls a module object in this process: the real ``MetaTrader5`` or the simulator."""

    def __init__(self, module: Any, name: str) -> None:
        self._module = module
        self.name = name

    def call(self, function: str, *args: Any, **kwargs: Any) -> tuple[Any, LastError]:
        result = getattr(self._module, function)(*args, **kwargs)
        return to_plain(result), tuple(self._module.last_error())

    def close(self) -> None:
        """Nothing to close: the module lives as long as the process."""


# Runs inside the RPyC server. Arguments and results travel pickled, by value: a dict
# sent as an RPyC reference would fail the real module's dict check in order_send.
_REMOTE_HELPER = """
def _bridge_v3_call(blob):
    import pickle
    import MetaTrader5
    def plain(value):
        if isinstance(value, tuple) and hasattr(value, "_asdict"):
            return {k: plain(v) for k, v in value._asdict().items()}
        if isinstance(value, tuple) and value and hasattr(value[0], "_asdict"):
            return [plain(v) for v in value]
        return value
    function, args, kwargs = pickle.loads(blob)
    result = getattr(MetaTrader5, function)(*args, **kwargs)
    return pickle.dumps((plain(result), tuple(MetaTrader5.last_error())), protocol=4)
"""


class RemoteClient:
    """Calls ``MetaTrader5`` on an RPyC classic server (mt5linux under Wine, or our simulator)."""

    def __init__(
        self, host: str, port: int, *, timeout: float = 60.0, connect_timeout: float = 5.0
    ) -> None:
        # Imported here: only this backend needs them. The classic helper, as
        # rpyc.classic.connect uses: it gives the connection execute() and namespace.
        from rpyc.core.stream import SocketStream
        from rpyc.utils.classic import connect_stream

        self.name = f"remote {host}:{port}"
        # One attempt bounded by connect_timeout: an unreachable host fails fast and the
        # caller's backoff decides when to try again.
        stream = SocketStream.connect(
            host, port, timeout=connect_timeout, keepalive=True, attempts=1, ipv6=":" in host
        )
        self._connection = connect_stream(stream)
        self._connection._config["sync_request_timeout"] = timeout
        self._connection.execute(_REMOTE_HELPER)
        self._remote_call = self._connection.namespace["_bridge_v3_call"]

    def call(self, function: str, *args: Any, **kwargs: Any) -> tuple[Any, LastError]:
        blob = pickle.dumps((function, args, kwargs), protocol=4)
        return pickle.loads(self._remote_call(blob))

    def close(self) -> None:
        try:
            self._connection.close()
        except Exception:  # closing a dead connection must not mask the original fault
            logger.debug("closing the RPyC connection failed", exc_info=True)
