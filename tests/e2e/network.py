"""Processes of the sensor network for the e2e suite: a private `nats-server` with JetStream,
`spamhattan sensor` and `spamhattan collector` (issue 7).

Every test starts its own `nats-server` on an OS-chosen port with its own store directory (the
machine's system NATS is never touched, and can be stopped and restarted by a test). Readiness is
read from the server's own log line, not waited for.
"""

import json
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import READY_TIMEOUT, STOP_TIMEOUT, Trap, _drain

NATS_READY = "Server is ready"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nats:
    """A private nats-server with JetStream; `stop()` and `start()` keep its port and store."""

    def __init__(self, workdir, config_text=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = None
        self.log = self.dir / "nats.log"
        self.config_text = config_text

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        binary = "/usr/sbin/nats-server"
        if not Path(binary).exists():
            pytest.fail("nats-server not installed: apt install nats-server (.ci/run does)")
        cmd = [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.dir / "js")]
        # The default max_payload (1 MiB) is below the trap's message limit: a sensor refuses to
        # start against it (see contrib/nats/nats-server.conf).
        conf = self.dir / "nats.conf"
        conf.write_text("max_payload: 16777216\n" + (self.config_text or ""))
        cmd += ["-c", str(conf)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        lines = queue.Queue()
        threading.Thread(target=_drain, args=(self.proc.stderr, lines), daemon=True).start()
        seen = []
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                pytest.fail("nats-server did not become ready:\n" + "\n".join(seen[-20:]))
            seen.append(line)
            if NATS_READY in line:
                return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def bus_section(nats, extra=""):
    return f'[bus]\nurl = "{nats.url}"\n{extra}'


class Sensor(Trap):
    """`spamhattan sensor`: a Trap whose command and config name the sensor and the bus."""

    def __init__(self, bin_path, data_dir, nats, sensor_id, sector="bank", location="NL",
                 extra_config="", bus_extra="", **kw):
        super().__init__(bin_path, data_dir, **kw)
        self.config_text = (
            "[analysis.auth]\nenabled = false\n"
            f'[sensor]\nid = "{sensor_id}"\nsector = "{sector}"\nlocation = "{location}"\n'
            + extra_config + "\n" + bus_section(nats, bus_extra))
        self.sensor_id = sensor_id
        # A sensor's spool is local whatever the suite's store (SPAMHATTAN_E2E_POSTGRES).
        self.env = None

    def command(self):
        args = super().command()
        i = args.index("serve")
        return args[:i] + ["sensor"] + args[i + 1:]


class Collector(Trap):
    """`spamhattan collector` on a data dir (collectors may share one); no SMTP listener."""

    def __init__(self, bin_path, data_dir, nats, workers=1, extra_config="", bus_extra="",
                 postgres=None, **kw):
        super().__init__(bin_path, data_dir, **kw)
        store = f'[store]\npostgres_url = "{postgres.url}"\n' if postgres else ""
        self.config_text = (
            f"[analysis]\nworkers = {workers}\n[analysis.auth]\nenabled = false\n"
            + store + extra_config + "\n" + bus_section(nats, bus_extra))
        self.postgres = postgres
        if postgres is not None:
            # Its own server, not the suite's (SPAMHATTAN_E2E_POSTGRES would win over the file).
            self.env = None
        self.name = Path(data_dir).name
        self.stderr_path = Path(data_dir).parent / f"collector-{id(self)}.stderr.log"

    def config_path(self):
        path = self.data_dir.parent / f"collector-{id(self)}.toml"
        if not path.exists():
            path.write_text(self.config_text)
        return path

    def cli(self, *args, **kw):
        """The CLI reaches the collector's store: its data dir, or its PostgreSQL server."""
        if self.postgres is not None:
            args = (*args, "--postgres-url", self.postgres.url)
        return super().cli(*args, **kw)

    def command(self):
        return [str(self.bin), "collector", "--data-dir", str(self.data_dir),
                "--hostname", f"collector-{id(self)}", "--config", str(self.config_path()),
                "--http-listen", "127.0.0.1:0", *self.extra_args]

    def start(self):
        assert self.proc is None, "already running"
        stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=stderr, env=self.env)
        stderr.close()
        self.server_pid = self.proc.pid
        lines = self.lines = queue.Queue()
        threading.Thread(target=_drain, args=(self.proc.stdout, lines), daemon=True).start()
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            self.kill()
            pytest.fail(f"collector: no ready line within {READY_TIMEOUT}s\n{self.stderr_tail()}")
        if line is None:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
            self.proc = None
            pytest.fail(f"collector exited {code} before the ready line\n{self.stderr_tail()}")
        self.ready = json.loads(line)
        assert self.ready["ready"] is True and self.ready["role"] == "collector", line
        self.http = self.ready.get("http")
        return self


def wait_for(what, predicate, timeout, every=0.2):
    """Polls a condition of other processes (the store of a collector, a server's counters) until
    it holds or the deadline passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached within {timeout}s")
        time.sleep(every)
