"""The symbol catalogue: what a typical retail MT5 broker offers, with its trading terms.

Values are those a broker's ``symbol_info`` typically shows (5-digit forex, 3-digit JPY
pairs, 2-digit gold and crypto). Forex and gold trade Monday to Friday (closed from
Friday 17:00 to Sunday 17:00 New York time) with market execution; crypto trades around the
clock with instant execution (Fill or Kill only), so both fill policies are exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge_v3.services.mt5.contract import constants as mc

FILLING_FOK = mc.INTERNAL["SYMBOL_FILLING_FOK"]
FILLING_IOC = mc.INTERNAL["SYMBOL_FILLING_IOC"]

_CURRENCY_NAMES = {
    "EUR": "Euro",
    "USD": "US Dollar",
    "GBP": "Great Britain Pound",
    "JPY": "Japanese Yen",
    "CHF": "Swiss Franc",
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "NZD": "New Zealand Dollar",
    "XAU": "Gold",
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "LTC": "Litecoin",
    "XRP": "Ripple",
}


@dataclass(frozen=True)
class SymbolSpec:
    """One tradable symbol. Prices are in ``currency_profit``; spread etc. in points."""

    name: str
    description: str
    path: str
    category: str  # "forex" | "metal" | "crypto"
    currency_base: str
    currency_profit: str
    currency_margin: str
    digits: int
    point: float
    trade_contract_size: float
    trade_tick_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    volume_limit: float
    filling_mode: int  # SYMBOL_FILLING_* bitmask (FOK=1, IOC=2, BOC=4)
    trade_exemode: int  # SYMBOL_TRADE_EXECUTION_*
    trade_calc_mode: int  # SYMBOL_CALC_MODE_*
    trade_mode: int  # SYMBOL_TRADE_MODE_*
    spread: int
    trade_stops_level: int
    trade_freeze_level: int
    swap_long: float
    swap_short: float
    swap_mode: int
    margin_initial: float
    margin_hedged: float
    always_open: bool  # crypto; forex/metal closed Fri 17:00 .. Sun 17:00 New York
    start_price: float  # the level prices wander around
    annual_volatility: float  # of log returns, e.g. 0.07 = 7 % a year

    @property
    def pair(self) -> str:
        """Base and profit currency (``EURUSD``), the same whatever the broker suffix."""
        return self.currency_base + self.currency_profit


# name, start price, annual volatility, spread, stops level, swap long, swap short (points)
_FOREX = (
    ("EURUSD", 1.0850, 0.07, 12, 10, -7.2, 1.9),
    ("GBPUSD", 1.2700, 0.08, 15, 10, -4.1, -1.3),
    ("USDJPY", 150.00, 0.09, 14, 10, 12.4, -28.6),
    ("USDCHF", 0.8800, 0.08, 16, 10, 4.6, -11.9),
    ("AUDUSD", 0.6600, 0.10, 14, 10, -3.3, -1.1),
    ("USDCAD", 1.3600, 0.06, 18, 10, 0.8, -6.4),
    ("NZDUSD", 0.6000, 0.10, 20, 10, -2.5, -1.8),
    ("EURGBP", 0.8550, 0.05, 15, 10, -5.8, 0.4),
    ("EURCHF", 0.9500, 0.06, 20, 10, 1.1, -8.7),
    ("EURAUD", 1.6400, 0.08, 25, 10, -11.2, 2.6),
    ("EURCAD", 1.4700, 0.07, 25, 10, -8.9, 1.2),
    ("GBPCHF", 1.1200, 0.08, 28, 10, 2.9, -12.5),
    ("AUDNZD", 1.0900, 0.06, 30, 10, -4.4, -2.9),
    ("EURJPY", 162.00, 0.10, 20, 10, 7.1, -22.8),
    ("GBPJPY", 190.50, 0.11, 30, 10, 10.3, -30.4),
    ("AUDJPY", 99.00, 0.12, 22, 10, 5.6, -16.9),
    ("CADJPY", 110.00, 0.10, 25, 10, 6.2, -18.1),
    ("CHFJPY", 170.00, 0.10, 28, 10, 2.4, -24.7),
    ("NZDJPY", 90.00, 0.12, 28, 10, 4.8, -15.2),
)
# name, start price, volatility, digits, spread, stops, contract, vmin, vmax, vstep, swaps
_CRYPTO = (
    ("BTCUSD", 60000.0, 0.60, 2, 2500, 100, 1.0, 0.01, 10.0, 0.01),
    ("ETHUSD", 3000.0, 0.75, 2, 250, 50, 1.0, 0.01, 100.0, 0.01),
    ("LTCUSD", 80.0, 0.80, 2, 20, 20, 1.0, 0.1, 500.0, 0.1),
    ("XRPUSD", 0.55, 0.90, 5, 150, 100, 1000.0, 0.1, 500.0, 0.1),
)
_CRYPTO_SWAPS = (-20.0, -10.0)  # % a year of the position's value (INTEREST_CURRENT)


def _description(base: str, profit: str) -> str:
    return f"{_CURRENCY_NAMES[base]} vs {_CURRENCY_NAMES[profit]}"


def _forex(row: tuple, suffix: str) -> SymbolSpec:
    name, price, volatility, spread, stops, swap_long, swap_short = row
    base, profit = name[:3], name[3:]
    digits = 3 if profit == "JPY" else 5
    group = "Majors" if "USD" in name else "Crosses"
    return SymbolSpec(
        name=name + suffix,
        description=_description(base, profit),
        path=f"Forex\\{group}\\{name}{suffix}",
        category="forex",
        currency_base=base,
        currency_profit=profit,
        currency_margin=base,
        digits=digits,
        point=10.0**-digits,
        trade_contract_size=100_000.0,
        trade_tick_size=10.0**-digits,
        volume_min=0.01,
        volume_max=100.0,
        volume_step=0.01,
        volume_limit=0.0,
        filling_mode=FILLING_FOK | FILLING_IOC,
        trade_exemode=mc.SYMBOL_TRADE_EXECUTION_MARKET,
        trade_calc_mode=mc.SYMBOL_CALC_MODE_FOREX,
        trade_mode=mc.SYMBOL_TRADE_MODE_FULL,
        spread=spread,
        trade_stops_level=stops,
        trade_freeze_level=0,
        swap_long=swap_long,
        swap_short=swap_short,
        swap_mode=mc.SYMBOL_SWAP_MODE_POINTS,
        margin_initial=0.0,
        margin_hedged=50_000.0,
        always_open=False,
        start_price=price,
        annual_volatility=volatility,
    )


def _gold(suffix: str) -> SymbolSpec:
    return SymbolSpec(
        name="XAUUSD" + suffix,
        description="Gold vs US Dollar",
        path=f"Metals\\XAUUSD{suffix}",
        category="metal",
        currency_base="XAU",
        currency_profit="USD",
        currency_margin="XAU",
        digits=2,
        point=0.01,
        trade_contract_size=100.0,
        trade_tick_size=0.01,
        volume_min=0.01,
        volume_max=50.0,
        volume_step=0.01,
        volume_limit=0.0,
        filling_mode=FILLING_FOK | FILLING_IOC,
        trade_exemode=mc.SYMBOL_TRADE_EXECUTION_MARKET,
        trade_calc_mode=mc.SYMBOL_CALC_MODE_CFDLEVERAGE,
        trade_mode=mc.SYMBOL_TRADE_MODE_FULL,
        spread=25,
        trade_stops_level=20,
        trade_freeze_level=0,
        swap_long=-35.5,
        swap_short=18.2,
        swap_mode=mc.SYMBOL_SWAP_MODE_POINTS,
        margin_initial=0.0,
        margin_hedged=50.0,
        always_open=False,
        start_price=2300.0,
        annual_volatility=0.15,
    )


def _crypto(row: tuple, suffix: str) -> SymbolSpec:
    name, price, volatility, digits, spread, stops, contract, vmin, vmax, vstep = row
    base = name[:3]
    return SymbolSpec(
        name=name + suffix,
        description=_description(base, "USD"),
        path=f"Crypto\\{name}{suffix}",
        category="crypto",
        currency_base=base,
        currency_profit="USD",
        currency_margin="USD",
        digits=digits,
        point=10.0**-digits,
        trade_contract_size=contract,
        trade_tick_size=10.0**-digits,
        volume_min=vmin,
        volume_max=vmax,
        volume_step=vstep,
        volume_limit=0.0,
        filling_mode=FILLING_FOK,
        trade_exemode=mc.SYMBOL_TRADE_EXECUTION_INSTANT,
        trade_calc_mode=mc.SYMBOL_CALC_MODE_CFDLEVERAGE,
        trade_mode=mc.SYMBOL_TRADE_MODE_FULL,
        spread=spread,
        trade_stops_level=stops,
        trade_freeze_level=0,
        swap_long=_CRYPTO_SWAPS[0],
        swap_short=_CRYPTO_SWAPS[1],
        swap_mode=mc.SYMBOL_SWAP_MODE_INTEREST_CURRENT,
        margin_initial=0.0,
        margin_hedged=contract / 2,
        always_open=True,
        start_price=price,
        annual_volatility=volatility,
    )


def default_catalogue(suffix: str = "") -> list[SymbolSpec]:
    """Every symbol the simulated broker offers; ``suffix`` (e.g. ``.m``) ends each name."""
    forex = [_forex(row, suffix) for row in _FOREX]
    crypto = [_crypto(row, suffix) for row in _CRYPTO]
    return [*forex, _gold(suffix), *crypto]
