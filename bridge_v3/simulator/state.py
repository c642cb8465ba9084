"""The simulated terminal's persistent state: one versioned JSON document on disk.

The document holds what a real terminal keeps across its own restarts (the account,
its orders, positions, deals and history) plus the simulated clock's reading, so the
terminal's time never runs backwards after a restart:

    {"format": "bridge_v3.simulator.state", "version": 1,
     "clock_utc": 1763800000.0, "clock_saved_at": 1763790000.0, "clock_lease": 120.0,
     "clock_speed": 1.0, "config": {...}, "broker": {...}, "accounts": [{...}, ...]}

``clock_saved_at`` is the host's time of the save and ``clock_lease`` how many real
seconds the clock may have run on after it (0 after a clean stop); ``accounts`` are the
terminal's other paper accounts. Files without these keys (older ones) still load.

Writes are atomic (temporary file, fsync, rename): a crash mid-save leaves either the
old document or the new one, never half of one. A document that cannot be read is an
error that stops the simulator; it is never silently replaced by a fresh account.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATE_FORMAT = "bridge_v3.simulator.state"
STATE_VERSION = 1


class StateFileError(ValueError):
    """The state file exists but cannot be used. The message names the file and problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"state file {self.path}: {problem}")


def load_state(path: str | Path) -> dict[str, Any] | None:
    """Read and check the state document at ``path``.

    Returns None when the file does not exist (a first start). Raises StateFileError when
    it exists but is unreadable, not JSON (the message gives line and column), of another
    format or version, or missing a required part.
    """
    path = Path(path)
    if not path.exists():
        return None
    text = _read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        problem = f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        raise StateFileError(path, problem) from error
    return _checked(path, document)


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (without format/version, which are added) atomically to ``path``,
    creating its directory if needed."""
    path = Path(path)
    document = {"format": STATE_FORMAT, "version": STATE_VERSION, **state}
    data = json.dumps(document, indent=1, sort_keys=True, allow_nan=False, default=_plain)
    data += "\n"
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        raise
    _fsync_directory(directory)


def _plain(value: Any) -> Any:
    """numpy scalars (which a broker may hold) as the Python numbers they stand for."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} cannot be written to a state file")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise StateFileError(path, f"not UTF-8 text (byte {error.start})") from error
    except OSError as error:
        raise StateFileError(path, f"cannot be read ({error.strerror or error})") from error


def _checked(path: Path, document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise StateFileError(path, f"expected a JSON object, found {type(document).__name__}")
    if document.get("format") != STATE_FORMAT:
        raise StateFileError(
            path, f"not a simulator state file (format {document.get('format')!r})"
        )
    if document.get("version") != STATE_VERSION:
        raise StateFileError(
            path,
            f"unsupported version {document.get('version')!r} (this simulator reads "
            f"version {STATE_VERSION})",
        )
    if not isinstance(document.get("broker"), dict):
        raise StateFileError(path, "missing the 'broker' object")
    for key in ("clock_utc", "clock_saved_at", "clock_lease", "clock_speed"):
        value = document.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise StateFileError(path, f"{key!r} must be a number, found {value!r}")
    return document


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
