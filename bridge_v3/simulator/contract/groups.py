"""Symbol group filters of symbols_get / positions_get / orders_get / history_*_get.

A group is a comma-separated list of masks in which ``*`` stands for any run of
characters and a leading ``!`` excludes. Conditions apply left to right, so inclusions
come first and exclusions after them: ``"*,!*USD*"`` is every symbol without USD in its
name. Matching ignores case, as the terminal does for symbol names.
"""

from __future__ import annotations

import re
from functools import lru_cache


def matches(group: str, symbol: str) -> bool:
    """True when ``symbol`` is selected by ``group``; the last condition that matches wins."""
    selected = False
    for negated, pattern in _conditions(group):
        if pattern.fullmatch(symbol):
            selected = not negated
    return selected


@lru_cache(maxsize=256)
def _conditions(group: str) -> tuple[tuple[bool, re.Pattern[str]], ...]:
    conditions = []
    for raw in group.split(","):
        mask = raw.strip()
        if not mask:
            continue
        negated = mask.startswith("!")
        body = mask[1:].strip() if negated else mask
        regex = ".*".join(re.escape(part) for part in body.split("*"))
        conditions.append((negated, re.compile(regex, re.IGNORECASE | re.DOTALL)))
    return tuple(conditions)
