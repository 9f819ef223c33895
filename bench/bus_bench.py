#!/usr/bin/env python3
"""Sensor network throughput: sensors -> NATS JetStream -> collectors -> store and analysis.

smtp-source -> `spamhattan sensor` -> JetStream -> `spamhattan collector` -> store (and the
analysis pool). Python stdlib only.

What it starts, all on 127.0.0.1 and in one fresh temp dir, stopped by PID at the end:
  - its own `nats-server -js -sd <tmp> -p <free port> -m <free port>` (never the system one on
    4222; the monitoring port gives the stream's backlog through /jsz),
  - N collectors (`spamhattan collector --config <generated>`), each with its own data dir and
    HTTP listener, sharing one durable consumer; started first, since they create the streams
    (a sensor never does: it may lack the permission),
  - M sensors (`spamhattan sensor --config <generated>`), each with its own SMTP port, spool
    and HTTP listener (/metrics),
  - one Postfix `smtp-source` per sensor (4 KiB messages by default, `-l 4096`), for a bounded
    count and a bounded time.
With `--outage-at S --outage-for D` the nats-server is stopped S seconds into the load and
started again (same port, same store) D seconds later: the sensors must spool and then drain.

What it reports:
  - accepted msg/s at the sensors (`spamhattan_smtp_messages_total` of each sensor's /metrics;
    the sensor's event log when it has none),
  - stored msg/s and, with analysis on, analysed and clustered msg/s at the collectors (their
    /metrics every second, checked against `store stats --json` at the end; `--probe store`
    reads `store stats` every second instead), until everything accepted is stored,
  - the backlog sampled every second: unforwarded at the sensors
    (`spamhattan_bus_unforwarded_messages`), messages in the JetStream stream, accepted but not
    yet stored, analysis jobs pending at the collectors; the peaks,
  - the end state: every sighting accepted by a sensor stored exactly once across all
    collectors (sighting ids compared: the `spamhattan.message.stored` events of the sensors'
    event logs against `messages list --json` of every collector), dead letters, and the
    `spamhattan_bus_*` metrics,
  - the CPU seconds each role spent from the start of the load to the end of the drain (the
    sensors, the collectors with their analysis children, nats-server, every `postgres`
    process, smtp-source, the bench's own probes), per message: where the machine's cores go.
With `--collector-cpu C` each collector (and its children) runs in a cgroup (v1 cpu controller)
held to C cores, as on a smaller host of its own: on one machine, a second collector then
brings cores of its own, which is how scale-out is measured here.
Exit status 1 when a message is missing, stored twice by one collector, dead-lettered, or the
drain did not finish within --drain-seconds; with --strict also when two collectors stored the
same sighting (a redelivery after an ack lost in a bus outage: the collectors' stores are
separate until the shared store exists).

Example (debug build, small):
  python3 bench/bus_bench.py --bin /var/cache/spamhattan/target/debug/spamhattan \\
      --sensors 2 --collectors 2 --count 2000 --sessions 20 --analysis off
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# Hard bounds, whatever the flags say: the bench must never run away on a shared machine.
MAX_COUNT = 1_000_000
MAX_SESSIONS = 2_000
MAX_PROCESSES = 16
MAX_SECONDS = 3_600
# How long a started process may take to say it is ready (a debug build opens slowly).
START_TIMEOUT = 60.0
# smtp-source -l bound: never past the trap's default message limit (10,240,000 bytes).
MAX_SIZE = 10_000_000
STREAM = "SPAMHATTAN_BENCH"
PREFIX = "spamhattan-bench"
CONSUMER = "bench"
TRAP_DOMAIN = "trap.example"
CAPTURED = "spamhattan_smtp_messages_total"
UNFORWARDED = "spamhattan_bus_unforwarded_messages"
EVENTS_DROPPED = "spamhattan_event_log_dropped_total"
RECEIVED = "spamhattan_bus_received_total"
ANALYZED = "spamhattan_messages_analyzed_total"
CLUSTERED = "spamhattan_messages_clustered_total"
# cgroup v1 cpu controller, for --collector-cpu (a collector on a smaller host).
CGROUP_CPU = "/sys/fs/cgroup/cpu"
CFS_PERIOD_US = 100_000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=2.0):
    """Body of a GET, or None when it fails or answers other than 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode(errors="replace") if r.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def prom_values(text):
    """{'name{labels}': value} of a Prometheus text exposition; {} for None."""
    out = {}
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def prom_sum(values, name):
    """Sum over every label set of `name`; None when the metric is absent."""
    found = [v for k, v in values.items() if k == name or k.startswith(name + "{")]
    return sum(found) if found else None


