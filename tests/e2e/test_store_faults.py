"""Store faults against the real binary: read-only data dirs, a data dir that turns read-only under
load, and a damaged index or spool at start.

What the trap must do (docs/SECURITY.md, "Store and disk"):
- a data dir (or spool) on a read-only mount at start: `serve` refuses with one line naming the path
  and the cause, exit code != 0, no panic, no ready line;
- the file system turns read-only while mail arrives (ext4 `errors=remount-ro`, triggered through
  `/sys/fs/ext4/<dev>/trigger_fs_error`): every message not yet durable gets `451`, never `250`; the
  trap keeps answering, `/readyz` says the last write failed, the log names the cause. ext4 stays
  read-only until unmounted, so recovery is: stop, fsck, mount, start; then every message that got
  `250` is there and `store verify` is clean;
- a damaged index at start is refused with a way out (move it aside: the spool rebuilds messages and
  sightings); a damaged or truncated spool segment does not stop `serve` (the damage is in stored
  data, capture goes on) and `store verify` names the damaged message and exits 1.

Mounts need root (CI runs as root; elsewhere those tests skip unless CI=true). Every mount is
undone in a fixture finaliser.
"""

import concurrent.futures
import errno
import json
import os
import shutil
import smtplib
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import make_message, require_tool, sha256

CONFIG = "[store]\nmin_free_bytes = 0\n[analysis.auth]\nenabled = false\n"
EXT4_SIZE = "64M"
LOAD_SENDERS = 4
ACKED_BEFORE_FAULT = 20  # messages acknowledged before the file system fails
REFUSED_AFTER_FAULT = 12  # refusals to collect after it
LOAD_DEADLINE = 60  # seconds for the whole load phase
REFUSE_TIMEOUT = 30  # seconds `serve` may take to refuse


def run(*cmd, check=True):
    out = subprocess.run([str(c) for c in cmd], capture_output=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"{cmd}: {out.returncode} {out.stderr.decode(errors='replace')}")
    return out


@pytest.fixture
def mounts():
    """Mounts made by the test, undone (lazily, innermost first) whatever happens."""
    made = []

    def mount(*args, target):
        out = subprocess.run(["mount", *map(str, args), str(target)], capture_output=True)
        if out.returncode != 0:
            message = f"mount {args} {target} failed (needs root): {out.stderr.decode(errors='replace')}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        made.append(Path(target))
        return Path(target)

    yield mount
    for target in reversed(made):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.fixture
def mount_dir():
    where = Path(tempfile.mkdtemp(prefix="spamhattan-faults-"))
    yield where
    shutil.rmtree(where, ignore_errors=True)


def config(tmp_path):
    path = tmp_path / "faults.toml"
    path.write_text(CONFIG)
    return path


def deliver(trap, message):
    """One smtplib transaction; the final reply code (250 when acknowledged)."""
    try:
        with smtplib.SMTP(trap.host, trap.port, timeout=20) as s:
            s.ehlo("faults.example")
            refused = s.sendmail("a@src.example", ["x@trap.example"], message)
            assert not refused, refused
            return 250
    except smtplib.SMTPResponseException as e:  # MAIL/RCPT/DATA refused
        return e.smtp_code
    except smtplib.SMTPRecipientsRefused as e:
        return next(iter(e.recipients.values()))[0]


def seed(trap, n=3, tag="seed"):
    trap.start()
    messages = [make_message(f"{tag} {i}", body=f"evidence {i}\r\n".encode() * 40) for i in range(n)]
    for m in messages:
        assert deliver(trap, m) == 250
    assert trap.stop() == 0
    return messages


def refuses(trap, *needles):
    """`serve` on the trap's data dir must exit != 0 without a ready line; stderr names `needles`."""
    out = subprocess.run(trap.command(), capture_output=True, timeout=REFUSE_TIMEOUT,
                         stdin=subprocess.DEVNULL)
    err = out.stderr.decode(errors="replace")
    assert out.returncode not in (0, None), err
    assert b'"ready"' not in out.stdout, out.stdout
    assert "panicked" not in err, err
    final = [line for line in err.splitlines() if line.startswith("spamhattan: ")]
    assert len(final) == 1, f"expected one error line:\n{err}"
    for needle in needles:
        assert needle in final[0], f"{needle!r} not in {final[0]!r}"
    return final[0]


