"""The SQLite outbox: order, ack, durability across reopen, threads, one process per file,
damaged and unusable files."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bridge_v3.exceptions import SpoolError
from bridge_v3.services.outbox import Outbox, inspect_outbox

REPO = Path(__file__).resolve().parents[2]


def items(tag: str, count: int, first_seq: int = 1) -> list[tuple[str, str, str, int]]:
    return [
        (f"mt5:bar:{tag}", "bar", f'{{"n":{n},"tag":"{tag}"}}', first_seq + n) for n in range(count)
    ]


def test_peek_returns_oldest_first_and_ack_removes(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.append(items("a", 3))
    outbox.append(items("b", 2))

    first = outbox.peek(4)
    outbox.ack([item.id for item in first[:2]])

    assert [(i.channel, i.envelope) for i in first] == [
        (c, e) for c, _, e, _ in items("a", 3) + items("b", 1)
    ]
    assert len(outbox) == 3
    assert [i.envelope for i in outbox.peek(10)] == [
        e for _, _, e, _ in items("a", 3)[2:] + items("b", 2)
    ]


def test_items_survive_reopen_and_new_ones_go_behind(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "outbox.sqlite3"
    before = Outbox(path)
    before.append(items("old", 3))
    before.set_meta("seq:mt5:bridge", "42")
    before.close()

    after = Outbox(path)
    after.append(items("new", 1))

    assert [i.envelope for i in after.peek(10)] == [
        e for _, _, e, _ in items("old", 3) + items("new", 1)
    ]
    assert after.get_meta("seq:mt5:bridge") == "42" and after.get_meta("missing", "0") == "0"


def test_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path).append(items("a", 1))

    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_appends_keep_each_writers_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")

    def writer(tag: str) -> None:
        for n in range(50):
            outbox.append([(tag, "tick", str(n), n)])

    threads = [threading.Thread(target=writer, args=(f"w{t}",)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    spooled = outbox.peek(1000)
    assert len(outbox) == 200 and len({i.id for i in spooled}) == 200
    for t in range(4):
        assert [int(i.envelope) for i in spooled if i.channel == f"w{t}"] == list(range(50))


def test_ids_never_reused_after_ack(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.append(items("a", 2))
    outbox.ack([i.id for i in outbox.peek(10)])

    outbox.append(items("b", 1))

    assert outbox.peek(1)[0].id == 3


def test_append_numbers_meta_and_transfers_in_one_transaction(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock=lambda: 1000.0)

    outbox.append(items("a", 2, first_seq=41), meta={"seq": "42"}, transferred=("src", [7, 9]))
    failing = [("c", "bar", "{}", 43), ("c", "bar", None, 44)]  # NOT NULL fails half-way
    with pytest.raises(SpoolError):
        outbox.append(failing, meta={"seq": "44"}, transferred=("src", [11]))

    assert [(i.seq, i.queued_at) for i in outbox.peek(10)] == [(41, 1000.0), (42, 1000.0)]
    assert outbox.get_meta("seq") == "42"
    assert outbox.transferred("src") == {7, 9}
    outbox.forget_transferred("src", [7])
    assert outbox.transferred("src") == {9} and outbox.transferred("other") == set()


def test_ack_through_forgets_everything_up_to_an_id(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.append(items("a", 5))

    outbox.ack_through(outbox.peek(3)[-1].id)

    assert [i.seq for i in outbox.peek(10)] == [4, 5]


def test_a_second_process_on_the_same_file_is_refused_with_the_holders_pid(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite3"
    held = Outbox(path)
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from bridge_v3.services.outbox import Outbox; Outbox({str(path)!r})",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    held.close()

    assert other.returncode == 1
    assert f"in use by another bridge (process {os.getpid()})" in other.stderr
    Outbox(path).close()  # free again once the holder closed it


def test_the_same_process_cannot_open_one_file_twice(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path)

    with pytest.raises(SpoolError, match="in use by another bridge"):
        Outbox(path)

    first.close()


def test_a_damaged_file_is_moved_aside_and_a_new_one_started(tmp_path: Path, caplog) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(8192)))

    with caplog.at_level(logging.ERROR, logger="bridge_v3.services.outbox"):
        outbox = Outbox(path, clock=lambda: 1_700_000_000.0)
    outbox.append(items("new", 1))

    kept = tmp_path / "outbox.sqlite3.damaged-20231114T221320Z"
    assert kept.read_bytes() == bytes(random.Random(1).randrange(256) for _ in range(8192))
    assert len(outbox) == 1
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 1 and str(kept) in errors[0] and "damaged" in errors[0]


# /sys refuses new files even to root, so it stands for a read-only folder on any machine.
READ_ONLY_FOLDER = Path("/sys")


def test_a_directory_in_place_of_the_file_is_a_spool_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.mkdir()

    with pytest.raises(SpoolError) as raised:
        Outbox(path)

    assert str(raised.value) == f"{path} is a directory, not a file"


def test_a_read_only_folder_is_a_spool_error_naming_it() -> None:
    path = READ_ONLY_FOLDER / "outbox.sqlite3"

    with pytest.raises(SpoolError) as raised:
        Outbox(path)

    assert str(raised.value) == f"{path} cannot be created (Permission denied)"


def test_a_spool_written_by_the_previous_version_is_read_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,"
            " type TEXT NOT NULL, envelope TEXT NOT NULL)"
        )
        old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        old.execute(
            "INSERT INTO outbox (channel, type, envelope) VALUES ('c', 'bar', '{\"seq\":5}')"
        )
    old.close()

    outbox = Outbox(path)
    outbox.append([("c", "bar", '{"seq":6}', 6)])

    assert [(i.seq, i.envelope) for i in outbox.peek(10)] == [(None, '{"seq":5}'), (6, '{"seq":6}')]


def test_inspecting_an_outbox_for_check_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "outbox.sqlite3"
    missing = inspect_outbox(path)
    outbox = Outbox(path)
    outbox.append(items("a", 2))
    in_use = inspect_outbox(path)
    outbox.close()
    waiting = inspect_outbox(path)
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not a database" * 100)

    assert missing == f"{path}: created at the first start"
    assert in_use == f"{path}: in use by a running bridge (process {os.getpid()})"
    assert waiting == f"{path}: 2 message(s) waiting"
    with pytest.raises(SpoolError, match="is damaged"):
        inspect_outbox(damaged)
    with pytest.raises(SpoolError, match="cannot be created"):
        inspect_outbox(READ_ONLY_FOLDER / "outbox.sqlite3")
    assert damaged.read_bytes() == b"not a database" * 100  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.sqlite3", "spool"]
