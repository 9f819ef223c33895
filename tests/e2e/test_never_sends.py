"""The trap never sends mail: no bounce, no DSN, no relay, no outgoing connection of any kind."""

import os
import re
import socket
import subprocess
import urllib.parse
import sys
from pathlib import Path

from conftest import make_message, require_tool

INET_SOCKADDR = re.compile(r"sa_family=AF_INET6?\b")
TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "0A": "LISTEN"}


def socket_inodes(pid):
    """Inodes of every socket held by any thread of the process."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def tcp_sockets(pid):
    """(state, local port, remote address) of the process's own TCP sockets, v4 and v6."""
    owned = socket_inodes(pid)
    rows = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in owned:
                rows.append((TCP_STATES.get(state, state), int(local.rsplit(":", 1)[1], 16), remote))
    return rows


def provoke_mail(trap):
    """Everything that would make a real MTA send mail: DSN requests, a null sender, a relay
    attempt, a failing transaction and a completed one."""
    with trap.wire() as w:
        w.reply()
        w.expect("EHLO client.src.example", 250)
        # DSN on a completed transaction: a real MTA would send a "delivered" notification.
        w.expect("MAIL FROM:<bounce-me@src.example> RET=HDRS ENVID=x-envid-1", 250)
        w.expect("RCPT TO:<trap@trap.example> NOTIFY=SUCCESS,FAILURE,DELAY "
                 "ORCPT=rfc822;trap@trap.example", 250)
        w.expect("DATA", 354)
        w.send(make_message("dsn please") + b".\r\n")
        assert w.reply()[0] == 250
        # Null sender, and a relay attempt with NOTIFY=FAILURE (a real MTA would bounce).
        w.expect("MAIL FROM:<>", 250)
        assert w.cmd("RCPT TO:<victim@elsewhere.example> NOTIFY=FAILURE")[0] == 554
        w.expect("RCPT TO:<trap@trap.example>", 250)
        w.expect("DATA", 354)
        w.send(make_message("null sender") + b".\r\n")
        assert w.reply()[0] == 250
        # Failing transactions: oversized declaration, DATA without a recipient.
        assert w.cmd("MAIL FROM:<big@src.example> SIZE=999999999999")[0] >= 500
        w.expect("MAIL FROM:<norcpt@src.example> RET=FULL", 250)
        assert w.cmd("DATA")[0] >= 500
        # Check the sockets while this session is still open.
        rows = tcp_sockets(trap.server_pid)
        w.expect("QUIT", 221)
    # A transaction abandoned in the middle of DATA.
    with trap.wire() as w:
        w.reply()
        w.expect("EHLO client.src.example", 250)
        w.expect("MAIL FROM:<abandon@src.example> RET=FULL", 250)
        w.expect("RCPT TO:<trap@trap.example> NOTIFY=FAILURE", 250)
        w.expect("DATA", 354)
        w.send(b"Subject: cut\r\n\r\nhalf a messa")
    return rows


def database_port():
    """Under SPAMHATTAN_E2E_POSTGRES the store is a PostgreSQL server on loopback: the one
    outgoing connection the trap must make. Its port, else None."""
    url = os.environ.get("SPAMHATTAN_E2E_POSTGRES")
    if not url:
        return None
    parsed = urllib.parse.urlparse(url)
    assert parsed.hostname in ("127.0.0.1", "localhost"), "the e2e database must be on loopback"
    return parsed.port or 5432


def to_database(text):
    """A /proc/net/tcp remote address (`0100007F:1538`) or an strace connect() line that
    names the PostgreSQL store on 127.0.0.1, and nothing else."""
    port = database_port()
    if port is None:
        return False
    return (text == f"0100007F:{port:04X}"
            or (f"sin_port=htons({port})" in text and 'inet_addr("127.0.0.1")' in text))


def test_trap_opens_no_outgoing_connection(trap_factory, tmp_path):
    """Method, two independent views:

    1. The server runs under `strace -f -e trace=connect,sendto,sendmsg,sendmmsg`, following every
       thread. After the session and a graceful stop, the log must show no connect() and no
       addressed send to an AF_INET/AF_INET6 sockaddr (TCP or UDP, so DNS is excluded as well).
       AF_UNIX connects (e.g. syslog) are allowed but listed in the failure text of any other
       assertion so that they stay visible.
    2. While a client session is open, the TCP sockets the server process itself holds (its
       /proc/PID/fd socket inodes matched against /proc/PID/net/tcp{,6}) are only the listener
       and accepted connections, all on the listener's local port: an outgoing connection would
       have an ephemeral local port. strace catches short-lived attempts that this snapshot misses.
    """
    log = tmp_path / "strace.log"
    strace = require_tool("strace")
    trap = trap_factory(wrapper=[strace, "-f", "-qq", "-s", "64", "-o", str(log),
                                 "-e", "trace=connect,sendto,sendmsg,sendmmsg"]).start()
    rows = provoke_mail(trap)
    assert len(trap.messages()) == 2
    assert trap.stop() == 0

    assert any(state == "LISTEN" and port == trap.port for state, port, _ in rows), rows
    # The console's HTTP listener is the one other socket allowed, and only as a listener
    # (nothing connects to it here).
    http_port = int(trap.ready["http"].rsplit(":", 1)[1]) if trap.ready.get("http") else None
    foreign = [r for r in rows
               if r[1] != trap.port and not (r[0] == "LISTEN" and r[1] == http_port)
               and not to_database(r[2])]
    assert not foreign, f"server holds TCP sockets not on its listener ports: {foreign}"
    assert any(state == "ESTABLISHED" for state, _, _ in rows), "the client session should show"

    calls = log.read_text().splitlines()
    unix = [c for c in calls if "sa_family=AF_UNIX" in c]
    outgoing = [c for c in calls if INET_SOCKADDR.search(c) and not to_database(c)]
    assert not outgoing, "network calls to inet addresses:\n" + "\n".join(outgoing[:20]) + (
        "\nAF_UNIX calls (allowed):\n" + "\n".join(unix[:10]) if unix else "")
    print("AF_UNIX calls (allowed):", unix or "none")


def test_the_strace_method_sees_an_inet_connect(tmp_path):
    """Control: the same strace filter and pattern do catch a process that connects out."""
    log = tmp_path / "control.log"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        probe = f"import socket; socket.create_connection(('127.0.0.1', {listener.getsockname()[1]}))"
        subprocess.run([require_tool("strace"), "-f", "-qq", "-o", str(log),
                        "-e", "trace=connect,sendto,sendmsg,sendmmsg", sys.executable, "-c", probe],
                       check=True, timeout=60, stdin=subprocess.DEVNULL)
    assert any(INET_SOCKADDR.search(c) and "connect(" in c for c in log.read_text().splitlines())
