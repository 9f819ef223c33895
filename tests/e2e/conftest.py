"""Shared fixtures for the end-to-end suite: a real `spamhattan serve` on loopback.

The binary comes from $SPAMHATTAN_BIN (tests/run.sh sets it). Every test gets its own data dir and
an OS-chosen port, learnt from the one ready line the server prints on stdout: no sleeping.
"""

import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOSTNAME = "mx1.example.net"
TRAP_DOMAINS = ("trap.example", "*.wild.example")
READY_TIMEOUT = 30
STOP_TIMEOUT = 15

# tool -> Debian package that provides it
TOOLS = {"swaks": "swaks", "nmap": "nmap", "smtp-source": "postfix", "strace": "strace"}


def binary_path():
    if os.environ.get("SPAMHATTAN_BIN"):
        return Path(os.environ["SPAMHATTAN_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "spamhattan"


def require_tool(name):
    """Path of an external tool; missing fails under CI=true, else skips naming the apt package."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path:
        return path
    message = f"{name} not found: apt-get install {TOOLS.get(name, name)}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def no_verify_tls():
    """The trap's certificate is self-signed: clients must not verify it."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def postgres_env():
    """Under SPAMHATTAN_E2E_POSTGRES (a libpq URL of a database the suite may create schemas
    in), a trap and its CLI keep their store in PostgreSQL, in a schema of their own: the
    environment for them, else None (SQLite in the data dir)."""
    base = os.environ.get("SPAMHATTAN_E2E_POSTGRES")
    if not base:
        return None
    schema = f"e2e_{uuid.uuid4().hex}"
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", base, "-c",
                          f"CREATE SCHEMA {schema}"], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    sep = "&" if "?" in base else "?"
    return {**os.environ,
            "SPAMHATTAN_POSTGRES_URL": f"{base}{sep}options=-csearch_path%3D{schema}"}


class Trap:
    """One `spamhattan serve` process on a data dir; restartable on the same dir and port."""

    def __init__(self, bin_path, data_dir, listen="127.0.0.1:0", extra_args=(), wrapper=()):
        self.bin = Path(bin_path)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.listen = listen
        self.extra_args = list(extra_args)
        self.wrapper = list(wrapper)
        self.proc = None
        self.server_pid = None
        self.host = None
        self.port = None
        self.listeners = []
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.log"
        self.starts = 0
        self.env = postgres_env()

    # --- process lifecycle -------------------------------------------------------------
    def config_path(self):
        """The suite runs offline: authentication (DNS) off unless a test passes its own --config.
        The enrich crate tests authentication against a DNS server of its own on loopback."""
        path = self.data_dir.parent / f"{self.data_dir.name}.toml"
        if not path.exists():
            path.write_text(self.config_text)
        return path

    config_text = "[analysis.auth]\nenabled = false\n"

    def command(self):
        args = [str(self.bin), "serve", "--data-dir", str(self.data_dir), "--hostname", HOSTNAME]
        if "--config" not in self.extra_args:
            args += ["--config", str(self.config_path())]
        for domain in TRAP_DOMAINS:
            args += ["--trap-domain", domain]
        args += ["--smtp-listen", self.listen, *self.extra_args]
        return self.wrapper + args

    def start(self):
        assert self.proc is None, "already running"
        self.starts += 1
        stderr = open(self.stderr_path, "ab")
        stderr.write(f"--- start #{self.starts}: {' '.join(self.command())}\n".encode())
        stderr.flush()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=stderr, env=self.env)
        stderr.close()
        lines = self.lines = queue.Queue()
        threading.Thread(target=_drain, args=(self.proc.stdout, lines), daemon=True).start()
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            self.kill()
            pytest.fail(f"no ready line within {READY_TIMEOUT}s\n{self.stderr_tail()}")
        if line is None:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
            self.proc = None
            pytest.fail(f"serve exited {code} before the ready line\n{self.stderr_tail()}")
        # Under a wrapper (strace) signals go to the server itself, the wrapper's only child.
        self.server_pid = only_child(self.proc.pid) if self.wrapper else self.proc.pid
        ready = self.ready = json.loads(line)
        assert ready["ready"] is True, line
        self.listeners = ready["listeners"]
        smtp = next(l for l in self.listeners if l["name"] == "smtp")
        host, _, port = smtp["address"].rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        # Restarts reuse the port the OS picked the first time.
        self.listen = smtp["address"]
        return self

    def stop(self, sig=signal.SIGTERM):
        """Graceful stop; returns the exit code. A server that ignores SIGTERM fails the test."""
        if self.proc is None:
            return None
        os.kill(self.server_pid, sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"serve ignored {sig!r} for {STOP_TIMEOUT}s\n{self.stderr_tail()}")
        self.proc = None
        return code

    def kill(self):
        if self.proc is not None:
            if self.server_pid not in (None, self.proc.pid):
                try:
                    os.kill(self.server_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
            self.proc = None

    def restart_after_kill(self):
        self.kill()
        return self.start()

    def stderr_tail(self, n=40):
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no stderr)"
        return "server stderr (tail):\n" + "\n".join(lines[-n:])

    # --- command line --------------------------------------------------------------------
    def cli(self, *args, input=None, timeout=60, env=None):
        """`spamhattan ARGS --data-dir D`, output as bytes."""
        cmd = [str(self.bin), *args, "--data-dir", str(self.data_dir)]
        if "--config" not in args and args and args[0] in ("worker", "reanalyze"):
            cmd += ["--config", str(self.config_path())]
        if env is None:
            env = self.env
        elif self.env is not None:
            env = {**env, **{k: v for k, v in self.env.items() if k == "SPAMHATTAN_POSTGRES_URL"}}
        return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                              env=env, stdin=None if input is not None else subprocess.DEVNULL)

    def messages(self, limit=1_000_000):
        out = self.cli("messages", "list", "--json", "--limit", str(limit))
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def raw(self, message_id):
        out = self.cli("messages", "raw", message_id)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        return out.stdout

    def assert_stored(self, expected):
        """The message is listed under its SHA-256 and `messages raw` returns it byte for byte."""
        listed = self.messages()
        ids = [m["id"] for m in listed]
        assert sha256(expected) in ids, (
            f"sha256 {sha256(expected)} not listed; listed: {listed}\n"
            + "".join(f"raw {i}: {self.raw(i)[:300]!r}\n" for i in ids[:3]))
        assert self.raw(sha256(expected)) == expected
        return next(m for m in listed if m["id"] == sha256(expected))

    # --- SMTP ----------------------------------------------------------------------------
    def wire(self, timeout=10):
        return Wire(self.host, self.port, timeout)


