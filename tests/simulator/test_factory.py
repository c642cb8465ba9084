"""SimulatorConfig validation and the factory that assembles a terminal from it."""

from __future__ import annotations

import dataclasses

import pytest

from bridge_v3.exceptions import ConfigError
from bridge_v3.simulator import SimulatorConfig


def test_defaults_describe_a_hedging_usd_demo_account_in_a_dst_broker_zone():
    config = SimulatorConfig()

    assert (config.server_timezone, config.hedging, config.currency) == (
        "Europe/Athens",
        True,
        "USD",
    )
    assert (config.balance, config.leverage, config.state_file) == (10000.0, 100, None)


def test_password_is_masked_in_the_repr():
    config = SimulatorConfig(password="s3cr3t-pass")

    assert "s3cr3t-pass" not in repr(config)
    assert "password='***'" in repr(config)


def test_config_is_frozen_and_its_replays_cannot_be_changed_behind_its_back():
    replays = {"EURUSD": "eurusd.csv"}
    config = SimulatorConfig(replays=replays)
    replays["GBPUSD"] = "gbpusd.csv"

    assert dict(config.replays) == {"EURUSD": "eurusd.csv"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3
    with pytest.raises(TypeError):
        config.replays["USDJPY"] = "usdjpy.csv"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("server_timezone", "Nowhere/Atlantis"),
        ("speed", 0),
        ("speed", float("inf")),
        ("balance", -1.0),
        ("leverage", 0),
        ("leverage", 1.5),
        ("login", True),
        ("seed", -1),
        ("history_days", 0),
        ("save_interval", 0),
        ("start", float("nan")),
    ],
)
def test_an_invalid_value_is_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError) as caught:
        SimulatorConfig(**{field: value})

    assert caught.value.variable == field
