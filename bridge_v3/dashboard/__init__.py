"""The live dashboard: the bridges, the account and the market on one page (Linux side).

``python -m bridge_v3.dashboard`` serves one page that reads PostgreSQL and follows the
bridge's Redis streams, pushing what changes to the browser with server-sent events. It never
talks to the terminal. See ``bridge_v3.dashboard.app.Dashboard`` for how the parts fit.
"""