def verify(trap):
    """(exit code, stdout, stderr) of `store verify`."""
    out = trap.cli("store", "verify")
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def assert_all_present(trap, messages):
    listed = {m["id"] for m in trap.messages()}
    for m in messages:
        assert sha256(m) in listed, f"{sha256(m)} lost"
        assert trap.raw(sha256(m)) == m


# --- read-only at start ----------------------------------------------------------------------------


def test_a_data_dir_on_a_read_only_mount_is_refused_at_start(trap_factory, mounts, mount_dir, tmp_path):
    mounts("-t", "tmpfs", "-o", "size=8m", "tmpfs", target=mount_dir)
    (mount_dir / "data").mkdir()
    run("mount", "-o", "remount,ro", mount_dir)
    trap = trap_factory(extra_args=["--config", str(config(tmp_path))])
    trap.data_dir = mount_dir / "data"
    refuses(trap, str(trap.data_dir), "Read-only file system")


def test_a_store_made_earlier_then_mounted_read_only_is_refused_and_kept(
        trap_factory, mounts, mount_dir, tmp_path):
    mounts("-t", "tmpfs", "-o", "size=16m", "tmpfs", target=mount_dir)
    trap = trap_factory(extra_args=["--config", str(config(tmp_path))])
    trap.data_dir = mount_dir / "data"
    trap.data_dir.mkdir()
    messages = seed(trap)
    run("mount", "-o", "remount,ro", mount_dir)
    refuses(trap, str(trap.data_dir), "Read-only file system")
    code, _, err = verify(trap)
    assert code != 0 and "Read-only file system" in err, err
    run("mount", "-o", "remount,rw", mount_dir)
    trap.start()
    assert_all_present(trap, messages)


def test_a_read_only_spool_is_refused_at_start(trap_factory, mounts, tmp_path):
    """Only the spool is read-only (a bind mount): the store finds it at open, not at the first
    capture, so `serve` never announces readiness only to answer every message `451`."""
    trap = trap_factory(extra_args=["--config", str(config(tmp_path))])
    seed(trap)
    spool = trap.data_dir / "spool"
    mounts("--bind", spool, target=spool)
    run("mount", "-o", "remount,bind,ro", spool)
    refuses(trap, str(spool), "Read-only file system")


# --- read-only while serving -----------------------------------------------------------------------


