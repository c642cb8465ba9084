"""Reads one day from the views and writes the report's files."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from bridge_v3.report.charts import daily_pnl_figure, equity_figure, save_png
from bridge_v3.report.html_page import render_html
from bridge_v3.report.pdf import write_pdf
from bridge_v3.report.queries import load_day_report

logger = logging.getLogger(__name__)


def write_report(
    conn, day: date, account: int | None, out: Path, *, pdf: bool = False
) -> list[Path]:
    """Write HTML + PNGs (+ PDF) for ``day`` into ``out``; return the paths written."""
    report = load_day_report(conn, day, account)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{report.account}-{report.day}"
    charts = [equity_figure(report), daily_pnl_figure(report)]
    pngs = [
        save_png(c, out / f"{name}-{stem}.png")
        for c, name in zip(charts, ("equity", "daily-pnl"), strict=True)
    ]
    html = out / f"report-{stem}.html"
    html.write_text(render_html(report, pngs[0].name, pngs[1].name), encoding="utf-8")
    written = [html, *pngs]
    if pdf:
        written.append(write_pdf(report, charts, out / f"report-{stem}.pdf"))
    if report.summary is None:
        logger.info("No trades were closed on %s for account %s", day, report.account)
    return written
