"""The simulated terminal dressed as the ``MetaTrader5`` module for an RPyC server.

The real module is process-global: one pipe, one ``last_error()``, every call holding the
GIL. The served module keeps that shape: one module object in ``sys.modules`` whose
functions all pass through one lock, so calls from several clients never interleave.

Its functions behave as the real module's C builtins: stored as a class attribute they stay
unbound (``class H: v = mt5.version`` then ``H().v()`` calls ``version()``), and its result
types and the wheel's private ``_RawOrder`` are attributes too.

Arguments a client sends through RPyC arrive as netrefs to the client's objects. The
real module would see plain dicts, lists and datetimes, so containers and datetimes are
copied into local objects before the call (outside the lock: copying talks to the client).
"""

from __future__ import annotations

import datetime as _dt
import threading
import types
from collections.abc import Callable
from typing import Any

from rpyc.core.netref import BaseNetref

MODULE_NAME = "MetaTrader5"
_MAX_DEPTH = 16
_KEPT_PRIVATE = ("__version__", "__author__", "_RawOrder")


class ServedModule(types.ModuleType):
    """A module object exposing the terminal's functions (locked) and constants (copied)."""

    def __init__(self, terminal: Any, lock: threading.RLock) -> None:
        super().__init__(MODULE_NAME, "Simulated MetaTrader 5 terminal (bridge_v3).")
        self.__dict__["_terminal_lock"] = lock
        for name in _public_names(terminal):
            value = getattr(terminal, name)
            if callable(value) and not isinstance(value, type):
                value = ModuleFunction(name, value, lock)
            setattr(self, name, value)


def install(terminal: Any, lock: threading.RLock, modules: dict[str, Any]) -> ServedModule:
    """Put the served module into ``modules`` (normally ``sys.modules``) and return it."""
    module = ServedModule(terminal, lock)
    modules[MODULE_NAME] = module
    return module


def localise(value: Any, depth: int = 0) -> Any:
    """A local copy of ``value`` where it is a netref to a dict, list, tuple or datetime."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, BaseNetref):
        return _localise_netref(value, depth)
    if isinstance(value, dict):
        return {localise(k, depth + 1): localise(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(localise(item, depth + 1) for item in value)
    return value


def _localise_netref(value: Any, depth: int) -> Any:
    kind = object.__getattribute__(value, "____id_pack__")[0]
    if kind == "builtins.dict":
        return {localise(k, depth + 1): localise(v, depth + 1) for k, v in value.items()}
    if kind in ("builtins.list", "builtins.tuple"):
        items = [localise(item, depth + 1) for item in value]
        return items if kind == "builtins.list" else tuple(items)
    if kind == "datetime.datetime":
        # The real module reads a datetime through .timestamp(); ask the client's object.
        return _dt.datetime.fromtimestamp(value.timestamp(), tz=_dt.timezone.utc)
    return value


class ModuleFunction:
    """One function of the served module, called under the terminal lock.

    An instance, not a Python function, so that it has no ``__get__``: like a C builtin it
    stays unbound when stored on a class.
    """

    def __init__(self, name: str, function: Callable[..., Any], lock: threading.RLock) -> None:
        self.__name__ = self.__qualname__ = name
        self.__doc__ = function.__doc__
        self.__module__ = MODULE_NAME
        self._function = function
        self._lock = lock

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = tuple(localise(arg) for arg in args)
        kwargs = {key: localise(arg) for key, arg in kwargs.items()}
        with self._lock:
            return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<built-in function {self.__name__}>"


def _public_names(terminal: Any) -> list[str]:
    return [
        name
        for name in dir(terminal)
        if not name.startswith("_") or (name in _KEPT_PRIVATE and hasattr(terminal, name))
    ]
