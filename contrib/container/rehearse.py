#!/usr/bin/env python3
"""Rehearses the two Containerfiles where no container engine runs (issue 7, "a container file
for each role").

    sudo python3 contrib/container/rehearse.py --bin target/release/spamhattan

What it does, and what an engine would do instead:
- **Base image.** `debootstrap --variant=minbase bookworm` stands in for `debian:bookworm-slim`
  (the same release and essential packages; slim also strips docs). Made once and cached as a
  tarball (`--cache`); each image starts from a fresh copy.
- **Build stage.** Replaced by the binary given, which must come from the build stage's own
  command (`cargo build --release --locked -p spamhattan`) with rustc 1.95 on Debian bookworm,
  the stage's `rust:1.95-bookworm`. Both are checked.
- **Final stage.** Its instructions are executed in order: `RUN` as root in a chroot (its own
  mount namespace with `/proc` and a minimal `/dev`, the host's resolv.conf for apt), `COPY
  --from=build` from the build stage's product, `USER`, `WORKDIR`, `VOLUME`, `EXPOSE`,
  `HEALTHCHECK`, `STOPSIGNAL`, `ENTRYPOINT`, `CMD`. Any other instruction stops the rehearsal:
  the file grew something this script does not know, and it must learn it first.
- **Run.** Both images run at once in one network namespace made for the run (as a pod), with
  a private `nats-server` (JetStream) and a private PostgreSQL cluster in it; each container is
  its ENTRYPOINT + CMD as PID 1 of its own PID and mount namespaces, chrooted into its image as
  the `USER`, with a clean environment and the config written where the CMD reads it (as
  `docker run -v ...:ro` would put it). The sensor's HTTP port is moved to 8026 (in a pod both
  would want 8025). The engine's seccomp profile, cgroups and capability set are not rehearsed;
  the user is unprivileged, so the process has no capability anyway.

What is checked: the collector's HEALTHCHECK command, run inside its image as its user,
succeeds within the start period; the sensor answers SMTP on its EXPOSEd port; messages sent
with Python's smtplib reach PostgreSQL once each with the sensor's id, and are analysed (by the
sandboxed analysis children inside the image); the sensor's spool drains; every file in each
VOLUME belongs to the image's user; the STOPSIGNAL stops each container with exit status 0
within the stop time its file names. Loopback only, bounded in count and time.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
MESSAGES = 20
READY_TIMEOUT = 60
FLOW_TIMEOUT = 120
# The stop times the files' comments give (`docker stop -t`).
STOP_TIMEOUT = {"sensor": 30, "collector": 60}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEVICES = ["null", "zero", "full", "random", "urandom", "tty"]
BASE = "debian:bookworm-slim"
BUILD_FROM = "rust:1.95-bookworm"
BUILD_COMMAND = "cargo build --release --locked -p spamhattan"
SENSOR_ID = "rehearsal-01"


def fail(why):
    sys.exit(f"rehearse: FAILED: {why}")


def say(what):
    print(f"rehearse: {what}", flush=True)


def run(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(cmd, **kw)


# --- the Containerfile -------------------------------------------------------------------------

def instructions(path):
    """(KEYWORD, arguments) in order; comments and line continuations as the engines read them."""
    out, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, rest = current.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    if current:
        fail(f"{path}: a continued line never ends")
    return out


def stages(steps):
    """{alias or index: (from, [steps])}, and the name of the last one."""
    found, name = {}, None
    for keyword, args in steps:
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(found))
            found[name] = (parts[0], [])
        elif name is None:
            fail(f"{keyword} before FROM")
        else:
            found[name][1].append((keyword, args))
    return found, name


def check_build_stage(stage, binary):
    image, steps = stage
    if image != BUILD_FROM:
        fail(f"the build stage is FROM {image}; this rehearsal knows {BUILD_FROM}")
    if not any(k == "RUN" and BUILD_COMMAND in a for k, a in steps):
        fail(f"the build stage no longer runs `{BUILD_COMMAND}`")
    release = dict(
        line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
    )
    if release.get("VERSION_CODENAME") != "bookworm":
        fail("the host is not Debian bookworm, so its binary is not what the build stage makes")
    rustc = run(["rustc", "--version"], capture_output=True, text=True).stdout
    if not rustc.startswith("rustc 1.95"):
        fail(f"the host's {rustc.strip()} is not the build stage's 1.95")
    if not Path(binary).is_file():
        fail(f"{binary}: no such binary (cargo build --release --locked -p spamhattan)")


# --- images ----------------------------------------------------------------------------------

def base_tarball(cache):
    tarball = cache / "bookworm-minbase.tar"
    if tarball.exists():
        return tarball
    cache.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rehearse-base-", dir=cache))
    say("debootstrap --variant=minbase bookworm (once; cached)")
    run(["debootstrap", "--variant=minbase", "bookworm", str(root), "http://deb.debian.org/debian"],
        stdout=subprocess.DEVNULL)
    partial = tarball.with_suffix(".partial")
    run(["tar", "-C", str(root), "-cf", str(partial), "."])
    partial.rename(tarball)
    shutil.rmtree(root)
    return tarball


def container_shell(root, workdir):
    """A shell command that gives `root` a /proc and a minimal /dev in the current (private)
    mount namespace; what follows it runs chrooted."""
    r = shlex.quote(str(root))
    parts = [f"mount -t proc proc {r}/proc", f"mount -t tmpfs -o mode=755 tmpfs {r}/dev",
             f"mkdir -p {r}/dev/shm {r}/dev/pts", f"mount -t tmpfs tmpfs {r}/dev/shm",
             f"mount -t devpts -o newinstance,ptmxmode=0666 devpts {r}/dev/pts",
             f"ln -s pts/ptmx {r}/dev/ptmx"]
    for dev in DEVICES:
        parts += [f"touch {r}/dev/{dev}", f"mount --bind /dev/{dev} {r}/dev/{dev}"]
    parts.append(f"mkdir -p {r}{shlex.quote(workdir)}")
    return " && ".join(parts)


class Image:
    """The final stage of one Containerfile, executed into a directory."""

    def __init__(self, role, containerfile, binary, tarball, workdir):
        self.role = role
        self.root = workdir / f"{role}-root"
        self.root.mkdir()
        run(["tar", "-C", str(self.root), "-xf", str(tarball)])
        # As in every image: "/" is world-traversable (the tarball keeps the mode of a temp dir).
        self.root.chmod(0o755)
        found, last = stages(instructions(containerfile))
        if "build" not in found:
            fail(f"{containerfile}: no stage named build")
        check_build_stage(found["build"], binary)
        image, steps = found[last]
        if image != BASE:
            fail(f"{containerfile}: the final stage is FROM {image}; this rehearsal makes {BASE}")
        self.user, self.workdir, self.env = "0:0", "/", {"PATH": DEFAULT_PATH}
        self.volumes, self.exposed, self.healthcheck = [], [], None
        self.stopsignal, self.entrypoint, self.cmd = "SIGTERM", [], []
        for keyword, args in steps:
            self.apply(keyword, args, binary)
        say(f"{role}: image made from {containerfile.name} ({len(steps)} instructions)")

    def apply(self, keyword, args, binary):
        if keyword == "RUN":
            if self.user not in ("0:0", "root"):
                fail("RUN after USER: this rehearsal runs RUN as root only")
            shutil.copy("/etc/resolv.conf", self.root / "etc/resolv.conf")
            inner = ["chroot", str(self.root), "/usr/bin/env", "-i", f"PATH={self.env['PATH']}",
                     "HOME=/root", "DEBIAN_FRONTEND=noninteractive", "/bin/sh", "-c",
                     f"cd {shlex.quote(self.workdir)} && {args}"]
            setup = container_shell(self.root, self.workdir)
            run(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                 f"{setup} && exec {shlex.join(inner)}"], stdout=subprocess.DEVNULL)
        elif keyword == "COPY":
            words = args.split()
            if len(words) != 3 or words[0] != "--from=build" or words[1] != "/usr/local/bin/spamhattan":
                fail(f"COPY {args}: this rehearsal copies only the build stage's binary")
            target = self.root / words[2].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(binary, target)
            os.chown(target, 0, 0)
        elif keyword == "USER":
            self.user = args
        elif keyword == "WORKDIR":
            self.workdir = args
        elif keyword == "VOLUME":
            self.volumes += json.loads(args)
        elif keyword == "EXPOSE":
            self.exposed += [int(p.split("/")[0]) for p in args.split()]
        elif keyword == "HEALTHCHECK":
            options, _, command = args.partition(" CMD ")
            flags = dict(o.lstrip("-").split("=", 1) for o in options.split())
            self.healthcheck = (flags, json.loads(command))
        elif keyword == "STOPSIGNAL":
            self.stopsignal = args
        elif keyword == "ENTRYPOINT":
            self.entrypoint = json.loads(args)
        elif keyword == "CMD":
            self.cmd = json.loads(args)
        else:
            fail(f"{keyword} {args}: an instruction this rehearsal does not know")

    def userspec(self):
        if not all(part.isdigit() for part in self.user.split(":")):
            fail(f"USER {self.user}: the rehearsal wants the numeric form the files use")
        return self.user

    def config_path(self):
        """Where the CMD reads its config (`--config PATH`)."""
        if "--config" not in self.cmd:
            fail(f"{self.role}: the CMD names no --config")
        return self.cmd[self.cmd.index("--config") + 1]

    def chrooted(self, argv):
        home = f"HOME={self.workdir}"
        return ["chroot", f"--userspec={self.userspec()}", "--groups=", str(self.root),
                "/usr/bin/env", "-i", f"PATH={self.env['PATH']}", home, "/bin/sh", "-c",
                f'cd {shlex.quote(self.workdir)} && exec "$@"', "sh", *argv]


# --- the run -----------------------------------------------------------------------------------

class Pod:
    """A network namespace for the run: loopback only, removed at the end."""

    def __init__(self):
        self.name = f"spamhattan-rehearsal-{os.getpid()}"
        run(["ip", "netns", "add", self.name])
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def remove(self):
        run(["ip", "netns", "delete", self.name], check=False)


class Container:
    def __init__(self, image, pod, logs):
        self.image, self.pod = image, pod
        self.log = open(logs / f"{image.role}.log", "wb")
        argv = image.chrooted(image.entrypoint + image.cmd)
        setup = container_shell(image.root, image.workdir)
        self.proc = subprocess.Popen(
            pod.cmd(["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "--",
                     "/bin/sh", "-c", f"{setup} && exec {shlex.join(argv)}"]),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.find_pid()

    def find_pid(self):
        """The host pid of the container's PID 1 once it is the binary itself."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"{self.image.role} exited {self.proc.returncode} at start; see its log")
            for pid in descendants(self.proc.pid):
                try:
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "spamhattan":
                        return pid
                except OSError:
                    continue
            time.sleep(0.05)
        fail(f"{self.image.role}: the binary never became the container's process")

    def exec(self, argv, **kw):
        """`docker exec` as the image's user: the container's namespaces, chrooted."""
        return run(["nsenter", "-t", str(self.pid), "-m", "-p", "-n", "--",
                    *self.image.chrooted(argv)], check=False, capture_output=True, **kw)

    def stop(self):
        sig = getattr(signal, self.image.stopsignal)
        os.kill(self.pid, sig)
        limit = STOP_TIMEOUT[self.image.role]
        try:
            code = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
            fail(f"{self.image.role} still running {limit} s after {self.image.stopsignal}")
        if code != 0:
            fail(f"{self.image.role} exited {code} after {self.image.stopsignal}")
        say(f"{self.image.role}: stopped by {self.image.stopsignal}, exit status 0")

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()


