"""Masking of secrets and credential patterns in free text."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from bridge_v3.config.redaction import Redactor, mask_credentials


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("postgresql://bridge:hunter2@db:5432/mt5", "hunter2"),
        ("redis://:hunter2@cache:6379/0", "hunter2"),
        ("host=db port=5432 user=bridge password=hunter2 dbname=mt5", "hunter2"),
        ("dsn: password='hunter 2' host=db", "hunter 2"),
        ("MT5_PASSWORD=hunter2", "hunter2"),
        ("Driver={x};PWD=hunter2;Server=db", "hunter2"),
        ("{'user': 'bridge', 'password': 'hunter2'}", "hunter2"),
        ('{"db_password": "hunter2", "port": 1}', "hunter2"),
        ('login(password="hunter2")', "hunter2"),
    ],
)
def test_credential_patterns_are_masked(text, hidden):
    masked = mask_credentials(text)

    assert hidden not in masked
    assert "***" in masked


@pytest.mark.parametrize(
    "text",
    ["MT5_PASSWORD: must not contain line breaks", "cwd=/srv/bridge", "https://example.com/a:b"],
)
def test_text_without_credentials_is_unchanged(text):
    assert mask_credentials(text) == text


@pytest.mark.parametrize("secret", ["plain-secret", "quo'te\"d\\back", "ünï cødé €", "a b&c=d/e"])
def test_every_spelling_of_a_secret_is_masked(secret):
    redact = Redactor([secret])
    spellings = [secret, repr(secret), json.dumps(secret), json.dumps(secret, ensure_ascii=False)]
    spellings += [f"https://example.com/?token={quote(secret)}", quote(secret, safe="")]

    for text in spellings:
        assert secret not in redact(f"before {text} after")
        assert "***" in redact(f"before {text} after")


def test_longer_secret_containing_a_shorter_one_is_masked_whole():
    redact = Redactor(["abc", "xxabcxx"])

    assert redact("value xxabcxx end") == "value *** end"


def test_empty_secrets_mask_nothing():
    assert Redactor(["", ""])("nothing to hide") == "nothing to hide"
