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


def test_auto_falls_back_to_the_simulator_on_linux_and_says_so(caplog):
    backend = choose_backend(
        MT5Settings(backend=Backend.AUTO),
        SimulatorSettings(),
        importer=lambda: None,
        platform="linux",
    )
    assert backend.kind is Backend.SIMULATOR
    assert "SIMULATED" in backend.description
    assert any("SIMULATED" in record.getMessage() for record in caplog.records)


def test_auto_on_windows_without_the_package_refuses_to_start():
    with pytest.raises(ConfigError) as caught:
        choose_backend(
            MT5Settings(backend=Backend.AUTO),
            SimulatorSettings(),
            importer=lambda: None,
            platform="win32",
        )
    assert caught.value.variable == "MT5_BACKEND"
    assert "pip install MetaTrader5" in str(caught.value)


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


def test_a_remote_host_beyond_loopback_is_warned_about(caplog):
    settings = MT5Settings(backend=Backend.REMOTE, remote_host="192.0.2.7", remote_port=1)
    choose_backend(settings, SimulatorSettings(), importer=lambda: None)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("192.0.2.7" in message and "RPyC" in message for message in warnings)


def test_a_loopback_remote_host_is_not_warned_about(caplog):
    for host in ("127.0.0.1", "::1", "localhost"):
        settings = MT5Settings(backend=Backend.REMOTE, remote_host=host, remote_port=1)
        choose_backend(settings, SimulatorSettings(), importer=lambda: None)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_an_unreachable_remote_fails_within_its_connect_timeout():
    # A port nobody listens on: refused at once, one attempt (no six-fold backoff).
    settings = MT5Settings(backend=Backend.REMOTE, remote_host="127.0.0.1", remote_port=9)
    backend = choose_backend(settings, SimulatorSettings(), importer=lambda: None)
    calls = []
    import rpyc.core.stream as stream

    original = stream.socket_backoff_connect

    def recording(*args):
        calls.append(args)
        return original(*args)

    stream.socket_backoff_connect = recording
    try:
        with pytest.raises(OSError):
            backend.open_client()
    finally:
        stream.socket_backoff_connect = original
    assert [call[-2:] for call in calls] == [(5.0, 1)]  # timeout 5 s, one attempt


def test_the_simulator_backend_tells_no_zone_and_skews_the_host_clock():
    backend = choose_backend(
        MT5Settings(backend=Backend.SIMULATOR),
        SimulatorSettings(server_timezone="Asia/Tokyo", host_clock_skew=-4.0),
        importer=lambda: None,
    )
    assert not hasattr(backend, "known_timezone")
    client = backend.open_client()
    client.call("initialize")
    terminal_now = client._module._market.clock.now()
    assert backend.clock() - terminal_now == pytest.approx(-4.0, abs=0.5)
