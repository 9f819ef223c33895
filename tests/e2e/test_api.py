"""The REST API end to end: a real `serve` captures mail over SMTP and analyses it; the API lists,
searches with every operator, pages with cursors, refuses what it must; schemathesis fuzzes the
served OpenAPI document and finds no server error or schema violation."""

import http.client
import json
import os
import shutil
import smtplib
import subprocess
import time
import urllib.parse
from email.message import EmailMessage

import pytest

from conftest import Trap, binary_path

ANALYSIS_DEADLINE = 90
SCHEMATHESIS_BUDGET = 90  # seconds: fuzzing and stateful phases repeat until it is spent
FILLERS = 9


def mail(subject, sender, to, body, attachment=None):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m.set_content(body)
    if attachment:
        name, data = attachment
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


MAILS = {
    "invoice": (mail("Your invoice 1001", "Billing Dept <billing@bills.example>",
                     "alice@trap.example",
                     "Please see the remittance advice at http://pay.bills.example/r/1001\n"),
                "alice@trap.example"),
    "password": (mail("Password expiry notice", "IT Desk <it@desk.example>", "bob@trap.example",
                      "Your mailbox password expires today.\n"), "bob@trap.example"),
    "dropper": (mail("Scanned document", "scanner@office.example", "carol@trap.example",
                     "See attached.\n",
                     ("scan_0042.js",
                      b"var s = new ActiveXObject('WScript.Shell'); s.Run('calc.exe');\n")),
                "carol@trap.example"),
}


def send(trap, raw, rcpt):
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        s.ehlo("bot.example")
        s.sendmail("bounce@src.example", [rcpt], raw)


