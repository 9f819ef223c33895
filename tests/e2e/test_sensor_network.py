"""Issue 7 end to end: `spamhattan sensor` → NATS JetStream → `spamhattan collector`, over real
connections to a private `nats-server` (tests/e2e/network.py).

What must hold after every scenario: every message a sensor answered `250` is in the collectors'
store exactly once (one sighting per arrival, never two), with the tags of the sensor that took
it, and the sensors' spools drain to empty. Faults: the bus stopped for 30 s under load and
restarted, a collector killed with SIGKILL mid-batch and restarted, foreign and truncated
payloads on the capture subject. Two collectors share one data dir (the store supports several
processes); test_collector_postgres.py runs the same network on a shared PostgreSQL store.
"""

import base64
import json
import re
import smtplib
import socket
import subprocess
import threading
import urllib.request

import pytest

from conftest import make_message, require_tool, sha256
from network import Collector, Nats, Sensor, wait_for

STORE_DEADLINE = 120
OUTAGE_SECS = 30
OUTAGE_MESSAGES = 300


@pytest.fixture
def net(tmp_path, spamhattan_bin):
    """Builds the processes of one network; everything still running is stopped at teardown."""
    made = []

    class Net:
        def nats(self, **kw):
            n = Nats(tmp_path / f"nats{len(made)}", **kw)
            made.append(n)
            return n.start()

        def collector(self, nats, data="central", **kw):
            c = Collector(spamhattan_bin, tmp_path / data, nats, **kw)
            made.append(c)
            return c.start()

        def sensor(self, nats, sensor_id, **kw):
            s = Sensor(spamhattan_bin, tmp_path / sensor_id, nats, sensor_id, **kw)
            made.append(s)
            return s.start()

    yield Net()
    for p in reversed(made):
        p.stop()


def metric(base, name, **labels):
    """Sum of one metric's samples matching the labels, from a real scrape."""
    with urllib.request.urlopen(f"http://{base}/metrics", timeout=30) as r:
        body = r.read().decode()
    total = 0.0
    for line in body.splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def send(sensor, count, tag):
    """Sends `count` distinct messages in one session; returns those answered 250."""
    accepted = []
    with smtplib.SMTP(sensor.host, sensor.port, timeout=30) as s:
        s.ehlo("client.example")
        for i in range(count):
            msg = make_message(f"{tag} {i}", body=f"body {tag} {i}\r\n".encode() * 64)
            try:
                s.sendmail("sender@src.example", ["trap@trap.example"], msg)
                accepted.append(msg)
            except smtplib.SMTPResponseException:
                pass
    return accepted


