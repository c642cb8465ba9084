"""Translate the terminal's ``last_error()`` codes into the bridge's exceptions."""

from __future__ import annotations

from bridge_v3.exceptions import (
    BridgeError,
    DependencyError,
    FatalError,
    SymbolNotFoundError,
    TerminalDisconnectedError,
    TerminalError,
)

# IPC failures: the pipe to the terminal is gone or stuck; reconnecting is the cure.
DISCONNECT_CODES = {-10001, -10002, -10003, -10004, -10005}
# A person must act: wrong credentials, unsupported account, incompatible versions.
FATAL_CODES = {-5, -6, -7}
# The Python API is switched off in the terminal's options.
API_DISABLED_CODE = -8


def translate(function: str, code: int, message: str, subject: str = "") -> BridgeError:
    """The exception for a failed call. ``subject`` names what it was about (a symbol)."""
    about = f" for {subject}" if subject else ""
    text = f"MT5 {function}{about} failed: ({code}, {message!r})"
    if code in DISCONNECT_CODES:
        return TerminalDisconnectedError(text, code)
    if code in FATAL_CODES:
        return FatalError(text)
    if code == API_DISABLED_CODE:
        return FatalError(
            text + ": untick 'Disable automatic trading via external Python API' in the terminal"
        )
    if subject and code in (-1, -4):
        return SymbolNotFoundError(text)
    if code == -2:
        return DependencyError(text)
    return TerminalError(text, code)
