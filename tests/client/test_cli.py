"""``python -m bridge_v3.client tail`` and ``gaps`` against real Redis."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from bridge_v3.client.cli import main
from tests.client.publishing import bar_data, publish_accounts, publisher


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_gaps_finds_a_gap_made_on_purpose(redis_prefix, redis_url):
    service = publisher(redis_prefix, "bridge-a")
    publish_accounts(service, range(4))
    service.advance_seq(9)
    publish_accounts(service, range(2))
    publish_accounts(publisher(redis_prefix, "bridge-b"), range(3))

    code, out, _ = run("--redis-url", redis_url, "--prefix", redis_prefix, "gaps", "--since", "1h")

    assert code == 1
    assert out.splitlines() == [
        "bridge-a: seq 1-11, 6 messages, 5 missing, 0 repeated",
        "  missing 5-9 (5)",
        "bridge-b: seq 1-3, 3 messages, 0 missing, 0 repeated",
    ]


def test_gaps_without_gaps_exits_0(redis_prefix, redis_url):
    publish_accounts(publisher(redis_prefix), range(3))
    code, out, _ = run("--redis-url", redis_url, "--prefix", redis_prefix, "gaps")
    assert code == 0 and "0 missing" in out


def test_tail_prints_one_line_per_event_filtered_by_type_and_symbol(redis_prefix, redis_url):
    service = publisher(redis_prefix)
    publish_accounts(service, [0])
    for symbol in ("EURUSD", "GBPUSD", "EURUSD"):
        service.publish(service.channel("bar", symbol, "M1"), "bar", bar_data(symbol, 5))
    argv = ("--redis-url", redis_url, "--prefix", redis_prefix, "tail", "--from", "start")

    code, out, _ = run(*argv, "--types", "bar", "--symbols", "EURUSD", "--count", "2")

    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "bar" in lines[0] and "b1#2 EURUSD M1 2026-03-25T09:00:05Z O 1.1 H 1.2" in lines[0]
    assert "b1#4 EURUSD" in lines[1]


def test_tail_json_prints_the_envelopes_as_received(redis_client, redis_prefix, redis_url):
    publish_accounts(publisher(redis_prefix), range(2))
    argv = ("--redis-url", redis_url, "--prefix", redis_prefix, "tail", "--from", "start")
    code, out, _ = run(*argv, "--json", "--count", "2")
    stored = [
        json.loads(f[b"envelope"]) for _, f in redis_client.xrange(f"{redis_prefix}:stream:account")
    ]
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == stored


def test_bad_arguments_are_named_and_exit_2(redis_url):
    assert run("--redis-url", redis_url, "gaps", "--since", "soon")[0] == 2
    assert "--since" in run("--redis-url", redis_url, "gaps", "--since", "soon")[2]
    code, _, err = run("--redis-url", redis_url, "tail", "--types", "Bar!")
    assert code == 2 and "types" in err
    code, _, err = run("--redis-url", "http://x", "gaps")
    assert code == 2 and "redis_url" in err


def test_unreachable_redis_is_reported_without_the_password():
    code, _, err = run("--redis-url", "redis://:hunter2@127.0.0.1:1/0", "gaps")
    assert code == 1 and "127.0.0.1:1" in err and "hunter2" not in err


def test_the_module_runs_and_imports_nothing_but_redis():
    probe = "import sys, bridge_v3.client, bridge_v3.client.cli; print(sorted(m for m in ('numpy', 'pandas', 'psycopg2', 'matplotlib') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "bridge_v3.client", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "tail" in done.stdout and "gaps" in done.stdout
