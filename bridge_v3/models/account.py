"""Account models."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account's figures at one moment (``time`` in UTC)."""

    account: int
    time: datetime
    balance: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float
    profit: float
    currency: str
    leverage: int

    @classmethod
    def from_mt5(cls, info: dict, time: datetime) -> AccountSnapshot:
        return cls(
            account=int(info["login"]),
            time=time,
            balance=float(info["balance"]),
            equity=float(info["equity"]),
            margin=float(info["margin"]),
            margin_free=float(info["margin_free"]),
            margin_level=float(info["margin_level"]),
            profit=float(info["profit"]),
            currency=str(info["currency"]),
            leverage=int(info["leverage"]),
        )

    def to_message(self) -> dict:
        data = asdict(self)
        data["time"] = self.time.isoformat().replace("+00:00", "Z")
        return data
