#!/usr/bin/env python3
"""Campaigns of a real corpus, for an analyst to spot-check: imports a directory of .eml files
into a throwaway data dir, analyses and clusters it (`worker --until-idle`), exports the campaigns
and prints the message count, the campaign count, singletons, the size distribution, and for the
largest campaigns their top subject templates, domains, senders, verdict and a few sample
messages (file, From, Subject) read straight from the corpus.

    python3 tests/oracles/campaign_corpus.py --bin target/debug/spamhattan ../shared/corpus/phishing_pot
    python3 tests/oracles/campaign_corpus.py --bin BIN DIR --limit 500 --top 20 --keep /tmp/pp-data

Exit 0 unless a command fails (2). There is no ground truth here: judging whether each large
campaign is one campaign is the analyst's job, and what this output is for.
"""
import argparse
import email
import email.policy
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# Size buckets of the distribution: singletons, small, medium, large, very large campaigns.
BUCKETS = [(1, 1), (2, 4), (5, 9), (10, 49), (50, None)]
# Facet values shown per largest campaign: the top few say what it is.
FACET_VALUES_SHOWN = 3
# Sample messages printed per largest campaign (read from the corpus files).
SAMPLES_SHOWN = 5
# Per-command limit: the debug build analyses the 6,600-mail phishing_pot well inside this.
COMMAND_TIMEOUT = 7200


def run(cmd):
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace")[-3000:])
        print(f"{' '.join(cmd[:2])} exited {p.returncode}", file=sys.stderr)
        sys.exit(2)
    return p, time.monotonic() - t


def corpus_files(directory, limit):
    files = sorted(p for p in Path(directory).iterdir() if p.is_file() and not p.name.startswith("."))
    return files[:limit] if limit else files


def headers_of(path):
    """From and Subject of a corpus file, decoded; never fails on a malformed file."""
    try:
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        return str(msg.get("From", ""))[:60], str(msg.get("Subject", ""))[:90]
    except Exception as e:  # noqa: BLE001 - a corpus file may be anything
        return "?", f"(unreadable: {e})"


def facet(c, name):
    values = c.get("facets", {}).get(name, [])
    shown = "; ".join(f"{v['value'][:70]} ×{v['count']}" for v in values[:FACET_VALUES_SHOWN])
    distinct = c.get("distinct", {}).get(name)
    return shown + (f"  ({distinct} distinct)" if distinct and distinct > FACET_VALUES_SHOWN else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("dir")
    ap.add_argument("--limit", type=int, help="only the first N files (sorted by name)")
    ap.add_argument("--top", type=int, default=10, help="largest campaigns described")
    ap.add_argument("--keep", help="use and keep this data dir instead of a temp one")
    args = ap.parse_args()
    files = corpus_files(args.dir, args.limit)
    with tempfile.TemporaryDirectory(prefix="campaign-corpus-") as tmp:
        data = Path(args.keep or Path(tmp) / "data")
        cfg = Path(tmp) / "spamhattan.toml"
        cfg.write_text(f'data_dir = "{data}"\n[analysis.auth]\nenabled = false\n')
        c = ["--config", str(cfg)]
        inputs = [str(f) for f in files] if args.limit else [args.dir]
        imp, t_import = run([args.bin, "import", *c, *inputs])
        _, t_worker = run([args.bin, "worker", *c, "--until-idle"])
        exp, t_export = run([args.bin, "campaigns", "export", *c, "--json"])
        listed, _ = run([args.bin, "messages", "list", *c, "--json", "--limit", "100000000"])
    campaigns = [json.loads(l) for l in exp.stdout.splitlines() if l.strip()]
    campaigns = [x for x in campaigns if x.get("status") != "merged"]
    stored = {json.loads(l)["id"] for l in listed.stdout.splitlines() if l.strip()}
    in_campaign = Counter(m for x in campaigns for m in x.get("message_ids", []))
    sizes = [len(x.get("message_ids", [])) for x in campaigns]
    unassigned = len(stored - set(in_campaign))
    twice = sum(1 for n in in_campaign.values() if n > 1)

    print(f"corpus: {args.dir} ({len(files)} files)")
    print(f"import: {imp.stderr.decode(errors='replace').strip().splitlines()[-1]}")
    print(f"time: import {t_import:.1f}s, worker {t_worker:.1f}s, export {t_export:.1f}s")
    print(f"messages stored: {len(stored)}; in a campaign: {len(in_campaign)}; in none: {unassigned}"
          + (f"; in two or more campaigns: {twice} (a bug)" if twice else ""))
    print(f"campaigns: {len(campaigns)}; with ≥ 2 messages: {sum(1 for s in sizes if s >= 2)}; "
          f"singletons: {sum(1 for s in sizes if s == 1) + unassigned} (incl. messages in none)")
    print("size distribution (campaigns / messages):")
    for lo, hi in BUCKETS:
        inside = [s for s in sizes if s >= lo and (hi is None or s <= hi)]
        if lo == 1:
            inside += [1] * unassigned
        name = f"{lo}" if lo == hi else f"{lo}+" if hi is None else f"{lo}–{hi}"
        print(f"  {name:>6}: {len(inside):>6} campaigns, {sum(inside):>6} messages")

    # sha256 -> file, to show a few real messages of each large campaign.
    by_sha = {}
    for f in files:
        try:
            by_sha.setdefault(hashlib.sha256(f.read_bytes()).hexdigest(), f)
        except OSError:
            pass
    largest = sorted(campaigns, key=lambda x: (-len(x.get("message_ids", [])), x["id"]))[:args.top]
    print(f"\n{len(largest)} largest campaigns:")
    for x in largest:
        ids = x.get("message_ids", [])
        print(f"\n#{x['id']}: {len(ids)} messages, verdict {x.get('verdict')}, status {x.get('status')}, "
              f"{x.get('first_seen', '')[:10]} .. {x.get('last_seen', '')[:10]}")
        for name in ("subject_template", "domain", "sender_domain", "attachment_kind", "language",
                     "family", "yara", "source_ip"):
            shown = facet(x, name)
            if shown:
                print(f"  {name:<17} {shown}")
        step = max(1, len(ids) // SAMPLES_SHOWN)
        for sha in ids[::step][:SAMPLES_SHOWN]:
            path = by_sha.get(sha)
            if path:
                sender, subject = headers_of(path)
                print(f"  sample {path.name}: {sender} | {subject}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
