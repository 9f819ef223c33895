"""The analysis sandbox end to end: `serve` with the default config analyses in child processes
(`spamhattan analysis-sandbox`, one per analysis thread) that run under seccomp with
no_new_privs, hold nothing but their three pipes, and still produce the report of a message
sent with smtplib. With `mode = "off"` there is no child."""

import json
import smtplib
import time
from pathlib import Path

import pytest

from conftest import sha256
from test_analysis import dropper_mail


def children(pid):
    """Pids of the direct children of `pid`, from every thread's `children` file."""
    found = set()
    for f in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(p) for p in f.read_text().split())
        except OSError:
            pass
    return sorted(found)


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def analysis_children(trap, want, timeout=60):
    """Waits (polling, with a deadline) until `want` analysis children run and have applied
    their sandbox (a child builds its engine first, then seccomp shows in its status)."""
    deadline = time.monotonic() + timeout
    while True:
        kids = [p for p in children(trap.server_pid) if b"analysis-sandbox" in cmdline(p)]
        ready = [p for p in kids if _seccomp(p) == "2"]
        if len(ready) >= want or time.monotonic() > deadline:
            return kids
        time.sleep(0.05)


def _seccomp(pid):
    try:
        return status(pid).get("Seccomp")
    except OSError:
        return None


def report_of(trap, raw, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = trap.cli("messages", "report", sha256(raw))
        if out.returncode == 0:
            return json.loads(out.stdout)
        time.sleep(0.1)
    pytest.fail(f"no report within {timeout}s\n{trap.stderr_tail()}")


def send(trap, raw):
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        s.sendmail("billing@invoices.example", ["victim@trap.example"], raw)


def test_serve_analyses_in_sandboxed_children_by_default(trap_factory):
    trap = trap_factory()
    # The suite's default config plus two analysis threads; no [analysis.sandbox]: the default.
    trap.config_text = "[analysis]\nworkers = 2\n[analysis.auth]\nenabled = false\n"
    trap.start()
    kids = analysis_children(trap, want=2)
    assert len(kids) == 2, f"one child per analysis thread: {kids}\n{trap.stderr_tail()}"
    for pid in kids:
        st = status(pid)
        assert st["Seccomp"] == "2", f"child {pid} runs under a seccomp filter: {st}"
        assert st["NoNewPrivs"] == "1", st
        assert st["Threads"] in ("1", "2"), "the engine and, after a scan, YARA-X's timer"
        fds = sorted(int(p.name) for p in Path(f"/proc/{pid}/fd").iterdir())
        # stdin, stdout, stderr and the child's own duplicates of the two pipes.
        assert len(fds) <= 5, f"child {pid} holds only its pipes: {fds}"
    log = trap.stderr_path.read_text(errors="replace")
    assert "analysis runs in sandboxed child processes" in log, log[-2000:]
    assert 'mode="auto"' in log or "mode=auto" in log, log[-2000:]

    raw = dropper_mail()
    send(trap, raw)
    report = report_of(trap, raw)
    assert report["verdict"]["class"] == "malware", report["verdict"]
    assert all("analysis process" not in a["detail"] for a in report.get("anomalies", []))
    # The same children did the work: none died.
    assert sorted(analysis_children(trap, want=2)) == sorted(kids)
    assert trap.stop() == 0


def test_mode_off_analyses_in_process_without_children(trap_factory):
    trap = trap_factory()
    trap.config_text = ("[analysis]\nworkers = 1\n[analysis.auth]\nenabled = false\n"
                        "[analysis.sandbox]\nmode = \"off\"\n")
    trap.start()
    raw = dropper_mail()
    send(trap, raw)
    assert report_of(trap, raw)["verdict"]["class"] == "malware"
    assert children(trap.server_pid) == [], "no analysis child in mode off"
    log = trap.stderr_path.read_text(errors="replace")
    assert "analysis runs in-process" in log, log[-2000:]
    assert trap.stop() == 0
