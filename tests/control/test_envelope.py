"""The envelope's signature as people make it by hand: the README's shell recipe with
openssl signs a command the bridge accepts; any change to a signed field breaks it."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

import pytest

from bridge_v3.control import envelope as env
from bridge_v3.control.envelope import Refused

SECRET = "k3y-for-the-envelope-tests-0123"
RECIPE = r"""
BODY=$(printf '{"args":{},"by":"alice","command":"status","id":"c-1","issued_at":"%s","nonce":"%s"}' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(openssl rand -hex 16)")
SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
printf '%s' "${BODY%\}},\"signature\":\"$SIG\"}"
"""


def test_the_shell_recipe_of_the_readme_makes_a_valid_command():
    made = subprocess.run(
        ["bash", "-c", RECIPE],
        env={"SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    message = env.decode(made)
    env.verify(message, SECRET)
    assert env.read(message).command == "status"


def test_a_signed_command_round_trips_and_every_field_is_covered():
    signed = env.build(
        "halt",
        {"reason": "ünïcode"},
        by="José",
        secret=SECRET,
        issued_at=datetime(2026, 3, 25, 10, tzinfo=timezone.utc),
        bridge="b1",
    )
    env.verify(signed, SECRET)
    command = env.read(signed)
    assert (command.by, command.args, command.bridge) == ("José", {"reason": "ünïcode"}, "b1")

    for field, value in [
        ("by", "eve"),
        ("args", {"reason": "x"}),
        ("bridge", "b2"),
        ("issued_at", "2026-03-25T10:00:01Z"),
        ("nonce", "0" * 32),
    ]:
        with pytest.raises(Refused, match="does not match"):
            env.verify({**signed, field: value}, SECRET)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"id": ""}, "id must be"),
        ({"by": 5}, "by must be"),
        ({"issued_at": "yesterday"}, "issued_at must be an ISO-8601 UTC time"),
        ({"issued_at": "2026-03-25T10:00:00"}, "issued_at must be an ISO-8601 UTC time"),
        ({"nonce": "short"}, "nonce must be"),
        ({"args": [1]}, "args must be a JSON object"),
        ({"extra": 1}, "unknown field(s): extra"),
    ],
)
def test_malformed_fields_are_named(change, words):
    signed = env.build(
        "status", {}, by="alice", secret=SECRET, issued_at=datetime.now(timezone.utc)
    )
    with pytest.raises(Refused) as refused:
        env.read({**signed, **change})
    assert refused.value.code == "malformed" and words in refused.value.reason
