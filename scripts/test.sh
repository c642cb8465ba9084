#!/usr/bin/env bash
# Installs what the tests need, makes sure PostgreSQL and Redis are up, runs the whole suite.
# Each run creates its own database (bridge_v3_test_*) and drops it afterwards.
set -eu
cd "$(dirname "$0")/.."
bash scripts/install.sh requirements-dev.txt
bash scripts/services.sh
.venv/bin/python -m ruff check bridge_v3 tests bench
.venv/bin/python -m pytest "$@"
