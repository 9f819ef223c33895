#!/usr/bin/env python3
"""spamhattan SMTP benchmark harness (stdlib only; driven by the bench/*.sh wrappers).

Subcommands:
  matrix [--quick]   smtp-source (and smtp-pipe-source) against spamhattan, smtp-sink and a
                     private Postfix MTA in one run, interleaved; prints one markdown table.
  idle               10,000 idle connections held against spamhattan while smtp-source loads it.
  smoke              tiny version of both, for CI: every tool must run and every message be stored.

Everything listens on and connects to 127.0.0.0/8 only. Counts and times are bounded. Every
process this script starts is stopped by its own PID (Postfix with `postfix -c DIR stop`) when it
exits, also on failure or SIGTERM/SIGINT.

Measurement (per run):
  msgs/s        = messages / wall time of the load client (smtp-source or smtp-pipe-source)
  server CPU s  = utime+stime+cutime+cstime summed over the server's process tree (/proc), delta
  peak RSS MiB  = largest VmHWM in the server's process tree; VmHWM is reset before each run by
                  writing 5 to /proc/PID/clear_refs
  tree Pss MiB  = sum of Pss (smaps_rollup) over the server's tree right after the run
  bg CPU s      = machine-wide busy CPU during the run minus client and server (noise indicator)
  stored        = spamhattan: delta of `spamhattan store stats --json` sightings;
                  Postfix: delta of files in its Maildir (waited for, since delivery is async);
                  smtp-sink: discards ("-")
"""
import argparse
import atexit
import json
import os
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
HELO = "src.example"
FROM = "spammer@src.example"
RCPT = "trap@trap.example"
TRAP_DOMAIN = "trap.example"
MAX_COUNT = 200000
CLK_TCK = os.sysconf("SC_CLK_TCK")
NICE = int(os.environ.get("NICE", "0"))

_cleanups = []  # LIFO list of callables run at exit


def record_started(kind, what):
    """Note what we started in $BENCH_STATE so the shell wrapper's EXIT trap can stop leftovers."""
    path = os.environ.get("BENCH_STATE")
    if path:
        with open(path, "a") as f:
            f.write(f"{kind} {what}\n")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep stopping the rest
            log(f"cleanup error: {e}")


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


atexit.register(run_cleanups)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


# ----------------------------------------------------------------------------------------------
# /proc measurement
def _proc_table():
    st, kids = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(p)
        st[pid] = fields
        kids.setdefault(int(fields[1]), []).append(pid)
    return st, kids


def proc_tree(root):
    st, kids = _proc_table()
    tree = [root] if root in st else []
    i = 0
    while i < len(tree):
        tree += kids.get(tree[i], [])
        i += 1
    return tree, st


def procstat(root, reset=False, pss=False):
    """-> dict(cpu_s, hwm_kb (max over tree), pss_kb (sum, if pss), nprocs)"""
    tree, st = proc_tree(root)
    cpu = sum(int(st[p][11]) + int(st[p][12]) + int(st[p][13]) + int(st[p][14]) for p in tree) / CLK_TCK
    hwm, pss_sum = [], 0
    for p in tree:
        try:
            if reset:
                with open(f"/proc/{p}/clear_refs", "w") as c:
                    c.write("5")
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm.append(int(line.split()[1]))
            if pss:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            pss_sum += int(line.split()[1])
        except OSError:
            pass
    return {"cpu_s": cpu, "hwm_kb": max(hwm, default=0), "pss_kb": pss_sum, "nprocs": len(tree)}


def busy_s():
    with open("/proc/stat") as f:
        v = f.readline().split()
    return (int(v[1]) + int(v[2]) + int(v[3]) + int(v[6]) + int(v[7]) + int(v[8])) / CLK_TCK


def wait_quiet(max_wait_s, pct=15):
    """Wait (bounded) until the machine is quiet: busy < pct % of all CPUs over 1 s."""
    deadline = time.time() + max_wait_s
    ncpu = os.cpu_count() or 1
    while True:
        b0 = busy_s()
        time.sleep(1)
        used = (busy_s() - b0) * 100 / ncpu
        if used < pct or time.time() >= deadline:
            return used


def listening(port):
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return "LISTEN" in out