def bus_metrics(values):
    return ", ".join(f"{k} {v:g}" for k, v in sorted(values.items())
                     if k.startswith("spamhattan_bus_")) or "no spamhattan_bus_* metrics"


class Proc:
    """A child process with its log files, stopped by PID at the end of the run."""

    def __init__(self, name, cmd, cwd, cpu=0.0):
        self.name = name
        self.out_path = os.path.join(cwd, f"{name}.out")
        self.err_path = os.path.join(cwd, f"{name}.err")
        self.cmd = cmd
        self.cgroup = CpuQuota(name, cpu) if cpu else None
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                      cwd=cwd, start_new_session=True,
                                      preexec_fn=self.cgroup.enter if self.cgroup else None)

    def alive(self):
        return self.p.poll() is None

    def stderr_tail(self, n=1500):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, timeout=60):
        """SIGTERM, then SIGKILL after `timeout` s; only this child (by PID)."""
        if self.p.poll() is not None:
            return self.p.returncode
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait(timeout=10)
        finally:
            if self.cgroup:
                self.cgroup.remove()

    def wait_ready(self, check, what):
        """Polls `check()` (the ready line, a health endpoint) until true, the process dies or
        START_TIMEOUT passes."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if check():
                return
            if not self.alive():
                sys.exit(f"{self.name} exited ({self.p.returncode}) before {what}:\n"
                         f"{' '.join(self.cmd)}\n{self.stderr_tail()}")
            time.sleep(0.05)
        sys.exit(f"{self.name}: no {what} within {START_TIMEOUT:.0f} s:\n{self.stderr_tail()}")

    def ready_line(self):
        """True once the process printed its `{"ready":true,...}` line on stdout."""
        try:
            with open(self.out_path, "rb") as f:
                return any(b'"ready":true' in line for line in f)
        except OSError:
            return False


class CpuQuota:
    """A cgroup (v1 cpu controller) holding one process and its children to `cpu` cores: a
    collector on a smaller host, so that on this one machine a second collector brings cores of
    its own, as it would on a second host. Entered by the child before exec."""

    def __init__(self, name, cpu):
        self.path = os.path.join(CGROUP_CPU, f"spamhattan-bench-{os.getpid()}-{name}")
        try:
            os.makedirs(self.path)
            with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
                f.write(str(CFS_PERIOD_US))
            with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
                f.write(str(int(cpu * CFS_PERIOD_US)))
        except OSError as e:
            sys.exit(f"--collector-cpu needs a writable cgroup v1 cpu controller at {CGROUP_CPU}: {e}")

    def enter(self):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError as e:
            print(f"cgroup {self.path} left behind: {e}", file=sys.stderr)


class CpuAccount:
    """CPU seconds (user + system) spent by each role during the run, read from
    /proc/<pid>/stat every second: the sensors, the collectors (their sandboxed analysis
    children included), nats-server, every `postgres` process, the `smtp-source` load. A process
    that lives less than a second between two samples is missed; the bench's own probes
    (`store stats`, /metrics) are counted from its children's rusage."""

    def __init__(self, roots):
        self.roots = roots  # {pid: role}
        self.first, self.last, self.role = {}, {}, {}
        self.tick = os.sysconf("SC_CLK_TCK")
        self.children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.sample(initial=True)

    @staticmethod
    def table():
        procs = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    raw = f.read().decode(errors="replace")
            except OSError:
                continue
            head, _, tail = raw.rpartition(")")
            fields = tail.split()
            procs[int(name)] = (head.partition("(")[2], int(fields[1]),
                                int(fields[11]) + int(fields[12]))
        return procs

    def classify(self, pid, procs):
        comm = procs[pid][0]
        if comm == "postgres":
            return "postgres"
        if comm == "smtp-source":
            return "load (smtp-source)"
        if comm == "nats-server":  # also the one restarted after --outage-for
            return "nats-server"
        for _ in range(8):
            if pid in self.roots:
                return self.roots[pid]
            pid = procs.get(pid, (None, 0, 0))[1]
            if pid <= 1:
                return None
        return None

    def sample(self, initial=False):
        procs = self.table()
        for pid, (_, _, ticks) in procs.items():
            role = self.role.get(pid) or self.classify(pid, procs)
            if role is None:
                continue
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid], self.role[pid] = ticks, role

    def finish(self):
        """The last sample: the end of the drain, before the end-state checks' own queries."""
        self.sample()
        self.children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.self1 = resource.getrusage(resource.RUSAGE_SELF)

    def print(self, messages):
        by_role = {}
        for pid, ticks in self.last.items():
            role = self.role[pid]
            by_role[role] = by_role.get(role, 0.0) + (ticks - self.first[pid]) / self.tick
        c0, c1 = self.children0, self.children1
        s0, s1 = self.self0, self.self1
        waited = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        # smtp-source is waited for before this: its rusage is in `waited` too.
        by_role["bench probes (store stats, /metrics)"] = max(
            0.0, waited - by_role.get("load (smtp-source)", 0.0))
        by_role["bench itself"] = (s1.ru_utime + s1.ru_stime) - (s0.ru_utime + s0.ru_stime)
        total = sum(by_role.values())
        print(f"\nCPU by role, from the start of the load to the end of the drain, "
              f"{self.tick} ticks/s "
              f"({messages} messages):\n")
        print("| role | CPU s | ms per message | share |")
        print("|---|---|---|---|")
        for role, secs in sorted(by_role.items(), key=lambda kv: -kv[1]):
            print(f"| {role} | {secs:.1f} | {1000 * secs / max(messages, 1):.3f} | "
                  f"{100 * secs / max(total, 1e-9):.0f} % |")
        print(f"| all | {total:.1f} | {1000 * total / max(messages, 1):.3f} | 100 % |")


