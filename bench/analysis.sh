#!/usr/bin/env bash
# Analysis benchmark (see docs/PERFORMANCE.md, "Analysis"):
#   bash bench/analysis.sh [CORPUS_DIR]        # offline: spamhattan analyze vs mail-parser + oletools
#   LIVE=1 bash bench/analysis.sh [CORPUS_DIR] # also: serve + analysis pool under SMTP load (30 s)
# CORPUS_DIR defaults to ../shared/corpus/phishing_pot. Needs a release build and the venv of
# tests/requirements.txt (mail-parser, oletools). Loopback only; bounded in count and time.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-../shared/corpus/phishing_pot}"
target="${CARGO_TARGET_DIR:-target}"
bin="${SPAMHATTAN_BIN:-$target/release/spamhattan}"
if [ ! -x "$bin" ]; then
    cargo build --release --locked -p spamhattan
fi
python3 bench/analysis_bench.py --bin "$bin" offline "$corpus"
if [ -n "${LIVE:-}" ]; then
    python3 bench/analysis_bench.py --bin "$bin" live "$corpus" 
fi
