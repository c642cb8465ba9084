"""setup_logging: UTF-8 file, UTC lines, JSON lines, masking, safe console, rotation."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from datetime import datetime, timezone

import pytest

from bridge_v3.config.settings import LoggingSettings
from bridge_v3.exceptions import ConfigError
from bridge_v3.services.log_context import task_run
from bridge_v3.services.logger_service import setup_logging, shutdown_logging

PASSWORD = "Sup3r-S3cret!pw"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


@pytest.fixture(autouse=True)
def clean_root_logger():
    root = logging.getLogger()
    level = root.level
    yield
    shutdown_logging()
    root.setLevel(level)


@pytest.fixture
def log_path(tmp_path):
    return tmp_path / "logs" / "bridge.log"


def setup(log_path, *, console=None, **overrides) -> None:
    settings = LoggingSettings(file=str(log_path), **overrides)
    setup_logging(settings, secrets=[PASSWORD], console=console or io.StringIO())


def file_text(log_path) -> str:
    shutdown_logging()
    return log_path.read_bytes().decode("utf-8")


def fixed_record(created: float, **extra) -> logging.LogRecord:
    fields = {"name": "bridge_v3.clock", "levelno": logging.INFO, "levelname": "INFO"}
    fields.update(msg="tick", created=created, msecs=round(created % 1 * 1000), **extra)
    return logging.makeLogRecord(fields)


def test_file_is_utf8_and_holds_non_ascii(log_path):
    setup(log_path)

    logging.getLogger("bridge_v3.test").info("Préço 1,0850 € → ✓ 日本 🚀")

    lines = file_text(log_path).splitlines()
    assert lines[-1].endswith(" INFO bridge_v3.test: Préço 1,0850 € → ✓ 日本 🚀")
    assert TEXT_LINE.match(lines[-1])


def test_text_timestamps_are_utc_whatever_the_local_zone(log_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    created = datetime(2026, 11, 20, 10, 15, 0, 120000, tzinfo=timezone.utc).timestamp()
    try:
        setup(log_path)
        logging.getLogger("bridge_v3.clock").handle(fixed_record(created))
    finally:
        monkeypatch.undo()
        time.tzset()

    assert (
        file_text(log_path).splitlines()[-1] == "2026-11-20 10:15:00,120 INFO bridge_v3.clock: tick"
    )


def test_json_format_is_one_object_per_line(log_path):
    setup(log_path, format="json")
    created = datetime(2026, 11, 20, 10, 15, 0, 120000, tzinfo=timezone.utc).timestamp()
    logger = logging.getLogger("bridge_v3.test")

    logger.handle(fixed_record(created))
    logger.warning("two\nlines ünï")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        logger.exception("division failed for %s", "EURUSD")

    records = [json.loads(line) for line in file_text(log_path).splitlines()]
    assert records[0] == {
        "ts": "2026-11-20T10:15:00.120Z",
        "level": "INFO",
        "logger": "bridge_v3.clock",
        "message": "tick",
        "exc": None,
        "task": None,
        "run_id": None,
    }
    assert records[1]["message"] == "two\nlines ünï"
    assert records[2]["level"] == "ERROR"
    assert records[2]["message"] == "division failed for EURUSD"
    assert "ZeroDivisionError" in records[2]["exc"]


def log_the_password_every_way(logger: logging.Logger) -> None:
    logger.info(f"connecting with {PASSWORD}")
    logger.info("connecting with %s", PASSWORD)
    logger.info("settings %r", {"user": "bridge", "password": PASSWORD})
    logger.info("%(who)s uses %(pw)s", {"who": "bridge", "pw": PASSWORD})
    logger.info("dsn postgresql://bridge:%s@db:5432/mt5", PASSWORD)
    logger.info("other dsn postgresql://ops:NotKnown-pw1@db/x and password=NotKnown-pw2 too")
    try:
        try:
            raise ValueError(f"inner {PASSWORD}")
        except ValueError as inner:
            raise RuntimeError(f"auth failed for redis://:{PASSWORD}@cache:6379") from inner
    except RuntimeError:
        logger.exception("login failed")
    logger.info("stack", stack_info=True)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_password_never_reaches_the_file(log_path, log_format):
    setup(log_path, format=log_format)

    log_the_password_every_way(logging.getLogger("bridge_v3.test"))

    text = file_text(log_path)
    for hidden in (PASSWORD, "NotKnown-pw1", "NotKnown-pw2"):
        assert hidden not in text
    assert "connecting with ***" in text
    assert "RuntimeError" in text and "ValueError" in text and "login failed" in text


def test_password_never_reaches_the_console(log_path):
    console = io.StringIO()
    setup(log_path, console=console)

    log_the_password_every_way(logging.getLogger("bridge_v3.test"))

    assert "connecting with ***" in console.getvalue()
    assert PASSWORD not in console.getvalue()


def test_cp1252_console_never_raises(log_path, monkeypatch):
    def fail(self, record):
        raise AssertionError("a handler failed to emit")

    monkeypatch.setattr(logging.Handler, "handleError", fail)
    raw = io.BytesIO()
    console = io.TextIOWrapper(raw, encoding="cp1252")  # errors="strict", as on Windows
    setup(log_path, console=console)

    logging.getLogger("bridge_v3.test").info("Prix 1,0850 € → ✓ 🚀")
    console.flush()

    shown = raw.getvalue().decode("cp1252")
    assert "Prix 1,0850 € \\u2192 \\u2713 \\U0001f680" in shown


def test_rotation_at_max_bytes(log_path):
    setup(log_path, max_bytes=1024, backup_count=2)
    logger = logging.getLogger("bridge_v3.rotation")

    for number in range(60):
        logger.info("line %02d %s", number, "x" * 40)
    shutdown_logging()

    rotated = [log_path, log_path.with_name("bridge.log.1"), log_path.with_name("bridge.log.2")]
    assert all(path.exists() and path.stat().st_size <= 1024 for path in rotated)
    assert not log_path.with_name("bridge.log.3").exists()
    assert log_path.read_text(encoding="utf-8").splitlines()[-1].endswith("line 59 " + "x" * 40)
    kept = [line for path in rotated for line in path.read_text(encoding="utf-8").splitlines()]
    assert all(TEXT_LINE.match(line) for line in kept)


def test_setup_twice_does_not_duplicate_lines(log_path):
    foreign = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(foreign)
    try:
        setup(log_path)
        setup(log_path)

        logging.getLogger("bridge_v3.test").info("only once")

        assert file_text(log_path).count("only once") == 1
        assert foreign in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(foreign)


def test_shutdown_flushes_and_detaches(log_path):
    setup(log_path)
    logger = logging.getLogger("bridge_v3.test")
    logger.info("before shutdown")

    shutdown_logging()
    logger.info("after shutdown")

    text = log_path.read_text(encoding="utf-8")
    assert "before shutdown" in text
    assert "after shutdown" not in text


def test_level_is_applied(log_path):
    setup(log_path, level="WARNING")

    logging.getLogger("bridge_v3.test").info("quiet")
    logging.getLogger("bridge_v3.test").warning("loud")

    text = file_text(log_path)
    assert "loud" in text and "quiet" not in text


def test_a_malformed_log_call_is_kept_not_raised(log_path, monkeypatch):
    # Only our handlers: pytest's own capture handler would fail on this record first.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    setup(log_path)

    logging.getLogger("bridge_v3.test").info("count %d", "not a number")

    assert "count %d (log arguments did not fit" in file_text(log_path)


def test_unwritable_log_file_is_a_config_error(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")

    with pytest.raises(ConfigError) as caught:
        setup(blocker / "bridge.log")

    assert caught.value.variable == "LOG_FILE"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_line_of_a_task_run_carries_its_task_and_run_id(log_path, log_format):
    setup(log_path, format=log_format)
    logger = logging.getLogger("bridge_v3.test")

    logger.info("before")
    with task_run("prices") as run_id:
        logging.getLogger("bridge_v3.services.x").info("fetching")
        try:
            raise ValueError("bad")
        except ValueError:
            logger.exception("failed")
    logger.info("after")

    lines = file_text(log_path).splitlines()
    if log_format == "json":
        found = [(json.loads(line)["task"], json.loads(line)["run_id"]) for line in lines]
        assert found[-4:] == [(None, None), ("prices", run_id), ("prices", run_id), (None, None)]
    else:
        assert lines[-1].endswith(" INFO bridge_v3.test: after")
        assert any(f" INFO bridge_v3.services.x [prices#{run_id}]: fetching" in x for x in lines)
        assert any(f" ERROR bridge_v3.test [prices#{run_id}]: failed" in x for x in lines)
        assert any(x.endswith(" INFO bridge_v3.test: before") for x in lines)
    assert len(run_id) == 8
