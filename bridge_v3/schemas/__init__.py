"""JSON Schemas of the public Redis messages (DESIGN §4), shipped with the package.

``v{N}/envelope.json`` describes the envelope of version N; ``v{N}/{type}.json`` describes the
``data`` of each message type. They are plain files (JSON Schema draft 2020-12), so code in
any language can read them; this module only finds and loads them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

CURRENT_VERSION = 1
ENVELOPE = "envelope"


def available(version: int = CURRENT_VERSION) -> list[str]:
    """Names of the schemas of ``version``: ``envelope`` and one per message type."""
    folder = resources.files(__name__) / f"v{version}"
    if not folder.is_dir():
        raise ValueError(f"version: no schemas for envelope version {version!r}")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def message_types(version: int = CURRENT_VERSION) -> list[str]:
    """The message types that have a ``data`` schema in ``version``."""
    return [name for name in available(version) if name != ENVELOPE]


@cache
def load(name: str, version: int = CURRENT_VERSION) -> dict:
    """The schema ``name`` (``envelope`` or a message type) of ``version``, as a dict.

    An unknown name raises KeyError naming it; callers treat a type without a schema as
    "envelope only".
    """
    path = resources.files(__name__) / f"v{version}" / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no schema {name!r} for envelope version {version}")
    return json.loads(path.read_text(encoding="utf-8"))
