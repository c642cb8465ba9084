"""The report as one HTML page (charts are PNG files beside it)."""

from __future__ import annotations

from html import escape

from bridge_v3.report.formatting import headline, table
from bridge_v3.report.queries import STAT_COLUMNS, TRADE_COLUMNS, DayReport

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
.none { color: #666; font-style: italic; }
"""


def render_html(report: DayReport, equity_png: str, pnl_png: str) -> str:
    title = f"Daily report, account {report.account}, {report.day}"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"]
    parts.append(f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>")
    parts.append(_summary(report))
    parts.append(f"<h2>Equity</h2><img src='{escape(equity_png)}' alt='equity curve'>")
    parts.append(f"<h2>Daily P&amp;L</h2><img src='{escape(pnl_png)}' alt='daily P&amp;L'>")
    if report.summary is None:
        parts.append("<p class='none'>No trades were closed on this day.</p>")
    else:
        by_strategy = ("magic", *STAT_COLUMNS)
        parts.append("<h2>By strategy</h2>" + _table(report.strategies, by_strategy))
        parts.append("<h2>By symbol</h2>" + _table(report.symbols, ("symbol", *STAT_COLUMNS)))
        parts.append("<h2>Trades closed</h2>" + _table(report.trades, TRADE_COLUMNS))
    parts.append("<p class='none'>Days are UTC. Figures come from the analytics views.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(report: DayReport) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in headline(report)
    )
    return f"<table class='summary'>{rows}</table>"


def _table(rows: list[dict], columns: tuple[str, ...]) -> str:
    header, body = table(rows, columns)
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    lines = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in body
    )
    return f"<table><tr>{head}</tr>{lines}</table>"
