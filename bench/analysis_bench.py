#!/usr/bin/env python3
"""Analysis benchmark: `spamhattan analyze` against the Python reference path, and the trap with
its analysis pool under load. Driven by bench/analysis.sh; stdlib plus, for the reference path,
PyPI `mail-parser` and `oletools` (pinned in tests/requirements.txt).

Subcommands:
  offline DIR     every file of DIR (the phishing corpus) through
                    a) spamhattan analyze --quiet --summary --threads 1   (one core)
                    b) spamhattan analyze --quiet --summary               (all cores)
                    c) the Python reference path, one process: mailparser.parse_from_bytes, then
                       oletools (olevba VBA_Parser + analyze_macros) on every attachment
                  in the same run, and prints one markdown table with msgs/s, MB/s and peak RSS.
  live DIR        `spamhattan serve` with its analysis pool on 127.0.0.1, loaded by Postfix's
                  smtp-source (one process per typical corpus message, -F) for a bounded count
                  and time; reports capture rate, the pending-job backlog sampled every second,
                  and how long the backlog takes to drain.
Everything connects to 127.0.0.1 only; counts and times are bounded.
"""
import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def files_of(d, limit):
    names = sorted(os.listdir(d))
    paths = [os.path.join(d, n) for n in names if os.path.isfile(os.path.join(d, n))]
    return paths[:limit] if limit else paths


def run_timed(cmd):
    """Runs cmd; returns (wall s, CPU s, peak RSS MiB, stderr) of that child alone (wait4)."""
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    if p.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({p.returncode}): {stderr[-2000:]}")
    return secs, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, stderr


def reference_path(paths):
    """The Python path most spamtraps use: mail-parser, then oletools on every attachment."""
    import mailparser
    from oletools.olevba import VBA_Parser
    n = nbytes = macros = 0
    for p in paths:
        raw = open(p, "rb").read()
        nbytes += len(raw)
        try:
            mail = mailparser.parse_from_bytes(raw)
        except Exception:
            continue
        n += 1
        for a in mail.attachments:
            payload = a.get("payload") or ""
            try:
                data = base64.b64decode(payload) if a.get("binary") else payload.encode()
            except Exception:
                continue
            try:
                vp = VBA_Parser(a.get("filename") or "attachment", data=data)
                if vp.detect_vba_macros():
                    macros += 1
                    vp.analyze_macros()
                vp.close()
            except Exception:
                pass
    return n, nbytes, macros


