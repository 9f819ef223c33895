"""Privilege drop: `serve` started as root binds port 25 and the HTTP listener, then runs as
`--user` for good.

Checked on the real process: every thread's real, effective, saved and file-system ids are the
user's and group's, there is no supplementary group and no effective or permitted capability;
an smtplib delivery on port 25 gets 250 and is stored (the CLI, run as root, lists it); the
files the server creates belong to the user. Also: root without a user is warned about, and a
non-root process cannot pretend to drop to someone else.

Needs root (CI runs as root) and a free port 25; otherwise skipped with the reason.
"""

import errno
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import Trap, make_message

PORT = 25


def skip_or_fail(message):
    if os.environ.get("CI") == "true" and "port 25" not in message:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def as_root():
    if os.geteuid() != 0:
        skip_or_fail("needs root: the test starts serve as root and checks that it drops")


@pytest.fixture
def port_25_free(as_root):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", PORT))
    except OSError as e:
        reason = "in use" if e.errno == errno.EADDRINUSE else e.strerror
        pytest.skip(f"127.0.0.1 port 25 is not available ({reason})")
    finally:
        s.close()


@pytest.fixture
def system_user(as_root):
    """A system user with its own group, made for the test and removed after."""
    useradd = shutil.which("useradd")
    if useradd is None:
        skip_or_fail("useradd not found: apt-get install passwd")
    name = f"sh-e2e-{uuid.uuid4().hex[:8]}"
    made = subprocess.run([useradd, "--system", "--user-group", "--no-create-home",
                           "--shell", "/usr/sbin/nologin", name], capture_output=True)
    assert made.returncode == 0, made.stderr.decode(errors="replace")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def data_dir(as_root):
    """A data dir the dropped user can reach: pytest's own tmp dirs are root-only (0700)."""
    path = Path(tempfile.mkdtemp(prefix="spamhattan-priv-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        for extra in path.parent.glob(path.name + ".*"):
            extra.unlink(missing_ok=True)


class PrefixedTrap(Trap):
    """A trap started through a command that execs it (setpriv): same process, no wrapper."""

    def __init__(self, *args, prefix, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = prefix

    def command(self):
        return self.prefix + super().command()


def status(pid):
    """`/proc/PID/status` as a dict of its fields."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def descendants(pid):
    """Every process started by `pid`, recursively (the analysis children, if any)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            try:
                children = (task / "children").read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def test_root_binds_port_25_then_runs_as_the_user(spamhattan_bin, port_25_free, system_user,
                                                  data_dir):
    uid, gid, name = system_user.pw_uid, system_user.pw_gid, system_user.pw_name
    trap = Trap(spamhattan_bin, data_dir, listen=f"127.0.0.1:{PORT}",
                extra_args=["--user", name, "--http-listen", "127.0.0.1:0"])
    trap.start()
    try:
        assert trap.port == PORT
        stderr = trap.stderr_path.read_text(errors="replace")
        assert "privileges dropped" in stderr and f"uid={uid}" in stderr, trap.stderr_tail()
        # Every thread, not only the main one: none may have kept root.
        threads = list(Path(f"/proc/{trap.server_pid}/task").iterdir())
        assert threads
        for task in threads:
            st = {}
            for line in (task / "status").read_text().splitlines():
                key, _, value = line.partition(":")
                st[key] = value.strip()
            assert st["Uid"].split() == [str(uid)] * 4, (task, st["Uid"])
            assert st["Gid"].split() == [str(gid)] * 4, (task, st["Gid"])
            assert st["Groups"] == "", (task, st["Groups"])
            assert int(st["CapEff"], 16) == 0, (task, st["CapEff"])
            assert int(st["CapPrm"], 16) == 0, (task, st["CapPrm"])
        # Analysis children (when the pool runs them as processes) start after the drop.
        for child in descendants(trap.server_pid):
            assert status(child)["Uid"].split() == [str(uid)] * 4, child

        message = make_message("delivered to a dropped trap")
        with smtplib.SMTP("127.0.0.1", PORT, timeout=30) as smtp:
            code, _ = smtp.ehlo("client.example")
            assert code == 250
            refused = smtp.sendmail("sender@src.example", ["someone@trap.example"], message)
            assert refused == {}
        trap.assert_stored(message)

        # The HTTP listener was bound before the drop and answers after it.
        http = trap.ready["http"]
        with urllib.request.urlopen(f"http://{http}/healthz", timeout=10) as r:
            assert r.status == 200

        # What the server created is the user's: the data dir it was handed, the event log,
        # the certificate it generated.
        for path in [data_dir, data_dir / "events.jsonl", data_dir / "tls"]:
            assert path.exists(), path
            assert path.stat().st_uid == uid, (path, path.stat().st_uid)
    finally:
        assert trap.stop() == 0, trap.stderr_tail()


def test_root_without_a_user_is_warned_about(trap):
    if os.geteuid() != 0:
        pytest.skip("the warning is for root only")
    assert "set [trap] user" in trap.stderr_tail(200), trap.stderr_tail()


def test_a_non_root_process_cannot_claim_another_user(spamhattan_bin, as_root, system_user,
                                                      data_dir):
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        skip_or_fail("setpriv not found: apt-get install util-linux")
    os.chown(data_dir, 65534, 65534)
    cmd = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(spamhattan_bin),
           "serve", "--data-dir", str(data_dir / "d"), "--trap-domain", "trap.example",
           "--smtp-listen", "127.0.0.1:0", "--http-listen", "off",
           "--user", system_user.pw_name]
    out = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    err = out.stderr.decode(errors="replace")
    assert out.returncode != 0, err
    assert out.stdout == b"", "no ready line"
    assert f"user \"{system_user.pw_name}\" is set but serve runs as uid 65534" in err, err
    assert not (data_dir / "d").exists(), "refused before it touched the data dir"


def test_an_unknown_user_stops_serve_before_it_binds(spamhattan_bin, data_dir):
    cmd = [str(spamhattan_bin), "serve", "--data-dir", str(data_dir / "d"),
           "--trap-domain", "trap.example", "--smtp-listen", "127.0.0.1:0",
           "--http-listen", "off", "--user", "no-such-user-xq7"]
    out = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    err = out.stderr.decode(errors="replace")
    assert out.returncode != 0 and out.stdout == b"", err
    assert "no such user \"no-such-user-xq7\"" in err, err


def test_started_as_the_user_with_a_bind_capability_it_gives_every_capability_up(
        spamhattan_bin, port_25_free, system_user, data_dir):
    """The systemd way (`User=` with `AmbientCapabilities=CAP_NET_BIND_SERVICE`): port 25 is
    bound with the capability, then no capability is left, ambient ones included."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        skip_or_fail("setpriv not found: apt-get install util-linux")
    uid, gid, name = system_user.pw_uid, system_user.pw_gid, system_user.pw_name
    os.chown(data_dir, uid, gid)
    trap = PrefixedTrap(spamhattan_bin, data_dir, listen=f"127.0.0.1:{PORT}",
                        extra_args=["--user", name, "--http-listen", "off"],
                        prefix=[setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                                "--inh-caps=+net_bind_service",
                                "--ambient-caps=+net_bind_service", "--"])
    # The config file the fixture writes must be readable by the user.
    os.chown(trap.config_path(), uid, gid)
    trap.start()
    try:
        assert trap.port == PORT
        st = status(trap.server_pid)
        assert st["Uid"].split() == [str(uid)] * 4, st["Uid"]
        for caps in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            assert int(st[caps], 16) == 0, (caps, st[caps])
        message = make_message("delivered to a trap started with a capability")
        with smtplib.SMTP("127.0.0.1", PORT, timeout=30) as smtp:
            assert smtp.sendmail("sender@src.example", ["someone@trap.example"], message) == {}
        trap.assert_stored(message)
    finally:
        assert trap.stop() == 0, trap.stderr_tail()
