"""A private PostgreSQL server for the e2e suite (issue 7: the collector's store).

Each test that needs one gets its own cluster (`initdb` into a fresh directory, `pg_ctl` on an
OS-chosen loopback port, trust authentication), so a test may stop and restart it without
touching the machine's PostgreSQL or another test. PostgreSQL refuses to run as root: under
root the cluster belongs to the `postgres` user and its commands run through `runuser`.
Readiness comes from `pg_ctl start -w` (it waits for the server to accept connections).
"""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from network import free_port


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} not found: apt install postgresql (.ci/run does)")
    return path


class Postgres:
    def __init__(self):
        self.port = free_port()
        # Not under pytest's tmp_path: that is private to root and the server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="spamhattan-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run([pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                   "--no-sync", "-E", "UTF8"])
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.dir}'\nmax_connections = 60\n"
                    "shared_buffers = 64MB\n")
        self.running = False

    def _run(self, cmd, timeout=120):
        out = subprocess.run(self.as_user + cmd, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        assert out.returncode == 0, f"{cmd[0]}: {out.stdout}{out.stderr}"
        return out.stdout

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                   "start"])
        self.running = True
        return self

    def stop(self, mode="fast"):
        if self.running:
            self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                       "stop"])
            self.running = False

    def sql(self, query):
        """Runs one query with psql; rows as lists of strings."""
        out = subprocess.run([pg_bin("psql"), "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                              "-d", "postgres", "-c", query],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def remove(self):
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
