"""Errors of the simulated market.

:class:`MarketError` carries the ``(code, message)`` pair the real terminal reports
through ``last_error()``; the terminal face turns it into ``None`` plus that error.
:class:`ReplayFileError` stops the simulator when a price file cannot be replayed.
"""

from __future__ import annotations

from pathlib import Path

CALL_FAILED = (-1, "Terminal: Call failed")
INVALID_PARAMS = (-2, "Terminal: Invalid params")
NOT_FOUND = (-4, "Terminal: Not found")


class MarketError(Exception):
    """A market request the real terminal would refuse; ``code``/``message`` as it reports.

    ``detail`` says what was wrong, for logs; it is not part of ``last_error()``.
    """

    def __init__(self, code: int, message: str, detail: str = "") -> None:
        self.code = code
        self.message = message
        self.detail = detail
        super().__init__(f"({code}, {message!r}){': ' + detail if detail else ''}")

    @classmethod
    def call_failed(cls, detail: str = "") -> MarketError:
        return cls(*CALL_FAILED, detail)

    @classmethod
    def invalid_params(cls, detail: str = "") -> MarketError:
        return cls(*INVALID_PARAMS, detail)


class ReplayFileError(ValueError):
    """A replay price file is unreadable or corrupt; names the file, line and problem.

    ``line`` is 1-based; 0 means the file as a whole (missing, empty, unreadable).
    """

    def __init__(self, path: str | Path, line: int, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"replay file {where}: {problem}")
