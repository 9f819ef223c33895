#!/usr/bin/env bash
# bench/idle-load.sh [--conns 10000] [--sources 100] [--sessions 100] [--count 20000] [--repeats 3]
#                    [--target spamhattan|smtp-sink]
#
# Starts spamhattan serve (fresh temp data dir), measures smtp-source (100 sessions, 4 KiB, keep)
# without idle connections, then opens 10,000 idle TCP connections from 127.0.0.2..127.0.0.101
# (bench/idle-conns.c: bind() before connect(), read the 220 banner, then send nothing), repeats
# the same load while they are held, checks that they are still open, closes them, and runs the
# baseline again. Reports msgs/s with/without, the ratio, the server's peak RSS (VmHWM), and how
# many idle connections the server closed (and the last line it sent before closing).
# --target smtp-sink: self-test of the harness against smtp-sink (no spamhattan needed).
# env: as smtp-matrix.sh. The file-descriptor limit is raised to 65536 (or the hard limit).
source "$(dirname "$0")/lib.sh"
export NICE=${NICE:--10}
ensure_tools
raise_nofile 65536
[ "$(ulimit -n)" -ge 10300 ] || { echo "idle-load: need >= 10300 file descriptors, have $(ulimit -n)" >&2; exit 2; }
run_bench idle "$@"
