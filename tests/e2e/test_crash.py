"""Crash consistency: every message the trap acknowledged with 250 survives SIGKILL byte for byte.

20 client sessions send 3,000 unique messages (100 B to 64 KiB, dot-leading lines, 8-bit bytes)
while the server is SIGKILLed 4 times at random points and restarted on the same data dir and port.
A message counts as acknowledged only when smtplib saw the 250 after the final dot; a broken session
puts its message back and retries on the next server. Afterwards every acknowledged message must be
listed under the SHA-256 of its un-stuffed bytes and `messages raw` must return exactly those bytes,
no half-received message may be stored, and `store verify` must pass.
"""

import concurrent.futures
import math
import os
import queue
import random
import smtplib
import threading
import time

import pytest

from conftest import sha256

MESSAGES = int(os.environ.get("SPAMHATTAN_CRASH_MESSAGES", 3000))  # smaller for quick local runs
SESSIONS = 20
KILLS = 4
SEND_DEADLINE = 120  # seconds for the whole send-and-kill phase


def build_corpus(rng):
    alphabet = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
    lines = []
    for _ in range(300):
        line = bytes(rng.choices(alphabet, k=rng.randint(0, 200)))
        lines.append(rng.choice([b"", b"", b".", b"..", b". "]) + line + b"\r\n")
    lines.append(b".\r\n")  # a lone dot line, stuffed on the wire
    corpus = []
    for i in range(MESSAGES):
        size = int(math.exp(rng.uniform(math.log(100), math.log(64 * 1024))))
        head = (f"From: crash@src.example\r\nTo: trap@trap.example\r\nSubject: crash {i}\r\n"
                f"Message-ID: <crash-{i}-{rng.getrandbits(64):x}@src.example>\r\n\r\n").encode()
        body = bytearray()
        while len(head) + len(body) < size:
            body += rng.choice(lines)
        corpus.append(head + bytes(body))
    return corpus


class Ledger:
    """What the clients know: which messages got a 250, which still wait, what went wrong."""

    def __init__(self, count):
        self.pending = queue.Queue()
        for i in range(count):
            self.pending.put(i)
        self.acked = set()
        self.errors = []
        self.retries = 0
        self.changed = threading.Condition()
        self.server_up = threading.Event()

    def ack(self, i):
        with self.changed:
            self.acked.add(i)
            self.changed.notify_all()


def client(trap, corpus, ledger, deadline):
    s = None
    while time.monotonic() < deadline and not ledger.errors:
        try:
            i = ledger.pending.get_nowait()
        except queue.Empty:
            break
        try:
            if s is None:
                s = smtplib.SMTP(trap.host, trap.port, local_hostname="crash.src.example", timeout=15)
            s.sendmail("crash@src.example", ["trap@trap.example"], corpus[i])
            ledger.ack(i)
        except smtplib.SMTPResponseException as e:
            ledger.pending.put(i)
            if e.smtp_code >= 500:  # 4xx is a retry; a permanent refusal of our mail is a bug
                ledger.errors.append(f"message {i} refused: {e.smtp_code} {e.smtp_error!r}")
            s = reconnect_later(s, ledger, deadline)
        except (smtplib.SMTPException, OSError):
            ledger.pending.put(i)
            s = reconnect_later(s, ledger, deadline)
    if s is not None:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


def reconnect_later(s, ledger, deadline):
    ledger.retries += 1
    if s is not None:
        try:
            s.close()
        except OSError:
            pass
    ledger.server_up.wait(timeout=max(0.0, deadline - time.monotonic()))
    return None


@pytest.mark.timeout(400)
def test_acknowledged_messages_survive_repeated_sigkill(trap_factory):
    rng = random.Random(20261204)
    corpus = build_corpus(rng)
    trap = trap_factory().start()
    ledger = Ledger(len(corpus))
    ledger.server_up.set()
    start = time.monotonic()
    deadline = start + SEND_DEADLINE
    clients = [threading.Thread(target=client, args=(trap, corpus, ledger, deadline), daemon=True)
               for _ in range(SESSIONS)]
    for t in clients:
        t.start()

    kill_points = sorted(rng.sample(range(MESSAGES // 10, MESSAGES * 9 // 10), KILLS))
    for point in kill_points:
        with ledger.changed:
            reached = ledger.changed.wait_for(lambda: len(ledger.acked) >= point or ledger.errors,
                                              timeout=max(0.0, deadline - time.monotonic()))
        assert reached and not ledger.errors, (
            f"only {len(ledger.acked)} acked before kill at {point}: {ledger.errors[:5]}\n"
            + trap.stderr_tail())
        ledger.server_up.clear()
        trap.restart_after_kill()
        ledger.server_up.set()

    for t in clients:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    elapsed = time.monotonic() - start
    assert not ledger.errors, ledger.errors[:10]
    assert elapsed <= SEND_DEADLINE and ledger.pending.empty(), (
        f"{len(ledger.acked)}/{MESSAGES} acked after {elapsed:.0f}s\n{trap.stderr_tail()}")
    print(f"{MESSAGES} messages, {KILLS} kills, {ledger.retries} retries, {elapsed:.1f}s")
    assert trap.stop() == 0

    ours = {sha256(m): i for i, m in enumerate(corpus)}
    stored = {m["id"] for m in trap.messages()}
    missing = [i for i in sorted(ledger.acked) if sha256(corpus[i]) not in stored]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:10]}"
    foreign = stored - ours.keys()
    assert not foreign, f"{len(foreign)} stored messages are not ones we sent (torn?): {list(foreign)[:5]}"

    def differs(i):
        return i if trap.raw(sha256(corpus[i])) != corpus[i] else None

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        wrong = [i for i in pool.map(differs, sorted(ledger.acked)) if i is not None]
    assert not wrong, f"{len(wrong)} messages not byte-exact, e.g. {wrong[:10]}"

    verify = trap.cli("store", "verify", timeout=300)
    assert verify.returncode == 0, verify.stdout.decode(errors="replace") + verify.stderr.decode(
        errors="replace")
