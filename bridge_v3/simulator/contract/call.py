"""The wrapper every module function of the simulated terminal goes through.

In order, as the real module behaves:
1. the calling convention is enforced by "CPython" before the function runs: a METH_NOARGS
   function given arguments, or a positional-only one given keywords, raises TypeError and
   leaves ``last_error()`` untouched;
2. ``last_error()`` is reset to (1, 'Success');
3. the body runs under the terminal's lock (the real module holds the GIL for the whole
   call, so calls never interleave), and the call is counted (``Simulation.calls()``, the
   control module's ``calls()``: never an attribute of the face);
4. a ``CallFailed`` raised anywhere in the body becomes the function's failure value plus
   its ``last_error()``; a ``MarketError`` from the market likewise; a struct that cannot be
   built is (-1, 'Terminal: Call failed'), as in the real module, and is logged because
   it is a simulator bug.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from bridge_v3.simulator.contract.arguments import reject_arguments, reject_keywords
from bridge_v3.simulator.contract.errors import RES_E_FAIL, CallFailed
from bridge_v3.simulator.contract.structs import StructBuildError
from bridge_v3.simulator.market.errors import MarketError

logger = logging.getLogger(__name__)

NOARGS = "noargs"
VARARGS = "varargs"
KEYWORDS = "keywords"

F = TypeVar("F", bound=Callable[..., Any])


def api(convention: str, failure: Any = None) -> Callable[[F], F]:
    """Make a method a module function with ``convention`` and documented ``failure`` value."""

    def decorate(function: F) -> F:
        name = function.__name__

        @functools.wraps(function)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            if convention == NOARGS:
                reject_arguments(name, args, kwargs)
            elif convention == VARARGS:
                reject_keywords(name, kwargs)
            with self._lock:
                self._calls[name] += 1  # counted as the terminal sees them (faults included)
                self._last_error.reset()
                return _run(self, function, failure, args, kwargs)

        return call  # type: ignore[return-value]

    return decorate


def _run(terminal: Any, function: Callable, failure: Any, args: tuple, kwargs: dict) -> Any:
    try:
        return function(terminal, *args, **kwargs)
    except CallFailed as failed:
        terminal._last_error.set(failed.error)
        return failed.result if failed.has_result else failure
    except MarketError as error:
        terminal._last_error.set(market_error(error))
        return failure
    except StructBuildError:
        logger.exception("simulated terminal: %s built a malformed result", function.__name__)
        terminal._last_error.set(RES_E_FAIL)
        return failure


def market_error(error: MarketError) -> tuple[int, str]:
    """The (code, message) a MarketError stands for."""
    code = getattr(error, "code", RES_E_FAIL[0])
    message = getattr(error, "message", None) or RES_E_FAIL[1]
    return (int(code), str(message))
