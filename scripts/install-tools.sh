#!/usr/bin/env bash
# Installs what the end-to-end and browser tests run: Jaeger v2 and an OpenTelemetry Collector, built
# with Go into ${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin} (each once per version, reused after; a
# cold build needs Go and the module proxy and takes minutes), and Debian's Chromium. One line per tool
# and a closing line; the builds' own output goes to log files whose paths are printed.
set -euo pipefail
cd "$(dirname "$0")"
START=$SECONDS
source ./lib.sh
step() {
  local name="$1" script="$2" required="$3" t=$SECONDS path
  if path="$("./$script")"; then
    echo "install-tools: $name: $path$( ((SECONDS - t > 1)) && echo " ($(elapsed $((SECONDS - t))))")" >&2
  elif [[ "$required" == required ]]; then
    echo "install-tools: $name: FAILED (see the lines above); stopping" >&2
    exit 1
  else
    echo "install-tools: $name: not installed (see above); the tests that need it will be skipped" >&2
  fi
}
step jaeger install-jaeger.sh required
step otelcol install-otelcol.sh required
step chromium install-chromium.sh optional
echo "install-tools: done in $(elapsed $((SECONDS - START)))" >&2
