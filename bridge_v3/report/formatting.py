"""Numbers and times as the report shows them."""

from __future__ import annotations

from datetime import datetime

from bridge_v3.report.queries import DayReport

LABELS = {
    "trades": "Trades",
    "won": "Won",
    "lost": "Lost",
    "win_rate": "Win rate",
    "net_profit": "Net P&L",
    "gross_profit": "Gross profit",
    "gross_loss": "Gross loss",
    "profit_factor": "Profit factor",
    "avg_win": "Avg win",
    "avg_loss": "Avg loss",
    "expectancy": "Expectancy",
    "max_drawdown": "Max drawdown (closed trades)",
    "commission": "Commission",
    "swap": "Swap",
    "position_id": "Position",
    "magic": "Strategy (magic)",
    "symbol": "Symbol",
    "side": "Side",
    "volume": "Lots",
    "opened_at": "Opened (UTC)",
    "closed_at": "Closed (UTC)",
}


def cell(name: str, value: object) -> str:
    """One value as text: money with 2 decimals, rates in %, times in UTC, none as a dash."""
    if value is None:
        return "–"
    if name == "win_rate":
        return f"{100 * value:.1f} %"
    if name == "profit_factor":
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%m-%d %H:%M")  # the year and day are in the title
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def table(rows: list[dict], columns: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """(header, body) of ``rows`` restricted to ``columns``, as text."""
    return [LABELS.get(c, c) for c in columns], [[cell(c, row[c]) for c in columns] for row in rows]


def headline(report: DayReport) -> list[tuple[str, str]]:
    """The day in a few figures (label, value)."""
    lines = []
    if report.summary is None:
        lines.append(("Trades", "No trades were closed on this day."))
    else:
        for name in (
            "trades",
            "won",
            "lost",
            "win_rate",
            "net_profit",
            "profit_factor",
            "expectancy",
        ):
            lines.append((LABELS[name], cell(name, report.summary[name])))
    row = report.day_row or {}
    lines.append(("Realised P&L of the day's deals", cell("", row.get("realized_pnl"))))
    lines.append(
        (
            "Equity open → close",
            f"{cell('', row.get('open_equity'))} → {cell('', row.get('close_equity'))}",
        )
    )
    drawdown = row.get("max_drawdown")
    pct = row.get("max_drawdown_pct")
    shown = "–" if drawdown is None else f"{cell('', drawdown)} ({pct or 0:.2f} %)"
    lines.append(("Max equity drawdown", shown))
    return lines
