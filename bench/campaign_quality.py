#!/usr/bin/env python3
"""Campaign clustering quality on labelled synthetic traffic (issue 4, Quality: pairwise
precision and recall ≥ 0.95, adjusted Rand index reported).

    python3 bench/campaign_quality.py --bin target/debug/spamhattan
    python3 bench/campaign_quality.py --bin BIN --campaigns 30 --noise 300 --seed 1 --min 0.95 --json
    python3 bench/campaign_quality.py --offline          # the pure clusterer, no store (cargo example)
    python3 bench/campaign_quality.py --self-test        # the metric code against hand-computed values

Generates traffic with tests/tools/campaign_gen.py into a temp dir, then runs the real pipeline on
a temp data dir: `BIN import --config CFG DIR`, `BIN worker --config CFG --until-idle`,
`BIN campaigns export --config CFG --json`. Each generated file is mapped to the SHA-256 of its
bytes (import stores files byte-exact, and campaigns list their messages by that id); a message
in no campaign counts as a singleton. Prints messages, true/found campaigns, pairwise precision
(P), pairwise recall (R), adjusted Rand index (ARI) and the time, then the worst false merges and
splits to help tuning.

Exit 0 when P and R ≥ --min; 1 when either is below, or a message is listed in two campaigns
(each message belongs to at most one campaign); 2 when a command of the pipeline fails.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "tools"))
import campaign_gen  # noqa: E402  (the generator lives with the test tooling)

# Per-command time limit: a debug build imports, analyses and clusters a few thousand messages
# well inside this; beyond it something is stuck and the run should fail, not hang.
COMMAND_TIMEOUT = 3600
# Worst clusters printed per list: enough to see a pattern, short enough to read.
WORST_SHOWN = 5
# Labels of one cluster shown in a worst-cluster line.
MEMBERS_SHOWN = 4


# --- metrics ---------------------------------------------------------------------------------

def comb2(n: int) -> int:
    """Pairs among n items: C(n, 2)."""
    return n * (n - 1) // 2


@dataclass
class Scores:
    n: int
    tp: int          # pairs together in both partitions
    fp: int          # pairs together in found, apart in truth (false merges)
    fn: int          # pairs together in truth, apart in found (false splits)
    precision: float
    recall: float
    ari: float


def pair_scores(truth: dict, found: dict) -> Scores:
    """Pairwise precision/recall and the adjusted Rand index (Hubert & Arabie 1985) of `found`
    against `truth`, both mapping item -> cluster label over the same items.

    With n_ij the contingency counts, a_i the truth cluster sizes, b_j the found ones:
      TP = Σ C(n_ij,2); TP+FP = Σ C(b_j,2); TP+FN = Σ C(a_i,2)
      P = TP/(TP+FP), R = TP/(TP+FN)  (1.0 when the denominator is 0: nothing claimed/expected)
      ARI = (TP − E) / (½(Σa + Σb) − E), E = Σa·Σb / C(n,2)  (1.0 when the denominator is 0)
    """
    if set(truth) != set(found):
        raise ValueError("truth and found must cover the same items")
    n = len(truth)
    cells = Counter((truth[i], found[i]) for i in truth)
    tp = sum(comb2(c) for c in cells.values())
    sum_a = sum(comb2(c) for c in Counter(truth.values()).values())
    sum_b = sum(comb2(c) for c in Counter(found.values()).values())
    precision = tp / sum_b if sum_b else 1.0
    recall = tp / sum_a if sum_a else 1.0
    total = comb2(n)
    expected = sum_a * sum_b / total if total else 0.0
    top = (sum_a + sum_b) / 2
    ari = (tp - expected) / (top - expected) if top != expected else 1.0
    return Scores(n, tp, sum_b - tp, sum_a - tp, precision, recall, ari)


def self_test() -> None:
    """The formulas against values computed by hand, and their edge cases."""
    # truth A A A B B C; found 1 1 2 2 2 3. Cells: A1=2, A2=1, B2=2, C3=1.
    # TP = C(2,2)+C(2,2) = 2; truth pairs = C(3,2)+C(2,2) = 4; found pairs = C(2,2)+C(3,2) = 4.
    # P = R = 2/4. E = 4·4/C(6,2) = 16/15; ARI = (2 − 16/15)/(4 − 16/15) = (14/15)/(44/15) = 7/22.
    truth = dict(enumerate("AAABBC"))
    found = dict(enumerate([1, 1, 2, 2, 2, 3]))
    s = pair_scores(truth, found)
    assert (s.tp, s.fp, s.fn) == (2, 2, 2), s
    assert s.precision == 0.5 and s.recall == 0.5, s
    assert abs(s.ari - 7 / 22) < 1e-12, s
    # Identical partitions (labels renamed): everything 1.
    s = pair_scores(truth, dict(enumerate("xxxyyz")))
    assert (s.precision, s.recall, s.ari) == (1.0, 1.0, 1.0), s
    # All merged into one: P = 4/15 (4 true pairs of 15), R = 1, ARI = 0 (E = 4·15/15 = 4 = TP).
    s = pair_scores(truth, {i: 0 for i in truth})
    assert abs(s.precision - 4 / 15) < 1e-12 and s.recall == 1.0 and abs(s.ari) < 1e-12, s
    # All singletons: nothing claimed (P = 1 by definition), R = 0.
    s = pair_scores(truth, {i: i for i in truth})
    assert s.precision == 1.0 and s.recall == 0.0 and s.fn == 4, s
    # Asymmetric example, by hand: truth A A B B, found 1 1 1 2.
    # Cells A1=2, B1=1, B2=1 → TP = 1; truth pairs 2; found pairs C(3,2)=3 → P = 1/3, R = 1/2.
    # E = 2·3/6 = 1 → ARI = (1 − 1)/(2.5 − 1) = 0.
    s = pair_scores(dict(enumerate("AABB")), dict(enumerate([1, 1, 1, 2])))
    assert abs(s.precision - 1 / 3) < 1e-12 and s.recall == 0.5 and abs(s.ari) < 1e-12, s
    try:
        pair_scores({1: "a"}, {2: "a"})
    except ValueError:
        pass
    else:
        raise AssertionError("mismatched items must be refused")
    print("metrics self-test OK")


def worst_merges(truth: dict, found: dict, k: int = WORST_SHOWN) -> list[dict]:
    """Found clusters holding several true ones, by false pairs (largest first)."""
    members = defaultdict(list)
    for item, cluster in found.items():
        members[cluster].append(truth[item])
    out = []
    for cluster, labels in members.items():
        counts = Counter(labels)
        false_pairs = comb2(len(labels)) - sum(comb2(c) for c in counts.values())
        if false_pairs:
            out.append({"cluster": cluster, "size": len(labels), "false_pairs": false_pairs,
                        "labels": counts.most_common()})
    return sorted(out, key=lambda m: (-m["false_pairs"], str(m["cluster"])))[:k]


def worst_splits(truth: dict, found: dict, k: int = WORST_SHOWN) -> list[dict]:
    """True clusters spread over several found ones, by missed pairs (largest first)."""
    members = defaultdict(list)
    for item, label in truth.items():
        members[label].append(found[item])
    out = []
    for label, clusters in members.items():
        counts = Counter(clusters)
        missed = comb2(len(clusters)) - sum(comb2(c) for c in counts.values())
        if missed:
            out.append({"label": label, "size": len(clusters), "missed_pairs": missed,
                        "pieces": sorted(counts.values(), reverse=True)})
    return sorted(out, key=lambda m: (-m["missed_pairs"], m["label"]))[:k]


# --- the pipeline ----------------------------------------------------------------------------

CONFIG = """# Written by bench/campaign_quality.py: a throwaway data dir, no DNS (authentication off).
data_dir = "{data_dir}"
[analysis.auth]
enabled = false
"""


class PipelineError(Exception):
    pass


def write_config(work: Path) -> Path:
    cfg = work / "spamhattan.toml"
    cfg.write_text(CONFIG.format(data_dir=str(work / "data").replace("\\", "\\\\").replace('"', '\\"')))
    return cfg


def run(cmd: list[str], timeout: int = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise PipelineError(f"{' '.join(cmd[:3])} ... exited {p.returncode}:\n"
                            + p.stderr.decode(errors="replace")[-3000:])
    return p


def run_pipeline(bin_path: str, corpus_dir: Path, work: Path) -> tuple[list[dict], dict]:
    """import → worker --until-idle → campaigns export; (campaigns, seconds per step)."""
    cfg = str(write_config(work))
    seconds = {}
    t = time.monotonic()
    out = run([bin_path, "import", "--config", cfg, str(corpus_dir)])
    seconds["import"] = time.monotonic() - t
    m = re.search(rb"imported (\d+) messages", out.stderr)
    seconds["imported"] = int(m.group(1)) if m else -1
    t = time.monotonic()
    run([bin_path, "worker", "--config", cfg, "--until-idle"])
    seconds["worker"] = time.monotonic() - t
    t = time.monotonic()
    out = run([bin_path, "campaigns", "export", "--config", cfg, "--json"])
    seconds["export"] = time.monotonic() - t
    campaigns = []
    for line in out.stdout.splitlines():
        if line.strip():
            try:
                campaigns.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise PipelineError(f"campaigns export printed a non-JSON line: {line[:200]!r}") from e
    return campaigns, seconds


def clusters_from_export(campaigns: list[dict], sha_by_file: dict[str, str]) \
        -> tuple[dict[str, str], dict[str, list[int]]]:
    """file -> found cluster (`k<id>`, or `single:<file>` when in no campaign), and the files
    listed in more than one live campaign (with those campaign ids)."""
    campaigns_of = defaultdict(list)
    for c in campaigns:
        if c.get("status") == "merged" or c.get("merged_into") is not None:
            continue  # history: its messages are listed under the campaign it went into
        for sha in c.get("message_ids", []):
            campaigns_of[sha].append(c["id"])
    found, multi = {}, {}
    for name, sha in sha_by_file.items():
        ids = campaigns_of.get(sha, [])
        if len(ids) > 1:
            multi[name] = ids
        found[name] = f"k{min(ids)}" if ids else f"single:{name}"
    return found, multi


@dataclass
class Result:
    messages: int
    true_campaigns: int
    found_campaigns: int          # live campaigns with ≥ 2 of the generated messages
    found_total: int              # live campaigns exported
    scores: Scores
    seconds: dict
    in_two_campaigns: dict
    merges: list = field(default_factory=list)
    splits: list = field(default_factory=list)
    descriptions: dict = field(default_factory=dict)


def evaluate(bin_path: str, work: Path, campaigns: int = 30, per_campaign=(5, 60),
             noise: int = 300, seed: int = 1) -> Result:
    """Generate, run the pipeline, score. The function the e2e test calls."""
    t0 = time.monotonic()
    corpus = campaign_gen.generate(campaigns, per_campaign, noise, seed)
    corpus_dir = work / "corpus"
    campaign_gen.write(str(corpus_dir), corpus)
    generated = time.monotonic() - t0
    # Hash the files as written: that is what import stores.
    sha_by_file = {m.name: hashlib.sha256((corpus_dir / m.name).read_bytes()).hexdigest()
                   for m in corpus.messages}
    truth = {m.name: m.label for m in corpus.messages}
    exported, seconds = run_pipeline(bin_path, corpus_dir, work)
    seconds["generate"] = generated
    found, multi = clusters_from_export(exported, sha_by_file)
    scores = pair_scores(truth, found)
    sizes = Counter(found.values())
    return Result(
        messages=len(truth), true_campaigns=len(corpus.campaigns),
        found_campaigns=sum(1 for k, v in sizes.items() if v >= 2 and k.startswith("k")),
        found_total=sum(1 for c in exported if c.get("status") != "merged"),
        scores=scores, seconds=seconds, in_two_campaigns=multi,
        merges=worst_merges(truth, found), splits=worst_splits(truth, found),
        descriptions={label: c.description for label, c in corpus.campaigns.items()})


def describe(label: str, descriptions: dict) -> str:
    return f"{label} ({descriptions[label]})" if label in descriptions else label


def print_report(r: Result, minimum: float) -> None:
    s = r.scores
    total = sum(v for k, v in r.seconds.items() if k != "imported")
    print(f"{'messages':>8}  {'campaigns true/found':>20}  {'P':>6}  {'R':>6}  {'ARI':>6}  {'time':>7}")
    print(f"{r.messages:>8}  {r.true_campaigns:>9} / {r.found_campaigns:<8}  {s.precision:6.3f}  "
          f"{s.recall:6.3f}  {s.ari:6.3f}  {total:6.1f}s")
    print(f"pairs: {s.tp} together in both, {s.fp} falsely merged, {s.fn} falsely split; "
          f"{r.found_total} campaigns exported (incl. singletons)")
    print("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in r.seconds.items() if k != "imported")
          + f"; imported {r.seconds.get('imported')} of {r.messages}")
    if r.merges:
        print("worst false merges (found campaign: true labels):")
        for m in r.merges:
            parts = ", ".join(f"{describe(l, r.descriptions)} ×{n}" for l, n in m["labels"][:MEMBERS_SHOWN])
            more = f", +{len(m['labels']) - MEMBERS_SHOWN} more" if len(m["labels"]) > MEMBERS_SHOWN else ""
            print(f"  {m['cluster']}: {m['size']} msgs, {m['false_pairs']} false pairs: {parts}{more}")
    if r.splits:
        print("worst splits (true campaign: piece sizes):")
        for m in r.splits:
            print(f"  {describe(m['label'], r.descriptions)}: {m['size']} msgs in "
                  f"{len(m['pieces'])} pieces {m['pieces'][:10]}, {m['missed_pairs']} missed pairs")
    if r.in_two_campaigns:
        print(f"ERROR: {len(r.in_two_campaigns)} messages listed in two or more campaigns, e.g. "
              + ", ".join(f"{k} in {v}" for k, v in list(r.in_two_campaigns.items())[:5]))
    verdict = "OK" if s.precision >= minimum and s.recall >= minimum else "BELOW"
    print(f"{verdict}: P {s.precision:.3f}, R {s.recall:.3f} against --min {minimum}")


def as_json(r: Result, minimum: float) -> dict:
    s = r.scores
    return {"messages": r.messages, "true_campaigns": r.true_campaigns,
            "found_campaigns": r.found_campaigns, "found_total": r.found_total,
            "precision": s.precision, "recall": s.recall, "ari": s.ari,
            "pairs": {"tp": s.tp, "fp": s.fp, "fn": s.fn}, "seconds": r.seconds,
            "in_two_campaigns": r.in_two_campaigns, "worst_merges": r.merges,
            "worst_splits": r.splits, "min": minimum,
            "ok": s.precision >= minimum and s.recall >= minimum and not r.in_two_campaigns}


# --- offline: the pure clusterer via the analysis crate's example -------------------------

def offline(args) -> int:
    """Runs `cluster_eval` (analysis crate example: analyse + cluster in memory, no store) on
    a generated dir and passes its output through; its own P/R lines decide the exit code."""
    with tempfile.TemporaryDirectory(prefix="campaign-quality-") as tmp:
        corpus_dir = Path(tmp) / "corpus"
        campaign_gen.write(str(corpus_dir), campaign_gen.generate(
            args.campaigns, args.per_campaign, args.noise, args.seed))
        cmd = ["cargo", "run", "--release", "-p", "spamhattan-analysis", "--example", "cluster_eval",
               "--", str(corpus_dir), str(corpus_dir / "labels.csv")]
        t = time.monotonic()
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=COMMAND_TIMEOUT)
        out = p.stdout.decode(errors="replace")
        sys.stdout.write(out)
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace")[-3000:])
            print(f"cluster_eval exited {p.returncode} (does crates/analysis/examples/cluster_eval.rs "
                  "exist yet?)", file=sys.stderr)
            return 2
        print(f"offline run: {time.monotonic() - t:.1f}s including the build")
        values = {}
        for name in ("precision", "recall"):
            m = re.search(rf"{name}\W*([01](?:\.\d+)?)", out, re.IGNORECASE)
            if m:
                values[name] = float(m.group(1))
        if len(values) < 2:
            print("could not find precision and recall in cluster_eval's output", file=sys.stderr)
            return 2
        return 0 if min(values.values()) >= args.min else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="the spamhattan binary (e.g. target/debug/spamhattan)")
    ap.add_argument("--campaigns", type=int, default=30)
    ap.add_argument("--per-campaign", type=campaign_gen.parse_range, default=(5, 60), metavar="A..B")
    ap.add_argument("--noise", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min", type=float, default=0.95, help="required precision and recall")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("--keep", help="work in this (new) dir and keep it, instead of a temp dir")
    ap.add_argument("--offline", action="store_true",
                    help="cargo run --release --example cluster_eval instead of the binary")
    ap.add_argument("--self-test", action="store_true", help="check the metric code and exit")
    args = ap.parse_args(argv)
    if args.self_test:
        self_test()
        return 0
    if args.offline:
        return offline(args)
    if not args.bin:
        ap.error("--bin is required (or --offline / --self-test)")
    with tempfile.TemporaryDirectory(prefix="campaign-quality-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            r = evaluate(os.path.abspath(args.bin), work, args.campaigns, args.per_campaign,
                         args.noise, args.seed)
        except (PipelineError, subprocess.TimeoutExpired, OSError) as e:
            print(f"pipeline failed: {e}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(as_json(r, args.min)))
    else:
        print_report(r, args.min)
    ok = r.scores.precision >= args.min and r.scores.recall >= args.min and not r.in_two_campaigns
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
