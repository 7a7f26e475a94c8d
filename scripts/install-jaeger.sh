#!/usr/bin/env bash
# Builds Jaeger v2 from the Go module proxy. The proxy serves github.com/jaegertracing/jaeger v1.76.0
# (= Jaeger v2.13.0, the v2 binary); its go.mod has `replace` directives, so `go install pkg@version`
# refuses it and it is built from a tools module instead.
# The binary is cached outside the clone, in ${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}, keyed by
# version, so a fresh clone on the same machine reuses it. Prints the binary's path on stdout.
set -euo pipefail
VERSION="v1.76.0"
TOOLS="${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}"
BIN="$TOOLS/jaeger-$VERSION"
source "$(dirname "$0")/lib.sh"
reuse_or_lock jaeger "$BIN"
WORK="$(dirname "$TOOLS")/build/jaeger-$VERSION"
mkdir -p "$TOOLS" "$WORK"
cd "$WORK"
[[ -f go.mod ]] || go mod init otel-cot.local/jaeger-build >/dev/null 2>&1
go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION" >&2
go build -trimpath -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
mv "$BIN.tmp" "$BIN"
echo "$BIN"
