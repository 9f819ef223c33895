"""The trap accepts mail for its domains and refuses every attempt to relay anywhere else."""

import smtplib
import subprocess

import pytest

from conftest import HOSTNAME, make_message, require_tool

OTHER = "elsewhere.example"  # not a trap domain: the relay destination


def test_relay_attempt_is_refused_with_554(trap):
    with smtplib.SMTP(trap.host, trap.port, local_hostname="client.src.example", timeout=10) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            s.sendmail("sender@src.example", [f"user@{OTHER}"], make_message("relay"))
    code, text = refused.value.recipients[f"user@{OTHER}"]
    assert code == 554
    assert text == f"5.7.1 <user@{OTHER}>: Relay access denied".encode()
    assert trap.messages() == []


def test_wildcard_trap_domain_accepts_subdomains(trap):
    msg = make_message("wildcard")
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        assert s.sendmail("sender@src.example", ["x@mx.wild.example", "y@a.b.wild.example"], msg) == {}
    assert sorted(trap.assert_stored(msg)["recipients"]) == ["x@mx.wild.example", "y@a.b.wild.example"]


# nmap smtp-open-relay's 16 MAIL FROM -> RCPT TO tricks (see docs/reference peer-baselines §6),
# with D = a foreign domain, srvname = the banner's host name, IP = the target address.
IP = "127.0.0.1"
RELAY_TRICKS = [
    ("<>", f"<relaytest@{OTHER}>"),
    (f"<antispam@{OTHER}>", f"<relaytest@{OTHER}>"),
    (f"<antispam@{HOSTNAME}>", f"<relaytest@{OTHER}>"),
    (f"<antispam@[{IP}]>", f"<relaytest@{OTHER}>"),
    (f"<antispam@[{IP}]>", f"<relaytest%{OTHER}@[{IP}]>"),
    (f"<antispam@[{IP}]>", f"<relaytest%{OTHER}@{HOSTNAME}>"),
    (f"<antispam@[{IP}]>", f'<"relaytest@{OTHER}">'),
    (f"<antispam@[{IP}]>", f'<"relaytest%{OTHER}">'),
    (f"<antispam@[{IP}]>", f"<relaytest@{OTHER}@[{IP}]>"),
    (f"<antispam@[{IP}]>", f'<"relaytest@{OTHER}"@[{IP}]>'),
    (f"<antispam@[{IP}]>", f"<relaytest@{OTHER}@{HOSTNAME}>"),
    (f"<antispam@[{IP}]>", f"<@[{IP}]:relaytest@{OTHER}>"),
    (f"<antispam@[{IP}]>", f"<@{HOSTNAME}:relaytest@{OTHER}>"),
    (f"<antispam@[{IP}]>", f"<{OTHER}!relaytest>"),
    (f"<antispam@[{IP}]>", f"<{OTHER}!relaytest@[{IP}]>"),
    (f"<antispam@[{IP}]>", f"<{OTHER}!relaytest@{HOSTNAME}>"),
]


@pytest.mark.parametrize("sender,rcpt", RELAY_TRICKS, ids=[f"trick{i + 1}" for i in range(16)])
def test_relay_trick_recipient_is_refused(trap, sender, rcpt):
    with trap.wire() as w:
        w.reply()
        w.expect("EHLO nmap.scanme.org", 250)
        w.expect("RSET", 250)
        w.expect(f"MAIL FROM:{sender}", 250)
        code, lines = w.cmd(f"RCPT TO:{rcpt}")
        assert code >= 400, f"RCPT TO:{rcpt} was accepted: {lines}"
        w.expect("QUIT", 221)


def test_nmap_smtp_open_relay_finds_no_relay(trap):
    """nmap as an external oracle.

    Pitfalls (peer-baselines.md §6): the script's portrule only fires on 25/465/587 or a port
    detected as smtp, so both scripts are forced with "+". Its destination is relaytest@DOMAIN:
    DOMAIN must NOT be a trap domain (relaytest@trap.example is a legitimate catch-all recipient
    and would read as "open relay"), so it is a foreign domain. -n: no DNS.
    """
    cmd = [require_tool("nmap"), "-n", "-Pn", "-sT", "-p", str(trap.port),
           "--script", "+smtp-open-relay,+smtp-commands", "-vv",
           "--script-args", f"smtp-open-relay.domain={OTHER},smtp-open-relay.ip={IP}", IP]
    out = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Server doesn't seem to be an open relay, all tests failed" in out.stdout, out.stdout
    # "|_smtp-commands: mx1.example.net, PIPELINING, SIZE 10240000, ..." (the EHLO reply, one line)
    line = next(l for l in out.stdout.splitlines() if "smtp-commands:" in l)
    advertised = {item.split()[0] for item in line.split("smtp-commands:", 1)[1].split(", ") if item}
    missing = {"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING",
               "STARTTLS"} - advertised
    assert not missing, f"smtp-commands lacks {missing}: {line}"
    assert trap.messages() == []
