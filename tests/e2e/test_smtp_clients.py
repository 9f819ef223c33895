"""Real SMTP clients (Python's smtplib, swaks) deliver to the trap and what they sent is stored exactly."""

import re
import smtplib
import subprocess

from conftest import HOSTNAME, make_message, no_verify_tls, require_tool, sha256

EHLO_KEYWORDS = {"pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "chunking",
                 "starttls"}
FORBIDDEN = ("spamhattan", "honeypot", "trap")


def smtp(trap):
    return smtplib.SMTP(trap.host, trap.port, local_hostname="client.src.example", timeout=10)


# --- smtplib ------------------------------------------------------------------------------------

def test_plain_message_is_stored_byte_exact(trap):
    # Lines starting with dots are dot-stuffed by smtplib; the store keeps the un-stuffed form.
    body = b"first line\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n"
    msg = make_message("plain", body)
    with smtp(trap) as s:
        assert s.sendmail("sender@src.example", ["trap@trap.example"], msg) == {}
    entry = trap.assert_stored(msg)
    assert entry["source"] == "smtp"
    assert entry["sender"] == "sender@src.example"
    assert entry["recipients"] == ["trap@trap.example"]
    assert entry["size"] == len(msg)
    assert entry["peer"].startswith("127.0.0.1:")


def test_message_without_final_crlf_is_stored_with_the_crlf_smtplib_adds(trap):
    msg = make_message("no final crlf", b"no newline at the end")
    with smtp(trap) as s:
        s.sendmail("sender@src.example", ["trap@trap.example"], msg)
    trap.assert_stored(msg + b"\r\n")


def test_starttls_then_message_is_stored(trap):
    msg = make_message("over tls")
    with smtp(trap) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=no_verify_tls())
        assert code == 220
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS must not be offered again inside TLS"
        s.sendmail("sender@src.example", ["trap@trap.example"], msg)
    trap.assert_stored(msg)


def test_8bitmime_body_is_stored_exactly(trap):
    body = bytes(range(0x80, 0x100)) + b"\r\ncaf\xc3\xa9 \xff\xfe latin-1 \xe9\r\n"
    msg = make_message("8bit", body, b"Content-Transfer-Encoding: 8bit\r\n")
    with smtp(trap) as s:
        s.sendmail("sender@src.example", ["trap@trap.example"], msg, mail_options=["BODY=8BITMIME"])
    trap.assert_stored(msg)


