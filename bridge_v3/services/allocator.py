"""Give memory the C allocator keeps after a burst back to the operating system.

A catch-up (history after a restart, a backlog of ticks) builds large, short-lived buffers:
terminal arrays, COPY text, outbox messages. Once freed, glibc keeps most of those pages in
its heaps for reuse, so the daemon's resident size stays at the burst's high-water mark.
``malloc_trim`` hands the free pages back; it is cheap (milliseconds), so the daemon calls
it on a slow timer. Elsewhere (not glibc, not Linux) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl or another libc: no such function
        return None


def release_free_memory() -> bool:
    """Return free heap pages to the system; True if any were released."""
    trim = _trim()
    return bool(trim(0)) if trim is not None else False