def wait_listen(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if listening(port):
            return True
        time.sleep(0.1)
    return False


def nice_cmd(cmd):
    return ["nice", "-n", str(NICE)] + cmd if NICE else cmd


def stop_pid(proc_or_pid, name, sig=signal.SIGTERM, grace=15):
    """Stop one process we started, by PID: SIGTERM, wait, then SIGKILL."""
    if isinstance(proc_or_pid, subprocess.Popen):
        p = proc_or_pid
        if p.poll() is not None:
            return p.returncode
        p.send_signal(sig)
        try:
            return p.wait(grace)
        except subprocess.TimeoutExpired:
            log(f"{name} (pid {p.pid}) did not stop in {grace}s, SIGKILL")
            p.kill()
            return p.wait(5)
    return None


# ----------------------------------------------------------------------------------------------
# servers
class Server:
    name = "?"
    port = 0
    stores = False
    pid = None

    def count(self):  # stored messages so far (None: does not store)
        return None

    def settle(self, want, timeout):
        """Wait until count() >= want (bounded); return the count."""
        n = self.count()
        if n is None:
            return None
        deadline = time.time() + timeout
        while n < want and time.time() < deadline:
            time.sleep(0.2)
            n = self.count()
        return n

    def before_run(self):
        pass


class Spamhattan(Server):
    stores = True

    def __init__(self, binary, port, workdir, extra_config=""):
        self.name = "spamhattan"
        self.bin, self.port = binary, port
        self.dir = os.path.join(workdir, "spamhattan")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.config = os.path.join(self.dir, "spamhattan.toml")
        with open(self.config, "w") as f:
            f.write(
                f'hostname = "mx.trap.example"\n'
                f'data_dir = "{self.data}"\n'
                f'trap_domains = ["{TRAP_DOMAIN}"]\n\n'
                f'[[listener]]\naddress = "{HOST}:{port}"\ntls = "starttls"\n\n'
                f"[limits]\nmax_connections = 20000\nmax_connections_per_ip = 100000\n\n"
                # `serve` queues one analysis job per message and answers MAIL with 452 once
                # 100,000 are pending (store default); a full matrix sends more than that, so the
                # bench raises the cap. Capture durability is not affected.
                f"[store]\nmax_backlog = 100000000\n"
                + extra_config
            )
        self.proc = None
        self.ready_line = None

    def cmdline(self):
        return [self.bin, "serve", "--config", self.config]

    def start(self, ready_timeout=60):
        if listening(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        self.stdout_log = os.path.join(self.dir, "stdout.log")
        self.stderr_log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(nice_cmd(self.cmdline()), stdout=subprocess.PIPE,
                                     stderr=self.stderr_log, stdin=subprocess.DEVNULL)
        _cleanups.append(self.stop)
        self.pid = self.proc.pid
        record_started("pid", self.pid)
        # wait for the ready line on stdout (bounded), not for a fixed sleep
        deadline = time.time() + ready_timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise RuntimeError(f"spamhattan did not print its ready line within {ready_timeout}s")
            r, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not r:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"spamhattan exited with {self.proc.returncode} before ready: "
                                       + self._tail_stderr())
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"spamhattan closed stdout before ready: {self._tail_stderr()}")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("ready") is True:
                    self.ready_line = line.decode()
                    self._drain(buf)
                    return self.pid

    def _drain(self, first):
        """Keep reading stdout into a file so the server never blocks on a full pipe."""
        def pump(src=self.proc.stdout, path=self.stdout_log, first=first):
            with open(path, "ab") as out:
                out.write(first)
                for chunk in iter(lambda: src.read1(65536), b""):
                    out.write(chunk)
        threading.Thread(target=pump, daemon=True).start()

    def _tail_stderr(self):
        try:
            with open(self.stderr_log.name, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            rc = stop_pid(self.proc, "spamhattan")
            log(f"spamhattan (pid {self.proc.pid}) stopped, exit status {rc}")

    def cli(self, *args, timeout=120):
        r = subprocess.run([self.bin, *args, "--data-dir", self.data], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"spamhattan {' '.join(args)} failed ({r.returncode}): {r.stderr[-500:]}")
        return r.stdout

    def count(self):
        out = self.cli("store", "stats", "--json").strip()
        try:
            obj = json.loads(out)
        except ValueError:
            obj = json.loads(out.splitlines()[-1])
        n = _find_key(obj, "sightings")
        if n is None:
            raise RuntimeError(f"no 'sightings' in `spamhattan store stats --json` output: {out[:300]}")
        return int(n)

    def count_messages_list(self):
        out = self.cli("messages", "list", "--json", "--limit", "1000000", timeout=600)
        return sum(1 for line in out.splitlines() if line.strip())


def _find_key(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = _find_key(v, key)
            if r is not None:
                return r
    return None


class SmtpSink(Server):
    """Postfix smtp-sink: accepts and discards (the no-storage limit)."""

    def __init__(self, port, workdir, max_conc=1024, pipelining=True):
        self.name = "smtp-sink"
        self.port = port
        self.dir = os.path.join(workdir, "smtp-sink")
        os.makedirs(self.dir, exist_ok=True)
        self.max_conc, self.pipelining = max_conc, pipelining
        self.proc = None

    def start(self):
        if listening(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        opts = ["-u", "nobody", "-m", str(self.max_conc)] + ([] if self.pipelining else ["-p"])
        self.proc = subprocess.Popen(nice_cmd(["smtp-sink", *opts, f"{HOST}:{self.port}", "1024"]),
                                     stdout=open(os.path.join(self.dir, "sink.log"), "ab"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _cleanups.append(self.stop)
        self.pid = self.proc.pid
        record_started("pid", self.pid)
        if not wait_listen(self.port):
            raise RuntimeError("smtp-sink did not start listening")
        return self.pid

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_pid(self.proc, "smtp-sink")
            log(f"smtp-sink (pid {self.proc.pid}) stopped")


class PostfixMTA(Server):
    """A private Postfix instance in a temp dir: catch-all for trap.example into one Maildir.

    Own config dir and queue, listens only on 127.0.0.1:PORT, nothing local, nothing relayed
    (reject_unauth_destination; default/relay transports are `error:`), no DNS lookups of
    clients, logs to a file. The Debian package's default instance is never touched.
    """
    stores = True

    def __init__(self, port, workdir):
        self.name = "postfix-mta"
        self.port = port
        self.run = os.path.join(workdir, "postfix")
        self.etc = os.path.join(self.run, "etc")
        self.spool = os.path.join(self.run, "spool")
        self.vmail = os.path.join(self.run, "vmail")
        self.store = os.path.join(self.vmail, "trap")
        self.started = False

    def configure(self):
        for d in (self.etc, self.spool, os.path.join(self.run, "data"), self.store):
            os.makedirs(d, exist_ok=True)
        import grp
        import pwd
        nobody = pwd.getpwnam("nobody").pw_uid
        nogroup = grp.getgrnam("nogroup").gr_gid
        for root, dirs, files in os.walk(self.vmail):
            os.chown(root, nobody, nogroup)
        shutil.chown(os.path.join(self.run, "data"), user="postfix")
        # temp dirs from mkdtemp are 0700: postfix's unprivileged processes need to traverse
        for d in (os.path.dirname(self.run), self.run):
            os.chmod(d, 0o755)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {self.spool}
data_directory = {self.run}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.run}/maillog
maillog_file_prefixes = {self.run}
myhostname = mx.trap.example
mydomain = trap.example
myorigin = $myhostname
smtpd_banner = $myhostname ESMTP
inet_interfaces = {HOST}
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
relay_domains =
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
default_transport = error:spamtrap does not relay
relay_transport = error:spamtrap does not relay
smtpd_peername_lookup = no
virtual_mailbox_domains = {TRAP_DOMAIN}
virtual_mailbox_base = {self.vmail}
virtual_mailbox_maps = static:trap/
virtual_uid_maps = static:{nobody}
virtual_gid_maps = static:{nogroup}
smtpd_client_event_limit_exceptions = 127.0.0.0/8
""")
        services = [
            f"{HOST}:{self.port} inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr", "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush", "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap", "showq unix n - n - - showq",
            "error unix - - n - - error", "retry unix - - n - - error",
            "discard unix - - n - - discard", "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("\n".join(services) + "\n")
        subprocess.run(["postfix", "-c", self.etc, "check"], check=True)

    def master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self):
        if listening(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        self.configure()
        _cleanups.append(self.stop)
        record_started("postfix", self.etc)
        subprocess.run(nice_cmd(["postfix", "-c", self.etc, "start"]), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started = True
        if not wait_listen(self.port, 15):
            raise RuntimeError("postfix did not start listening: see " + self.run + "/maillog")
        self.pid = self.master_pid()
        return self.pid

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        subprocess.run(["postfix", "-c", self.etc, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if pid is None or not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.1)
        else:
            log(f"postfix master {pid} still alive after stop, SIGKILL")
            os.kill(pid, signal.SIGKILL)
        self.started = False
        log(f"postfix instance {self.etc} stopped (master pid {pid})")

    def count(self):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.store, sub)))
            except FileNotFoundError:
                pass
        return n

    def before_run(self):
        # keep the Maildir small between runs (server is idle: the previous run was settled)
        for sub in ("new", "cur"):
            d = os.path.join(self.store, sub)
            if os.path.isdir(d):
                for fn in os.listdir(d):
                    os.unlink(os.path.join(d, fn))
        self.removed = True


# ----------------------------------------------------------------------------------------------
# load clients
class Case:
    def __init__(self, sessions, size, keep, count, client="smtp-source", pipelining=False):
        self.sessions, self.size, self.keep, self.count = sessions, size, keep, count
        self.client, self.pipelining = client, pipelining

    @property
    def label(self):
        k = "keep" if self.keep else "new/msg"
        s = f"{self.size // 1024}k"
        c = "" if self.client == "smtp-source" else (" pipelined" if self.pipelining else " lock-step(pipe-src)")
        return f"{self.sessions} sess, {s}, {k}{c}"

    def command(self, port, pipe_src=None):
        assert self.count <= MAX_COUNT
        if self.client == "smtp-source":
            cmd = ["smtp-source", "-s", str(self.sessions), "-m", str(self.count), "-l", str(self.size),
                   "-M", HELO, "-f", FROM, "-t", RCPT]
            if self.keep:
                cmd.append("-d")
        else:
            cmd = [pipe_src, "-s", str(self.sessions), "-m", str(self.count), "-l", str(self.size),
                   "-P", "1" if self.pipelining else "0", "-T", "300", "-f", FROM, "-t", RCPT]
            if not self.keep:
                cmd.append("-n")
        return nice_cmd(cmd + [f"{HOST}:{port}"])


def run_load(server, case, pipe_src=None, timeout=600, quiet_wait=0, settle_s=120):
    """One measured run of `case` against `server`. Returns a result dict."""
    server.before_run()
    if server.stores:
        if isinstance(server, PostfixMTA):
            subprocess.run(["sync"])
            time.sleep(1)
    base = server.count() if server.stores else None
    if quiet_wait:
        wait_quiet(quiet_wait)
    s0 = procstat(server.pid, reset=True)
    b0 = busy_s()
    cmd = case.command(server.port, pipe_src)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += b"\n(timeout)"
    wall = time.monotonic() - t0
    b1 = busy_s()
    # client CPU: the children rusage grows by exactly this child (no other child ran meanwhile)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    s1 = procstat(server.pid, pss=True)
    stored = None
    if server.stores:
        n = server.settle(base + case.count, settle_s)
        stored = n - base
    srv_cpu = s1["cpu_s"] - s0["cpu_s"]
    res = {
        "server": server.name, "case": case.label, "rc": p.returncode, "wall_s": round(wall, 3),
        "msgs_per_s": case.count / wall if wall > 0 else 0, "count": case.count,
        "server_cpu_s": round(srv_cpu, 2), "client_cpu_s": round(client_cpu, 2),
        "hwm_mib": round(s1["hwm_kb"] / 1024, 1), "pss_mib": round(s1["pss_kb"] / 1024, 1),
        "procs": s1["nprocs"], "bg_cpu_s": round(max(0.0, b1 - b0 - client_cpu - srv_cpu), 2),
        "stored": stored, "stderr": err.decode(errors="replace")[-400:],
        "stdout": out.decode(errors="replace")[-400:],
    }
    if case.client != "smtp-source":
        # smtp-pipe-source reports msgs= and failures= on stdout
        kv = dict(x.split("=", 1) for x in res["stdout"].split() if "=" in x)
        res["client_msgs"] = int(kv.get("msgs", -1))
        res["pipelining_used"] = kv.get("pipelining")
    return res


def fmt_rate(x):
    return f"{x:,.0f}"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# ----------------------------------------------------------------------------------------------
def find_pipe_source(workdir):
    """Compile ../shared/peers/smtp-pipe-source.c (team-shared load client) into workdir."""
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [os.environ.get("PIPE_SOURCE_C", ""),
             os.path.join(here, "..", "..", "shared", "peers", "smtp-pipe-source.c"),
             "/work/shared/peers/smtp-pipe-source.c"]
    for c in cands:
        if c and os.path.isfile(c):
            out = os.path.join(workdir, "smtp-pipe-source")
            subprocess.run(["cc", "-O2", "-o", out, c], check=True)
            return out, os.path.realpath(c)
    return None, None


def compile_idle_client(workdir):
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(workdir, "idle-conns")
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(here, "idle-conns.c")], check=True)
    return out


def make_workdir():
    base = os.environ.get("BENCH_TMPDIR") or None
    d = tempfile.mkdtemp(prefix="spamhattan-bench.", dir=base)
    if os.environ.get("KEEP_WORKDIR") != "1":
        _cleanups.insert(0, lambda: shutil.rmtree(d, ignore_errors=True))
    else:
        log(f"work dir kept: {d}")
    return d


def git_rev():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def machine_line():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPU ({model}), {mem:.0f} GiB RAM, kernel {os.uname().release}"


def tool_versions(binary):
    v = {}
    try:
        v["postfix"] = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True,
                                      text=True).stdout.strip()
    except OSError:
        pass
    try:
        v["spamhattan"] = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                         timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return v


def print_header(title, binary):
    print(f"## {title}\n")
    print(f"- date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}; git commit: {git_rev()}")
    print(f"- machine: {machine_line()}")
    print(f"- versions: {tool_versions(binary)}; nice {NICE}")
    print()


# ----------------------------------------------------------------------------------------------
def print_tables(results, labels, names):
    """Markdown tables from per-run result dicts (the same as in matrix-raw.jsonl)."""
    print("| server | case | msgs | msgs/s | ratio to smtp-sink | server CPU s | CPU ms/msg | peak RSS MiB | tree Pss MiB | stored check | bg CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label in labels:
        sink_rates = [r["msgs_per_s"] for r in results if r["server"] == "smtp-sink" and r["case"] == label]
        for name in names:
            rs = [r for r in results if r["server"] == name and r["case"] == label]
            if not rs:
                continue
            count = rs[0]["count"]
            rates = [r["msgs_per_s"] for r in rs]
            med = median(rates)
            ratio = med / median(sink_rates) if sink_rates else float("nan")
            cpu = median([r["server_cpu_s"] for r in rs])
            if rs[0]["stored"] is not None:
                good = sum(1 for r in rs if r["stored"] == count)
                stored = f"{good}/{len(rs)} runs: all {count} stored"
            else:
                stored = "discards"
            if any(r["rc"] != 0 for r in rs):
                stored += f"; {sum(1 for r in rs if r['rc'] != 0)} client failures"
            print(f"| {name} | {label} | {count} | {fmt_rate(med)} ({fmt_rate(min(rates))}–{fmt_rate(max(rates))}) "
                  f"| {ratio:.2f} | {cpu:.2f} | {1000 * cpu / count:.3f} | {max(r['hwm_mib'] for r in rs):.1f} "
                  f"| {max(r['pss_mib'] for r in rs):.1f} | {stored} | {median([r['bg_cpu_s'] for r in rs]):.2f} |")
    print()
    # compact ratios: spamhattan against the no-storage limit and against the storing peer
    peer = "postfix-mta" if "postfix-mta" in names else None
    print("| case | spamhattan msgs/s | ÷ smtp-sink | " + ("÷ Postfix MTA |" if peer else "") + " spamhattan CPU ms/msg |")
    print("|---|---|---|" + ("---|" if peer else "") + "---|")
    for label in labels:
        def med_of(name, key="msgs_per_s"):
            return median([r[key] for r in results if r["server"] == name and r["case"] == label])
        rs = [r for r in results if r["server"] == "spamhattan" and r["case"] == label]
        if not rs:
            continue
        sh = med_of("spamhattan")
        row = f"| {label} | {fmt_rate(sh)} | {sh / med_of('smtp-sink'):.2f} |"
        if peer:
            row += f" {sh / med_of(peer):.2f} |"
        row += f" {1000 * med_of('spamhattan', 'server_cpu_s') / rs[0]['count']:.3f} |"
        print(row)


def print_targets(results):
    print("Target (issue): spamhattan ≥ 0.6× smtp-sink msgs/s at 100 sessions, 4 KiB, full durability:\n")
    for keep in (True, False):
        lbl = Case(100, 4096, keep, 0).label
        if not any(r["case"] == lbl for r in results):
            continue
        sh = median([r["msgs_per_s"] for r in results if r["server"] == "spamhattan" and r["case"] == lbl])
        k = median([r["msgs_per_s"] for r in results if r["server"] == "smtp-sink" and r["case"] == lbl])
        print(f"- {lbl}: {fmt_rate(sh)} / {fmt_rate(k)} = **{sh / k:.2f}×** → {'PASS' if sh / k >= 0.6 else 'FAIL'}")
    print()


def cmd_report(a):
    """Re-print the matrix tables from raw JSON lines (BENCH_OUT_DIR/matrix-raw.jsonl)."""
    results = [json.loads(line) for line in open(a.raw) if line.strip()]
    labels, names = [], []
    for r in results:
        if r["case"] not in labels:
            labels.append(r["case"])
        if r["server"] not in names:
            names.append(r["server"])
    reps = sorted({r.get("rep", 0) for r in results})
    print(f"Report from {a.raw}: {len(results)} runs, repeats {[x + 1 for x in reps]}\n")
    print_tables(results, labels, names)
    print()
    print_targets(results)
    return 0


def cmd_matrix(a):
    quick = a.quick
    repeats = a.repeats or (1 if quick else 3)
    scale = 5 if quick else 1
    counts = {  # per (size, keep): same count for every server, so each case is comparable
        (4096, True): 10000, (4096, False): 5000, (65536, True): 5000, (65536, False): 3000}
    if a.count:
        counts = {k: a.count for k in counts}
    sessions = [int(x) for x in a.sessions.split(",")]
    sizes = [int(x) for x in a.sizes.split(",")]
    modes = [m == "keep" for m in a.modes.split(",")]
    cases = []
    for keep in modes:
        for size in sizes:
            for sess in sessions:
                n = counts.get((size, keep), a.count or 5000)
                cases.append(Case(sess, size, keep, max(200, n // scale)))
    workdir = make_workdir()
    pipe_src, pipe_c = find_pipe_source(workdir)
    pipe_cases = []
    if pipe_src and not a.no_pipe:
        n = max(200, (a.count or 10000) // scale)
        for sess in sessions:
            pipe_cases += [Case(sess, 4096, True, n, "smtp-pipe-source", True),
                           Case(sess, 4096, True, n, "smtp-pipe-source", False)]
    servers = []
    sink = SmtpSink(a.sink_port, workdir)
    sink.start()
    servers.append(sink)
    shm = Spamhattan(a.bin, a.port, workdir)
    shm.start()
    servers.append(shm)
    if not a.no_postfix:
        pf = PostfixMTA(a.postfix_port, workdir)
        pf.start()
        servers.append(pf)
    log(f"servers: " + ", ".join(f"{s.name} pid {s.pid} port {s.port}" for s in servers))
    log(f"spamhattan ready: {shm.ready_line}")
    results = []
    raw = open(os.path.join(a.out_dir, "matrix-raw.jsonl"), "a") if a.out_dir else None
    failures = []
    t_start = time.time()
    for rep in range(repeats):
        for case in cases + pipe_cases:
            order = servers[rep % len(servers):] + servers[:rep % len(servers)]  # rotate the order
            for srv in order:
                r = run_load(srv, case, pipe_src, quiet_wait=a.quiet_wait)
                r["rep"] = rep
                results.append(r)
                line = (f"rep={rep} {srv.name:11} {case.label:32} rc={r['rc']} {fmt_rate(r['msgs_per_s']):>7} msgs/s "
                        f"wall={r['wall_s']}s srv_cpu={r['server_cpu_s']}s hwm={r['hwm_mib']}MiB "
                        f"stored={r['stored']} bg={r['bg_cpu_s']}s")
                log(line)
                if raw:
                    raw.write(json.dumps(r) + "\n")
                    raw.flush()
                ok = r["rc"] == 0 and (r["stored"] is None or r["stored"] == case.count)
                if case.client != "smtp-source":
                    ok = ok and r.get("client_msgs") == case.count
                if not ok:
                    failures.append(line + " | " + r["stderr"].strip().replace("\n", " / "))
    elapsed = time.time() - t_start
    # final store check for spamhattan: every message accepted in this run is in the store
    total_sent = sum(r["count"] for r in results if r["server"] == "spamhattan" and r["rc"] == 0)
    shm_stats = shm.count()
    shm_list = shm.count_messages_list() if not a.no_list else None
    print_header("SMTP throughput matrix" + (" (--quick)" if quick else ""), a.bin)
    print(f"- repeats: {repeats} (median shown, min–max in brackets), interleaved: every case runs against "
          f"every server in turn, server order rotated per repeat; matrix wall time {elapsed:.0f} s")
    print(f"- load: `smtp-source -s SESS -m COUNT -l SIZE [-d] -M {HELO} -f {FROM} -t {RCPT} {HOST}:PORT`"
          + (f"; pipelined rows: `smtp-pipe-source` compiled from {pipe_c}" if pipe_src else
             "; smtp-pipe-source not found (../shared/peers missing): pipelined rows skipped"))
    print(f"- servers: spamhattan `{' '.join(shm.cmdline())}` on {HOST}:{shm.port}; smtp-sink `-m 1024` on "
          f"{HOST}:{sink.port}" + ("" if a.no_postfix else f"; Postfix MTA (private instance, catch-all Maildir) on {HOST}:{a.postfix_port}"))
    print()
    print_tables(results, [c.label for c in cases + pipe_cases], [srv.name for srv in servers])
    print()
    print_targets(results)
    print(f"Store check: {total_sent} messages accepted by spamhattan in this run; `spamhattan store stats --json` "
          f"sightings = {shm_stats}" + (f"; `spamhattan messages list --json --limit 1000000 | wc -l` = {shm_list}"
                                        if shm_list is not None else ""))
    print()
    bad = shm_stats != total_sent or (shm_list is not None and shm_list != total_sent)
    if failures or bad:
        print("**FAILURES:**\n")
        for f in failures:
            print(f"- {f}")
        if bad:
            print(f"- store count mismatch: sent {total_sent}, stats {shm_stats}, list {shm_list}")
        return 1
    return 0


# ----------------------------------------------------------------------------------------------
class IdleClient:
    def __init__(self, binary, conns, port, nsrc=100, first_src="127.0.0.2", tlimit=900):
        self.cmd = [binary, "-n", str(conns), "-S", first_src, "-k", str(nsrc), "-T", str(tlimit),
                    f"{HOST}:{port}"]
        self.conns = conns
        self.proc = None

    def start(self, timeout=120):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        _cleanups.append(self.stop)
        record_started("pid", self.proc.pid)
        line = self._readline(timeout)
        if not line.startswith("ready"):
            raise RuntimeError(f"idle client did not get ready: {line!r} {self._stderr()}")
        self.ready = dict(x.split("=", 1) for x in line.split()[1:])
        return self.ready

    def _readline(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return ""
        return self.proc.stdout.readline().strip()

    def _stderr(self):
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read()[-1000:]

    def check(self):
        self.proc.stdin.write("check\n")
        self.proc.stdin.flush()
        line = self._readline(60)
        kv = dict(x.split("=", 1) for x in line.split()[1:])
        sample = None
        if int(kv.get("closed", 0)) > 0:
            s = self._readline(5)
            sample = s.split(":", 1)[1].strip() if s.startswith("closed_sample") else s
        kv["sample"] = sample
        return kv

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self.proc.stdin = None
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.bye = out.strip().splitlines()[-1] if out.strip() else ""
        self.err = err[-1000:]
        return self.bye


def vm_status(pid):
    d = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:", "Threads:")):
                k, v = line.split(":", 1)
                d[k] = int(v.split()[0])
    d["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return d


def cmd_idle(a, server=None, title="Idle connections under load"):
    workdir = make_workdir()
    client_bin = compile_idle_client(workdir)
    if server is None:
        if a.target == "smtp-sink":  # harness self-test without spamhattan
            server = SmtpSink(a.sink_port, workdir, max_conc=a.conns + 1000)
        else:
            server = Spamhattan(a.bin, a.port, workdir)
        server.start()
    log(f"{server.name} pid {server.pid} on port {server.port}")
    load = Case(a.sessions, 4096, True, a.count)
    t_begin = time.monotonic()
    procstat(server.pid, reset=True)
    base_count = server.count() if server.stores else None
    rep_base, rep_idle = [], []
    failures = []

    def one(tag, bucket):
        r = run_load(server, load, quiet_wait=a.quiet_wait)
        bucket.append(r)
        log(f"{tag}: {fmt_rate(r['msgs_per_s'])} msgs/s rc={r['rc']} srv_cpu={r['server_cpu_s']} "
            f"stored={r['stored']} bg={r['bg_cpu_s']}")
        if r["rc"] != 0 or (r["stored"] is not None and r["stored"] != load.count):
            failures.append(f"{tag}: rc={r['rc']} stored={r['stored']} {r['stderr'].strip()}")

    # baseline, then idle + loaded repeats, then baseline again (drift check)
    hwm_peak = 0
    nb_before = (a.repeats + 1) // 2
    for i in range(nb_before):
        one(f"baseline #{i + 1}", rep_base)
        hwm_peak = max(hwm_peak, vm_status(server.pid)["VmHWM"])
    st_before = vm_status(server.pid)
    idle = IdleClient(client_bin, a.conns, server.port, nsrc=a.sources)
    t_idle0 = time.monotonic()
    ready = idle.start()
    t_idle_ready = time.monotonic()
    time.sleep(1)
    st_idle = vm_status(server.pid)
    log(f"idle client ready: {ready}; server {st_idle}")
    for i in range(a.repeats):
        one(f"with {a.conns} idle #{i + 1}", rep_idle)
    st_loaded = vm_status(server.pid)
    chk = idle.check()
    held_s = time.monotonic() - t_idle_ready
    log(f"idle check after load: {chk} (held {held_s:.0f}s)")
    bye = idle.stop()
    time.sleep(1)
    st_after = vm_status(server.pid)
    for i in range(a.repeats - nb_before):
        one(f"baseline #{nb_before + i + 1}", rep_base)
    # run_load resets VmHWM at the start of each run, so take the max over every run's peak and
    # every snapshot (the idle connections stay held across the resets, so nothing is missed)
    hwm_peak = max([hwm_peak, st_idle["VmHWM"], st_loaded["VmHWM"], vm_status(server.pid)["VmHWM"]]
                   + [int(r["hwm_mib"] * 1024) for r in rep_base + rep_idle])
    total_s = time.monotonic() - t_begin
    stored_total = (server.count() - base_count) if server.stores else None
    sent_total = sum(r["count"] for r in rep_base + rep_idle if r["rc"] == 0)

    b = median([r["msgs_per_s"] for r in rep_base])
    l = median([r["msgs_per_s"] for r in rep_idle])
    ratio = l / b
    print_header(title, a.bin)
    print(f"- server: {server.name} pid {server.pid} on {HOST}:{server.port}"
          + (f", config `{server.config}` (limits: max_connections 20000, max_connections_per_ip 100000; idle timeout = server default)" if isinstance(server, Spamhattan) else ""))
    print(f"- idle client: `idle-conns -n {a.conns} -S 127.0.0.2 -k {a.sources} {HOST}:{server.port}` "
          f"(bind() to 127.0.0.2..127.0.0.{1 + a.sources}, each reads the 220 banner then sends nothing); "
          f"all banners after {ready.get('connect_s')} s; opened={ready.get('opened')} failed={ready.get('failed')}")
    print(f"- load: `smtp-source -s {a.sessions} -m {a.count} -l 4096 -d ...` × {a.repeats} without idle connections "
          f"({nb_before} before, {a.repeats - nb_before} after) and × {a.repeats} while they are held; file-descriptor limit "
          f"{os.sysconf('SC_OPEN_MAX')}")
    print()
    print("| phase | msgs/s median (min–max) | server VmRSS MiB | server fds | threads |")
    print("|---|---|---|---|---|")
    rb = [r["msgs_per_s"] for r in rep_base]
    ri = [r["msgs_per_s"] for r in rep_idle]
    print(f"| before idle connections | — | {st_before['VmRSS'] / 1024:.1f} | {st_before['fds']} | {st_before['Threads']} |")
    print(f"| {a.conns} idle held, no load | — | {st_idle['VmRSS'] / 1024:.1f} | {st_idle['fds']} | {st_idle['Threads']} |")
    print(f"| {a.conns} idle held + load | {fmt_rate(l)} ({fmt_rate(min(ri))}–{fmt_rate(max(ri))}) | {st_loaded['VmRSS'] / 1024:.1f} | {st_loaded['fds']} | {st_loaded['Threads']} |")
    print(f"| no idle connections (baseline) | {fmt_rate(b)} ({fmt_rate(min(rb))}–{fmt_rate(max(rb))}) | {st_after['VmRSS'] / 1024:.1f} | {st_after['fds']} | {st_after['Threads']} |")
    print()
    print(f"- server peak RSS (VmHWM over the whole test, reset at its start): **{hwm_peak / 1024:.1f} MiB** "
          f"(target ≤ 200 MiB → {'PASS' if hwm_peak / 1024 <= 200 else 'FAIL'})")
    print(f"- throughput with idle connections / without: **{ratio:.2f}** (target ≥ 0.80 → {'PASS' if ratio >= 0.8 else 'FAIL'})")
    still = int(chk.get("open", 0))
    print(f"- idle connections still open after the load: **{still} / {a.conns}** (held {held_s:.0f} s; "
          f"closed by server: {chk.get('closed')}" + (f", last line before close: `{chk['sample']}`" if chk.get("sample") else "") + ")")
    if server.stores:
        print(f"- stored: {stored_total} of {sent_total} messages accepted during the test")
    print(f"- total test time {total_s:.0f} s; idle client exit: `{bye}`")
    print()
    ok = not failures and int(ready.get("failed", 1)) == 0 and int(ready.get("banners", 0)) == a.conns
    ok = ok and (stored_total is None or stored_total == sent_total)
    if not ok:
        print("**FAILURES:**\n")
        for f in failures:
            print(f"- {f}")
        if int(ready.get("banners", 0)) != a.conns:
            print(f"- only {ready.get('banners')} of {a.conns} idle connections got a banner")
        if stored_total is not None and stored_total != sent_total:
            print(f"- stored {stored_total} != sent {sent_total}")
        return 1
    return 0


# ----------------------------------------------------------------------------------------------
def cmd_smoke(a):
    """Tiny run for CI: asserts only that every tool ran, every message was stored and a report printed."""
    workdir = make_workdir()
    pipe_src, pipe_c = find_pipe_source(workdir)
    idle_bin = compile_idle_client(workdir)
    sink = SmtpSink(a.sink_port, workdir)
    sink.start()
    shm = Spamhattan(a.bin, a.port, workdir)
    shm.start()
    servers = [sink, shm]
    if not a.no_postfix:
        pf = PostfixMTA(a.postfix_port, workdir)
        pf.start()
        servers.append(pf)
    cases = [Case(2, 4096, True, a.count), Case(2, 4096, False, a.count)]
    if pipe_src:
        cases.append(Case(2, 4096, True, a.count, "smtp-pipe-source", True))
    results, problems = [], []
    for case in cases:
        for srv in servers:
            r = run_load(srv, case, pipe_src, timeout=120, settle_s=60)
            results.append(r)
            if r["rc"] != 0:
                problems.append(f"{srv.name} {case.label}: client exit {r['rc']}: {r['stderr'].strip()}")
            if srv.stores and r["stored"] != case.count:
                problems.append(f"{srv.name} {case.label}: stored {r['stored']} of {case.count}")
            if case.client != "smtp-source" and r.get("client_msgs") != case.count:
                problems.append(f"{srv.name} {case.label}: pipe client sent {r.get('client_msgs')} of {case.count}")
    sent = sum(r["count"] for r in results if r["server"] == "spamhattan")
    stats = shm.count()
    listed = shm.count_messages_list()
    if stats != sent or listed != sent:
        problems.append(f"spamhattan store: sent {sent}, store stats sightings {stats}, messages list {listed}")
    # idle: a few hundred idle connections held during a small load
    idle = IdleClient(idle_bin, a.idle_conns, shm.port, nsrc=10)
    ready = idle.start(60)
    r = run_load(shm, Case(2, 4096, True, a.count), timeout=120, settle_s=60)
    chk = idle.check()
    idle.stop()
    if int(ready.get("banners", 0)) != a.idle_conns:
        problems.append(f"idle: {ready.get('banners')} of {a.idle_conns} banners")
    if int(chk.get("open", 0)) != a.idle_conns:
        problems.append(f"idle: {chk.get('open')} of {a.idle_conns} still open after load ({chk})")
    if r["rc"] != 0 or r["stored"] != a.count:
        problems.append(f"load during idle: rc={r['rc']} stored={r['stored']}")
    print_header("bench smoke (CI; no speed assertions)", a.bin)
    print("| server | case | msgs | msgs/s | server CPU s | peak RSS MiB | stored |")
    print("|---|---|---|---|---|---|---|")
    for x in results:
        print(f"| {x['server']} | {x['case']} | {x['count']} | {fmt_rate(x['msgs_per_s'])} | {x['server_cpu_s']} "
              f"| {x['hwm_mib']} | {'-' if x['stored'] is None else x['stored']} |")
    print()
    print(f"- spamhattan store: sent {sent} (+{a.count} during the idle test), store stats {stats}, messages list {listed}")
    print(f"- idle: {ready.get('banners')}/{a.idle_conns} banners, {chk.get('open')} still open after a "
          f"{a.count}-message load at {fmt_rate(r['msgs_per_s'])} msgs/s; server VmHWM {vm_status(shm.pid)['VmHWM'] / 1024:.1f} MiB")
    if not pipe_src:
        print("- note: ../shared/peers/smtp-pipe-source.c not found, pipelined client skipped")
    print()
    if problems:
        print("**SMOKE FAILED:**\n")
        for p in problems:
            print(f"- {p}")
        return 1
    print("smoke OK: every tool ran, every message was stored, report printed")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bin", default=os.environ.get("SPAMHATTAN_BIN")
                    or os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "spamhattan"))
    common.add_argument("--port", type=int, default=int(os.environ.get("SPAMHATTAN_PORT", 2530)))
    common.add_argument("--sink-port", type=int, default=int(os.environ.get("SINK_PORT", 2531)))
    common.add_argument("--postfix-port", type=int, default=int(os.environ.get("POSTFIX_PORT", 2532)))
    common.add_argument("--no-postfix", action="store_true", help="skip the Postfix MTA peer")
    common.add_argument("--quiet-wait", type=int, default=int(os.environ.get("QUIET_WAIT_S", 0)),
                    help="before each run wait up to N s for the machine to be quiet")
    common.add_argument("--out-dir", default=os.environ.get("BENCH_OUT_DIR"), help="also write raw results here")
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("matrix", parents=[common])
    m.add_argument("--quick", action="store_true", help="1 repeat, 1/5 of the message counts")
    m.add_argument("--repeats", type=int, default=0)
    m.add_argument("--count", type=int, default=0, help="override every case's message count")
    m.add_argument("--no-list", action="store_true", help="skip `messages list` at the end")
    m.add_argument("--sessions", default="20,100", help="comma-separated parallel session counts")
    m.add_argument("--sizes", default="4096,65536", help="comma-separated body sizes (bytes)")
    m.add_argument("--modes", default="keep,new", help="keep (smtp-source -d) and/or new (one msg per connection)")
    m.add_argument("--no-pipe", action="store_true", help="skip the smtp-pipe-source rows")
    i = sub.add_parser("idle", parents=[common])
    i.add_argument("--conns", type=int, default=10000)
    i.add_argument("--sources", type=int, default=100)
    i.add_argument("--sessions", type=int, default=100)
    i.add_argument("--count", type=int, default=20000)
    i.add_argument("--repeats", type=int, default=3)
    i.add_argument("--target", choices=["spamhattan", "smtp-sink"], default="spamhattan")
    rp = sub.add_parser("report", parents=[common])
    rp.add_argument("raw", help="matrix-raw.jsonl written with BENCH_OUT_DIR")
    s = sub.add_parser("smoke", parents=[common])
    s.add_argument("--count", type=int, default=200)
    s.add_argument("--idle-conns", type=int, default=200)
    a = ap.parse_args()
    if a.out_dir:
        os.makedirs(a.out_dir, exist_ok=True)
    for port in (a.port, a.sink_port, a.postfix_port):
        if not 1024 < port < 65536:
            ap.error("ports must be unprivileged")
    if a.cmd == "report":
        return cmd_report(a)
    need_bin = not (a.cmd == "idle" and a.target == "smtp-sink")
    if need_bin and not os.access(a.bin, os.X_OK):
        log(f"spamhattan binary not found at {a.bin} (set SPAMHATTAN_BIN or build with "
            f"`cargo build --release --locked -p spamhattan`)")
        return 3
    for tool in ("smtp-source", "smtp-sink", "postfix", "cc"):
        if not shutil.which(tool):
            log(f"{tool} missing (apt-get install postfix with 'No configuration'; see bench/README)")
            return 3
    a.bin = os.path.abspath(a.bin)
    if a.cmd == "matrix":
        return cmd_matrix(a)
    if a.cmd == "idle":
        return cmd_idle(a)
    return cmd_smoke(a)


if __name__ == "__main__":
    sys.exit(main())
