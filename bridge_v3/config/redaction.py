"""Masking of secrets inside free text: log lines, error messages, DSNs and URLs.

Two layers, because neither alone is enough:

* ``mask_credentials`` hides whatever follows ``password=`` (DSNs, query strings,
  keyword reprs), a ``'password': ...`` pair in a dict or JSON, and the password part of
  ``scheme://user:password@host`` — even for passwords this process was never told.
* ``Redactor`` hides every known secret value wherever it appears, also in the escaped
  forms it takes inside a repr, a JSON string or a URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/?#@]*:)[^\s@]*@")
# Letters may not precede the key (so "pwd" does not fire inside "cwd"), but "_" may:
# MT5_PASSWORD=... must be masked too.
_KEY_VALUE = re.compile(
    r"(?i)(?<![a-z])(password|passwd|pwd)(\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s&;,'\")]+)"
)
_QUOTED_KEY = re.compile(
    r"(?i)(['\"][a-z0-9_]*(?:password|passwd|pwd)['\"]\s*:\s*)"
    r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
)


def mask_credentials(text: str) -> str:
    """``text`` with URL passwords and ``password=...`` style values replaced by ``***``."""
    text = _URL_USERINFO.sub(rf"\1{MASK}@", text)
    text = _KEY_VALUE.sub(rf"\1\2{MASK}", text)
    return _QUOTED_KEY.sub(rf"\1'{MASK}'", text)


def secret_forms(secret: str) -> set[str]:
    """The spellings a secret takes in text: raw, repr-escaped, JSON-escaped, URL-quoted,
    each also without surrounding whitespace (a stray newline must not unmask it)."""
    forms: set[str] = set()
    for value in {secret, secret.strip()}:
        forms |= {
            value,
            repr(value)[1:-1],
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            quote(value, safe=""),
            quote(value),  # "/" left as is, as most URL builders do
            quote_plus(value, safe=""),
        }
    forms.discard("")
    return forms


class Redactor:
    """Callable that masks the given secrets and credential patterns in a text.

    Every secret is masked whatever its length: a one-letter password makes the log hard
    to read, but a readable log that holds the password is worse.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
        # Longest first, so a secret that contains another is masked whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return mask_credentials(text)