def descendants(pid):
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        found += [int(c) for c in children]
        todo += [int(c) for c in children]
    return found


def start_nats(pod, workdir):
    store = workdir / "nats"
    store.mkdir()
    conf = store / "nats.conf"
    # The trap's message limit is above the default max_payload (contrib/nats/nats-server.conf).
    conf.write_text("max_payload: 16777216\n")
    log = store / "nats.log"
    proc = subprocess.Popen(pod.cmd(["nats-server", "-a", "127.0.0.1", "-p", "4222", "-js", "-sd",
                                     str(store / "js"), "-c", str(conf), "-l", str(log)]),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    poll("nats-server ready", lambda: log.exists() and "Server is ready" in log.read_text(),
         READY_TIMEOUT)
    return proc


class Postgres:
    """A private cluster in the pod on 127.0.0.1:5432 (PostgreSQL refuses root: runs as postgres)."""

    def __init__(self, pod):
        self.pod = pod
        self.dir = Path(tempfile.mkdtemp(prefix="rehearse-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.as_postgres(["initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                          "--no-sync", "-E", "UTF8"])
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nport = 5432\n"
                    f"unix_socket_directories = '{self.dir}'\n")
        self.as_postgres(["pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
                          "-t", "60", "start"])

    def as_postgres(self, argv):
        binary = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{argv[0]}"))
        if not binary:
            fail(f"{argv[0]} not found: apt install postgresql")
        run(self.pod.cmd(["runuser", "-u", "postgres", "--", str(binary[-1]), *argv[1:]]),
            stdout=subprocess.DEVNULL)

    def rows(self, query):
        out = run(self.pod.cmd(["psql", "-X", "-A", "-t", "-F", "\t", "-h", "127.0.0.1", "-U",
                                "postgres", "-d", "postgres", "-c", query]),
                  capture_output=True, text=True)
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def remove(self):
        try:
            self.as_postgres(["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def poll(what, predicate, timeout, detail=lambda: ""):
    """Waits for a condition of other processes, bounded; the last value when it holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            fail(f"{what}: not within {timeout} s {detail()}")
        time.sleep(0.25)


def write_config(image, text):
    path = image.root / image.config_path().lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)


SENSOR_CONFIG = f"""hostname = "mx1.rehearsal.example"
trap_domains = ["rehearsal.example"]
[[listener]]
address = "0.0.0.0:2525"
[http]
listen = "127.0.0.1:8026"
[sensor]
id = "{SENSOR_ID}"
sector = "rehearsal"
location = "NL"
[bus]
url = "nats://127.0.0.1:4222"
"""

COLLECTOR_CONFIG = """hostname = "collector.rehearsal.example"
trap_domains = ["rehearsal.example"]
[store]
postgres_url = "postgresql://postgres@127.0.0.1:5432/postgres"
[analysis]
workers = 1
[analysis.auth]
enabled = false
[http]
listen = "0.0.0.0:8025"
[bus]
url = "nats://127.0.0.1:4222"
"""


def metric(pod, url, name, labels=""):
    """A sum of one metric's samples whose labels contain `labels`, read inside the pod."""
    out = run(pod.cmd([sys.executable, __file__, "probe-http", url]), capture_output=True,
              text=True, check=False).stdout
    total = 0.0
    for line in out.splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def healthy(collector):
    """One run of the HEALTHCHECK command; what it said is kept for the failure message."""
    flags, command = collector.image.healthcheck
    timeout = float(flags.get("timeout", "30s").rstrip("s"))
    try:
        out = collector.exec(command, timeout=timeout)
    except subprocess.TimeoutExpired:
        collector.health = f"no answer within {timeout} s"
        return False
    collector.health = f"exit {out.returncode}: {(out.stdout + out.stderr).decode(errors='replace')}"
    return out.returncode == 0


def rehearse(args):
    cache, binary = Path(args.cache), Path(args.bin).resolve()
    tarball = base_tarball(cache)
    work = Path(tempfile.mkdtemp(prefix="rehearse-"))
    say(f"work dir {work}")
    sensor_image = Image("sensor", HERE / "Containerfile.sensor", binary, tarball, work)
    collector_image = Image("collector", HERE / "Containerfile.collector", binary, tarball, work)
    if 2525 not in sensor_image.exposed or 8025 not in collector_image.exposed:
        fail("the sensor must EXPOSE 2525 and the collector 8025 (the configs below use them)")
    if collector_image.healthcheck is None:
        fail("the collector image has no HEALTHCHECK")
    write_config(sensor_image, SENSOR_CONFIG)
    write_config(collector_image, COLLECTOR_CONFIG)
    pod = Pod()
    nats = pg = None
    containers = []
    try:
        nats = start_nats(pod, work)
        pg = Postgres(pod)
        collector = Container(collector_image, pod, work)
        containers.append(collector)
        flags, _ = collector_image.healthcheck
        start_period = float(flags.get("start-period", "0s").rstrip("s"))
        collector.health = "never run"
        poll("the collector's HEALTHCHECK", lambda: healthy(collector) or
             (collector.proc.poll() is not None and fail(f"the collector exited: {collector.health}")),
             start_period, lambda: f"(last run: {collector.health})")
        say(f"collector: HEALTHCHECK {shlex.join(collector_image.healthcheck[1])} passes")
        sensor = Container(sensor_image, pod, work)
        containers.append(sensor)
        sent = run(pod.cmd([sys.executable, __file__, "probe-smtp", "127.0.0.1", "2525",
                            str(MESSAGES)]), capture_output=True, text=True, check=False)
        if sent.returncode != 0:
            fail(f"SMTP to the sensor: {sent.stdout}{sent.stderr}")
        say(f"sensor: {MESSAGES} messages accepted over SMTP on port 2525")
        poll("every message stored once in PostgreSQL with the sensor's id", lambda: pg.rows(
            "SELECT count(*), count(DISTINCT id) FROM sightings "
            f"WHERE json::jsonb->'sensor'->>'id' = '{SENSOR_ID}'") == [[str(MESSAGES)] * 2],
             FLOW_TIMEOUT)
        poll("every message analysed in the collector's image",
             lambda: metric(pod, "http://127.0.0.1:8025/metrics",
                            "spamhattan_messages_analyzed_total") == MESSAGES, FLOW_TIMEOUT)
        poll("the sensor's spool drained",
             lambda: metric(pod, "http://127.0.0.1:8026/metrics",
                            "spamhattan_bus_unforwarded_messages") == 0
             and metric(pod, "http://127.0.0.1:8026/metrics", "spamhattan_bus_published_total",
                        'kind="capture"') == MESSAGES, FLOW_TIMEOUT)
        say(f"{MESSAGES} messages: stored once each with the sensor's id, analysed, spool empty")
        for c in containers:
            check_volumes(c.image)
        for c in reversed(containers):
            c.stop()
        containers.clear()
    except BaseException:
        for log in sorted(work.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-30:]
            print(f"--- {log.name} (last lines)\n" + "\n".join(tail), file=sys.stderr)
        raise
    finally:
        for c in containers:
            c.kill()
        if nats is not None:
            nats.terminate()
            nats.wait()
        if pg is not None:
            pg.remove()
        pod.remove()
    if not args.keep:
        shutil.rmtree(work)
    say("PASSED")


def check_volumes(image):
    want = tuple(int(x) for x in image.userspec().split(":"))
    files = 0
    for volume in image.volumes:
        for dirpath, dirnames, filenames in os.walk(image.root / volume.lstrip("/")):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                st = os.lstat(name)
                if (st.st_uid, st.st_gid) != want:
                    fail(f"{name} belongs to {st.st_uid}:{st.st_gid}, not the image's user")
                files += 1
    say(f"{image.role}: {files} entries in {', '.join(image.volumes)}, all owned by {image.user}")


# --- probes, run inside the pod's network namespace ------------------------------------------

def probe_smtp(host, port, count):
    import smtplib
    with smtplib.SMTP(host, int(port), timeout=30) as smtp:
        smtp.ehlo("client.rehearsal.example")
        for n in range(int(count)):
            body = (f"From: Invoice <billing@sender.example>\r\nTo: trap{n}@rehearsal.example\r\n"
                    f"Subject: Invoice {n} overdue\r\nMessage-ID: <rehearsal-{n}@sender.example>\r\n"
                    f"\r\nPlease pay invoice {n} at http://pay-{n}.sender.example/now\r\n")
            smtp.sendmail("billing@sender.example", [f"trap{n}@rehearsal.example"], body)


def probe_http(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        sys.stdout.write(r.read().decode())


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "probe-smtp":
        return probe_smtp(*sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "probe-http":
        return probe_http(sys.argv[2])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True, help="the release binary (the build stage's product)")
    p.add_argument("--cache", default="/var/cache/spamhattan/container-rootfs",
                   help="where the debootstrapped base is kept between runs")
    p.add_argument("--keep", action="store_true", help="keep the images and logs")
    args = p.parse_args()
    if os.geteuid() != 0:
        fail("needs root (debootstrap, chroot, namespaces), as an engine does")
    rehearse(args)


if __name__ == "__main__":
    main()
