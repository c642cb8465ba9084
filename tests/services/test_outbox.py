"""The SQLite outbox: order, ack, durability across reopen, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from bridge_v3.services.outbox import Outbox


def items(tag: str, count: int) -> list[tuple[str, str, str]]:
    return [(f"mt5:bar:{tag}", "bar", f'{{"n":{n},"tag":"{tag}"}}') for n in range(count)]


def test_peek_returns_oldest_first_and_ack_removes(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.append(items("a", 3))
    outbox.append(items("b", 2))

    first = outbox.peek(4)
    outbox.ack([item.id for item in first[:2]])

    assert [(i.channel, i.envelope) for i in first] == [
        (c, e) for c, _, e in items("a", 3) + items("b", 1)
    ]
    assert len(outbox) == 3
    assert [i.envelope for i in outbox.peek(10)] == [
        e for _, _, e in items("a", 3)[2:] + items("b", 2)
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
        e for _, _, e in items("old", 3) + items("new", 1)
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
            outbox.append([(tag, "tick", str(n))])

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
