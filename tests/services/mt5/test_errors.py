import pytest

from bridge_v3.exceptions import (
    DependencyError,
    FatalError,
    SymbolNotFoundError,
    TerminalDisconnectedError,
    TerminalError,
)
from bridge_v3.services.mt5.errors import translate


@pytest.mark.parametrize(
    "code, subject, expected",
    [
        (-10004, "", TerminalDisconnectedError),
        (-10005, "EURUSD", TerminalDisconnectedError),
        (-10001, "", TerminalDisconnectedError),
        (-6, "", FatalError),
        (-5, "", FatalError),
        (-8, "", FatalError),
        (-1, "EURUSD", SymbolNotFoundError),
        (-4, "EURUSD", SymbolNotFoundError),
        (-2, "", DependencyError),
        (-1, "", TerminalError),
    ],
)
def test_codes_become_the_exception_that_says_what_to_do(code, subject, expected):
    error = translate("copy_rates_range", code, "some text", subject)
    assert type(error) is expected


def test_message_names_function_subject_code_and_text():
    error = translate("copy_rates_range", -1, "Terminal: Call failed", "EURUSD.m")
    assert "copy_rates_range" in str(error)
    assert "EURUSD.m" in str(error)
    assert "-1" in str(error)
    assert "Terminal: Call failed" in str(error)


def test_api_disabled_tells_the_operator_what_to_untick():
    error = translate("order_send", -8, "Auto-Trading using Python API disabled in Terminal")
    assert "external Python API" in str(error)
