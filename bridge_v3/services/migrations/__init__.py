"""Numbered SQL migrations (``NNN_name.sql`` beside this file) and the runner applying them."""

from bridge_v3.services.migrations.runner import MIGRATIONS_DIR, Migration, MigrationRunner

__all__ = ["MIGRATIONS_DIR", "Migration", "MigrationRunner"]