class Nats:
    """A private nats-server with JetStream in the run's temp dir; restartable on the same
    ports and store (for --outage-*)."""

    def __init__(self, binary, tmp, procs):
        self.binary, self.tmp, self.procs = binary, tmp, procs
        self.port, self.mon = free_port(), free_port()
        self.store = os.path.join(tmp, "nats")
        os.makedirs(self.store)
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self):
        # max_payload as in contrib/nats/nats-server.conf: a capture may be a 10 MB message.
        conf = os.path.join(self.tmp, "nats-server.conf")
        with open(conf, "w") as f:
            f.write("max_payload: 16MB\n")
        self.proc = Proc("nats-server", [self.binary, "-c", conf, "-js", "-sd", self.store,
                                         "-a", "127.0.0.1", "-p", str(self.port),
                                         "-m", str(self.mon)], self.tmp)
        self.procs.append(self.proc)
        mon = f"http://127.0.0.1:{self.mon}/healthz?js-enabled-only=true"
        self.proc.wait_ready(lambda: http_get(mon) is not None, "JetStream health")

    def stop(self):
        self.proc.stop()

    def streams(self):
        """{stream name: messages}; None while the server does not answer."""
        body = http_get(f"http://127.0.0.1:{self.mon}/jsz?streams=true")
        if body is None:
            return None
        return {s.get("name"): s.get("state", {}).get("messages", 0)
                for acct in json.loads(body).get("account_details", [])
                for s in acct.get("stream_detail") or []}


def bus_section(nats_url):
    return (f"[bus]\nurl = \"{nats_url}\"\nstream = \"{STREAM}\"\n"
            f"subject_prefix = \"{PREFIX}\"\n")


def store_section(args):
    """--postgres: every collector stores in one PostgreSQL schema of its own for this run."""
    if not args.postgres:
        return ""
    return (f"[store]\npostgres_url = \"{args.postgres}\"\n"
            f"postgres_schema = \"{args.postgres_schema}\"\n")


def analysis_section(args):
    workers = args.workers if args.analysis == "on" else 0
    text = f"[analysis]\nworkers = {workers}\n[analysis.auth]\nenabled = false\n"
    if args.sandbox:
        text += f"[analysis.sandbox]\nmode = \"{args.sandbox}\"\n"
    return text + f"[campaigns]\nenabled = {'true' if args.analysis == 'on' else 'false'}\n"


def stores(collectors):
    """One collector per store: with --shared-store or --postgres they all read the same one."""
    return list({c.store: c for c in collectors}.values())


