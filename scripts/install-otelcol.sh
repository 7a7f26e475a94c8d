#!/usr/bin/env bash
# Builds an OpenTelemetry Collector (OTLP receiver, load_balancing/OTLP/file exporters, batch,
# memory_limiter, file_storage) with the official builder (ocb) from the Go module proxy.
# The binary is cached outside the clone, in ${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}, keyed by
# the builder version and the manifest's hash, so a fresh clone on the same machine reuses it.
# Prints the binary's path on stdout; while it builds, one line on stderr names the log file that gets
# Go's output.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILDER_VERSION="v0.161.0"
MANIFEST="$ROOT/scripts/otelcol-manifest.yaml"
TOOLS="${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}"
KEY="$(cat "$MANIFEST" <(echo "$BUILDER_VERSION") | sha256sum | cut -c1-12)"
BIN="$TOOLS/otelcol-cot-$KEY"
SCRIPT_NAME="install-otelcol.sh"
source "$ROOT/scripts/lib.sh"
reuse_or_lock otelcol "$BIN"
WORK="$(dirname "$TOOLS")/build/otelcol-$KEY"
LOG="$(build_log "otelcol-$KEY")"
mkdir -p "$TOOLS" "$WORK"
START=$SECONDS
echo "$SCRIPT_NAME: building the OpenTelemetry Collector (ocb $BUILDER_VERSION) with Go (a few minutes; log: $LOG)" >&2
BUILDER="$TOOLS/ocb-$BUILDER_VERSION"
if [[ ! -x "$BUILDER" ]]; then
  GOBIN="$WORK" logged "$LOG" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
  mv "$WORK/builder" "$BUILDER"
fi
# The manifest's output_path is relative; run the builder from the work directory.
sed "s#output_path: .*#output_path: $WORK/dist#" "$MANIFEST" > "$WORK/manifest.yaml"
cd "$WORK"
logged "$LOG" "$BUILDER" --config manifest.yaml
cp "$WORK/dist/otelcol-cot" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
echo "$SCRIPT_NAME: built $BIN in $(elapsed $((SECONDS - START)))" >&2
echo "$BIN"