def smtp_source(sensor, messages, sessions=4):
    cmd = [require_tool("smtp-source"), "-s", str(sessions), "-m", str(messages), "-l", "4096",
           "-M", "src.example", "-f", "load@src.example", "-t", "trap@trap.example",
           f"{sensor.host}:{sensor.port}"]
    out = subprocess.run(cmd, capture_output=True, timeout=300, stdin=subprocess.DEVNULL, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def stored(collector):
    return collector.messages()


def assert_exactly_once(listed, expected_per_sensor, sensors):
    ids = [m["sighting"] for m in listed]
    assert len(ids) == len(set(ids)), "a sighting was stored twice"
    by_sensor = {}
    for m in listed:
        tag = m["sensor"]
        assert tag is not None, m
        by_sensor[tag["id"]] = by_sensor.get(tag["id"], 0) + 1
        s = sensors[tag["id"]]
        assert (tag.get("sector", ""), tag.get("location", "")) == (s.sector, s.location), tag
    assert by_sensor == expected_per_sensor


def test_three_sensors_two_collectors_store_every_message_once(net):
    nats = net.nats()
    collectors = [net.collector(nats), net.collector(nats)]
    sectors = {"bank-nl": ("bank", "NL"), "isp-de": ("isp", "DE"), "gov-be": ("government", "BE")}
    sensors = {}
    for sid, (sector, location) in sectors.items():
        s = net.sensor(nats, sid, sector=sector, location=location)
        s.sector, s.location = sector, location
        sensors[sid] = s
    loads = [threading.Thread(target=smtp_source, args=(s, 700)) for s in sensors.values()]
    for t in loads:
        t.start()
    for t in loads:
        t.join()
    # Distinct messages too, so the bytes can be compared with what the sender sent.
    exact = {sid: send(s, 20, sid) for sid, s in sensors.items()}
    expected = {sid: 720 for sid in sensors}
    total = sum(expected.values())
    listed = wait_for("every accepted message at the collectors",
                      lambda: (lambda l: l if len(l) >= total else None)(stored(collectors[0])),
                      STORE_DEADLINE)
    assert_exactly_once(listed, expected, sensors)
    for sid, msgs in exact.items():
        for msg in msgs[:3]:
            assert collectors[0].raw(sha256(msg)) == msg
    # The work was shared: each collector stored a part.
    parts = [metric(c.http, "spamhattan_bus_received_total", kind="capture", outcome="stored")
             for c in collectors]
    assert sum(parts) == total and all(p > 0 for p in parts), parts
    for sid, s in sensors.items():
        assert metric(s.ready["http"], "spamhattan_bus_published_total", kind="capture") == 720
        wait_for(f"{sid}'s spool drained",
                 lambda s=s: metric(s.ready["http"], "spamhattan_bus_unforwarded_messages") == 0,
                 30)
        # Per-sensor counters at the collector (either collector may have stored them).
        assert sum(metric(c.http, "spamhattan_sensor_sightings_total", sensor=sid)
                   for c in collectors) == 720


def test_bus_down_for_30_s_sensor_keeps_accepting_and_drains_after(net):
    nats = net.nats()
    collector = net.collector(nats)
    sensor = net.sensor(nats, "bank-nl")
    sensor.sector, sensor.location = "bank", "NL"
    before = send(sensor, 20, "before")
    wait_for("first messages stored", lambda: len(stored(collector)) >= 20, STORE_DEADLINE)
    nats.stop()
    done = threading.Event()
    during = []

    def load():
        # Paced over the outage, bounded in count: 10 messages a second at most.
        while not done.is_set() and len(during) < OUTAGE_MESSAGES:
            during.extend(send(sensor, 10, f"outage {len(during)}"))
            done.wait(1)

    t = threading.Thread(target=load)
    t.start()
    done.wait(OUTAGE_SECS)
    done.set()
    t.join()
    assert len(during) >= 10, "the sensor stopped accepting while the bus was down"
    # Captures and their session records wait in the spool.
    wait_for("the spool holds the outage's messages",
             lambda: metric(sensor.ready["http"], "spamhattan_bus_unforwarded_messages")
             >= len(during), 10)
    nats.start()
    total = len(before) + len(during)
    listed = wait_for("the outage's messages stored after the bus came back",
                      lambda: (lambda l: l if len(l) >= total else None)(stored(collector)),
                      STORE_DEADLINE)
    assert_exactly_once(listed, {"bank-nl": total}, {"bank-nl": sensor})
    for msg in during[-3:]:
        assert collector.raw(sha256(msg)) == msg
    wait_for("spool drained", lambda: metric(sensor.ready["http"],
                                              "spamhattan_bus_unforwarded_messages") == 0, 30)


def test_full_spool_answers_452_until_the_bus_drains_it(net):
    nats = net.nats()
    collector = net.collector(nats)
    sensor = net.sensor(nats, "isp-de", extra_config="max_spool_bytes = 60000\n")
    sensor.sector, sensor.location = "bank", "NL"
    nats.stop()
    refused = None
    accepted = 0
    with smtplib.SMTP(sensor.host, sensor.port, timeout=30) as s:
        s.ehlo("client.example")
        for i in range(100):
            msg = make_message(f"fill {i}", body=b"y" * 4000 + b"\r\n")
            try:
                s.sendmail("sender@src.example", ["trap@trap.example"], msg)
                accepted += 1
            except smtplib.SMTPSenderRefused as e:
                refused = e
                break
    assert refused is not None and refused.smtp_code == 452, refused
    assert 10 <= accepted <= 20, accepted
    nats.start()
    wait_for("spool drained", lambda: len(stored(collector)) >= accepted, STORE_DEADLINE)
    assert len(send(sensor, 1, "after")) == 1


def test_collector_killed_mid_batch_loses_and_duplicates_nothing(net):
    nats = net.nats()
    collector = net.collector(nats, bus_extra="ack_wait_secs = 3\n")
    sensor = net.sensor(nats, "gov-be")
    sensor.sector, sensor.location = "bank", "NL"
    load = threading.Thread(target=smtp_source, args=(sensor, 1500, 6))
    load.start()
    wait_for("the collector is storing", lambda: len(stored(collector)) >= 200, STORE_DEADLINE)
    collector.kill()
    load.join()
    collector.start()
    listed = wait_for("everything stored after the restart",
                      lambda: (lambda l: l if len(l) >= 1500 else None)(stored(collector)),
                      STORE_DEADLINE)
    assert_exactly_once(listed, {"gov-be": 1500}, {"gov-be": sensor})


class RawNats:
    """Just enough of the NATS client protocol to put foreign bytes on a subject and ask the
    JetStream API: what an attacker with bus access (or a broken sensor) could send."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nPING\r\n')
        assert self._line() == b"PONG"

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def publish(self, subject, payload):
        self.sock.sendall(f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\nPING\r\n")
        assert self._line() == b"PONG"

    def request(self, subject, payload):
        inbox = "_INBOX.e2e"
        self.sock.sendall(f"SUB {inbox} 1\r\nPUB {subject} {inbox} {len(payload)}\r\n".encode()
                          + payload + b"\r\n")
        line = self._line()
        while line in (b"PING", b"PONG"):
            line = self._line()
        parts = line.split()
        assert parts[0] == b"MSG", line
        body = self._read(int(parts[-1]))
        self.sock.sendall(b"UNSUB 1\r\n")
        return json.loads(body)


def test_foreign_and_truncated_payloads_go_to_dead_letters_and_the_consumer_goes_on(net):
    nats = net.nats()
    collector = net.collector(nats)
    sensor = net.sensor(nats, "bank-nl")
    sensor.sector, sensor.location = "bank", "NL"
    # A real capture first, so a truncated copy of a real payload can be made.
    assert len(send(sensor, 1, "real")) == 1
    wait_for("first message stored", lambda: len(stored(collector)) >= 1, STORE_DEADLINE)
    raw = RawNats(nats.port)
    bad = [b"", b"SHB1", b"SHB1\x01\x00\x00\x10\x00{\"id\":", b'{"sighting": {}}',
           bytes(range(256)) * 16, b"SHB9" + b"\x00" * 64]
    for payload in bad:
        raw.publish("spamhattan.capture.bank-nl", payload)
    raw.publish("spamhattan.session.bank-nl", b"not a session record")
    assert len(send(sensor, 5, "after")) == 5
    listed = wait_for("the good messages after the bad ones",
                      lambda: (lambda l: l if len(l) >= 6 else None)(stored(collector)),
                      STORE_DEADLINE)
    assert len(listed) == 6
    dead = wait_for("dead letters counted",
                    lambda: metric(collector.http, "spamhattan_bus_dead_letters_total") >= 7
                    and metric(collector.http, "spamhattan_bus_dead_letters_total"), 30)
    assert dead == 7
    info = raw.request("$JS.API.STREAM.INFO.SPAMHATTAN_DEAD", b"")
    assert info["state"]["messages"] == 7, info
    first = raw.request("$JS.API.STREAM.MSG.GET.SPAMHATTAN_DEAD", b'{"seq": 1}')
    headers = base64.b64decode(first["message"].get("hdrs", "")).decode(errors="replace")
    assert "spamhattan.capture.bank-nl" in headers and "reason" in headers.lower(), headers
    log = collector.stderr_path.read_text(errors="replace")
    assert log.count("dead-letter") >= 7, log[-2000:]
    # Nothing foreign is left on the work queue.
    main = raw.request("$JS.API.STREAM.INFO.SPAMHATTAN", b"")
    assert main["state"]["messages"] == 0, main


def test_sensor_refuses_a_bus_that_cannot_carry_its_largest_message(net, tmp_path, spamhattan_bin):
    nats = net.nats(config_text="max_payload: 1048576\n")
    net.collector(nats)
    s = Sensor(spamhattan_bin, tmp_path / "small", nats, "small-bus")
    out = subprocess.run(s.command(), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode != 0
    err = out.stderr.decode(errors="replace")
    assert "max_payload" in err and "max_message_bytes" in err, err
