"""Trap-domain lifecycle end to end: a real `serve` with one `[[domain]]` per state, driven by
smtplib (and swaks when installed). A `new` domain takes the message, keeps it and answers 550
after DATA; `aging` and `active` answer 250; `retired` refuses at RCPT and keeps nothing. The
quiet message is listed by `messages list` with its exact bytes, its session transcript shows
the 550, and `spamhattan domains` reports each domain's state and mail.

States come from dates a year away from today (UTC), so the outcome never depends on the day.
"""

import datetime
import http.client
import json
import smtplib
import subprocess
import time

import pytest

from conftest import Trap, binary_path, make_message, require_tool, sha256

ANALYSIS_DEADLINE = 90
QUIET_BOUNCE = ("5.1.1 <victim@new.example>: Recipient address rejected: "
                "User unknown in virtual mailbox table")


def config_text():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    past, future = today - datetime.timedelta(days=365), today + datetime.timedelta(days=365)
    return f"""[analysis]
workers = 1
[analysis.auth]
enabled = false

[[domain]]
name = "new.example"
active_from = {future}
sector = "retail"

[[domain]]
name = "aging.example"
aging_from = {past}
active_from = {future}

[[domain]]
name = "active.example"
active_from = {past}

[[domain]]
name = "retired.example"
state = "retired"
"""


class Api:
    def __init__(self, trap, token):
        host, _, port = trap.ready["http"].rpartition(":")
        self.host, self.port, self.token = host.strip("[]"), int(port), token

    def get(self, path):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (path, resp.status, body[:300])
            return json.loads(body)
        finally:
            conn.close()


