"""The state file: atomic, versioned JSON; an unusable file is an error naming it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from bridge_v3.simulator.state import (
    STATE_FORMAT,
    STATE_VERSION,
    StateFileError,
    load_state,
    save_state,
)

BROKER = {"login": 10000001, "balance": 10250.5, "positions": [{"ticket": 7, "volume": 0.1}]}


def test_missing_file_means_first_start(tmp_path):
    assert load_state(tmp_path / "absent.json") is None


def test_round_trip_keeps_every_value_and_adds_format_and_version(tmp_path):
    path = tmp_path / "state.json"

    save_state(path, {"clock_utc": 1763800000.25, "broker": BROKER})
    loaded = load_state(path)

    assert loaded["broker"] == BROKER
    assert loaded["clock_utc"] == 1763800000.25
    assert (loaded["format"], loaded["version"]) == (STATE_FORMAT, STATE_VERSION)


def test_save_replaces_the_previous_document_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "state.json"
    save_state(path, {"broker": {"balance": 1.0}})

    save_state(path, {"broker": {"balance": 2.0}})

    assert load_state(path)["broker"] == {"balance": 2.0}
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_save_creates_the_missing_directory(tmp_path):
    path = tmp_path / "spool" / "simulator" / "state.json"

    save_state(path, {"broker": {}})

    assert load_state(path)["broker"] == {}


def test_numpy_numbers_are_written_as_plain_numbers(tmp_path):
    path = tmp_path / "state.json"

    save_state(path, {"broker": {"ticket": np.int64(42), "price": np.float32(1.5)}})

    assert load_state(path)["broker"] == {"ticket": 42, "price": 1.5}


def test_a_failed_save_keeps_the_old_document(tmp_path):
    path = tmp_path / "state.json"
    save_state(path, {"broker": {"balance": 1.0}})

    with pytest.raises(TypeError):
        save_state(path, {"broker": {"balance": object()}})

    assert load_state(path)["broker"] == {"balance": 1.0}
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_truncated_json_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{\n "format": "bridge_v3.simulator.state",\n "version": 1,\n "broker": {')

    with pytest.raises(StateFileError) as caught:
        load_state(path)

    message = str(caught.value)
    assert str(path) in message
    assert "line 4" in message
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([1, 2], "expected a JSON object"),
        ({"format": "other", "version": 1, "broker": {}}, "not a simulator state file"),
        ({"format": STATE_FORMAT, "version": 99, "broker": {}}, "unsupported version 99"),
        ({"format": STATE_FORMAT, "version": STATE_VERSION}, "missing the 'broker' object"),
        (
            {"format": STATE_FORMAT, "version": STATE_VERSION, "broker": {}, "clock_utc": "x"},
            "'clock_utc' must be a number",
        ),
        (
            {"format": STATE_FORMAT, "version": STATE_VERSION, "broker": {}, "clock_lease": True},
            "'clock_lease' must be a number",
        ),
    ],
)
def test_well_formed_json_of_the_wrong_shape_is_refused(tmp_path, document, problem):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(document))

    with pytest.raises(StateFileError, match=problem) as caught:
        load_state(path)

    assert str(path) in str(caught.value)


def test_binary_garbage_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"\xff\xfe\x00garbage")

    with pytest.raises(StateFileError, match="not UTF-8") as caught:
        load_state(path)

    assert str(path) in str(caught.value)


def test_state_file_error_is_a_value_error():
    assert issubclass(StateFileError, ValueError)
