#!/usr/bin/env python3
"""Console API latency at scale (issue 6): the message list, searches and the dashboard data of
a store with 1,000,000 analysed messages, over HTTP.

    python3 bench/console_bench.py --bin target/release/spamhattan \\
        --messages 1000000 --store /var/tmp/console-bench

The store is filled once with the hidden `spamhattan console-bench-fill DIR --messages N`
(synthetic reports saved through the real report path, so the message index, FTS table and
rollups are the real ones) and reused when it exists. Then `serve --http-listen 127.0.0.1:0` on
it (analysis off), an API token from `tokens create`, and --rounds requests of each case,
interleaved (so a slow moment hits every case alike). Latency is the client's wall time per
request (includes Python's HTTP overhead). Prints a Markdown table of p50/p95/max and the
server's peak RSS; with --check, exits 1 unless lists and searches meet --max-list-ms at p95
and the dashboard --max-dashboard-ms. Loopback only; bounded in count and time.
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

CONFIG = "[analysis]\nworkers = 0\n[analysis.auth]\nenabled = false\n"

WORDS = ["invoice", "payment", "overdue", "account", "verify", "password", "delivery", "parcel",
         "bank", "transfer", "urgent", "offer", "winner", "lottery", "crypto", "wallet", "refund",
         "tax", "document", "scan", "meeting", "contract", "shipment", "order", "receipt"]


def word(i, salt):
    """The fill's word choice (console_bench.rs), to search for values that exist."""
    return WORDS[(i * 2_654_435_761 + salt * 97) % len(WORDS)]


def q(text):
    return "/api/v1/messages?q=" + urllib.parse.quote(text)


# (name, path, kind): kind "list" is held to --max-list-ms, "dashboard" to --max-dashboard-ms.
CASES = [
    ("list, first page", "/api/v1/messages?limit=50", "list"),
    ("list, page 100 (cursor)", None, "list"),
    ("search free text (common word)", q("invoice"), "list"),
    ("search free text (rare: one message)", q("4242"), "list"),
    ("search subject phrase", q(f'subject:"{word(4242, 1)} {word(4242, 2)}"'), "list"),
    ("search from: (1 in 1000)", q("from:src77.example"), "list"),
    ("search to: (1 in 500)", q("to:user9@honey.example"), "list"),
    ("search verdict:ransomware (1 in 100)", q("verdict:ransomware"), "list"),
    ("search has:attachment", q("has:attachment"), "list"),
    ("search filename:", q(f"filename:{word(4240, 5)}"), "list"),
    ("search ioc: (1 in 20000)", q(f'ioc:"http://x1234.bad.example/{word(1234, 4)}"'), "list"),
    ("search combined", q("payment verdict:phishing has:none"), "list"),
    ("search before: (nothing that old)", q("before:2000-01-01"), "list"),
    ("search after: (last day)", q("after:" + time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))), "list"),
    ("dashboard 24 h", "/api/v1/stats?hours=24", "dashboard"),
    ("dashboard 30 days", "/api/v1/stats?hours=720", "dashboard"),
]


def fill(binary, store, messages):
    if (store / "spool").exists():
        return
    t = time.monotonic()
    subprocess.run([binary, "console-bench-fill", str(store), "--messages", str(messages)],
                   check=True, stdin=subprocess.DEVNULL, timeout=7200)
    print(f"filled {store} in {time.monotonic() - t:.0f} s", file=sys.stderr)


def peak_rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class Client:
    def __init__(self, addr, token):
        host, _, port = addr.rpartition(":")
        self.conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path):
        t = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t) * 1000
        if resp.status != 200:
            raise SystemExit(f"{path}: {resp.status} {body[:300]!r}")
        return ms, json.loads(body)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("SPAMHATTAN_BIN", "target/release/spamhattan"))
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path, default=Path("/var/tmp/console-bench"))
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--max-list-ms", type=float, default=100)
    ap.add_argument("--max-dashboard-ms", type=float, default=300)
    a = ap.parse_args()
    if not 1 <= a.rounds <= 1000:
        raise SystemExit("--rounds must be 1..1000")
    fill(a.bin, a.store, a.messages)

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(CONFIG)
        token = subprocess.run([a.bin, "tokens", "create", f"bench{os.getpid()}", "--role",
                                "reader", "--data-dir", str(a.store)], check=True,
                               capture_output=True, timeout=60).stdout.decode().strip()
        proc = subprocess.Popen(
            [a.bin, "serve", "--data-dir", str(a.store), "--config", str(cfg),
             "--hostname", "bench.example", "--trap-domain", "trap.example",
             "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            ready = json.loads(proc.stdout.readline())
            client = Client(ready["http"], token)
            # The cursor of page 100, walked once (also warms the cache like a user paging).
            path = "/api/v1/messages?limit=50"
            for _ in range(99):
                _, page = client.get(path)
                path = "/api/v1/messages?limit=50&cursor=" + page["next_cursor"]
            cases = [(n, p or path, k) for n, p, k in CASES]
            times = {n: [] for n, _, _ in cases}
            rows = {}
            for _ in range(a.rounds):
                for name, p, _ in cases:
                    ms, body = client.get(p)
                    times[name].append(ms)
                    rows[name] = len(body.get("messages", body.get("volume", [])))
            rss = peak_rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    failed = []
    print(f"| case ({a.messages:,} messages, {a.rounds} rounds) | rows | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, _, kind in cases:
        t = times[name]
        p95 = pct(t, 95)
        limit = a.max_list_ms if kind == "list" else a.max_dashboard_ms
        mark = "" if p95 <= limit else " ✗"
        if mark:
            failed.append(name)
        print(f"| {name} | {rows[name]} | {pct(t, 50):.1f} | {p95:.1f}{mark} | {max(t):.1f} |")
    if rss:
        print(f"\nserver peak RSS: {rss / 1024:.0f} MiB")
    if a.check and failed:
        print(f"over the limit: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