class Collector:
    def __init__(self, i, args, tmp, nats, procs):
        self.name = f"collector{i}"
        self.bin = args.bin
        # --shared-store: every collector on the one data dir, as on one host (docs/DEPLOYMENT.md)
        self.data = os.path.join(tmp, "central" if args.shared_store else self.name)
        self.store = args.postgres_schema or self.data
        self.http = free_port()
        self.cfg = os.path.join(tmp, f"{self.name}.toml")
        with open(self.cfg, "w") as f:
            f.write(f"hostname = \"{self.name}.bench.example\"\ndata_dir = \"{self.data}\"\n"
                    f"trap_domains = [\"{TRAP_DOMAIN}\"]\n"
                    f"[http]\nlisten = \"127.0.0.1:{self.http}\"\n"
                    + store_section(args) + analysis_section(args) + bus_section(nats.url)
                    + f"[collector]\nconsumer = \"{CONSUMER}\"\nbatch = {args.batch}\n")
        self.proc = Proc(self.name, [args.bin, "collector", "--config", self.cfg], tmp,
                         cpu=args.collector_cpu)
        procs.append(self.proc)
        readyz = f"http://127.0.0.1:{self.http}/readyz"
        self.proc.wait_ready(lambda: self.proc.ready_line() or http_get(readyz) is not None,
                             "ready line or /readyz")

    def stats(self):
        """`store stats --json` of its data dir (read while it runs); {} on failure."""
        out = subprocess.run([self.bin, "store", "stats", "--json", "--config", self.cfg],
                             capture_output=True, timeout=120)
        try:
            return json.loads(out.stdout)
        except ValueError:
            return {}

    def metrics(self):
        return prom_values(http_get(f"http://127.0.0.1:{self.http}/metrics"))

    def sighting_ids(self, limit):
        out = subprocess.run([self.bin, "messages", "list", "--json", "--limit", str(limit),
                              "--config", self.cfg], capture_output=True, timeout=600)
        return [json.loads(line)["sighting"] for line in out.stdout.splitlines() if line.strip()]


