"""Properties of the value parsers: they fail only with InvalidValue, and round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.parsers import (
    InvalidValue,
    parse_float,
    parse_int,
    parse_symbols,
    parse_timeframes,
)
from bridge_v3.config.variables import VARIABLES


@pytest.mark.parametrize("var", VARIABLES, ids=lambda var: var.name)
@settings(max_examples=60, deadline=None)
@given(raw=st.text(min_size=1, max_size=40))
def test_a_parser_fails_only_with_invalid_value(var, raw):
    try:
        var.parse(raw)
    except InvalidValue as error:
        # A secret is never echoed (a value of a few characters may occur in any sentence).
        if var.secret and len(raw) >= 6:
            assert raw not in str(error)


@given(st.integers(min_value=1, max_value=65535))
def test_int_round_trips_within_range(value):
    assert parse_int(str(value), 1, 65535) == value


@given(st.integers().filter(lambda v: not 1 <= v <= 64))
def test_int_outside_range_is_refused(value):
    with pytest.raises(InvalidValue, match="from 1 to 64"):
        parse_int(str(value), 1, 64)


@given(st.floats(min_value=0.0, max_value=100.0, exclude_min=True))
def test_float_round_trips_within_range(value):
    assert parse_float(repr(value), 0.0, 100.0, low_open=True) == value


@given(st.lists(st.sampled_from(sorted(TIMEFRAMES)), min_size=1, max_size=6))
def test_timeframe_list_keeps_first_occurrence_order(names):
    parsed = parse_timeframes(", ".join(name.lower() for name in names))

    assert [tf.name for tf in parsed] == list(dict.fromkeys(names))


@given(st.lists(st.from_regex(r"[A-Za-z0-9._#-]{1,29}", fullmatch=True), min_size=1, max_size=5))
def test_symbol_list_keeps_case_and_drops_duplicates(names):
    parsed = parse_symbols(",".join(f" {name} " for name in names))

    assert parsed == tuple(dict.fromkeys(names))
