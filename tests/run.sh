#!/usr/bin/env bash
# The project's test command: the Rust tests, then the end-to-end suite against the real binary.
#   bash tests/run.sh                 # everything
#   bash tests/run.sh -k relay        # extra arguments go to pytest
# Needs: cargo, python3 with tests/requirements.txt; PostgreSQL (Debian postgresql) for the
# store's suite on PostgreSQL (SPAMHATTAN_TEST_POSTGRES) and the collector e2e tests; for some e2e tests swaks, nmap, strace and
# smtp-source (Debian package postfix, installed "No configuration")
# (skipped with the apt package named when missing, failed when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac

failed=()
# The feed tests run the consumers' own tools (stix2-validator, pymisp, dnspython,
# taxii2-client) when this Python has them; in CI they must be there.
if python3 -c 'import stix2validator, stix2, pymisp, dns.zone, taxii2client' 2>/dev/null; then
    export SPAMHATTAN_ORACLE_PYTHON="${SPAMHATTAN_ORACLE_PYTHON:-$(command -v python3)}"
elif [ "${CI:-}" = "true" ]; then
    echo "feed oracles missing: python3 -m pip install -r tests/requirements.txt" >&2
    exit 1
fi
echo "== cargo test --locked --workspace"
# A failing Rust test does not hide the end-to-end results: both run, then the exit code sums up.
# SPAMHATTAN_TEST_POSTGRES must not leak into the SQLite run of the store's suite.
env -u SPAMHATTAN_TEST_POSTGRES cargo test --locked --workspace || failed+=("cargo test")

# The store's whole suite again against PostgreSQL, when a server is named (a libpq URL of a
# database the tests may create schemas in; .ci/run sets it). Without one it is skipped, and
# said so: in CI it is always set.
if [ -n "${SPAMHATTAN_TEST_POSTGRES:-}" ]; then
    echo "== cargo test --locked -p spamhattan-store against PostgreSQL"
    cargo test --locked -p spamhattan-store || failed+=("store tests on PostgreSQL")
elif [ "${CI:-}" = "true" ]; then
    echo "SPAMHATTAN_TEST_POSTGRES not set in CI" >&2
    failed+=("store tests on PostgreSQL")
else
    echo "== store tests on PostgreSQL skipped: set SPAMHATTAN_TEST_POSTGRES=postgresql://postgres@127.0.0.1/spamhattan_test"
fi

echo "== no mail-sending crate in the binary"
bash tests/no-mail-client.sh || failed+=("no-mail-client")

echo "== cargo build --locked -p spamhattan"
cargo build --locked -p spamhattan
export SPAMHATTAN_BIN="${SPAMHATTAN_BIN:-$target/debug/spamhattan}"

if ! python3 -c 'import pytest, pytest_timeout' 2>/dev/null; then
    echo "pytest missing: python3 -m pip install -r tests/requirements.txt" >&2
    exit 1
fi
# Every trap the tests start gets its own HTTP port (the default 127.0.0.1:8025 would collide
# between parallel traps and with a console running on this machine).
export SPAMHATTAN_HTTP_LISTEN="${SPAMHATTAN_HTTP_LISTEN:-127.0.0.1:0}"
echo "== pytest tests/e2e (SPAMHATTAN_BIN=$SPAMHATTAN_BIN)"
python3 -m pytest -q tests/e2e "$@" || failed+=("pytest tests/e2e")

# The end-to-end suite again with every trap's store in PostgreSQL (a schema per trap, in the
# database of SPAMHATTAN_TEST_POSTGRES), except the files about the SQLite journal and the
# local disk (crash recovery, disk full, store faults) and the sensor network, whose sensors
# keep a local spool by design (test_collector_postgres.py covers collectors on PostgreSQL).
if [ -n "${SPAMHATTAN_TEST_POSTGRES:-}" ]; then
    echo "== pytest tests/e2e with the store in PostgreSQL"
    SPAMHATTAN_E2E_POSTGRES="$SPAMHATTAN_TEST_POSTGRES" python3 -m pytest -q tests/e2e \
        --ignore=tests/e2e/test_crash.py --ignore=tests/e2e/test_disk_full.py \
        --ignore=tests/e2e/test_store_faults.py --ignore=tests/e2e/test_sensor_network.py \
        --ignore=tests/e2e/test_collector_postgres.py --ignore=tests/e2e/test_postgres_tls.py "$@" \
        || failed+=("pytest tests/e2e on PostgreSQL")
fi

if [ "${#failed[@]}" -gt 0 ]; then
    echo "== FAILED: ${failed[*]}" >&2
    exit 1
fi