class Sensor:
    def __init__(self, i, args, tmp, nats, procs):
        self.name = f"sensor{i}"
        self.id = f"bench-{i:02d}"
        self.data = os.path.join(tmp, self.name)
        self.smtp = free_port()
        self.http = free_port()
        self.cfg = os.path.join(tmp, f"{self.name}.toml")
        spool = f"max_spool_bytes = {args.max_spool_bytes}\n" if args.max_spool_bytes else ""
        with open(self.cfg, "w") as f:
            f.write(f"hostname = \"mx{i}.bench.example\"\ndata_dir = \"{self.data}\"\n"
                    f"trap_domains = [\"{TRAP_DOMAIN}\"]\n"
                    f"[[listener]]\naddress = \"127.0.0.1:{self.smtp}\"\n"
                    f"[limits]\nmax_connections_per_ip = {MAX_SESSIONS + 100}\n"
                    f"[http]\nlisten = \"127.0.0.1:{self.http}\"\n"
                    f"[sensor]\nid = \"{self.id}\"\nsector = \"bench\"\nlocation = \"lo\"\n"
                    f"batch = {args.batch}\n{spool}"
                    + bus_section(nats.url))
        self.proc = Proc(self.name, [args.bin, "sensor", "--config", self.cfg], tmp)
        procs.append(self.proc)
        self.events = os.path.join(self.data, "events.jsonl")
        self._offset = 0
        self._ids = []
        self.proc.wait_ready(self.proc.ready_line, "ready line")

    def accepted_ids(self):
        """Sighting ids of every `250` so far, from the event log (read incrementally)."""
        try:
            with open(self.events, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return self._ids
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for line in chunk[:end].splitlines():
            if b'"spamhattan.message.stored"' in line:
                try:
                    self._ids.append(json.loads(line)["sighting"])
                except (ValueError, KeyError):
                    pass
        return self._ids

    def metrics(self):
        return prom_values(http_get(f"http://127.0.0.1:{self.http}/metrics", timeout=1.0))

    def accepted(self, metrics):
        """(captured so far, unforwarded now): /metrics, else the event log and unknown."""
        captured = prom_sum(metrics, CAPTURED)
        if captured is None:
            return len(self.accepted_ids()), None
        return int(captured), prom_sum(metrics, UNFORWARDED)


def check_args(args):
    if not os.path.exists(args.bin):
        sys.exit(f"no binary at {args.bin} (cargo build -p spamhattan; --bin PATH)")
    for name, value, low, top in [
            ("--count", args.count, 1, MAX_COUNT), ("--sessions", args.sessions, 1, MAX_SESSIONS),
            ("--sensors", args.sensors, 1, MAX_PROCESSES),
            ("--collectors", args.collectors, 1, MAX_PROCESSES),
            ("--seconds", args.seconds, 1, MAX_SECONDS),
            ("--drain-seconds", args.drain_seconds, 1, MAX_SECONDS),
            ("--size", args.size, 1, MAX_SIZE), ("--batch", args.batch, 1, 4096),
            ("--outage-at", args.outage_at, 0, MAX_SECONDS),
            ("--outage-for", args.outage_for, 0, MAX_SECONDS)]:
        if not low <= value <= top:
            sys.exit(f"{name} must be {low} to {top}, got {value}")
    if args.sessions < args.sensors:
        sys.exit("--sessions must be at least --sensors (one smtp-source per sensor)")
    if not 0.0 <= args.collector_cpu <= os.cpu_count():
        sys.exit(f"--collector-cpu must be between 0 and {os.cpu_count()}")
    if bool(args.outage_at) != bool(args.outage_for):
        sys.exit("--outage-at and --outage-for go together")


def interrupted(*_):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("SPAMHATTAN_BIN", "target/release/spamhattan"))
    ap.add_argument("--nats-server", default=shutil.which("nats-server") or "/usr/sbin/nats-server")
    ap.add_argument("--sensors", type=int, default=2)
    ap.add_argument("--collectors", type=int, default=1)
    ap.add_argument("--count", type=int, default=20_000, help="messages in total, over all sensors")
    ap.add_argument("--sessions", type=int, default=40, help="parallel SMTP sessions in total")
    ap.add_argument("--size", type=int, default=4096, help="smtp-source -l: payload bytes per message")
    ap.add_argument("--analysis", choices=["on", "off"], default="on")
    ap.add_argument("--workers", type=int, default=2, help="analysis threads per collector")
    ap.add_argument("--sandbox", choices=["auto", "required", "off"], default=None,
                    help="[analysis.sandbox] mode of the collectors (default: the config default)")
    ap.add_argument("--batch", type=int, default=256, help="[sensor] and [collector] batch")
    ap.add_argument("--max-spool-bytes", type=int, default=0,
                    help="[sensor] max_spool_bytes (0: the default, 8 GiB); past it MAIL gets 452 "
                         "and smtp-source is run with -A (go on after a refusal)")
    ap.add_argument("--outage-at", type=int, default=0,
                    help="stop nats-server this many seconds into the load (0: no outage)")
    ap.add_argument("--outage-for", type=int, default=0, help="... and start it again after this long")
    ap.add_argument("--seconds", type=int, default=300, help="hard bound on the load")
    ap.add_argument("--drain-seconds", type=int, default=300,
                    help="hard bound on waiting, after the load, for the collectors to store and analyse")
    ap.add_argument("--shared-store", action="store_true",
                    help="collectors share one data dir (one host), so a redelivery to "
                         "another collector is recognised")
    ap.add_argument("--postgres", default="",
                    help="libpq URL: the collectors share a PostgreSQL store (a fresh schema "
                         "bench_<pid> in that database, left there for inspection)")
    ap.add_argument("--strict", action="store_true",
                    help="fail also when a message was stored by two collectors (see the end state)")
    ap.add_argument("--collector-cpu", type=float, default=0.0,
                    help="hold each collector (and its analysis children) to this many cores with "
                         "a cgroup cpu quota, as on a smaller host of its own (0: no quota)")
    ap.add_argument("--probe", choices=["metrics", "store"], default="metrics",
                    help="where the per-second counts come from: the collectors' /metrics "
                         "(default; checked against `store stats` once at the end) or `store "
                         "stats --json` every second (what builds without "
                         "spamhattan_messages_clustered_total need)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs, stores)")
    args = ap.parse_args()
    args.postgres_schema = f"bench_{os.getpid()}" if args.postgres else ""
    check_args(args)
    smtp_source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not os.path.exists(smtp_source):
        sys.exit("smtp-source missing: apt-get install postfix (No configuration; see bench/lib.sh)")
    if not os.path.exists(args.nats_server):
        sys.exit("nats-server missing: apt-get install nats-server")
    # SIGTERM/SIGHUP end the run through the finally below, like Ctrl-C.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)

    tmp = tempfile.mkdtemp(prefix="spamhattan-bus-bench-")
    procs, loaders = [], []
    ok = False
    try:
        nats = Nats(args.nats_server, tmp, procs)
        collectors = [Collector(i, args, tmp, nats, procs) for i in range(args.collectors)]
        sensors = [Sensor(i, args, tmp, nats, procs) for i in range(args.sensors)]
        ok = run(args, smtp_source, nats, collectors, sensors, loaders, tmp)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        for lo in loaders:
            if lo.poll() is None:
                lo.kill()
                lo.wait()
        for p in reversed(procs):
            p.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def start_loaders(args, smtp_source, sensors, loaders, tmp):
    n = len(sensors)
    for i, s in enumerate(sensors):
        count = args.count // n + (1 if i < args.count % n else 0)
        sessions = args.sessions // n + (1 if i < args.sessions % n else 0)
        err = open(os.path.join(tmp, f"smtp-source{i}.err"), "wb")
        loaders.append(subprocess.Popen(
            [smtp_source, "-d", *(["-A"] if args.max_spool_bytes else []),
             "-s", str(sessions), "-m", str(count), "-l", str(args.size),
             "-f", "bulk@src.example", "-t", f"trap@{TRAP_DOMAIN}", f"127.0.0.1:{s.smtp}"],
            stdout=subprocess.DEVNULL, stderr=err))


