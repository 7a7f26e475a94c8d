#!/usr/bin/env bash
# Installs the Go programs the end-to-end tests run (Jaeger v2 and an OpenTelemetry Collector) into
# ${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}. Each is built once per version and reused after;
# a cold build needs Go and the module proxy and takes minutes.
set -euo pipefail
cd "$(dirname "$0")"
./install-jaeger.sh >/dev/null
./install-otelcol.sh >/dev/null
