"""Logging for the whole process: console plus a rotating UTF-8 file, secrets masked.

``setup_logging`` configures the root logger once (calling it again replaces what it
installed, so lines are never doubled); modules log through
``logging.getLogger(__name__)``. Every line goes through ``RedactionFilter``, which masks
the known secret values and ``password=...`` / ``scheme://user:pass@`` patterns in the
message, its arguments and the exception text before any handler formats it.

Timestamps are UTC. ``text`` lines read ``2026-11-20 10:15:00,120 INFO bridge_v3.x: msg``;
``json`` lines are one object each: ``{"ts", "level", "logger", "message", "exc", "task",
"run_id"}``. A line logged during a task run names the run: ``... INFO bridge_v3.x
[prices#1a2b3c4d]: msg`` in text, ``task`` and ``run_id`` in JSON (null outside a run; see
``log_context``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

from bridge_v3.config.redaction import Redactor
from bridge_v3.config.settings import LoggingSettings
from bridge_v3.exceptions import ConfigError
from bridge_v3.services.log_context import TaskContextFilter, run_label

_OURS = "_bridge_v3_handler"  # marks the handlers setup_logging installed
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(run_label)s: %(message)s"


class SafeConsoleStream:
    """A text stream wrapper that never raises UnicodeEncodeError.

    A Windows console (or a service's redirected output) often encodes in cp1252; a
    character it cannot hold is written as a backslash escape (``\\u2192``) instead.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._encoding = getattr(stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        safe = text.encode(self._encoding, "backslashreplace").decode(self._encoding, "replace")
        return self._stream.write(safe)

    def flush(self) -> None:
        self._stream.flush()


class RedactionFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, exception and stack text.

    The record is rewritten in place (message merged with its arguments), so every
    handler that formats it afterwards sees only the masked text.
    """

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self._redact = Redactor(secrets)
        self._exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


def _message(record: logging.LogRecord) -> str:
    # A filter that raises would break the caller's logging call, so a message whose
    # arguments do not fit its format is kept as text instead.
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - any formatting error at all
        return f"{record.msg!s} (log arguments did not fit: {record.args!r})"


class UtcTextFormatter(logging.Formatter):
    """``2026-11-20 10:15:00,120 INFO bridge_v3.x: message`` with UTC times, and the task
    run after the logger's name when there is one (``bridge_v3.x [prices#1a2b3c4d]:``)."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.run_label = run_label(record)
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO-8601 UTC, ms, Z), level, logger, message, exc,
    task and run_id (null outside a task run)."""

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_text
        if record.exc_info and not exc:
            exc = self.formatException(record.exc_info)
        if record.stack_info:
            exc = "\n".join(part for part in (exc, record.stack_info) if part)
        line = {
            "ts": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "exc": exc or None,
            "task": getattr(record, "task", None),
            "run_id": getattr(record, "run_id", None),
        }
        return json.dumps(line, ensure_ascii=False)


def _iso_utc(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def setup_logging(
    settings: LoggingSettings, secrets: Sequence[str] = (), *, console: TextIO | None = None
) -> None:
    """Send every log record to the console and the rotating file, secrets masked.

    ``console`` is the stream for the console handler (default ``sys.stderr``; none when
    that is None, as under pythonw). Idempotent: a second call replaces the handlers the
    first one installed; handlers installed by others are left alone.
    Raises ``ConfigError("LOG_FILE", ...)`` when the log file cannot be opened.
    """
    root = logging.getLogger()
    _remove_our_handlers(root)
    handlers: list[logging.Handler] = [_file_handler(settings)]
    stream = console if console is not None else sys.stderr
    if stream is not None:
        handlers.append(logging.StreamHandler(SafeConsoleStream(stream)))
    redaction = RedactionFilter(secrets)
    context = TaskContextFilter()
    formatter = JsonFormatter() if settings.format == "json" else UtcTextFormatter()
    for handler in handlers:
        handler.addFilter(context)
        handler.addFilter(redaction)
        handler.setFormatter(formatter)
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(settings.level.upper())
    logging.captureWarnings(True)


class FallibleFileHandler(RotatingFileHandler):
    """The rotating log file, given up after its first failed write (a full disk, a lost
    share): one WARNING on the console, then the console alone. Without this every later
    record would print a "Logging error" block, and the final flush would fail the exit."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        if self.failed:
            return
        self.failed = True
        stream, self.stream = self.stream, None
        with contextlib.suppress(OSError):  # its buffer cannot be written either
            stream.close()
        logging.getLogger(__name__).warning(
            "LOG_FILE %s cannot be written (%s): logging to the console only from now on",
            self.baseFilename,
            error.strerror or error,
        )


def _file_handler(settings: LoggingSettings) -> RotatingFileHandler:
    path = Path(settings.file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # errors=backslashreplace: a lone surrogate (an undecodable file name) must not
        # cost the whole line.
        return FallibleFileHandler(
            path,
            maxBytes=settings.max_bytes,
            backupCount=settings.backup_count,
            encoding="utf-8",
            errors="backslashreplace",
        )
    except OSError as error:
        problem = f"cannot be opened for writing at {str(path)!r} ({error.strerror})"
        raise ConfigError("LOG_FILE", problem, "logs/mt5_bridge_v3.log") from None


def _remove_our_handlers(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.flush()
            handler.close()


def shutdown_logging() -> None:
    """Flush and close the handlers ``setup_logging`` installed (the last step of a stop)."""
    _remove_our_handlers(logging.getLogger())
    logging.captureWarnings(False)