class Sampler:
    """One row per second: accepted, unforwarded, in stream, stored, analysed, pending,
    unclustered (reports not yet in a campaign)."""

    def __init__(self, nats, sensors, collectors, t0, args):
        self.nats, self.sensors, self.collectors, self.t0 = nats, sensors, collectors, t0
        self.probe, self.analysis = args.probe, args.analysis == "on"
        self.rows = []
        self.peak = {"unforwarded": 0, "stream": 0, "in_flight": 0, "pending": 0}

    def sample(self):
        accepted, unforwarded = 0, None
        for s in self.sensors:
            a, u = s.accepted(s.metrics())
            accepted += a
            if u is not None:
                unforwarded = (unforwarded or 0) + u
        streams = self.nats.streams()
        in_stream = None if streams is None else streams.get(STREAM)
        if self.probe == "metrics":
            stored, analysed, pending, unclustered = self.collector_counts()
        else:
            stored = analysed = pending = unclustered = 0
            for c in stores(self.collectors):
                st = c.stats()
                stored += st.get("sightings", 0) or 0
                analysed += st.get("reports", 0) or 0
                pending += st.get("pending_jobs", 0) or 0
                unclustered += st.get("unclustered_reports", 0) or 0
        row = (time.monotonic() - self.t0, accepted, unforwarded, in_stream, stored, analysed, pending,
               unclustered)
        self.rows.append(row)
        for key, value in [("unforwarded", unforwarded), ("stream", in_stream),
                           ("in_flight", accepted - stored), ("pending", pending)]:
            self.peak[key] = max(self.peak[key], value or 0)
        return row

    def collector_counts(self):
        """(stored, analysed, pending jobs, not in a campaign) from the collectors' /metrics:
        stored by the bus consumer, reports saved, reports clustered, each counted after its
        commit. Reading them costs the store nothing; `store stats` counts whole tables every
        second, which on PostgreSQL took about 0.05 ms of server CPU per message of the run."""
        stored = analysed = clustered = 0
        for c in self.collectors:
            m = c.metrics()
            stored += sum(v for k, v in m.items() if k.startswith(RECEIVED + "{")
                          and 'kind="capture"' in k and 'outcome="stored"' in k)
            analysed += prom_sum(m, ANALYZED) or 0
            clustered += prom_sum(m, CLUSTERED) or 0
        stored, analysed, clustered = int(stored), int(analysed), int(clustered)
        if not self.analysis:
            return stored, 0, 0, 0
        return stored, analysed, max(stored - analysed, 0), max(analysed - clustered, 0)

    def first(self, cond):
        """Seconds after t0 of the first row meeting cond(row), or None."""
        return next((r[0] for r in self.rows if cond(r)), None)

    def print_table(self):
        print("| t s | accepted (sensors) | unforwarded (sensors) | in stream | stored (collectors) "
              "| analysed | pending jobs | not in a campaign |")
        print("|---|---|---|---|---|---|---|---|")
        step = max(1, len(self.rows) // 40)
        for i in sorted(set(range(0, len(self.rows), step)) | {len(self.rows) - 1}):
            t, a, u, st, sd, an, p, uc = self.rows[i]
            dash = lambda v: "-" if v is None else f"{v:.0f}"
            print(f"| {t:.0f} | {a} | {dash(u)} | {dash(st)} | {sd} | {an} | {p} | {uc} |")


def run(args, smtp_source, nats, collectors, sensors, loaders, tmp):
    cpu = CpuAccount({**{p.proc.p.pid: "sensors" for p in sensors},
                      **{p.proc.p.pid: "collectors" for p in collectors}})
    t0 = time.monotonic()
    start_loaders(args, smtp_source, sensors, loaders, tmp)
    sampler = Sampler(nats, sensors, collectors, t0, args)
    outage = None  # [stopped at, started at]

    def bus_outage():
        nonlocal outage
        t = time.monotonic() - t0
        if args.outage_at and outage is None and t >= args.outage_at:
            nats.stop()
            outage = [t, None]
        elif outage is not None and outage[1] is None and t >= outage[0] + args.outage_for:
            nats.start()
            outage[1] = time.monotonic() - t0

    deadline = t0 + args.seconds
    timed_out = False
    while any(lo.poll() is None for lo in loaders):
        if time.monotonic() > deadline:
            timed_out = True
            for lo in loaders:
                lo.kill()
            break
        dead = [p for p in sensors + collectors if not p.proc.alive()]
        if dead:
            print(f"{dead[0].name} died: {dead[0].proc.stderr_tail()}", file=sys.stderr)
            return False
        bus_outage()
        time.sleep(1)
        sampler.sample()
        cpu.sample()
    for lo in loaders:
        lo.wait()
    load_secs = time.monotonic() - t0
    _, accepted, _, _, stored, analysed, pending, unclustered = sampler.sample()
    accepted_at_load_end = accepted

    # Drain: the outage ends, everything accepted is stored (and analysed), nothing is left in
    # the stream (a delivery whose ack was lost comes back only after the consumer's ack wait,
    # 60 s by default, and may then be stored by another collector).
    drain_deadline = time.monotonic() + args.drain_seconds
    in_stream = None
    while time.monotonic() < drain_deadline:
        bus_outage()
        outage_over = not args.outage_at or (outage is not None and outage[1] is not None)
        if outage_over and stored >= accepted and in_stream == 0 and (
                args.analysis == "off"
                or (analysed >= stored and pending == 0 and unclustered == 0)):
            break
        time.sleep(1)
        _, accepted, _, in_stream, stored, analysed, pending, unclustered = sampler.sample()
        cpu.sample()
    stored_secs = sampler.first(lambda r: r[4] >= accepted)
    analysed_secs = sampler.first(lambda r: r[5] >= accepted and r[6] == 0)
    clustered_secs = sampler.first(lambda r: r[5] >= accepted and r[6] == 0 and r[7] == 0)

    cpu.finish()
    sensor_metrics = [s.metrics() for s in sensors]
    collector_metrics = [c.metrics() for c in collectors]
    # The per-second counts came from /metrics: the stores must say the same at the end.
    probe_agrees = True
    if args.probe == "metrics":
        totals = [c.stats() for c in stores(collectors)]
        in_store = tuple(sum(t.get(k, 0) or 0 for t in totals)
                         for k in ("sightings", "reports", "pending_jobs", "unclustered_reports"))
        from_metrics = (stored, analysed, pending, unclustered)
        probe_agrees = in_store == from_metrics or args.analysis == "off"
        if not probe_agrees:
            print(f"the stores (sightings, reports, pending jobs, not in a campaign) {in_store} "
                  f"differ from the collectors' /metrics {from_metrics}", file=sys.stderr)
    streams = nats.streams() or {}
    # Stop the sensors first: their event logs are complete once they have exited.
    for s in sensors:
        s.proc.stop()
    sensor_ids = [i for s in sensors for i in s.accepted_ids()]
    per_collector = [c.sighting_ids(len(sensor_ids) * 2 + 100) for c in stores(collectors)]
    stored_ids = [i for ids in per_collector for i in ids]

    print(f"\nbus bench: {len(sensors)} sensor(s), {len(collectors)} collector(s), "
          f"{args.sessions} smtp-source sessions, {args.count} messages of {args.size} B payload, "
          f"analysis {args.analysis}"
          + (f" ({args.workers} threads per collector)" if args.analysis == "on" else "")
          + f", batch {args.batch}"
          + (f", bus down from {outage[0]:.0f} s to {outage[1]:.0f} s" if outage and outage[1] else "")
          + f", binary {args.bin}\n")
    sampler.print_table()
    rate = lambda k, secs: f"{k / secs:.0f} msg/s" if secs else "-"
    print(f"\naccepted at the sensors: {accepted_at_load_end} in {load_secs:.1f} s = "
          f"{rate(accepted_at_load_end, load_secs)}"
          + (" (load cut at --seconds)" if timed_out else ""))
    if stored_secs is not None:
        print(f"stored at the collectors: all {accepted} stored {stored_secs:.1f} s after the start "
              f"= {rate(accepted, stored_secs)} end to end")
    else:
        print(f"stored at the collectors: {stored} of {accepted} within --drain-seconds")
    if args.analysis == "on":
        print(f"analysed: all {accepted} {analysed_secs:.1f} s after the start = "
              f"{rate(accepted, analysed_secs)}" if analysed_secs is not None else
              f"analysed: {analysed} of {accepted}, {pending} jobs pending at the end")
        print(f"clustered: all {accepted} in campaigns {clustered_secs:.1f} s after the start = "
              f"{rate(accepted, clustered_secs)}" if clustered_secs is not None else
              f"clustered: {unclustered} reports not in a campaign at the end")
    pk = sampler.peak
    print(f"peak backlog: {pk['unforwarded']:.0f} unforwarded at the sensors, {pk['stream']:.0f} in "
          f"the stream, {pk['in_flight']} accepted but not yet stored, {pk['pending']} analysis "
          f"jobs pending")
    for s, m in zip(sensors, sensor_metrics):
        print(f"  {s.name}: {bus_metrics(m)}")
    for c, m in zip(collectors, collector_metrics):
        print(f"  {c.name}: {bus_metrics(m)}")
    cpu.print(accepted)

    sensor_set, stored_set = set(sensor_ids), set(stored_ids)
    # Twice in one store is a bug (ingest is idempotent on the sighting id). Twice over two
    # collectors happens when a collector's ack was lost (bus restart) and the redelivery went to
    # another collector: separate SQLite stores cannot see each other's sightings.
    within = sum(len(ids) - len(set(ids)) for ids in per_collector)
    across = len(stored_ids) - len(stored_set) - within
    missing = len(sensor_set - stored_set)
    extra = len(stored_set - sensor_set)
    dropped = sum(prom_sum(m, EVENTS_DROPPED) or 0 for m in sensor_metrics)
    dead = streams.get(f"{STREAM}_DEAD", 0)
    print(f"\nend state: {len(sensor_set)} sightings accepted (sensor event logs; "
          f"{accepted} by /metrics), {len(stored_ids)} stored over all collectors, {missing} "
          f"missing, {within} stored twice by one collector, {across} stored by two collectors, "
          f"{extra} stored but absent from the event logs ({dropped:.0f} events dropped), "
          f"{dead} dead letters, {streams.get(STREAM, '?')} left in the stream")
    if across:
        print("  stored by two collectors: redeliveries after acks lost in a bus outage, each "
              "stored by another collector than the first (per-collector stores; a shared store "
              "would keep one)")
    for i, _ in enumerate(loaders):
        with open(os.path.join(tmp, f"smtp-source{i}.err"), "rb") as f:
            err = f.read().decode(errors="replace").strip()
        lines = err.splitlines()
        refused = sum(1 for line in lines if ": 452 " in line)
        if refused:
            print(f"smtp-source{i}: {refused} refusals with 452 (spool budget or free disk)")
        other = [line for line in lines if ": 452 " not in line]
        if other:
            print(f"smtp-source{i}: " + "\n  ".join(other[-5:]))
    once = within == 0 and across == 0 and missing == 0 and len(stored_ids) == accepted
    ok = (within == 0 and missing == 0 and extra <= dropped and dead == 0
          and len(stored_set) == accepted and stored_secs is not None
          and (args.analysis == "off" or analysed_secs is not None) and probe_agrees
          and (across == 0 or not args.strict))
    print("OK: every accepted message was stored exactly once" if ok and once else
          "OK: every accepted message was stored, some by two collectors (see above)" if ok else
          "FAILED")
    return ok


if __name__ == "__main__":
    main()