def transaction(trap, rcpts, raw):
    """MAIL, one RCPT per address, DATA: ([RCPT codes], (final code, text)) as the client saw
    them; the final reply is None when DATA itself was refused."""
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        s.ehlo("bot.example")
        s.mail("spammer@src.example")
        codes = [s.rcpt(r)[0] for r in rcpts]
        try:
            code, text = s.data(raw)
        except smtplib.SMTPDataError as e:
            return codes, None, (e.smtp_code, e.smtp_error.decode())
        return codes, (code, text.decode()), None


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One analysing trap with the four domains, the mail below sent, an API token."""
    path = binary_path()
    if not path.is_file():
        pytest.fail(f"spamhattan binary not found at {path}")
    trap = Trap(path, tmp_path_factory.mktemp("domains") / "data",
                extra_args=["--http-listen", "127.0.0.1:0"])
    trap.config_text = config_text()
    trap.start()
    try:
        out = trap.cli("tokens", "create", "e2e", "--role", "reader")
        assert out.returncode == 0, out.stderr.decode()
        sent = {
            "new": make_message("quiet period"),
            "aging": make_message("aging baseline"),
            "active": make_message("active trap"),
            "mixed": make_message("new and active"),
            "retired": make_message("retired domain"),
        }
        replies = {
            "new": transaction(trap, ["victim@new.example"], sent["new"]),
            "aging": transaction(trap, ["a@aging.example"], sent["aging"]),
            "active": transaction(trap, ["a@active.example"], sent["active"]),
            "mixed": transaction(trap, ["b@new.example", "b@active.example"], sent["mixed"]),
            "retired": transaction(trap, ["gone@retired.example"], sent["retired"]),
        }
        yield trap, Api(trap, out.stdout.decode().strip()), sent, replies
    finally:
        trap.stop()


def test_new_domain_answers_250_then_550_after_data(served):
    _, _, _, replies = served
    rcpt, final, refused = replies["new"]
    assert rcpt == [250]
    assert refused is None
    assert final == (550, QUIET_BOUNCE)


def test_aging_active_and_mixed_transactions_are_queued(served):
    _, _, _, replies = served
    for name, rcpts in (("aging", [250]), ("active", [250]), ("mixed", [250, 250])):
        rcpt, final, _ = replies[name]
        assert rcpt == rcpts, name
        assert final[0] == 250 and "queued as" in final[1], (name, final)


def test_retired_domain_refuses_at_rcpt_and_data_is_refused(served):
    _, _, _, replies = served
    rcpt, final, refused = replies["retired"]
    assert rcpt == [550]
    assert final is None
    assert refused[0] == 554, refused


def test_quiet_message_is_stored_with_its_bytes_and_retired_one_is_not(served):
    trap, _, sent, _ = served
    quiet = trap.assert_stored(sent["new"])
    assert quiet["recipients"] == ["victim@new.example"]
    for name in ("aging", "active", "mixed"):
        trap.assert_stored(sent[name])
    ids = {m["id"] for m in trap.messages()}
    assert sha256(sent["retired"]) not in ids
    assert len(ids) == 4


def wait_for(api, sighting, ready):
    """Polls the message detail until `ready(detail)`: the session record is written when the
    session ends and the report when a worker has analysed it."""
    deadline = time.monotonic() + ANALYSIS_DEADLINE
    while True:
        d = api.get(f"/api/v1/messages/{sighting}")
        if ready(d):
            return d
        if time.monotonic() > deadline:
            pytest.fail(f"message {sighting} not ready within {ANALYSIS_DEADLINE}s: {d}")
        time.sleep(0.2)


def test_quiet_message_is_flagged_and_its_transcript_shows_the_550(served):
    trap, api, sent, _ = served
    sighting = next(m["sighting"] for m in trap.messages() if m["id"] == sha256(sent["new"]))
    d = wait_for(api, sighting, lambda d: d.get("session") is not None)
    recipients = d["sighting"]["envelope"]["recipients"]
    assert [(r["address"], r["verdict"], r.get("quiet")) for r in recipients] == [
        ("victim@new.example", "accepted", True)]
    said = [line["line"] for line in d["session"]["transcript"]["lines"]]
    assert f"550 {QUIET_BOUNCE}" in said, said
    mixed = next(m["sighting"] for m in trap.messages() if m["id"] == sha256(sent["mixed"]))
    d = wait_for(api, mixed, lambda d: True)
    flags = [r.get("quiet", False) for r in d["sighting"]["envelope"]["recipients"]]
    assert flags == [True, False]


def test_domains_command_reports_state_and_mail_per_domain(served):
    trap, api, sent, _ = served
    for m in trap.messages():
        wait_for(api, m["sighting"], lambda d: d.get("report") is not None)
    out = trap.cli("domains", "--json", "--days", "7", "--config", str(trap.config_path()))
    assert out.returncode == 0, out.stderr.decode()
    rows = {r["pattern"]: r for r in map(json.loads, out.stdout.splitlines())}
    state = {p: r["state"] for p, r in rows.items() if r["state"] is not None}
    assert state == {"new.example": "new", "aging.example": "aging",
                     "active.example": "active", "retired.example": "retired"}
    # The quiet message and the mixed one reached new.example; the mixed one active.example too.
    assert (rows["new.example"]["messages"], rows["active.example"]["messages"]) == (2, 2)
    assert rows["aging.example"]["messages"] == 1
    assert rows["retired.example"]["messages"] == 0
    assert rows["new.example"]["sector"] == "retail"
    # Activation is a year ago for active.example: its first message after it is today's.
    assert rows["active.example"]["first_after_activation"] is not None
    assert rows["new.example"]["first_after_activation"] is None
    text = trap.cli("domains", "--config", str(trap.config_path()))
    assert text.returncode == 0, text.stderr.decode()
    assert b"new.example  new  sector retail" in text.stdout, text.stdout


def test_events_carry_the_quiet_flag_and_the_retired_refusal(served):
    """Last of the module's tests: it stops the trap so the event log is complete."""
    trap, _, sent, _ = served
    trap.stop()
    events = [json.loads(l) for l in (trap.data_dir / "events.jsonl").read_text().splitlines() if l]
    stored = {e["message_id"]: e for e in events if e.get("eventid") == "spamhattan.message.stored"}
    assert stored[sha256(sent["new"])].get("quiet") is True
    assert "quiet" not in stored[sha256(sent["mixed"])]
    refused = [e for e in events if e.get("eventid") == "spamhattan.session.rcpt"
               and e.get("address") == "gone@retired.example"]
    assert refused and refused[0]["reply"].startswith("550 5.1.1 <gone@retired.example>")


def test_swaks_sees_the_same_replies(tmp_path, spamhattan_bin):
    swaks = require_tool("swaks")
    trap = Trap(spamhattan_bin, tmp_path / "data")
    trap.config_text = config_text()
    trap.start()
    try:
        def run(to):
            return subprocess.run([swaks, "--server", f"{trap.host}:{trap.port}", "--to", to,
                                   "--from", "spammer@src.example", "--helo", "bot.example"],
                                  capture_output=True, timeout=60, text=True)
        quiet = run("victim@new.example")
        assert "<~  250 2.1.5 Ok" in quiet.stdout or "<-  250 2.1.5 Ok" in quiet.stdout
        assert f"550 {QUIET_BOUNCE}" in quiet.stdout, quiet.stdout
        retired = run("gone@retired.example")
        assert "550 5.1.1 <gone@retired.example>" in retired.stdout, retired.stdout
        assert len(trap.messages()) == 1
    finally:
        trap.stop()
