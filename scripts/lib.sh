# Sourced by the installers. TOOLS is the cache directory of built binaries.

# reuse_or_lock NAME BIN: print BIN and exit when it is already built; otherwise take NAME's build lock
# (one build at a time: a second caller waits, then finds the binary) and check that Go is there.
reuse_or_lock() {
  local name="$1" bin="$2"
  if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
  fi
  mkdir -p "$TOOLS"
  exec 9>"$TOOLS/.$name.lock"
  flock 9
  if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
  fi
  command -v go >/dev/null || { echo "install-$name.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
}
