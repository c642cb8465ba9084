"""Every constant of the contract is an attribute of the face with the real value."""

from __future__ import annotations

import pytest

from bridge_v3.services.mt5.contract import constants
from bridge_v3.simulator.terminal import SimulatedTerminal
from tests.simulator.face_support import CONTRACT

EXPORTED = CONTRACT["constants"]
NOT_EXPORTED = [k for k in CONTRACT["constants_not_exported_but_relevant"] if not k.startswith("_")]
EXTRAS = CONTRACT["module_extras_from_wheel_py"]


def test_the_contract_lists_223_constants_and_the_face_exports_each_once() -> None:
    assert len(EXPORTED) == 223
    assert list(constants.EXPORTED) == list(EXPORTED)


@pytest.mark.parametrize(("name", "value"), [(k, v["value"]) for k, v in EXPORTED.items()])
def test_constant_has_the_real_value(name: str, value: int) -> None:
    assert getattr(SimulatedTerminal, name) == value
    assert type(getattr(SimulatedTerminal, name)) is int


@pytest.mark.parametrize("name", NOT_EXPORTED)
def test_unexported_enum_is_not_an_attribute_of_the_face(name: str) -> None:
    assert not hasattr(SimulatedTerminal, name)
    expected = CONTRACT["constants_not_exported_but_relevant"][name]
    assert constants.INTERNAL[name] == expected


@pytest.mark.parametrize("name", ["__version__", "__author__"])
def test_module_dunder_matches_the_wheel(name: str) -> None:
    assert getattr(SimulatedTerminal, name) == EXTRAS[name]["value"]


@pytest.mark.parametrize("name", ["Buy", "Sell", "Close", "_RawOrder"])
def test_wheel_helper_is_present(name: str) -> None:
    assert callable(getattr(SimulatedTerminal, name))


@pytest.mark.parametrize("name", list(CONTRACT["functions"]))
def test_every_contract_function_is_a_method(name: str) -> None:
    assert callable(getattr(SimulatedTerminal, name))


def test_struct_types_are_module_attributes() -> None:
    structs = [k for k in CONTRACT["structs"] if not k.startswith("_")]
    assert all(isinstance(getattr(SimulatedTerminal, name), type) for name in structs)
