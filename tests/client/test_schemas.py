"""The published schemas hold for what the bridge really publishes, and the subscriber's own
validator agrees with the ``jsonschema`` library on them."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from bridge_v3 import schemas
from bridge_v3.client.validation import SchemaError, compile_schema
from tests.client.conftest import SimBridge, stream_envelopes

# A first cycle also publishes the simulated account's opening deposit, a deal. Ticks come
# batched ("ticks") in the first cycles (many at once), then one by one ("tick").
TYPES_ON_MAIN = {"bar", "tick", "ticks", "account", "status", "deal"}


@pytest.fixture
def published(fresh_database, redis_client, redis_prefix, tmp_path) -> list[dict]:
    """Every message of three cycles of the bridge on the simulated terminal, ticks included."""
    bridge = SimBridge(fresh_database, redis_prefix, tmp_path, tick_symbols=("BTCUSD",))
    bridge.run_once()
    bridge.run_once(advance=900)
    bridge.run_once(advance=60)
    return stream_envelopes(redis_client, redis_prefix)


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = schemas.load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_every_schema_is_valid_draft_2020_12_and_the_subscriber_can_check_all_of_it():
    assert set(schemas.message_types()) >= TYPES_ON_MAIN
    for name in schemas.available():
        validator(name)
        compile_schema(schemas.load(name))  # raises SchemaError on a keyword it cannot check


def test_every_message_the_bridge_publishes_matches_its_schema(published):
    envelope = validator("envelope")
    data = {name: validator(name) for name in schemas.message_types()}
    assert {m["type"] for m in published} == TYPES_ON_MAIN
    for message in published:
        envelope.validate(message)
        data[message["type"]].validate(message["data"])


def test_the_schemas_name_every_field_the_bridge_sends(published):
    """Schemas allow fields to be added within a version; this catches one added silently."""
    for message in published:
        assert set(message) <= set(schemas.load("envelope")["properties"])
        assert set(message["data"]) <= set(schemas.load(message["type"])["properties"]), message


def broken_variants(message: dict) -> list[dict]:
    """Copies of ``message`` each broken in one way the schemas must refuse."""
    variants = []
    for key in message["data"]:
        missing = copy.deepcopy(message)
        del missing["data"][key]
        variants.append(missing)
        for bad in ("text", None, -1, True, [1]):
            wrong = copy.deepcopy(message)
            wrong["data"][key] = bad
            variants.append(wrong)
    for key, bad in (
        ("seq", 0),
        ("seq", "1"),
        ("v", 2),
        ("ts", "yesterday"),
        ("source", ""),
        ("data", []),
    ):
        wrong = copy.deepcopy(message)
        wrong[key] = bad
        variants.append(wrong)
    return variants


def test_the_subscriber_validator_agrees_with_jsonschema(published):
    examples = {}
    for message in published:
        examples.setdefault(message["type"], message)
    ours_envelope = compile_schema(schemas.load("envelope"), "envelope")
    theirs_envelope = validator("envelope")
    checked = 0
    for type_, example in examples.items():
        ours_data, theirs_data = compile_schema(schemas.load(type_), "data"), validator(type_)
        for variant in [example, *broken_variants(example)]:
            theirs = theirs_envelope.is_valid(variant) and (
                not isinstance(variant["data"], dict) or theirs_data.is_valid(variant["data"])
            )
            ours = not ours_envelope(variant) and (
                not isinstance(variant["data"], dict) or not ours_data(variant["data"])
            )
            assert ours == theirs, (type_, variant)
            checked += 1
    assert checked > 100


def test_a_schema_keyword_the_validator_cannot_check_is_refused():
    with pytest.raises(SchemaError, match="oneOf"):
        compile_schema({"type": "object", "oneOf": [{"type": "object"}]})
