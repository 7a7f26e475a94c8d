#!/usr/bin/env bash
# Installs Debian's Chromium for the HTML report's browser test (tests/test_html_report.py) when it is
# missing: `apt-get install chromium`, as root or through passwordless sudo. Prints the browser's path on
# stdout. $OTEL_COT_CHROMIUM names a browser to use instead.
set -euo pipefail
SCRIPT_NAME="install-chromium.sh"
TOOLS="${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}"
source "$(dirname "$0")/lib.sh"
for candidate in "${OTEL_COT_CHROMIUM:-}" chromium chromium-browser; do
  if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null; then
    command -v "$candidate"
    exit 0
  fi
done
command -v apt-get >/dev/null || { echo "$SCRIPT_NAME: no apt-get here: install Chromium and put it on PATH (or set OTEL_COT_CHROMIUM)" >&2; exit 1; }
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  sudo -n true 2>/dev/null || { echo "$SCRIPT_NAME: apt-get needs root: run \`sudo apt-get install chromium\`" >&2; exit 1; }
  SUDO=(sudo -n)
fi
LOG="$(build_log chromium)"
START=$SECONDS
echo "$SCRIPT_NAME: installing Debian's chromium with apt-get (log: $LOG)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y --no-install-recommends chromium >>"$LOG" 2>&1; then
  logged "$LOG" "${SUDO[@]}" apt-get update
  logged "$LOG" "${SUDO[@]}" apt-get install -y --no-install-recommends chromium
fi
echo "$SCRIPT_NAME: installed $(command -v chromium) in $(elapsed $((SECONDS - START)))" >&2
command -v chromium