class Api:
    def __init__(self, trap, token):
        host, _, port = trap.ready["http"].rpartition(":")
        self.host, self.port, self.token = host.strip("[]"), int(port), token
        self.base = f"http://{trap.ready['http']}"

    def get(self, path, token=True):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if token else {}
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            ctype = resp.headers.get("Content-Type", "")
            assert ctype.startswith("application/json"), (path, resp.status, ctype, body[:200])
            return resp.status, json.loads(body)
        finally:
            conn.close()

    def ok(self, path):
        status, body = self.get(path)
        assert status == 200, (path, body)
        return body

    def search(self, q, limit=100):
        body = self.ok("/api/v1/messages?" + urllib.parse.urlencode({"q": q, "limit": limit}))
        assert "next_cursor" not in body, body
        return {m["sighting"] for m in body["messages"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One analysing trap with the mails above plus fillers, and an API token (module-wide: the
    tests below only read)."""
    path = binary_path()
    if not path.is_file():
        pytest.fail(f"spamhattan binary not found at {path}")
    trap = Trap(path, tmp_path_factory.mktemp("api") / "data",
                extra_args=["--http-listen", "127.0.0.1:0"])
    trap.config_text = "[analysis]\nworkers = 1\n[analysis.auth]\nenabled = false\n"
    trap.start()
    try:
        out = trap.cli("tokens", "create", "e2e", "--role", "reader")
        assert out.returncode == 0, out.stderr.decode()
        api = Api(trap, out.stdout.decode().strip())
        for raw, rcpt in MAILS.values():
            send(trap, raw, rcpt)
        for n in range(FILLERS):
            send(trap, mail(f"Newsletter {n}", "news@letters.example", "dave@trap.example",
                            f"issue {n}\n"), "dave@trap.example")
        total = len(MAILS) + FILLERS
        deadline = time.monotonic() + ANALYSIS_DEADLINE
        while True:
            rows = api.ok("/api/v1/messages?limit=100")["messages"]
            if len(rows) == total and all(r["verdict"] is not None for r in rows):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"not analysed within {ANALYSIS_DEADLINE}s: {rows}\n"
                            + trap.stderr_tail())
            time.sleep(0.2)
        by_subject = {r["subject"]: r for r in rows}
        yield trap, api, by_subject
    finally:
        trap.stop()


def sid(by_subject, subject):
    return by_subject[subject]["sighting"]


def test_list_shows_every_message_newest_first_with_its_facts(served):
    _, api, by_subject = served
    rows = api.ok("/api/v1/messages")["messages"]
    assert len(rows) == len(MAILS) + FILLERS
    assert rows[0]["subject"] == f"Newsletter {FILLERS - 1}"
    inv = by_subject["Your invoice 1001"]
    assert inv["from"] == "Billing Dept <billing@bills.example>"
    assert inv["recipients"] == ["alice@trap.example"]
    assert inv["envelope_from"] == "bounce@src.example"
    assert inv["peer"].startswith("127.0.0.1:")
    assert by_subject["Scanned document"]["attachments"] == 1


def test_every_search_operator(served):
    _, api, s = served
    inv, pw, drop = (sid(s, "Your invoice 1001"), sid(s, "Password expiry notice"),
                     sid(s, "Scanned document"))
    assert api.search("remittance") == {inv}
    assert api.search("from:billing@bills.example") == {inv}
    assert api.search('from:"IT Desk"') == {pw}
    assert api.search("to:bob@trap.example") == {pw}
    assert api.search('subject:"your invoice"') == {inv}
    assert api.search('subject:"invoice your"') == set()
    assert api.search("has:attachment") == {drop}
    assert api.search("filename:scan_0042.js") == {drop}
    verdict = s["Scanned document"]["verdict"]
    assert drop in api.search(f"verdict:{verdict}")
    assert all(r["verdict"] == verdict for r in
               api.ok("/api/v1/messages?q=" + urllib.parse.quote(f"verdict:{verdict}"))["messages"])
    detail = api.ok(f"/api/v1/messages/{inv}")
    urls = [i["value"] for i in detail["report"]["indicators"] if i["kind"] == "url"]
    assert urls, detail["report"]["indicators"]
    assert api.search(f'ioc:"{urls[0]}"') == {inv}
    assert api.search("before:2000-01-01") == set()
    assert len(api.search("after:2000-01-01T00:00:00Z")) == len(MAILS) + FILLERS
    campaign = s["Newsletter 0"]["campaign"]
    if campaign is not None:
        assert sid(s, "Newsletter 0") in api.search(f"campaign:{campaign}")
    assert api.search("campaign:999999") == set()
    assert api.search("newsletter has:none to:dave@trap.example") == {
        sid(s, f"Newsletter {n}") for n in range(FILLERS)}


def test_paging_through_all_with_cursors(served):
    _, api, _ = served
    seen, cursor, pages = [], None, 0
    while True:
        q = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        body = api.ok("/api/v1/messages?" + urllib.parse.urlencode(q))
        assert len(body["messages"]) <= 4
        seen += [m["sighting"] for m in body["messages"]]
        pages += 1
        cursor = body.get("next_cursor")
        if cursor is None:
            break
    everything = [m["sighting"] for m in api.ok("/api/v1/messages?limit=100")["messages"]]
    assert seen == everything, "no duplicates, none missing, same order"
    assert pages == -(-len(everything) // 4)


def test_detail_has_envelope_session_transcript_and_report(served):
    _, api, s = served
    d = api.ok(f"/api/v1/messages/{sid(s, 'Password expiry notice')}")
    assert d["sighting"]["envelope"]["recipients"][0]["address"] == "bob@trap.example"
    assert d["session"] is not None and d["session"]["helo"] == "bot.example"
    assert d["session"]["transcript"], d["session"]
    assert d["report"]["headers"]["subject"] == "Password expiry notice"


def test_other_endpoints_answer(served):
    _, api, _ = served
    assert api.ok("/api/v1/sensors")["sensors"][0]["sightings"] == len(MAILS) + FILLERS
    stats = api.ok("/api/v1/stats?hours=24")
    assert sum(v["total"] for v in stats["volume"]) == len(MAILS) + FILLERS
    assert stats["by_trap_domain"][0]["key"] == "trap.example"
    inds = api.ok("/api/v1/indicators?limit=2")
    assert len(inds["indicators"]) <= 2
    api.ok("/api/v1/campaigns")
    api.ok("/api/v1/alerts")


def test_refusals_are_clear(served):
    _, api, _ = served
    status, body = api.get("/api/v1/messages", token=False)
    assert status == 401, body
    for path, needle in [
        ("/api/v1/messages?q=colour:red", "unknown search key"),
        ("/api/v1/messages?limit=0", "limit must be between"),
        ("/api/v1/messages?limit=5000", "limit must be between"),
        ("/api/v1/messages?cursor=nonsense", "cursor"),
        ("/api/v1/messages/not-an-id", "UUID"),
    ]:
        status, body = api.get(path)
        assert status == 400, (path, body)
        assert needle in body["error"]["description"], (path, body)
    status, body = api.get("/api/v1/messages/00000000-0000-7000-8000-000000000000")
    assert status == 404, body


def schemathesis_cli():
    """The schemathesis CLI: $SPAMHATTAN_SCHEMATHESIS, or on PATH. Missing fails under CI=true."""
    found = os.environ.get("SPAMHATTAN_SCHEMATHESIS") or shutil.which("schemathesis")
    if found:
        return found
    message = "schemathesis not found: python3 -m pip install -r tests/requirements.txt"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.timeout(SCHEMATHESIS_BUDGET + 120)
def test_schemathesis_finds_no_server_error_or_schema_violation(served, tmp_path):
    cli = schemathesis_cli()
    trap, api, _ = served
    report = tmp_path / "schemathesis.json"
    # An admin token, so the admin operations (PATCH of a campaign, alert redelivery) are
    # exercised with their bodies, not only refused with 403.
    made = trap.cli("tokens", "create", "e2e-admin", "--role", "admin")
    assert made.returncode == 0, made.stderr.decode()
    admin_token = made.stdout.decode().strip()
    cmd = [cli, "run", f"{api.base}/api/v1/openapi.json",
           "--header", f"Authorization: Bearer {admin_token}",
           "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                       "response_schema_conformance",
           "--max-examples", "25", "--max-time", str(SCHEMATHESIS_BUDGET),
           "--seed", "6", "--workers", "2", "--no-color", "--generation-database", "none",
           "--report", "json", "--report-json-path", str(report)]
    out = subprocess.run(cmd, capture_output=True, timeout=SCHEMATHESIS_BUDGET + 90,
                         cwd=tmp_path, stdin=subprocess.DEVNULL)
    text = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
    assert out.returncode == 0, text[-6000:] + "\n" + trap.stderr_tail()
    # It really exercised every operation (not an empty run against a schema it could not load).
    summary = json.loads(report.read_text())
    ops = summary["operations"]
    assert ops["tested"] == ops["total"] >= 10 and not ops["errored"], ops
    assert summary["test_cases"]["generated"] > 100 and not summary["errors"], summary
