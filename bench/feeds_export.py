#!/usr/bin/env python3
"""Feed export at scale (issue 5): every format of a store with 10,000 campaigns and
1,000,000 indicators, each export in its own process so its peak RSS is its own, and TAXII
paging of the same store over HTTP.

    python3 bench/feeds_export.py --bin target/release/spamhattan \\
        --indicators 1000000 --campaigns 10000 --store /var/tmp/feeds-bench

The store is filled once with `spamhattan feeds-bench-fill` (synthetic campaigns saved through
the real report and clustering paths) and reused when it exists. For each format: wall time,
indicators written (from the export's own count), indicators per second, peak RSS (from
wait4). TAXII: `serve --http-listen 127.0.0.1:0` with an anonymous audience, then --pages
pages of --limit objects walked with `next`; per-page latency p50/p99/max as seen by the
client (so it includes Python's HTTP overhead). Prints a Markdown table; with --check, exits 1
unless every format meets --min-rate and --max-rss-mib and TAXII p99 meets --max-page-ms.
Loopback only; bounded in count and time.
"""

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Exports of fewer indicators than this are not rate-checked: process start (opening the
# store, loading the policy) dominates them.
MIN_RATED = 40_000
FORMATS = ["stix", "misp", "csv-urls", "csv-payloads", "csv-iocs", "txt-urls", "txt-domains",
           "txt-ips", "txt-sha256", "hosts", "rpz", "jsonl"]
CONFIG = """
[analysis]
workers = 0
[analysis.auth]
enabled = false
[feeds]
refresh_secs = 0
[[feeds.audience]]
name = "bench"
tlp = "red"
anonymous = true
"""


def fill(binary, store, indicators, campaigns):
    if (store / "index.sqlite").exists() or (store / "spool").exists():
        return
    t = time.monotonic()
    subprocess.run([binary, "feeds-bench-fill", str(store), "--indicators", str(indicators),
                    "--campaigns", str(campaigns)], check=True, stdin=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=3600)
    print(f"filled {store} in {time.monotonic() - t:.0f} s", file=sys.stderr)


def export_one(binary, store, cfg, fmt, out_dir, timeout):
    out = out_dir / ("misp" if fmt == "misp" else f"{fmt}.out")
    cmd = [binary, "export", "--data-dir", str(store), "--config", str(cfg), "--format", fmt,
           "--audience", "bench", "--out", str(out)]
    t = time.monotonic()
    pid = os.posix_spawn(binary, cmd, os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                                       (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                       (os.POSIX_SPAWN_OPEN, 2, str(out_dir / f"{fmt}.err"),
                                        os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
    deadline = t + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.wait4(pid, 0)
            raise RuntimeError(f"{fmt}: export exceeded {timeout} s")
        time.sleep(0.02)
    seconds = time.monotonic() - t
    err = (out_dir / f"{fmt}.err").read_text(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{fmt}: export failed: {err[-2000:]}")
    m = re.search(r"exported (\d+) indicators of (\d+) campaigns", err)
    n = int(m.group(1)) if m else 0
    size = sum(f.stat().st_size for f in out.rglob("*")) if out.is_dir() else out.stat().st_size
    if out.is_dir():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    else:
        out.unlink()
    return {"format": fmt, "seconds": seconds, "indicators": n,
            "campaigns": int(m.group(2)) if m else 0,
            "rate": n / seconds if seconds else 0.0, "rss_mib": usage.ru_maxrss / 1024,
            "bytes": size}


def taxii_pages(binary, store, cfg, pages, limit):
    proc = subprocess.Popen([binary, "serve", "--data-dir", str(store), "--config", str(cfg),
                             "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                             "--trap-domain", "bench.invalid"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        ready = json.loads(proc.stdout.readline())
        http_addr = ready["http"]
        host, _, port = http_addr.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        accept = {"Accept": "application/taxii+json;version=2.1"}
        conn.request("GET", "/taxii2/spamhattan/collections/", headers=accept)
        cols = json.loads(conn.getresponse().read())["collections"]
        base = f"/taxii2/spamhattan/collections/{cols[0]['id']}/objects/"
        times, objects, nxt = [], 0, None
        for _ in range(pages):
            q = f"?limit={limit}" + (f"&next={nxt}" if nxt else "")
            t = time.monotonic()
            conn.request("GET", base + q, headers=accept)
            r = conn.getresponse()
            body = r.read()
            times.append((time.monotonic() - t) * 1000)
            if r.status != 200:
                raise RuntimeError(f"TAXII page answered {r.status}: {body[:300]!r}")
            env = json.loads(body)
            objects += len(env.get("objects", []))
            nxt = env.get("next")
            if not env.get("more"):
                break
        times.sort()
        return {"pages": len(times), "objects": objects, "p50": statistics.median(times),
                "p99": times[min(len(times) - 1, int(len(times) * 0.99))], "max": times[-1]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/release/spamhattan")
    ap.add_argument("--store", default=None, help="reused between runs (default: a temp dir)")
    ap.add_argument("--indicators", type=int, default=1_000_000)
    ap.add_argument("--campaigns", type=int, default=10_000)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--min-rate", type=float, default=100_000)
    ap.add_argument("--max-rss-mib", type=float, default=200)
    ap.add_argument("--max-page-ms", type=float, default=50)
    ap.add_argument("--slow-ok", default="",
                    help="formats known to be below --min-rate (reported, not failed): "
                         "comma list, see docs/PERFORMANCE.md")
    a = ap.parse_args()
    binary = str(Path(a.bin).resolve())
    tmp = tempfile.TemporaryDirectory(prefix="feeds-bench-")
    store = Path(a.store) if a.store else Path(tmp.name) / "store"
    store.mkdir(parents=True, exist_ok=True)
    fill(binary, store, a.indicators, a.campaigns)
    cfg = Path(tmp.name) / "bench.toml"
    cfg.write_text(CONFIG)
    out_dir = Path(tmp.name) / "out"
    out_dir.mkdir()
    rows = []
    print("| format | indicators | campaigns | seconds | indicators/s | peak RSS MiB | output MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt in a.formats.split(","):
        r = export_one(binary, store, cfg, fmt, out_dir, a.timeout)
        rows.append(r)
        print(f"| {fmt} | {r['indicators']:,} | {r['campaigns']:,} | {r['seconds']:.2f} | "
              f"{r['rate']:,.0f} | {r['rss_mib']:.0f} | {r['bytes'] / 1e6:.1f} |", flush=True)
    t = taxii_pages(binary, store, cfg, a.pages, a.limit) if a.pages else None
    if t:
        print(f"\nTAXII: {t['pages']} pages of limit {a.limit} ({t['objects']:,} objects): "
              f"p50 {t['p50']:.1f} ms, p99 {t['p99']:.1f} ms, max {t['max']:.1f} ms")
    if a.check:
        slow_ok = set(filter(None, a.slow_ok.split(",")))
        bad = [r["format"] for r in rows
               if r["rss_mib"] > a.max_rss_mib
               or (r["indicators"] >= MIN_RATED and r["rate"] < a.min_rate
                   and r["format"] not in slow_ok)]
        known = [r["format"] for r in rows if r["format"] in slow_ok and r["rate"] < a.min_rate]
        if known:
            print(f"below {a.min_rate:,.0f} indicators/s, known and open: {', '.join(known)}",
                  file=sys.stderr)
        if t and t["p99"] > a.max_page_ms:
            bad.append("taxii")
        if bad:
            print(f"FAILED: {', '.join(bad)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
