"""`spamhattan import` takes .eml files, mbox files and Maildirs; a bad input is reported, not fatal.

Exit code: 0 when at least one message was imported (bad inputs are named on stderr), non-zero when
nothing could be imported.
"""

from conftest import sha256

EML = b"From: a@src.example\r\nTo: x@trap.example\r\nSubject: eml one\r\n\r\nbody of the eml\r\n"

MBOX = (b"From spammer@src.example Thu Dec  3 10:00:00 2026\n"
        b"From: spammer@src.example\nSubject: mbox one\n\nfirst body\n>From the quoted line\n\n"
        b"From spammer@src.example Thu Dec  3 10:01:00 2026\n"
        b"From: spammer@src.example\nSubject: mbox two\n\nsecond body\n\n"
        b"From spammer@src.example Thu Dec  3 10:02:00 2026\n"
        b"From: spammer@src.example\nSubject: mbox three\n\nthird body \xe9\n")

MAILDIR = {
    "new/1764756000.M1P1.host": b"From: m@src.example\nSubject: maildir new\n\nin new\n",
    "cur/1764756001.M2P2.host:2,S": b"From: m@src.example\nSubject: maildir cur\n\nin cur\n",
}


def write_inputs(tmp_path):
    eml = tmp_path / "one.eml"
    eml.write_bytes(EML)
    mbox = tmp_path / "spam.mbox"
    mbox.write_bytes(MBOX)
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for name, data in MAILDIR.items():
        (maildir / name).write_bytes(data)
    broken = tmp_path / "broken.eml"
    broken.symlink_to(tmp_path / "does-not-exist.eml")  # unreadable, even for root
    return [eml, mbox, maildir, broken]


def subjects(trap):
    out = {}
    for m in trap.messages():
        raw = trap.raw(m["id"])
        subject = next(l for l in raw.splitlines() if l.startswith(b"Subject: "))
        out[subject[len(b"Subject: "):].decode()] = (m, raw)
    return out


def test_import_takes_eml_mbox_and_maildir_and_reports_the_bad_file(trap_factory, tmp_path):
    trap = trap_factory()  # not serving: import works on the data dir alone
    paths = write_inputs(tmp_path)
    out = trap.cli("import", *map(str, paths))
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert b"broken.eml" in out.stderr, out.stderr
    assert b"panicked" not in out.stderr

    stored = subjects(trap)
    assert sorted(stored) == sorted(["eml one", "mbox one", "mbox two", "mbox three",
                                     "maildir new", "maildir cur"])
    assert {m["source"] for m, _ in stored.values()} == {"import"}
    for m, raw in stored.values():
        assert m["id"] == sha256(raw)
        assert m["size"] == len(raw)
    assert stored["eml one"][1] == EML
    assert stored["maildir new"][1] == MAILDIR["new/1764756000.M1P1.host"]
    for subject in ("mbox one", "mbox two", "mbox three"):
        raw = stored[subject][1]
        assert not raw.startswith(b"From "), f"mbox separator kept in {raw!r}"
        assert b"From: spammer@src.example" in raw
    assert b"From the quoted line" in stored["mbox one"][1]
    assert b"third body \xe9" in stored["mbox three"][1]


def test_import_is_listed_while_the_server_runs(trap, tmp_path):
    (tmp_path / "one.eml").write_bytes(EML)
    out = trap.cli("import", str(tmp_path / "one.eml"))
    assert out.returncode == 0, out.stderr
    [m] = trap.messages()
    assert m["source"] == "import" and m["id"] == sha256(EML)


def test_import_with_nothing_importable_fails(trap_factory, tmp_path):
    trap = trap_factory()
    out = trap.cli("import", str(tmp_path / "missing.eml"))
    assert out.returncode != 0
    assert b"missing.eml" in out.stderr and b"panicked" not in out.stderr
    assert trap.messages() == []
