#!/usr/bin/env python3
"""Every mail of a corpus gets a report: no parser panic, no time-budget overrun on the default
limits. Prints the corpus counts (reports, anomalies, URLs, attachments by type, verdicts).

    python3 tests/oracles/corpus_run.py --bin target/release/spamhattan ../shared/corpus/phishing_pot

Exit 1 when a file got no report, a parser panicked (a caught panic is still a bug to fix) or a
message ran out of its time budget.
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("dir")
    args = ap.parse_args()
    files = [f for f in os.listdir(args.dir) if os.path.isfile(os.path.join(args.dir, f))]
    p = subprocess.run([args.bin, "analyze", "--summary", "--quiet", args.dir],
                       capture_output=True, timeout=1800)
    err = p.stderr.decode(errors="replace")
    try:
        summary = json.loads(err[err.index("{"):])
    except ValueError:
        sys.exit(f"no summary from analyze (exit {p.returncode}):\n{err[-3000:]}")
    print(json.dumps(summary, indent=2))
    problems = []
    if summary["reports"] != len(files):
        problems.append(f"{len(files)} files but {summary['reports']} reports")
    panics = summary["anomalies"].get("parser-panic", 0)
    if panics:
        problems.append(f"{panics} parser panics (caught); find them with "
                        f"`spamhattan analyze DIR | grep parser-panic`")
    overruns = summary["limits_hit"].get("time_budget", 0)
    if overruns:
        problems.append(f"{overruns} messages ran out of the time budget")
    if problems:
        sys.exit("corpus run FAILED: " + "; ".join(problems))
    print(f"corpus run OK: {summary['reports']} reports, no panic, no budget overrun")


if __name__ == "__main__":
    main()
