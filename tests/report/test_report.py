"""The daily report: HTML, PNG charts of the right data, PDF, and a day without trades."""

from __future__ import annotations

import io
import re
from datetime import date

import numpy as np
import psycopg2
import pytest
from matplotlib.image import imread

from bridge_v3.report.charts import daily_pnl_figure, equity_figure
from bridge_v3.report.cli import main
from bridge_v3.report.queries import load_day_report
from bridge_v3.report.writer import write_report
from tests.report.hand_deals import ACCOUNT, SNAPSHOTS

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


@pytest.fixture
def conn(analytics_db):
    connection = psycopg2.connect(**analytics_db)
    yield connection
    connection.close()


def pdf_pages(path) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", path.read_bytes()))


def assert_drawn_png(path, width: int, height: int) -> None:
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    assert np.std(pixels[..., :3]) > 0.05  # more than a blank canvas


def test_the_report_renders_html_png_and_pdf(conn, tmp_path):
    written = write_report(conn, D1, None, tmp_path, pdf=True)

    names = sorted(p.name for p in written)
    stem = f"{ACCOUNT}-{D1}"
    assert names == sorted(
        [f"report-{stem}.html", f"equity-{stem}.png", f"daily-pnl-{stem}.png", f"report-{stem}.pdf"]
    )
    html = (tmp_path / f"report-{stem}.html").read_text("utf-8")
    assert f"src='equity-{stem}.png'" in html and f"src='daily-pnl-{stem}.png'" in html
    assert "<td>33.30</td>" in html  # the day's net P&L: 44 - 23.5 + 24 - 11.2
    assert "<td>29.30</td>" in html  # realised P&L of all the day's deals
    assert "<td>50.0 %</td>" in html  # win rate: 2 of 4
    for position in (10, 11, 12, 13):
        assert f"<td>{position}</td>" in html
    assert_drawn_png(tmp_path / f"equity-{stem}.png", 900, 360)
    assert_drawn_png(tmp_path / f"daily-pnl-{stem}.png", 900, 360)
    pdf = tmp_path / f"report-{stem}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf_pages(pdf) == 3


def test_the_charts_show_the_right_data(conn):
    report = load_day_report(conn, D2, None)
    equity = equity_figure(report).axes[0]
    assert list(equity.lines[0].get_ydata()) == [
        e for t, _, e in SNAPSHOTS if t.startswith("2026-03-03")
    ]
    assert list(equity.lines[1].get_ydata()) == [
        b for t, b, _ in SNAPSHOTS if t.startswith("2026-03-03")
    ]
    bars = daily_pnl_figure(report).axes[0].patches
    assert [round(bar.get_height(), 6) for bar in bars] == [29.3, 49.0]


def test_a_day_without_trades_says_so(conn, tmp_path):
    written = write_report(conn, date(2026, 3, 9), ACCOUNT, tmp_path, pdf=True)
    html = next(p for p in written if p.suffix == ".html").read_text("utf-8")
    assert "No trades were closed on this day." in html
    assert "No account snapshots on this day" not in html  # written on the chart, not the page
    assert "By strategy" not in html
    assert all(p.stat().st_size > 0 for p in written)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_the_command_line_writes_the_files(analytics_db, tmp_path, monkeypatch):
    for name, key in (
        ("POSTGRES_HOST", "host"),
        ("POSTGRES_PORT", "port"),
        ("POSTGRES_DB", "dbname"),
        ("POSTGRES_USER", "user"),
    ):
        monkeypatch.setenv(name, str(analytics_db[key]))
    monkeypatch.chdir(tmp_path)
    code, out, err = run("--day", str(D1), "--out", "out", "--pdf")
    assert code == 0, err
    assert len(out.splitlines()) == 4 and (tmp_path / "out" / f"report-{ACCOUNT}-{D1}.pdf").exists()


def test_bad_arguments_are_named(analytics_db, tmp_path, monkeypatch):
    monkeypatch.setenv("POSTGRES_DB", analytics_db["dbname"])
    monkeypatch.chdir(tmp_path)
    assert run("--day", "02/03/2026")[0] == 2
    assert "--day" in run("--day", "02/03/2026")[2]
    with psycopg2.connect(**analytics_db) as other, other.cursor() as cur:
        cur.execute("INSERT INTO account_snapshots (account, time, equity) VALUES (2002, now(), 1)")
    code, _, err = run("--day", str(D1))
    assert code == 2 and "--account" in err and "1001, 2002" in err


def test_unreachable_postgres_exits_1_without_the_password(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTGRES_PORT", "1")
    monkeypatch.setenv("POSTGRES_PASSWORD", "hunter2")
    monkeypatch.chdir(tmp_path)
    code, _, err = run("--day", str(D1))
    assert code == 1 and ":1/" in err and "hunter2" not in err
