"""The symbol catalogue against the contract's SymbolInfo fields and constants."""

from __future__ import annotations

import dataclasses

import pytest

from bridge_v3.simulator.market.symbols import SymbolSpec, default_catalogue
from tests.simulator.market_support import CONSTANTS, CONTRACT

REQUIRED = {
    "EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD",
    "EURGBP", "EURJPY", "GBPJPY", "EURCHF", "AUDJPY",
    "XAUUSD", "BTCUSD", "ETHUSD", "LTCUSD", "XRPUSD",
}  # fmt: skip
SYMBOL_INFO = {field["name"] for field in CONTRACT["structs"]["SymbolInfo"]["fields"]}
OWN_FIELDS = {"always_open", "start_price", "annual_volatility"}  # not in SymbolInfo


def values_of(prefix: str) -> set[int]:
    return {value for name, value in CONSTANTS.items() if name.startswith(prefix)}


@pytest.fixture(scope="module")
def catalogue() -> dict[str, SymbolSpec]:
    return {spec.name: spec for spec in default_catalogue()}


def test_catalogue_offers_majors_crosses_jpy_pairs_gold_and_crypto(catalogue):
    assert catalogue.keys() >= REQUIRED


def test_every_spec_field_is_a_symbol_info_field():
    names = {field.name for field in dataclasses.fields(SymbolSpec)}
    assert names - OWN_FIELDS <= SYMBOL_INFO


def test_enumerated_fields_hold_contract_values(catalogue):
    for spec in catalogue.values():
        assert spec.trade_exemode in values_of("SYMBOL_TRADE_EXECUTION_"), spec.name
        assert spec.trade_calc_mode in values_of("SYMBOL_CALC_MODE_"), spec.name
        assert spec.swap_mode in values_of("SYMBOL_SWAP_MODE_"), spec.name
        assert spec.trade_mode == CONSTANTS["SYMBOL_TRADE_MODE_FULL"], spec.name


def test_filling_mode_is_a_nonempty_mask_of_fok_ioc_boc(catalogue):
    internal = CONTRACT["constants_not_exported_but_relevant"]
    allowed = (
        internal["SYMBOL_FILLING_FOK"]
        | internal["SYMBOL_FILLING_IOC"]
        | internal["SYMBOL_FILLING_BOC"]
    )
    for spec in catalogue.values():
        assert spec.filling_mode and spec.filling_mode & ~allowed == 0, spec.name


@pytest.mark.parametrize(
    ("name", "digits"),
    [("EURUSD", 5), ("EURGBP", 5), ("USDJPY", 3), ("GBPJPY", 3), ("XAUUSD", 2), ("BTCUSD", 2)],
)
def test_digits_and_point_agree(catalogue, name, digits):
    spec = catalogue[name]
    assert spec.digits == digits
    assert spec.point == pytest.approx(10.0**-digits)
    assert spec.trade_tick_size == pytest.approx(spec.point)


def test_currencies_follow_the_name(catalogue):
    for spec in catalogue.values():
        assert spec.name == spec.currency_base + spec.currency_profit, spec.name
    assert catalogue["EURGBP"].currency_margin == "EUR"
    assert catalogue["USDJPY"].currency_profit == "JPY"


def test_volumes_are_consistent(catalogue):
    for spec in catalogue.values():
        assert 0 < spec.volume_min <= spec.volume_max, spec.name
        steps = spec.volume_min / spec.volume_step
        assert abs(steps - round(steps)) < 1e-9, spec.name


def test_only_crypto_trades_at_the_weekend(catalogue):
    for spec in catalogue.values():
        assert spec.always_open == (spec.category == "crypto"), spec.name
    assert {s.category for s in catalogue.values()} == {"forex", "metal", "crypto"}


def test_forex_contract_is_a_standard_lot(catalogue):
    assert catalogue["EURUSD"].trade_contract_size == 100_000
    assert catalogue["XAUUSD"].trade_contract_size == 100


def test_suffix_ends_every_name_and_path():
    for spec in default_catalogue(".m"):
        assert spec.name.endswith(".m") and spec.path.endswith(spec.name)
        assert spec.pair + ".m" == spec.name
