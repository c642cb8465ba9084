"""The daily report: the analytics views of one day as HTML (with PNG charts) and PDF.

``python -m bridge_v3.report --day YYYY-MM-DD [--account N] [--out DIR] [--pdf]``.
Everything is computed in PostgreSQL (migration ``002_analytics.sql``); this package only
reads the views, draws and writes.
"""