def readyz(trap):
    try:
        with urllib.request.urlopen(f"http://{trap.ready['http']}/readyz", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Load:
    """LOAD_SENDERS threads delivering unique messages until told to stop; every outcome is kept
    with the time its transaction started."""

    def __init__(self, trap):
        self.trap = trap
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outcomes = []  # (started, message, code)
        self.counter = 0

    def next_message(self):
        with self.lock:
            self.counter += 1
            i = self.counter
        return make_message(f"load {i}", body=f"load line {i} {os.urandom(8).hex()}\r\n".encode() * 200)

    def sender(self):
        while not self.stop.is_set():
            message = self.next_message()
            started = time.monotonic()
            try:
                code = deliver(self.trap, message)
            except (OSError, smtplib.SMTPException) as e:
                code = f"error: {e!r}"
            with self.lock:
                self.outcomes.append((started, message, code))

    def count(self, pred):
        with self.lock:
            return sum(1 for o in self.outcomes if pred(o))

    def wait_for(self, pred, n, what):
        deadline = time.monotonic() + LOAD_DEADLINE
        while self.count(pred) < n:
            assert time.monotonic() < deadline, f"{what}: only {self.count(pred)} of {n}"
            time.sleep(0.05)  # polling our own threads' progress, not waiting for the server


def test_the_data_dir_turning_read_only_under_load(trap_factory, mounts, mount_dir, tmp_path):
    for tool in ("mkfs.ext4", "e2fsck", "findmnt"):  # e2fsprogs, util-linux
        require_tool(tool)
    image = tmp_path / "ext4.img"
    run("truncate", "-s", EXT4_SIZE, image)
    run("mkfs.ext4", "-q", "-F", image)
    mounts("-o", "loop,errors=remount-ro", image, target=mount_dir)
    device = Path(run("findmnt", "-n", "-o", "SOURCE", mount_dir).stdout.decode().strip()).name
    trigger = Path(f"/sys/fs/ext4/{device}/trigger_fs_error")
    if not trigger.exists():
        pytest.skip(f"{trigger} missing: this kernel cannot fail an ext4 on demand")
    trap = trap_factory(extra_args=["--config", str(config(tmp_path)), "--http-listen", "127.0.0.1:0"])
    trap.data_dir = mount_dir / "data"
    trap.data_dir.mkdir()
    trap.start()
    assert readyz(trap)[0] == 200
    # No `sync` here on purpose: the TLS certificate generated at this first start must be
    # durable on its own (fsynced with its directory, `crates/trap/src/tls.rs`), or the restart
    # after the ext4 error finds it empty and refuses to start.

    load = Load(trap)
    with concurrent.futures.ThreadPoolExecutor(LOAD_SENDERS) as pool:
        for _ in range(LOAD_SENDERS):
            pool.submit(load.sender)
        try:
            load.wait_for(lambda o: o[2] == 250, ACKED_BEFORE_FAULT, "acknowledged before the fault")
            trigger.write_text("spamhattan e2e: fail the data dir")
            failed_at = time.monotonic()
            with pytest.raises(OSError) as refused:  # `ro`, or `emergency_ro` on newer kernels
                (mount_dir / "probe").write_bytes(b"")
            assert refused.value.errno == errno.EROFS, refused.value
            load.wait_for(lambda o: o[0] > failed_at and o[2] != 250, REFUSED_AFTER_FAULT,
                          "refused after the fault")
        finally:
            load.stop.set()

    after = [(m, c) for started, m, c in load.outcomes if started > failed_at]
    acked = [m for _, m, c in load.outcomes if c == 250]
    before = [c for started, _, c in load.outcomes if started <= failed_at]
    print(f"{len(load.outcomes)} transactions, {len(acked)} acknowledged, codes before the fault "
          f"{sorted({str(c) for c in before})}, {len(after)} started after the fault: codes "
          f"{sorted({str(c) for _, c in after})}")
    # Nothing that started after the file system failed was acknowledged; every one of them got a
    # temporary refusal (451 after DATA, or 451/452 at MAIL while the store reports the failure).
    assert all(c in (451, 452) for _, c in after), [c for _, c in after if c not in (451, 452)]
    # Still answering: a new session gets its banner and EHLO, MAIL or DATA gets a 4xx.
    assert deliver(trap, make_message("after the fault")) in (451, 452)
    status, body = readyz(trap)
    assert status == 503 and "last write failed" in body, (status, body)
    log = trap.stderr_path.read_text(errors="replace")
    # Which write meets the fault first decides the wording: the spool's append or fsync
    # (EROFS), SQLite opening for write ("readonly database"), or SQLite's write itself, which
    # reports EIO and EROFS alike as "disk I/O error".
    causes = ("Read-only file system", "readonly database", "disk I/O error")
    assert any(c in log for c in causes), trap.stderr_tail()
    assert "panicked" not in log

    # ext4 stays read-only after an error until it is unmounted: a remount says so.
    assert run("mount", "-o", "remount,rw", mount_dir, check=False).returncode != 0
    assert trap.stop() == 0
    run("umount", mount_dir)
    fsck = run("e2fsck", "-fy", image, check=False)
    assert fsck.returncode in (0, 1), fsck.stdout.decode()  # 1: errors corrected
    run("mount", "-o", "loop,errors=remount-ro", image, mount_dir)
    trap.start()
    late = make_message("after the repair")
    assert deliver(trap, late) == 250
    assert readyz(trap)[0] == 200
    assert trap.stop() == 0
    assert_all_present(trap, acked + [late])
    code, out, err = verify(trap)
    assert code == 0, out + err
    # A message answered 451 may still be stored (its batch reached the journal before the index
    # failed, or the void mark could not be written on the read-only disk): the sender retries and
    # it gets a second sighting. Counted for the record, not an error.
    listed = {m["id"] for m in trap.messages()}
    print(f"refused but stored: {sum(1 for m, _ in after if sha256(m) in listed)}")


# --- damaged store at start ------------------------------------------------------------------------


def test_a_garbage_index_is_refused_and_moving_it_aside_rebuilds_it(trap_factory, tmp_path):
    trap = trap_factory(extra_args=["--config", str(config(tmp_path))])
    messages = seed(trap)
    db = trap.data_dir / "spamhattan.sqlite"
    garbage = os.urandom(16384)
    db.write_bytes(garbage)
    refuses(trap, str(db), "is damaged", "aside")
    code, _, err = verify(trap)
    assert code != 0 and "is damaged" in err and str(db) in err, err
    assert db.read_bytes() == garbage, "the damaged index was changed"

    db.rename(trap.data_dir / "spamhattan.sqlite.damaged")
    for suffix in ("-wal", "-shm"):
        (trap.data_dir / f"spamhattan.sqlite{suffix}").unlink(missing_ok=True)
    trap.start()
    assert "rebuilt" in trap.stderr_path.read_text(errors="replace"), trap.stderr_tail()
    assert trap.stop() == 0
    assert_all_present(trap, messages)
    code, out, err = verify(trap)
    assert code == 0, out + err


def test_a_truncated_index_is_refused(trap_factory, tmp_path):
    trap = trap_factory(extra_args=["--config", str(config(tmp_path))])
    seed(trap)
    db = trap.data_dir / "spamhattan.sqlite"
    os.truncate(db, db.stat().st_size // 2)
    refuses(trap, str(db), "malformed")


def only_segment(trap):
    segments = sorted((trap.data_dir / "spool").glob("seg-*.dat"))
    assert len(segments) == 1, segments
    return segments[0]


def test_a_flipped_byte_in_a_segment_is_named_by_store_verify(trap_factory, tmp_path):
    trap = trap_factory(extra_args=["--config", str(config(tmp_path))])
    messages = seed(trap)
    seg = only_segment(trap)
    data = bytearray(seg.read_bytes())
    victim = messages[1]
    at = data.find(victim)
    assert at > 0, "the message's bytes are not in the segment"
    data[at + len(victim) // 2] ^= 0x20
    seg.write_bytes(bytes(data))

    trap.start()  # the damage is in stored data: capture goes on
    fresh = make_message("after the damage")
    assert deliver(trap, fresh) == 250
    assert trap.stop() == 0
    code, out, err = verify(trap)
    assert code == 1, out + err
    report = json.loads(out)
    assert any(sha256(victim) in p for p in report["problems"]), report
    raw = trap.cli("messages", "raw", sha256(victim))
    assert raw.returncode != 0 and b"do not hash to its id" in raw.stderr, raw.stderr
    assert_all_present(trap, [messages[0], messages[2], fresh])


def test_a_truncated_segment_is_reported_at_start_and_by_store_verify(trap_factory, tmp_path):
    trap = trap_factory(extra_args=["--config", str(config(tmp_path))])
    messages = seed(trap)
    seg = only_segment(trap)
    data = seg.read_bytes()
    last = messages[-1]
    at = data.find(last)
    assert at > 0
    os.truncate(seg, at + len(last) // 2)

    trap.start()
    log = trap.stderr_path.read_text(errors="replace")
    assert "segment is shorter than the index says" in log and seg.name in log, trap.stderr_tail()
    assert trap.stop() == 0
    code, out, err = verify(trap)
    assert code == 1, out + err
    problems = json.loads(out)["problems"]
    assert any(sha256(last) in p for p in problems), problems
    assert any(seg.name in p for p in problems), problems
    assert_all_present(trap, messages[:-1])