def only_child(pid):
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == pid]
    assert len(children) == 1, f"expected one child of {pid}, found {children}"
    return children[0]


def _ppid(proc_dir):
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _drain(stream, lines):
    """Reads the server's stdout forever so it never blocks; the first line is the ready line."""
    for line in iter(stream.readline, b""):
        lines.put(line.decode(errors="replace"))
    lines.put(None)


class Wire:
    """A raw SMTP client that owns its buffer, so we know exactly what the server sent and when."""

    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.transcript = []  # (sent bytes | None, reply lines)

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"server closed the connection; pending {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", errors="replace")

    def reply(self):
        """(code, [lines]) of one possibly multi-line reply."""
        lines = [self._line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self._line())
        self.transcript.append(lines)
        return int(lines[-1][:3]), lines

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def expect(self, line, code):
        got, lines = self.cmd(line)
        assert got == code, f"{line!r} -> {lines}, expected {code}"
        return lines

    def starttls(self, ctx=None):
        self.sock = (ctx or no_verify_tls()).wrap_socket(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_message(subject, body=b"hello from the e2e suite\r\n", extra_headers=b""):
    """A CRLF message ending in CRLF: what smtplib sends is exactly what must be stored."""
    return (b"From: sender@src.example\r\nTo: trap@trap.example\r\nSubject: " + subject.encode()
            + b"\r\nMessage-ID: <" + sha256(subject.encode() + body)[:24].encode() + b"@src.example>\r\n"
            + extra_headers + b"\r\n" + body)


@pytest.fixture(scope="session")
def spamhattan_bin():
    path = binary_path()
    if not path.is_file():
        pytest.fail(f"spamhattan binary not found at {path}: run `bash tests/run.sh` "
                    "(it builds it) or set SPAMHATTAN_BIN")
    return path


@pytest.fixture
def trap_factory(spamhattan_bin, tmp_path):
    """Builds traps on fresh data dirs; every one still running is stopped at teardown."""
    made = []

    def factory(name="data", **kwargs):
        t = Trap(spamhattan_bin, tmp_path / name, **kwargs)
        made.append(t)
        return t

    yield factory
    for t in made:
        t.stop()


@pytest.fixture
def trap(trap_factory):
    """A running trap for trap.example and *.wild.example on 127.0.0.1, OS-chosen port."""
    return trap_factory().start()
