"""Raw-socket sessions: pipelining, BDAT chunking and the STARTTLS plaintext-injection check."""

import socket
import ssl


from conftest import HOSTNAME, make_message


def greet(w):
    assert w.reply()[0] == 220
    w.expect("EHLO client.src.example", 250)


def test_pipelined_envelope_in_one_write_gets_three_replies(trap):
    msg = make_message("pipelined", b"one write\r\n.dot\r\n")
    with trap.wire() as w:
        greet(w)
        w.send(b"MAIL FROM:<sender@src.example>\r\nRCPT TO:<trap@trap.example>\r\nDATA\r\n")
        assert [w.reply()[0] for _ in range(3)] == [250, 250, 354]
        w.send(msg.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        code, lines = w.reply()
        assert code == 250 and lines[0].startswith("250 2.0.0 Ok: queued as "), lines
        w.expect("QUIT", 221)
    trap.assert_stored(msg)


def test_whole_transaction_pipelined_after_data_is_stored(trap):
    """Client sends DATA's payload and QUIT without waiting for 354: stuffing still applies."""
    msg = make_message("fully pipelined")
    with trap.wire() as w:
        greet(w)
        w.send(b"MAIL FROM:<sender@src.example>\r\nRCPT TO:<trap@trap.example>\r\nDATA\r\n"
               + msg + b".\r\nQUIT\r\n")
        assert [w.reply()[0] for _ in range(5)] == [250, 250, 354, 250, 221]
    trap.assert_stored(msg)


def test_bdat_two_chunks_are_stored_as_their_concatenation(trap):
    # BDAT is not dot-stuffed: a lone "." line and CRLF.CRLF inside a chunk are plain data.
    first = make_message("bdat", b"chunk one\r\n.\r\n..not stuffed\r\n")
    second = b"chunk two \xe9\xff\r\n.\r\n"
    with trap.wire() as w:
        greet(w)
        w.expect("MAIL FROM:<sender@src.example> BODY=8BITMIME", 250)
        w.expect("RCPT TO:<trap@trap.example>", 250)
        w.send(f"BDAT {len(first)}\r\n".encode() + first)
        code, lines = w.reply()
        assert code == 250, lines
        w.send(f"BDAT {len(second)} LAST\r\n".encode() + second)
        code, lines = w.reply()
        assert code == 250 and "queued as" in lines[0], lines
    trap.assert_stored(first + second)


def test_starttls_injected_command_is_not_answered(trap):
    """CVE-2011-0411 class: plaintext sent after STARTTLS in the same packet must be discarded."""
    with trap.wire() as w:
        greet(w)
        w.send(b"STARTTLS\r\nNOOP\r\n")
        code, lines = w.reply()
        assert code == 220, lines
        assert w.buf == b"", f"server answered the injected command in plaintext: {w.buf!r}"
        try:
            w.starttls()
        except (ssl.SSLError, ConnectionError, OSError):
            return  # dropping the connection is a safe answer too
        w.sock.settimeout(1.0)  # bounded wait for an unsolicited reply; none is the pass
        try:
            unsolicited = w.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            unsolicited = None
        except (ssl.SSLError, ConnectionError):
            return
        assert not unsolicited, f"server answered the injected NOOP inside TLS: {unsolicited!r}"
        w.sock.settimeout(10)
        code, lines = w.cmd("EHLO client.src.example")
        assert code == 250 and lines[0] == f"250-{HOSTNAME}", lines


def test_starttls_session_delivers_after_a_new_ehlo(trap):
    msg = make_message("raw tls")
    with trap.wire() as w:
        greet(w)
        assert w.cmd("STARTTLS")[0] == 220
        w.starttls()
        w.expect("EHLO client.src.example", 250)
        w.expect("MAIL FROM:<sender@src.example>", 250)
        w.expect("RCPT TO:<trap@trap.example>", 250)
        w.expect("DATA", 354)
        w.send(msg + b".\r\n")
        assert w.reply()[0] == 250
    trap.assert_stored(msg)
