"""The report's charts, drawn with matplotlib's object API (no pyplot, no global state)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from bridge_v3.report.queries import DayReport

GREEN, RED, BLUE, GREY = "#2e7d32", "#c62828", "#1565c0", "#9e9e9e"


def equity_figure(report: DayReport) -> Figure:
    """Equity (and balance) through the day from the account snapshots."""
    figure = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(f"Equity, account {report.account}, {report.day} (UTC)")
    if not report.equity:
        axes.text(0.5, 0.5, "No account snapshots on this day", ha="center", va="center")
        axes.set_axis_off()
        return figure
    times = [t for t, _, _ in report.equity]
    axes.plot(times, [e for _, _, e in report.equity], color=BLUE, label="equity", marker=".")
    axes.plot(times, [b for _, b, _ in report.equity], color=GREY, label="balance", linestyle="--")
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    figure.tight_layout()
    return figure


def daily_pnl_figure(report: DayReport) -> Figure:
    """Realised P&L per day up to the report's day (that day drawn darker)."""
    figure = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(f"Daily realised P&L, account {report.account}, up to {report.day}")
    if not report.daily:
        axes.text(0.5, 0.5, "No deals or snapshots in this period", ha="center", va="center")
        axes.set_axis_off()
        return figure
    days = [row["day"] for row in report.daily]
    values = [row["realized_pnl"] for row in report.daily]
    colours = [GREEN if v >= 0 else RED for v in values]
    alphas = [1.0 if d == report.day else 0.6 for d in days]
    bars = axes.bar([d.isoformat() for d in days], values, color=colours)
    for bar, alpha in zip(bars, alphas, strict=True):
        bar.set_alpha(alpha)
    axes.axhline(0, color="black", linewidth=0.8)
    axes.tick_params(axis="x", labelrotation=45)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def save_png(figure: Figure, path: Path) -> Path:
    figure.savefig(path, format="png")
    return path
