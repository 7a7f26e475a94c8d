#!/usr/bin/env bash
# Builds gitleaks (the secret scanner bench/detectors.py compares otel-cot's secret scan with) from the Go
# module proxy. Not needed by the tests. The binary is cached outside the clone, in
# ${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}, keyed by version. Prints the binary's path on stdout.
set -euo pipefail
VERSION="v8.30.1"
TOOLS="${OTEL_COT_TOOLS_DIR:-$HOME/.cache/otel-cot/bin}"
BIN="$TOOLS/gitleaks-$VERSION"
source "$(dirname "$0")/lib.sh"
reuse_or_lock gitleaks "$BIN"
GOBIN="$TOOLS/.gitleaks-$VERSION.tmp" go install -trimpath "github.com/zricethezav/gitleaks/v8@$VERSION" >&2
mv "$TOOLS/.gitleaks-$VERSION.tmp/gitleaks" "$BIN"
rmdir "$TOOLS/.gitleaks-$VERSION.tmp"
echo "$BIN"
