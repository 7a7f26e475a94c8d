#!/usr/bin/env bash
# Builds Jaeger v2 from the Go module proxy. The proxy serves github.com/jaegertracing/jaeger v1.76.0
# (= Jaeger v2.13.0, the v2 binary); its go.mod has `replace` directives, so `go install pkg@version`
# refuses it and it is built from a tools module instead. A binary built this way has no UI assets (its
# UI is a placeholder page); the end-to-end tests use its query API only.
# The binary is cached outside the clone, in ${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}, keyed by
# version, so a fresh clone on the same machine reuses it. Prints the binary's path on stdout; while it
# builds, one line on stderr names the log file that gets Go's output.
set -euo pipefail
VERSION="v1.76.0"
TOOLS="${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}"
BIN="$TOOLS/jaeger-$VERSION"
SCRIPT_NAME="install-jaeger.sh"
source "$(dirname "$0")/lib.sh"
reuse_or_lock jaeger "$BIN"
WORK="$(dirname "$TOOLS")/build/jaeger-$VERSION"
LOG="$(build_log "jaeger-$VERSION")"
mkdir -p "$TOOLS" "$WORK"
START=$SECONDS
echo "$SCRIPT_NAME: building Jaeger $VERSION with Go (several minutes on a cold cache; log: $LOG)" >&2
cd "$WORK"
[[ -f go.mod ]] || logged "$LOG" go mod init otel-cot.local/jaeger-build
logged "$LOG" go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION"
logged "$LOG" go build -trimpath -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
mv "$BIN.tmp" "$BIN"
echo "$SCRIPT_NAME: built $BIN in $(elapsed $((SECONDS - START)))" >&2
echo "$BIN"
