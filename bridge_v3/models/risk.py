"""Risk models: the trading state, the gate's decision, the limits and one account reading."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass


class RiskState(str, enum.Enum):
    """ACTIVE: everything passes the gate. REDUCING: only orders that reduce exposure.
    HALTED: no new exposure (closing, cancelling and tightening stops still pass), until a
    person lifts it."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {RiskState.ACTIVE: 0, RiskState.REDUCING: 1, RiskState.HALTED: 2}


@dataclass(frozen=True)
class Decision:
    """The risk gate's answer for one trade request.

    ``allowed`` (also the truth value), ``reason`` (one sentence for a log line, a reply or
    an intent row), ``action`` (what the request would do: ``open``, ``place``, ``close``,
    ``partial_close``, ``close_by``, ``cancel``, ``tighten_stops``, ``loosen_stops``,
    ``modify_order``, or ``invalid``) and the risk ``state`` it was judged in.
    """

    allowed: bool
    reason: str
    action: str
    state: RiskState | None = None

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def allow(cls, action: str, reason: str, state: RiskState | None = None) -> Decision:
        return cls(True, reason, action, state)

    @classmethod
    def refuse(cls, action: str, reason: str, state: RiskState | None = None) -> Decision:
        return cls(False, reason, action, state)


@dataclass(frozen=True)
class RiskLimits:
    """The limits in force (from settings). ``None`` position limits mean "no separate one"."""

    max_daily_loss_pct: float
    reducing_at_pct: float
    min_margin_level: float
    max_positions: int
    max_forex_positions: int | None = None
    max_crypto_positions: int | None = None

    @property
    def reducing_loss_pct(self) -> float:
        """The daily loss (%) from which the state is REDUCING."""
        return self.max_daily_loss_pct * self.reducing_at_pct / 100.0

    def by_category(self) -> dict[str, int | None]:
        return {"forex": self.max_forex_positions, "crypto": self.max_crypto_positions}

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RiskReading:
    """The account's figures at one moment (``time`` UTC seconds)."""

    time: float
    balance: float
    equity: float
    margin: float
    margin_level: float
    profit: float

    @classmethod
    def from_account(cls, info: Mapping, time: float) -> RiskReading:
        return cls(
            time=time,
            balance=float(info["balance"]),
            equity=float(info["equity"]),
            margin=float(info["margin"]),
            margin_level=float(info["margin_level"]),
            profit=float(info["profit"]),
        )

    @property
    def problem(self) -> str | None:
        """Why this reading must not be acted on, or None when it is usable."""
        if not math.isfinite(self.equity):
            return f"equity {self.equity} is not a number"
        if self.equity <= 0:
            return f"equity {self.equity:g} is not positive"
        for name in ("balance", "margin", "margin_level", "profit"):
            if not math.isfinite(getattr(self, name)):
                return f"{name} {getattr(self, name)} is not a number"
        return None

    @property
    def uses_margin(self) -> bool:
        """False when nothing is open: the terminal then reports a margin level of 0."""
        return self.margin > 0
