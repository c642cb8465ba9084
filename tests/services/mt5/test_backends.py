import types

import pytest

from bridge_v3.config.constants import Backend
from bridge_v3.config.settings import MT5Settings, SimulatorSettings
from bridge_v3.exceptions import ConfigError
from bridge_v3.services.mt5.backends import choose_backend


def fake_metatrader5_module():
    """Stands in for the Windows-only package: records calls, answers like the real one."""
    module = types.SimpleNamespace(calls=[])

    def initialize(**kwargs):
        module.calls.append(("initialize", kwargs))
        return True

    module.initialize = initialize
    module.last_error = lambda: (1, "Success")
    return module


def test_auto_uses_the_real_package_when_it_imports():
    module = fake_metatrader5_module()
    backend = choose_backend(
        MT5Settings(backend=Backend.AUTO), SimulatorSettings(), importer=lambda: module
    )
    assert backend.kind is Backend.METATRADER5
    client = backend.open_client()
    assert client.call("initialize", timeout=5) == (True, (1, "Success"))
    assert module.calls == [("initialize", {"timeout": 5})]


def test_auto_falls_back_to_the_simulator_and_says_so(caplog):
    backend = choose_backend(
        MT5Settings(backend=Backend.AUTO), SimulatorSettings(), importer=lambda: None
    )
    assert backend.kind is Backend.SIMULATOR
    assert "SIMULATED" in backend.description
    assert any("SIMULATED" in record.getMessage() for record in caplog.records)


def test_metatrader5_without_the_package_is_a_configuration_error():
    with pytest.raises(ConfigError) as caught:
        choose_backend(
            MT5Settings(backend=Backend.METATRADER5), SimulatorSettings(), importer=lambda: None
        )
    assert caught.value.variable == "MT5_BACKEND"


def test_remote_names_host_and_port_without_connecting():
    settings = MT5Settings(backend=Backend.REMOTE, remote_host="127.0.0.1", remote_port=1)
    backend = choose_backend(settings, SimulatorSettings(), importer=lambda: None)
    assert backend.kind is Backend.REMOTE
    assert "127.0.0.1:1" in backend.description
    with pytest.raises(OSError):
        backend.open_client()


def test_simulator_backend_supplies_its_broker_zone_for_auto():
    backend = choose_backend(
        MT5Settings(backend=Backend.SIMULATOR),
        SimulatorSettings(server_timezone="Asia/Tokyo"),
        importer=lambda: None,
    )
    assert backend.server_timezone("auto") == "Asia/Tokyo"
    assert backend.server_timezone("Europe/Athens") == "Europe/Athens"


def test_real_backend_keeps_auto():
    backend = choose_backend(
        MT5Settings(backend=Backend.AUTO), SimulatorSettings(), importer=fake_metatrader5_module
    )
    assert backend.server_timezone("auto") == "auto"
