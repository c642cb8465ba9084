"""Trade request validation of order_send/order_check, driven by the contract's field list."""

from __future__ import annotations

import numpy as np
import pytest

from bridge_v3.simulator.contract.request import validate_request
from tests.simulator.face_support import CONTRACT, build_terminal, market_request

FIELDS = CONTRACT["trade_request"]["fields"]
FLOAT_FIELDS = ["volume", "price", "stoplimit", "sl", "tp"]
STR_FIELDS = ["symbol", "comment"]
INT_FIELDS = [f["key"] for f in FIELDS if f["key"] not in FLOAT_FIELDS + STR_FIELDS]
TRADE_REQUEST_ORDER = [f["name"] for f in CONTRACT["structs"]["TradeRequest"]["fields"]]


@pytest.fixture(scope="module")
def mt5():
    terminal = build_terminal()
    assert terminal.initialize()
    return terminal


def bad_values(key: str) -> list:
    if key in FLOAT_FIELDS:
        return [None, 1, np.float32(1.0), "1.0", True]
    if key in STR_FIELDS:
        return [None, 5, b"EURUSD"]
    if key == "expiration":
        return [None, 1.0, "1"]
    return [None, 1.0, np.int64(1), "1"]


CASES = [(f["key"], f["error"], bad) for f in FIELDS for bad in bad_values(f["key"])]


def test_the_contract_request_fields_are_the_trade_request_struct() -> None:
    assert [f["key"] for f in FIELDS] == TRADE_REQUEST_ORDER


@pytest.mark.parametrize("function", ["order_send", "order_check"])
@pytest.mark.parametrize(("key", "error", "bad"), CASES)
def test_mistyped_field_fails_with_its_own_message(mt5, function, key, error, bad) -> None:
    request = {**market_request(), key: bad}
    assert getattr(mt5, function)(request) is None
    assert mt5.last_error() == (-2, error)


@pytest.mark.parametrize("key", FLOAT_FIELDS)
def test_numpy_float64_is_a_float(key: str) -> None:
    request = validate_request("order_send", {key: np.float64(1.5)})
    assert request[key] == 1.5 and type(request[key]) is float


@pytest.mark.parametrize("key", [k for k in INT_FIELDS if k != "expiration"])
def test_bool_counts_as_an_int_and_becomes_a_plain_int(key: str) -> None:
    request = validate_request("order_send", {key: True})
    assert request[key] == 1 and type(request[key]) is int


def test_expiration_accepts_an_index_object_but_not_a_datetime() -> None:
    import datetime as dt

    assert validate_request("order_send", {"expiration": np.int64(7)})["expiration"] == 7
    from bridge_v3.simulator.contract.errors import CallFailed

    with pytest.raises(CallFailed):
        validate_request("order_send", {"expiration": dt.datetime(2025, 1, 1)})


def test_missing_fields_default_to_zero_and_unknown_keys_are_ignored() -> None:
    request = validate_request("order_send", {"symbol": "EURUSD", "colour": "red"})
    assert list(request) == TRADE_REQUEST_ORDER
    assert request["type_filling"] == 0 and request["volume"] == 0.0 and request["comment"] == ""


def test_first_bad_field_in_struct_order_is_reported(mt5) -> None:
    assert mt5.order_check({"comment": None, "volume": 1, "action": 1.0}) is None
    assert mt5.last_error() == (-2, 'Invalid "action" argument')


@pytest.mark.parametrize("key", STR_FIELDS)
def test_29_utf16_units_pass_and_30_fail(mt5, key: str) -> None:
    assert mt5.order_check({**market_request(), key: "c" * 29}) is not None
    assert mt5.order_check({**market_request(), key: "c" * 30}) is None
    assert mt5.last_error() == (-2, f'Invalid "{key}" argument')


def test_limit_counts_utf16_units_not_characters(mt5) -> None:
    # 15 emoji are 15 characters but 30 UTF-16 units.
    assert mt5.order_check({**market_request(), "comment": "\U0001f600" * 15}) is None
    assert mt5.last_error() == (-2, 'Invalid "comment" argument')


@pytest.mark.parametrize("function", ["order_send", "order_check"])
def test_dict_and_keywords_together_are_refused(mt5, function: str) -> None:
    assert getattr(mt5, function)(market_request(), comment="x") is None
    assert mt5.last_error() == (-2, "Unnamed arguments not allowed")


@pytest.mark.parametrize("function", ["order_send", "order_check"])
def test_argument_count_and_container(mt5, function: str) -> None:
    call = getattr(mt5, function)
    assert call() is None
    assert mt5.last_error() == (-2, "Invalid number of arguments")
    assert call(market_request(), market_request()) is None
    assert mt5.last_error() == (-2, "Invalid number of arguments")
    assert call([("symbol", "EURUSD")]) is None
    assert mt5.last_error() == (-2, "Invalid arguments")


def test_keyword_form_is_the_same_request(mt5) -> None:
    by_dict = mt5.order_check(market_request())
    by_keywords = mt5.order_check(**market_request())
    assert by_dict.request == by_keywords.request
    assert by_dict.retcode == by_keywords.retcode == 0 and by_dict.comment == "Done"


def test_int_volume_is_refused_like_the_real_module(mt5) -> None:
    assert mt5.order_send(market_request(volume=1)) is None
    assert mt5.last_error() == (-2, 'Invalid "volume" argument')


def test_negative_unsigned_field_raises_system_error(mt5) -> None:
    with pytest.raises(SystemError) as raised:
        mt5.order_send(market_request(magic=-1))
    assert isinstance(raised.value.__cause__, OverflowError)


def test_result_carries_the_validated_request(mt5) -> None:
    result = mt5.order_check(market_request(magic=5, comment="hi"))
    assert result.request.magic == 5 and result.request.comment == "hi"
    assert result.request.type_filling == 1 and result.request.sl == 0.0
