"""Digests of `spamhattan analyze --object` against the reference tools.

Oracles: hashlib (MD5, SHA-1, SHA-256, SHA-512), Debian's `ssdeep -s -b` (package `ssdeep`,
2.14.1) and PyPI `py-tlsh` (5.0.0: `tlsh.hash()` prints the `T1` prefix, `TNULL` when the
input is too short or uniform, which our report writes as no `tlsh` key). Our values must be
byte-identical so that they can be looked up in feeds that publish ssdeep and TLSH.
"""

import hashlib
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

LOREM = ("Dear customer, please find attached the invoice for your recent order. "
         "Payment is due within 14 days. Kind regards, the accounts team. ")


def reference_tools():
    """The oracles; a missing one fails with the install command (CI must have them)."""
    ssdeep = shutil.which("ssdeep")
    if ssdeep is None:
        pytest.fail("ssdeep not found: apt-get install ssdeep")
    try:
        import tlsh
    except ImportError:
        pytest.fail("python module tlsh not found: pip install py-tlsh==5.0.0")
    return ssdeep, tlsh


def samples(tmp_path):
    rng = random.Random(20240501)
    text = (LOREM * 200)[:20_000].encode()
    modified = bytearray(text)
    for i in range(0, len(modified), 997):
        modified[i] = ord("X")
    files = {
        "random-2m.bin": rng.randbytes(2 << 20),
        "random-10k.bin": rng.randbytes(10_000),
        "text-20k.txt": text,
        "text-20k-modified.txt": bytes(modified),
        "short-42.txt": b"a short line of text that TLSH cannot use.",
        "empty.bin": b"",
        # No piece boundary at the smallest block size: the first part is only the running
        # hash's character, which ssdeep repeats as the second part (`3:E:E`).
        "one-byte.bin": b"a",
        "run-5k.txt": b"x" * 5000,
        "zeros-300k.bin": bytes(300_000),
    }
    ls = Path("/bin/ls")
    if ls.is_file():
        files["ls"] = ls.read_bytes()
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def analyze(bin_path, path, tmp_path):
    out = subprocess.run(
        [str(bin_path), "analyze", "--object", "--data-dir", str(tmp_path / "data"), str(path)],
        capture_output=True, timeout=120, stdin=subprocess.DEVNULL, text=True)
    assert out.returncode == 0, out.stderr
    reports = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert len(reports) == 1, out.stdout[:500]
    return reports[0]["artifacts"][0]["hashes"]


def ssdeep_of(ssdeep, path):
    out = subprocess.run([ssdeep, "-s", "-b", str(path)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    # Header line, then `digest,"name"`; a digest never contains a comma.
    return out.stdout.strip().splitlines()[-1].split(",", 1)[0]


def test_digests_match_hashlib_ssdeep_and_py_tlsh(spamhattan_bin, tmp_path):
    ssdeep, tlsh = reference_tools()
    checked = 0
    for path in samples(tmp_path):
        data = path.read_bytes()
        got = analyze(spamhattan_bin, path, tmp_path)
        want_tlsh = tlsh.hash(data)
        expected = {
            "md5": hashlib.md5(data).hexdigest(),
            "sha1": hashlib.sha1(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "sha512": hashlib.sha512(data).hexdigest(),
            "ssdeep": ssdeep_of(ssdeep, path),
            "tlsh": None if want_tlsh in ("", "TNULL") else want_tlsh,
        }
        actual = {k: got.get(k) for k in expected}
        assert actual == expected, f"{path.name}: ours {actual} reference {expected}"
        checked += 1
    assert checked >= 6
