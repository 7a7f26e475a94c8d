# Sourced by the installers. TOOLS is the cache directory of built binaries; build logs go next to it,
# in ${TOOLS%/bin}/logs (the build's own output: hundreds of lines of Go, kept out of the terminal).

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

# build_log NAME: the log file for NAME's build (created empty).
build_log() {
  local dir
  dir="$(dirname "$TOOLS")/logs"
  mkdir -p "$dir"
  : >"$dir/$1.log"
  echo "$dir/$1.log"
}

# logged LOG CMD...: run CMD with its output appended to LOG; on failure print the last lines of LOG and
# its path on stderr, and exit with CMD's status.
logged() {
  local log="$1" status=0
  shift
  echo "+ $*" >>"$log"
  "$@" >>"$log" 2>&1 || status=$?
  if [[ $status -ne 0 ]]; then
    {
      echo "${SCRIPT_NAME:-install}: failed (exit $status): $*"
      tail -n 15 "$log" | sed 's/^/    /'
      echo "${SCRIPT_NAME:-install}: full log: $log"
    } >&2
    exit "$status"
  fi
}

# elapsed SECONDS: "42 s" or "5 min 03 s".
elapsed() {
  local s="$1"
  if ((s < 60)); then echo "${s} s"; else printf '%d min %02d s\n' $((s / 60)) $((s % 60)); fi
}
