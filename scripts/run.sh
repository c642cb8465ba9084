#!/usr/bin/env bash
# Runs the bridge on this machine against the SIMULATED terminal (paper trading), with the
# local PostgreSQL and Redis. Installs what is needed first (only when it changed); creates
# the database if missing. Extra arguments go to the bridge, e.g.: bash scripts/run.sh --once
set -eu
cd "$(dirname "$0")/.."
bash scripts/install.sh requirements.txt
bash scripts/services.sh
export MT5_BACKEND=simulator
.venv/bin/python -m bridge_v3.tools.create_database
echo "Starting the bridge on the simulated terminal (Ctrl+C stops it)"
exec .venv/bin/python -m bridge_v3.main "$@"