def offline(args):
    paths = files_of(args.dir, args.limit)
    total = sum(os.path.getsize(p) for p in paths)
    rows = []
    for threads in (1, 0):
        cmd = [args.bin, "analyze", "--quiet", "--summary"]
        if threads:
            cmd += ["--threads", str(threads)]
        secs, cpu, rss, err = run_timed(cmd + paths)
        summary = json.loads(err[err.index("{"):])
        label = "spamhattan analyze, 1 thread" if threads else f"spamhattan analyze, {os.cpu_count()} threads"
        rows.append((label, summary["reports"], secs, cpu, rss))
    py = [sys.executable, __file__, "reference", "--limit", str(args.limit), args.dir]
    secs, cpu, rss, err = run_timed(py)
    n = int(err.strip().splitlines()[-1].split()[0])
    rows.append(("Python: mail-parser + oletools, 1 process", n, secs, cpu, rss))
    print(f"\n{len(paths)} files, {total / 1e6:.1f} MB, {args.dir}\n")
    print("| path | messages | wall s | CPU s | msgs/s | msgs/s per CPU-s | MB/s per CPU-s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for label, n, secs, cpu, rss in rows:
        print(f"| {label} | {n} | {secs:.2f} | {cpu:.2f} | {n / secs:.0f} | {n / cpu:.0f} | "
              f"{total / 1e6 / cpu:.1f} | {rss:.0f} |")
    ours = rows[0][1] / rows[0][3]
    theirs = rows[2][1] / rows[2][3]
    print(f"\nper-core ratio (spamhattan 1 thread / Python): {ours / theirs:.1f}x")


def reference(args):
    paths = files_of(args.dir, args.limit)
    n, nbytes, macros = reference_path(paths)
    print(f"{n} messages {nbytes} bytes {macros} macro attachments", file=sys.stderr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stats(bin_, data):
    out = subprocess.run([bin_, "store", "stats", "--json", "--data-dir", data], capture_output=True)
    return json.loads(out.stdout)


def typical(paths, n):
    """n messages around the corpus median size: 'typical spam', not the outliers."""
    by_size = sorted(paths, key=os.path.getsize)
    mid = len(by_size) // 2
    lo = max(0, mid - n // 2)
    return by_size[lo:lo + n]


def live(args):
    """serve + its analysis pool under smtp-source load (C client: the load costs little CPU).
    Each smtp-source process sends one typical corpus message (-F) over its sessions."""
    smtp_source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not os.path.exists(smtp_source):
        sys.exit("smtp-source missing: apt-get install postfix (No configuration)")
    paths = typical(files_of(args.dir, 0), args.messages)
    data = tempfile.mkdtemp(prefix="spamhattan-live-")
    store_dir = os.path.join(data, "d")
    cfg = os.path.join(data, "c.toml")
    with open(cfg, "w") as f:
        f.write(f"[analysis]\nworkers = {args.workers}\n[analysis.auth]\nenabled = false\n"
                + (f"[analysis.sandbox]\nmode = \"{args.sandbox}\"\n" if args.sandbox else "")
                + "[limits]\nmax_connections_per_ip = 4000\n")
    port = free_port()
    srv = subprocess.Popen([args.bin, "serve", "--config", cfg, "--data-dir", store_dir,
                            "--trap-domain", "trap.example", "--smtp-listen", f"127.0.0.1:{port}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    loaders = []
    try:
        ready = srv.stdout.readline()
        assert b'"ready":true' in ready, ready
        per = max(1, args.count // len(paths))
        sessions = max(1, args.sessions // len(paths))
        t0 = time.monotonic()
        for p in paths:
            loaders.append(subprocess.Popen(
                [smtp_source, "-d", "-s", str(sessions), "-m", str(per), "-F", p,
                 *(["-w", str(args.wait)] if args.wait else []),
                 "-f", "bulk@src.example", "-t", "trap@trap.example", f"127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        samples = []
        deadline = t0 + args.seconds
        while any(l.poll() is None for l in loaders):
            if time.monotonic() > deadline:
                for l in loaders:
                    l.kill()
                break
            time.sleep(1)
            s = stats(args.bin, store_dir)
            samples.append((round(time.monotonic() - t0), s.get("sightings"), s.get("pending_jobs")))
        load_secs = time.monotonic() - t0
        captured = stats(args.bin, store_dir).get("sightings", 0)
        drain_t0 = time.monotonic()
        while stats(args.bin, store_dir).get("pending_jobs", 0) > 0 and time.monotonic() - drain_t0 < 600:
            time.sleep(0.5)
        drain = time.monotonic() - drain_t0
        size = sum(os.path.getsize(p) for p in paths) / len(paths)
        print(f"\nlive: {len(paths)} smtp-source x {sessions} sessions"
              f"{f', -w {args.wait} s between messages' if args.wait else ', as fast as possible'}, "
              f"{args.workers} analysis threads, sandbox {args.sandbox or 'default (auto)'}, "
              f"typical corpus messages (mean {size / 1024:.1f} KiB)\n")
        print("| t s | captured | pending jobs |")
        print("|---|---|---|")
        for t, n, p in samples:
            print(f"| {t} | {n} | {p} |")
        peak = max((p or 0) for _, _, p in samples) if samples else 0
        print(f"\ncaptured {captured} in {load_secs:.1f} s = {captured / load_secs:.0f} msg/s; "
              f"peak backlog {peak}, backlog drained {drain:.1f} s after the load; "
              f"captured and analysed: {captured / (load_secs + drain):.0f} msg/s")
    finally:
        for l in loaders:
            if l.poll() is None:
                l.kill()
        srv.terminate()
        srv.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("SPAMHATTAN_BIN", "target/release/spamhattan"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("offline")
    o.add_argument("dir")
    o.add_argument("--limit", type=int, default=0)
    r = sub.add_parser("reference")
    r.add_argument("dir")
    r.add_argument("--limit", type=int, default=0)
    l = sub.add_parser("live")
    l.add_argument("dir")
    l.add_argument("--messages", type=int, default=16, help="distinct typical messages")
    l.add_argument("--count", type=int, default=30000, help="messages in total")
    l.add_argument("--sessions", type=int, default=32, help="parallel sessions in total")
    l.add_argument("--seconds", type=int, default=120, help="hard bound on the load")
    l.add_argument("--workers", type=int, default=2)
    l.add_argument("--wait", type=int, default=0,
                   help="smtp-source -w: seconds each session waits between messages (paces the offered rate)")
    l.add_argument("--sandbox", choices=["auto", "required", "off"], default=None,
                   help="[analysis.sandbox] mode (default: the config default, auto)")
    args = ap.parse_args()
    {"offline": offline, "reference": reference, "live": live}[args.cmd](args)


if __name__ == "__main__":
    main()
