#!/usr/bin/env bash
# bench/smtp-matrix.sh [--quick] [--repeats N] [--count N] [--no-postfix] [--no-list]
#
# Throughput matrix on loopback, all servers in the same run, interleaved:
#   spamhattan serve (127.0.0.1:2530, fresh temp data dir, trap domain trap.example)
#   Postfix smtp-sink (127.0.0.1:2531; accepts and discards: the no-storage limit)
#   a private Postfix MTA (127.0.0.1:2532; catch-all into one Maildir, fsyncs, relays nothing)
# driven by Postfix smtp-source over sessions 20/100 x 4 KiB/64 KiB x keep (-d)/new connection,
# plus smtp-pipe-source (PIPELINING) when ../shared/peers/smtp-pipe-source.c exists.
# Prints one markdown table: msgs/s (median of N repeats), server CPU s, peak RSS, ratio to
# smtp-sink, stored-count check.  --quick: 1 repeat, 1/5 of the counts.
#
# env: SPAMHATTAN_BIN (default ${CARGO_TARGET_DIR:-target}/release/spamhattan; build it with
#      `cargo build --release --locked -p spamhattan`), SPAMHATTAN_PORT=2530 SINK_PORT=2531
#      POSTFIX_PORT=2532, NICE=-10 (servers and clients), QUIET_WAIT_S=0 (wait for a quiet machine
#      before each run), BENCH_OUT_DIR (raw JSON lines), BENCH_TMPDIR, KEEP_WORKDIR=1.
# Stops everything it started on exit, including failures.
source "$(dirname "$0")/lib.sh"
export NICE=${NICE:--10}
ensure_tools
raise_nofile 65536
run_bench matrix "$@"
