"""An exclusive, non-blocking lock on a file, so two processes never share one resource.

The operating system drops the lock when the process ends, however it ends (``kill -9``
included), so a crash never leaves a stale lock behind. The holder's process id is written
in the file, for the message the next process shows.
"""

from __future__ import annotations

import os
from pathlib import Path

_PID_OFFSET = 16  # the lock covers byte 0 only; the pid is written after it (Windows
# refuses reads of a locked byte range, so the pid must lie outside it)


class FileLockHeld(OSError):
    """Another process holds the lock; ``holder`` is its process id as written, or ''."""

    def __init__(self, path: Path, holder: str) -> None:
        self.holder = holder
        super().__init__(f"{path} is locked by process {holder or '(unknown)'}")


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """``FileLock(path).acquire()`` or ``FileLockHeld``; ``release()`` when done."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, held={self._fd is not None})"

    def acquire(self) -> None:
        """Take the lock now or raise ``FileLockHeld``; other OSErrors (no permission,
        no such folder) propagate."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            holder = _read_holder(fd)
            os.close(fd)
            raise FileLockHeld(self.path, holder)
        os.ftruncate(fd, _PID_OFFSET)
        os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            _unlock(fd)
            os.close(fd)


def held_by(path: str | Path) -> str | None:
    """The process id holding the lock on ``path`` ('' if unknown), or None if it is free.
    Looks only: creates and writes nothing."""
    try:
        fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if not _try_lock(fd):
            return _read_holder(fd)
        _unlock(fd)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
        return os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return ""
