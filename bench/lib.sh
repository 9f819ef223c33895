# shellcheck shell=bash
# Shared by bench/smtp-matrix.sh, bench/idle-load.sh and bench/smoke.sh (source it, don't run it).
#
# - ensure_tools: Postfix's smtp-source/smtp-sink/postfix (Debian package `postfix`, installed with
#   "No configuration" so the package's own instance has no main.cf and is never started) and cc.
# - raise_nofile: the idle test needs > 10,000 descriptors in the server and in the idle client.
# - run_bench: runs bench/smtpbench.py with an EXIT/INT/TERM trap that stops, by PID, anything the
#   Python driver recorded as started ($BENCH_STATE) and is still alive (the driver normally stops
#   everything itself), and stops the private Postfix instance with `postfix -c DIR stop`.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
: "${SPAMHATTAN_BIN:=${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/spamhattan}"
export SPAMHATTAN_BIN

ensure_tools() {
  local need=0
  for t in smtp-source smtp-sink postfix postconf; do command -v "$t" >/dev/null || need=1; done
  if [ "$need" = 1 ]; then
    echo "bench: installing Debian package postfix (No configuration: no daemon, nothing on port 25)" >&2
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Don't let the package start its own instance: add a policy-rc.d only for this install if
    # the machine has none.
    local prc=/usr/sbin/policy-rc.d added=0
    if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod +x "$prc"; added=1; fi
    (apt-get install -y --no-install-recommends postfix >/dev/null 2>&1 \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix; }) \
      || { [ "$added" = 1 ] && rm -f "$prc"; echo "bench: postfix install failed" >&2; return 1; }
    [ "$added" = 1 ] && rm -f "$prc"
  fi
  command -v cc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev
  command -v python3 >/dev/null || { echo "bench: python3 missing" >&2; return 1; }
  if default_postfix_running; then
    echo "bench: WARNING: the system's default Postfix instance is running (not started by this bench)" >&2
  fi
}

default_postfix_running() {
  local pid
  pid=$(tr -d ' ' 2>/dev/null </var/spool/postfix/pid/master.pid || true)
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = master ]
}

raise_nofile() { # raise_nofile WANT: soft limit to WANT, or to the hard limit if that is lower
  local want=$1 hard
  ulimit -n "$want" 2>/dev/null && return 0
  hard=$(ulimit -Hn)
  [ "$hard" = unlimited ] && hard=$want
  ulimit -n "$hard"
  echo "bench: file-descriptor limit is $(ulimit -n) (hard limit; wanted $want)" >&2
}

_bench_cleanup() {
  local rc=$? kind what
  trap - EXIT INT TERM HUP
  if [ -n "${_BENCH_PY_PID:-}" ] && kill -0 "$_BENCH_PY_PID" 2>/dev/null; then
    kill -TERM "$_BENCH_PY_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$_BENCH_PY_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  if [ -s "${BENCH_STATE:-}" ]; then
    while read -r kind what; do
      case $kind in
        pid) if [ -d "/proc/$what" ]; then echo "bench: stopping leftover pid $what" >&2; kill -TERM "$what" 2>/dev/null || true; fi ;;
        postfix)
          local mp; mp=$(tr -d ' ' 2>/dev/null <"${what%/etc}/spool/pid/master.pid" || true)
          if [ -n "$mp" ] && [ -d "/proc/$mp" ]; then
            echo "bench: stopping leftover postfix instance $what" >&2
            postfix -c "$what" stop >/dev/null 2>&1 || kill -TERM "$mp" 2>/dev/null || true
          fi ;;
      esac
    done <"$BENCH_STATE"
  fi
  rm -f "${BENCH_STATE:-}"
  exit "$rc"
}

run_bench() { # run_bench SUBCOMMAND ARGS... -> python driver, cleaned up on any exit
  BENCH_STATE=$(mktemp /tmp/spamhattan-bench-state.XXXXXX)
  export BENCH_STATE
  trap _bench_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  trap 'exit 129' HUP
  python3 "$BENCH_DIR/smtpbench.py" "$@" &
  _BENCH_PY_PID=$!
  wait "$_BENCH_PY_PID"
}
