"""Local alert receivers for the e2e suite and benches (stdlib only, loopback only).

WebhookReceiver  a threaded HTTP server on 127.0.0.1 that verifies Standard Webhooks
                 signatures with Python's own hmac/hashlib/base64 (independent of the Rust
                 code) and records every accepted request; .down()/.up() make it answer 503.
SyslogReceiver   a syslog listener over TCP (RFC 6587 octet-counted frames) or UDP (one
                 record per datagram) that records each record as text.

Both have .start(), .stop(), .port and .wait_for(n, timeout), which waits on a
threading.Condition, never by polling sleeps.

Self-test: python3 tests/e2e/receivers.py --self-test
"""

import base64
import collections
import hashlib
import hmac
import http.server
import json
import socket
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.request

# Largest request body or syslog frame accepted: far above any alert, small enough that a
# broken sender cannot exhaust memory.
MAX_BYTES = 1 << 20

# One accepted webhook request: monotonic arrival time, webhook-id, parsed JSON body (None if
# it did not parse), whether the signature verified, and the raw headers.
Received = collections.namedtuple("Received", "received_monotonic id body valid headers")


def signing_key(secret):
    """HMAC key: base64 after 'whsec_', else the secret's UTF-8 bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def sign(secret, msg_id, timestamp, body):
    """'v1,' + base64(HMAC-SHA256(key, f'{id}.{timestamp}.{body}'))."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret, msg_id, timestamp, body, header):
    """True when any space-separated 'v1,...' signature in the header matches."""
    if not (secret and msg_id and timestamp and header):
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split(" "))


class _Waitable:
    """A list of records guarded by a Condition; wait_for blocks until enough arrived."""

    def __init__(self):
        self._cond = threading.Condition()
        self._records = []

    def _add(self, record):
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    @property
    def records(self):
        with self._cond:
            return list(self._records)

    def _serve(self):
        """Runs self._server (made by the subclass's start) on a daemon thread."""
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_for(self, n, timeout):
        """Waits until at least n records arrived; returns them (may be fewer on timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._records) >= n, timeout)
            return list(self._records)


class WebhookReceiver(_Waitable):
    """Records accepted requests in .received; while down, answers 503 and counts .refused."""

    def __init__(self, secret, port=0):
        super().__init__()
        self.secret = secret
        self._want_port = port
        self._down = False
        self.refused = 0
        self._server = None
        self._thread = None

    @property
    def received(self):
        return self.records

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def wait_refused(self, n, timeout):
        """Waits until at least n requests were refused while down; returns the count."""
        with self._cond:
            self._cond.wait_for(lambda: self.refused >= n, timeout)
            return self.refused

    def down(self):
        with self._cond:
            self._down = True

    def up(self):
        with self._cond:
            self._down = False

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BYTES)
                body = self.rfile.read(length)
                with receiver._cond:
                    down = receiver._down
                    if down:
                        receiver.refused += 1
                        receiver._cond.notify_all()
                if down:
                    self._reply(503, b"down for maintenance")
                    return
                msg_id = self.headers.get("webhook-id")
                valid = verify(
                    receiver.secret,
                    msg_id,
                    self.headers.get("webhook-timestamp"),
                    body,
                    self.headers.get("webhook-signature"),
                )
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                # Answer before recording, so a waiter never sees a request the sender has
                # not yet seen answered.
                self._reply(204, b"")
                receiver._add(
                    Received(time.monotonic(), msg_id, parsed, valid, dict(self.headers))
                )

            def _reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self._want_port), Handler)
        return self._serve()



def _read_frames(stream):
    """Yields RFC 6587 octet-counted frames ('LEN SP MSG') from a binary file object."""
    while True:
        digits = b""
        while True:
            c = stream.read(1)
            if not c:
                return
            if c == b" ":
                break
            if not c.isdigit() or len(digits) > 7:
                return  # not octet counting: stop reading this connection
            digits += c
        length = int(digits or b"0")
        if length > MAX_BYTES:
            return
        frame = stream.read(length)
        if len(frame) < length:
            return
        yield frame


class SyslogReceiver(_Waitable):
    """Records syslog records (decoded UTF-8, BOM kept) in .lines."""

    def __init__(self, transport="tcp", port=0):
        super().__init__()
        if transport not in ("tcp", "udp"):
            raise ValueError("transport must be 'tcp' or 'udp'")
        self.transport = transport
        self._want_port = port
        self._server = None
        self._thread = None

    @property
    def lines(self):
        return self.records

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        receiver = self

        if self.transport == "tcp":

            class Handler(socketserver.StreamRequestHandler):
                def handle(self):
                    for frame in _read_frames(self.rfile):
                        receiver._add(frame.decode("utf-8", "replace"))

            server_class = socketserver.ThreadingTCPServer
        else:

            class Handler(socketserver.DatagramRequestHandler):
                def handle(self):
                    receiver._add(self.request[0].decode("utf-8", "replace"))

            server_class = socketserver.UDPServer
        server_class.allow_reuse_address = True
        self._server = server_class(("127.0.0.1", self._want_port), Handler)
        if self.transport == "udp":
            self._server.max_packet_size = 65535
        return self._serve()



def _post(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def self_test():
    # Vector from the Standard Webhooks specification; hmac.new here is the independent side.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, ts, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, msg_id, ts, body) == expected, sign(secret, msg_id, ts, body)
    assert verify(secret, msg_id, str(ts), body, "v1,bogus " + expected)
    assert not verify(secret, msg_id, str(ts), body + b" ", expected)

    with WebhookReceiver(secret) as hook:
        now = str(int(time.time()))
        good = {"webhook-id": "a1", "webhook-timestamp": now, "Content-Type": "application/json",
                "webhook-signature": sign(secret, "a1", now, b'{"x":1}')}
        assert _post(hook.url, b'{"x":1}', good) == 204
        hook.down()
        assert _post(hook.url, b'{"x":1}', good) == 503
        hook.up()
        bad = dict(good, **{"webhook-id": "a2"})
        assert _post(hook.url, b'{"x":1}', bad) == 204
        got = hook.wait_for(2, timeout=5)
        assert [(r.id, r.valid, r.body) for r in got] == [("a1", True, {"x": 1}),
                                                          ("a2", False, {"x": 1})], got
        assert hook.refused == 1

    with SyslogReceiver("tcp") as tcp:
        with socket.create_connection(("127.0.0.1", tcp.port)) as s:
            s.sendall(b"5 hello11 second\nline")
        assert tcp.wait_for(2, timeout=5) == ["hello", "second\nline"], tcp.lines

    with SyslogReceiver("udp") as udp:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto("<106>1 - - - - - - caf\u00e9".encode(), ("127.0.0.1", udp.port))
        assert udp.wait_for(1, timeout=5) == ["<106>1 - - - - - - caf\u00e9"], udp.lines

    print("receivers self-test ok")


if __name__ == "__main__":
    if "--self-test" in sys.argv[1:]:
        self_test()
    else:
        print(__doc__)