def test_smtputf8_local_part_is_accepted(trap):
    rcpt = "jös\u00e9.ñandú@trap.example"
    msg = make_message("utf8", "grüße\r\n".encode(), f"X-To: {rcpt}\r\n".encode())
    with smtp(trap) as s:
        s.sendmail("sénder@src.example", [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    entry = trap.assert_stored(msg)
    assert entry["recipients"] == [rcpt]
    assert entry["sender"] == "sénder@src.example"


def test_ehlo_advertises_the_postfix_keywords(trap):
    with smtp(trap) as s:
        code, text = s.ehlo()
        assert code == 250
        assert text.decode().splitlines()[0] == HOSTNAME
        missing = EHLO_KEYWORDS - set(s.esmtp_features)
        assert not missing, f"EHLO lacks {missing}: {text!r}"
        assert s.esmtp_features["size"].isdigit()


def test_banner_looks_like_postfix_and_replies_never_name_the_trap(trap):
    with trap.wire() as w:
        code, banner = w.reply()
        assert code == 220
        assert re.fullmatch(rf"220 {re.escape(HOSTNAME)} ESMTP Postfix( \(.*\))?", banner[0]), banner
        session = [
            ("EHLO client.src.example", ()),
            ("HELP", ()),
            ("VRFY root", ("root",)),
            ("XYZZY", ()),
            ("MAIL FROM:<spammer@src.example>", ("spammer@src.example",)),
            ("RCPT TO:<someone@elsewhere.example>", ("someone@elsewhere.example",)),
            ("RCPT TO:<jane@trap.example>", ("jane@trap.example",)),
            ("DATA", ()),
            ("Subject: x\r\n\r\nbody\r\n.", ()),
            ("RSET", ()),
            ("NOOP", ()),
            ("DATA", ()),
            ("QUIT", ()),
        ]
        replies = [banner]
        for line, echoed in session:
            _, lines = w.cmd(line)
            text = "\n".join(lines)
            for arg in echoed:  # an echo of what the client itself sent fingerprints nothing
                text = text.replace(arg, "")
            replies.append(text.splitlines())
    for text in ("\n".join(r) for r in replies):
        for word in FORBIDDEN:
            assert word not in text.lower(), f"reply names {word!r}: {text!r}"
    assert replies[-1] == ["221 2.0.0 Bye"]


def test_ipv6_loopback_listener_delivers(trap_factory):
    trap = trap_factory(extra_args=["--smtp-listen", "[::1]:0"]).start()
    [v6] = [l["address"] for l in trap.listeners if l["address"].startswith("[::1]:")]
    msg = make_message("over ipv6")
    with smtplib.SMTP("::1", int(v6.rsplit(":", 1)[1]), timeout=10) as s:
        s.sendmail("sender@src.example", ["trap@trap.example"], msg)
    assert trap.assert_stored(msg)["peer"].startswith("[::1]:")


# --- swaks --------------------------------------------------------------------------------------

def swaks(trap, *args):
    cmd = [require_tool("swaks"), "--server", trap.host, "--port", str(trap.port),
           "--to", "trap@trap.example", "--from", "sender@src.example", "--helo", "client.src.example",
           *args]
    out = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    transcript = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
    assert out.returncode == 0, f"swaks exited {out.returncode}:\n{transcript}"
    return transcript


def test_swaks_starttls_delivers(trap):
    transcript = swaks(trap, "--tls", "--header", "Subject: swaks tls")
    assert re.search(r"<-  220 .*\n", transcript.split(" -> STARTTLS", 1)[1]), transcript
    assert re.search(r"=== TLS started with cipher \S+", transcript), transcript
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as \w+", transcript), transcript  # inside TLS
    [m] = trap.messages()
    assert b"Subject: swaks tls" in trap.raw(m["id"])


def test_swaks_pipeline_sends_the_envelope_in_one_batch(trap):
    transcript = swaks(trap, "--pipeline", "--header", "Subject: swaks pipeline")
    # swaks prints the whole batch of commands before the first reply when it pipelines.
    assert re.search(r" -> MAIL FROM:<sender@src\.example>\s*\n -> RCPT TO:<trap@trap\.example>\s*\n"
                     r" -> DATA\s*\n", transcript), transcript
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as \w+", transcript), transcript
    [m] = trap.messages()
    assert b"Subject: swaks pipeline" in trap.raw(m["id"])


def test_swaks_8bit_body_is_stored(trap, tmp_path):
    body = "8bit body: caf\u00e9 gr\u00fc\u00dfe \u20ac".encode() + b" raw \xe9\xff"
    (tmp_path / "body").write_bytes(body)
    swaks(trap, "--protocol", "ESMTP", "--body", f"@{tmp_path / 'body'}",
          "--header", "Content-Transfer-Encoding: 8bit")
    [m] = trap.messages()
    assert body in trap.raw(m["id"])
    assert m["id"] == sha256(trap.raw(m["id"]))


# --- Postfix smtp-source ------------------------------------------------------------------------

def test_smtp_source_load_is_fully_stored(trap):
    """5 parallel sessions, 200 messages of 4 KiB, as the peer benchmarks drive servers."""
    cmd = [require_tool("smtp-source"), "-s", "5", "-m", "200", "-l", "4096", "-M", "src.example",
           "-f", "load@src.example", "-t", "trap@trap.example", f"{trap.host}:{trap.port}"]
    out = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    listed = trap.messages()
    assert len(listed) == 200
    assert {m["sender"] for m in listed} == {"load@src.example"}
