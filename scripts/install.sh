#!/usr/bin/env bash
# Creates .venv (if missing) and installs a requirements file into it (default
# requirements.txt). Skips pip when nothing changed since the last install: a stamp in .venv
# records the requirement files and the Python version it was made from. With the
# development requirements it also installs Chromium for the dashboard's browser test.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
REQUIREMENTS=${1:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
  echo "Creating the Python environment in .venv"
  "$PYTHON" -m venv .venv
fi
stamp_file=".venv/.installed-$(basename "$REQUIREMENTS")"
# Every requirements*.txt counts: one may include another with -r.
wanted="$(.venv/bin/python --version 2>&1) $(cat requirements*.txt | cksum)"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$wanted" ]; then
  echo "Python packages up to date ($REQUIREMENTS unchanged)"
else
  echo "Installing the Python packages of $REQUIREMENTS into .venv (the first time takes about a minute)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$wanted" > "$stamp_file"
  echo "Python packages installed"
fi
if [ "$REQUIREMENTS" = "requirements-dev.txt" ]; then
  bash scripts/install_browser.sh
fi
