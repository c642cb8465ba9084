"""Which task run a log line belongs to: its task name and a run id, on every line.

The worker wraps each run in ``task_run(name)``; every record logged in that thread while
the run lasts carries ``task`` and ``run_id`` (``TaskContextFilter`` copies them onto the
record), so one cycle can be followed through the log from its first line to its last,
whatever module wrote them. Outside a run both are None. A context variable (not a
thread-local) so that code run in a copied context keeps the run it came from.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_RUN: ContextVar[tuple[str, str] | None] = ContextVar("bridge_v3_task_run", default=None)


def new_run_id() -> str:
    """A short id, unique enough to tell apart the runs in one log (8 hex digits)."""
    return secrets.token_hex(4)


@contextmanager
def task_run(name: str, run_id: str | None = None) -> Iterator[str]:
    """Lines logged inside carry ``name`` and the run id (a new one unless given)."""
    run_id = run_id or new_run_id()
    token = _RUN.set((name, run_id))
    try:
        yield run_id
    finally:
        _RUN.reset(token)


def current_run() -> tuple[str, str] | None:
    """(task name, run id) of the run this thread is in, or None."""
    return _RUN.get()


class TaskContextFilter(logging.Filter):
    """Sets ``record.task`` and ``record.run_id`` (None outside a run). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        run = _RUN.get()
        record.task, record.run_id = run if run is not None else (None, None)
        return True


def run_label(record: logging.LogRecord) -> str:
    """`` [prices#1a2b3c4d]`` for a record logged in a run, else an empty string."""
    task = getattr(record, "task", None)
    return f" [{task}#{getattr(record, 'run_id', None)}]" if task else ""
