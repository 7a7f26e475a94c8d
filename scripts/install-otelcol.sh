#!/usr/bin/env bash
# Builds an OpenTelemetry Collector (OTLP receiver, load_balancing/OTLP/file exporters, batch,
# memory_limiter, file_storage) with the official builder (ocb) from the Go module proxy.
# The binary is cached outside the clone, in ${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}, keyed by
# the builder version and the manifest's hash, so a fresh clone on the same machine reuses it.
# Prints the binary's path on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILDER_VERSION="v0.161.0"
MANIFEST="$ROOT/scripts/otelcol-manifest.yaml"
TOOLS="${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}"
KEY="$(cat "$MANIFEST" <(echo "$BUILDER_VERSION") | sha256sum | cut -c1-12)"
BIN="$TOOLS/otelcol-cot-$KEY"
source "$ROOT/scripts/lib.sh"
reuse_or_lock otelcol "$BIN"
WORK="$(dirname "$TOOLS")/build/otelcol-$KEY"
mkdir -p "$TOOLS" "$WORK"
BUILDER="$TOOLS/ocb-$BUILDER_VERSION"
if [[ ! -x "$BUILDER" ]]; then
  GOBIN="$WORK" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2
  mv "$WORK/builder" "$BUILDER"
fi
# The manifest's output_path is relative; run the builder from the work directory.
sed "s#output_path: .*#output_path: $WORK/dist#" "$MANIFEST" > "$WORK/manifest.yaml"
(cd "$WORK" && "$BUILDER" --config manifest.yaml) >&2
cp "$WORK/dist/otelcol-cot" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
echo "$BIN"
