#!/usr/bin/env bash
# Installs what the dashboard's browser test needs beside the Python packages: Debian's
# Chromium (the test drives it with Playwright; Playwright's own browser download is not
# used). Quiet and quick when it is there already.
set -eu
CHROMIUM=${DASHBOARD_TEST_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ERROR: the dashboard's browser test needs Chromium at $CHROMIUM; install it" \
       "(or set DASHBOARD_TEST_CHROMIUM to its path)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "Installing Chromium for the dashboard's browser test (apt-get install chromium)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
