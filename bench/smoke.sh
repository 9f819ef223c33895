#!/usr/bin/env bash
# bench/smoke.sh — CI check of the bench harness (small counts, well under 3 minutes).
# 2 sessions x 200 msgs x 4 KiB (keep and new connection, plus smtp-pipe-source if the shared
# peers are present) against spamhattan, smtp-sink and the private Postfix MTA, then 200 idle
# connections held during a small load. Asserts nothing about speed; exits non-zero if a tool
# fails, a message is missing from a store, or an idle connection was lost.
# Needs the release binary (SPAMHATTAN_BIN, default ${CARGO_TARGET_DIR:-target}/release/spamhattan);
# if it is missing, builds it with `cargo build --release --locked -p spamhattan` first.
source "$(dirname "$0")/lib.sh"
if [ ! -x "$SPAMHATTAN_BIN" ]; then
  echo "smoke: $SPAMHATTAN_BIN missing; building it" >&2
  (cd "$REPO_DIR" && cargo build --release --locked -p spamhattan)
fi
ensure_tools
raise_nofile 4096
SECONDS=0
run_bench smoke "$@"
echo "smoke: ${SECONDS}s" >&2
