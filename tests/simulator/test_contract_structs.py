"""Struct types: field order and kinds from the contract, struct-sequence behaviour."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bridge_v3.simulator.contract import structs
from tests.simulator.face_support import CONTRACT

STRUCTS = {k: v for k, v in CONTRACT["structs"].items() if not k.startswith("_")}
SAMPLE = {"int": 3, "float": 1.5, "bool": True, "str": "x"}


def sample_dict(name: str) -> dict:
    data = {}
    for field in STRUCTS[name]["fields"]:
        kind = field["type"]
        data[field["name"]] = (
            sample_dict("TradeRequest") if kind == "TradeRequest" else SAMPLE[kind]
        )
    return data


@pytest.mark.parametrize("name", list(STRUCTS))
def test_field_order_and_count_match_the_contract(name: str) -> None:
    struct_type = structs.STRUCT_TYPES[name]
    names = [f["name"] for f in STRUCTS[name]["fields"]]
    assert struct_type._struct_names == tuple(names)
    assert struct_type.n_fields == struct_type.n_sequence_fields == STRUCTS[name]["n_fields"]
    assert struct_type.n_unnamed_fields == 0


@pytest.mark.parametrize("name", list(STRUCTS))
def test_struct_is_a_tuple_with_attributes_and_asdict(name: str) -> None:
    value = structs.build(structs.STRUCT_TYPES[name], sample_dict(name))
    fields = [f["name"] for f in STRUCTS[name]["fields"]]
    assert isinstance(value, tuple) and len(value) == len(fields)
    assert [getattr(value, f) for f in fields] == list(value)
    as_dict = value._asdict()
    assert type(as_dict) is dict and list(as_dict) == fields


@pytest.mark.parametrize("name", list(STRUCTS))
def test_struct_has_no_namedtuple_api(name: str) -> None:
    value = structs.build(structs.STRUCT_TYPES[name], sample_dict(name))
    for attribute in ("_fields", "_replace", "_make", "_field_defaults"):
        assert not hasattr(value, attribute)


@pytest.mark.parametrize("name", list(STRUCTS))
def test_fields_are_read_only(name: str) -> None:
    value = structs.build(structs.STRUCT_TYPES[name], sample_dict(name))
    first = STRUCTS[name]["fields"][0]["name"]
    with pytest.raises(AttributeError):
        setattr(value, first, 0)


def test_repr_names_the_type_and_every_field() -> None:
    tick = structs.Tick((1, 1.1, 1.2, 0.0, 0, 1000, 6, 0.0))
    assert repr(tick) == (
        "Tick(time=1, bid=1.1, ask=1.2, last=0.0, volume=0, time_msc=1000, flags=6, "
        "volume_real=0.0)"
    )


def test_nested_request_stays_a_trade_request_in_asdict() -> None:
    result = structs.build(structs.OrderSendResult, sample_dict("OrderSendResult"))
    nested = result._asdict()["request"]
    assert type(nested) is structs.TradeRequest
    assert nested._asdict()["symbol"] == "x"


def test_struct_compares_equal_to_the_plain_tuple_and_does_not_pickle() -> None:
    value = structs.Tick((1, 1.1, 1.2, 0.0, 0, 1000, 6, 0.0))
    assert value == (1, 1.1, 1.2, 0.0, 0, 1000, 6, 0.0)
    with pytest.raises(pickle.PicklingError, match="builtins"):
        pickle.dumps(value)  # as the real ones: their type's module is builtins
    assert pickle.loads(pickle.dumps(value._asdict())) == value._asdict()


def test_wrong_length_sequence_is_refused() -> None:
    with pytest.raises(TypeError, match="8-sequence"):
        structs.Tick((1, 2))


@pytest.mark.parametrize("name", list(STRUCTS))
def test_a_missing_key_is_an_error_never_a_silent_zero(name: str) -> None:
    data = sample_dict(name)
    dropped = STRUCTS[name]["fields"][-1]["name"]
    del data[dropped]
    with pytest.raises(structs.StructBuildError, match=dropped):
        structs.build(structs.STRUCT_TYPES[name], data)


def test_an_unexpected_key_is_an_error() -> None:
    data = {**sample_dict("Tick"), "volume_dbl": 1.0}
    with pytest.raises(structs.StructBuildError, match="volume_dbl"):
        structs.build(structs.Tick, data)


@pytest.mark.parametrize(
    ("field", "bad"), [("time", 1.5), ("bid", "1.1"), ("bid", None), ("flags", "6")]
)
def test_a_mistyped_value_is_an_error(field: str, bad: object) -> None:
    data = {**sample_dict("Tick"), field: bad}
    with pytest.raises(structs.StructBuildError, match=field):
        structs.build(structs.Tick, data)


def test_numpy_scalars_become_plain_python_values() -> None:
    data = {**sample_dict("Tick"), "time": np.int64(5), "bid": np.float64(1.25)}
    tick = structs.build(structs.Tick, data)
    assert type(tick.time) is int and type(tick.bid) is float
