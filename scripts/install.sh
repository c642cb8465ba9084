#!/usr/bin/env bash
# Creates .venv (if missing) and installs the requirements into it. With the development
# requirements it also installs Chromium for the dashboard's browser test.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
REQUIREMENTS=${1:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
if [ "$REQUIREMENTS" = "requirements-dev.txt" ]; then
  bash scripts/install_browser.sh
fi
