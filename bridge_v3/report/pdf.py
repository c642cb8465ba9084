"""The report as a PDF, drawn by matplotlib itself (no HTML-to-PDF engine to install)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from bridge_v3.report.formatting import headline, table
from bridge_v3.report.queries import STAT_COLUMNS, TRADE_COLUMNS, DayReport

A4_LANDSCAPE = (11.69, 8.27)


def write_pdf(report: DayReport, charts: list[Figure], path: Path) -> Path:
    """Summary and tables on the first page, then one page per chart."""
    with PdfPages(path, metadata={"Title": f"Daily report {report.account} {report.day}"}) as pdf:
        pdf.savefig(_summary_page(report))
        for chart in charts:
            pdf.savefig(chart)
    return path


def _summary_page(report: DayReport) -> Figure:
    figure = Figure(figsize=A4_LANDSCAPE)
    figure.text(
        0.04, 0.95, f"Daily report, account {report.account}, {report.day}", size=16, weight="bold"
    )
    y = 0.9
    for label, value in headline(report):
        figure.text(0.04, y, f"{label}:  {value}", size=10)
        y -= 0.03
    if report.summary is None:
        return figure
    sections = (
        ("By strategy", report.strategies, ("magic", *STAT_COLUMNS[:8])),
        ("By symbol", report.symbols, ("symbol", *STAT_COLUMNS[:8])),
        ("Trades closed", report.trades, TRADE_COLUMNS),
    )
    for title, rows, columns in sections:
        y = _table(figure, title, rows, columns, y - 0.02)
    return figure


def _table(
    figure: Figure, title: str, rows: list[dict], columns: tuple[str, ...], top: float
) -> float:
    """Draw a titled table under ``top``; return where the next one may start."""
    header, body = table(rows[:20], columns)
    height = 0.028 * (len(body) + 1)
    figure.text(0.04, top, title, size=11, weight="bold")
    axes = figure.add_axes((0.04, top - 0.01 - height, 0.92, height))
    axes.set_axis_off()
    drawn = axes.table(cellText=body or [["–"] * len(header)], colLabels=header, loc="upper left")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(7)
    return top - 0.05 - height
