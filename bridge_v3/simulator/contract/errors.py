"""``last_error()`` state and the failures the face reports through it.

The real module keeps one error slot for the whole process (no thread-local copy): it reads
``(0, '')`` before any call, every call resets it to ``(1, 'Success')`` on entry, and a
failing call overwrites it. One ``LastError`` belongs to one simulated terminal, which
stands for the module in its process, so the same sharing between threads holds.

Inside the face a failing call raises ``CallFailed``; the call wrapper stores its code and
message and returns the function's documented failure value (None, False, ...).
"""

from __future__ import annotations

import threading
from typing import Any

RES_S_OK = (1, "Success")
RES_E_FAIL = (-1, "Terminal: Call failed")
RES_E_INVALID_PARAMS = (-2, "Terminal: Invalid params")
RES_E_NO_MEMORY = (-3, "No memory")
RES_E_NOT_FOUND = (-4, "Terminal: Not found")
RES_E_INVALID_VERSION = (
    -5,
    "Terminal: Incompatible versions, please install the latest version of Terminal and "
    "Python module",
)
RES_E_AUTH_FAILED = (-6, "Terminal: Authorization failed")
RES_E_AUTO_TRADING_DISABLED = (-8, "Auto-Trading using Python API disabled in Terminal")
RES_E_INTERNAL_FAIL = (-10000, "IPC call failed")
RES_E_INTERNAL_FAIL_SEND = (-10001, "IPC send failed")
RES_E_INTERNAL_FAIL_RECEIVE = (-10002, "IPC recv failed")
RES_E_INTERNAL_FAIL_CONNECT = (-10004, "No IPC connection")
RES_E_INTERNAL_FAIL_TIMEOUT = (-10005, "IPC timeout")

INVALID_ARGUMENTS = (-2, "Invalid arguments")
INVALID_NUMBER_OF_ARGUMENTS = (-2, "Invalid number of arguments")
UNNAMED_ARGUMENTS_NOT_ALLOWED = (-2, "Unnamed arguments not allowed")

_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def invalid_field(name: str) -> tuple[int, str]:
    """The local error for one bad named argument or request field: ``Invalid "x" argument``."""
    return (-2, f'Invalid "{name}" argument')


def invalid_unnamed(position: int) -> tuple[int, str]:
    """The local error for a bad positional argument of initialize/login (1-based)."""
    return (-2, f"Invalid {_ORDINALS[position]} unnamed argument")


class CallFailed(Exception):
    """A face call fails with ``error``; ``result`` overrides the function's failure value."""

    _DEFAULT: Any = object()

    def __init__(self, error: tuple[int, str], result: Any = _DEFAULT) -> None:
        super().__init__(f"{error[0]}: {error[1]}")
        self.error = error
        self.result = result

    @property
    def has_result(self) -> bool:
        return self.result is not CallFailed._DEFAULT


class LastError:
    """The terminal-wide ``(code, message)`` pair read by ``last_error()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[int, str] = (0, "")

    def get(self) -> tuple[int, str]:
        with self._lock:
            return self._value

    def reset(self) -> None:
        """Entry of every module function: the real module sets ``(1, 'Success')`` first."""
        self.set(RES_S_OK)

    def set(self, error: tuple[int, str]) -> None:
        code, message = error
        with self._lock:
            self._value = (int(code), str(message))
