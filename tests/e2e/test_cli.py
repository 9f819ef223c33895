"""The command line: config errors are one clean line, and the store can be inspected while serving."""

import json
import os
import signal
import smtplib
import socket
import subprocess
import tomllib


from conftest import make_message


def run(bin_path, *args, env=None, timeout=30):
    out = subprocess.run([str(bin_path), *args], capture_output=True, timeout=timeout,
                         stdin=subprocess.DEVNULL, env=env, text=True)
    return out


def assert_clean_error(out, mentions):
    """Non-zero exit, no panic or backtrace, and the last stderr line names the problem."""
    assert out.returncode != 0, f"exit 0 with stdout {out.stdout!r}"
    assert "panicked" not in out.stderr and "RUST_BACKTRACE" not in out.stderr, out.stderr
    assert '"ready":true' not in out.stdout, out.stdout
    lines = out.stderr.strip().splitlines()
    assert lines, "no error message on stderr"
    assert mentions.lower() in lines[-1].lower(), f"{mentions!r} not in the error: {out.stderr!r}"
    return lines


def test_config_check_rejects_an_unknown_key_in_one_line(spamhattan_bin, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('hostname = "mx1.example.net"\ntrap_domains = ["trap.example"]\nfrobnicate = 1\n')
    out = run(spamhattan_bin, "config", "check", "--config", str(bad))
    assert out.returncode == 1
    assert len(assert_clean_error(out, "frobnicate")) == 1, out.stderr


def test_config_check_prints_the_resolved_config(spamhattan_bin, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('hostname = "mx1.example.net"\n'
                    f'data_dir = "{tmp_path / "d"}"\n'
                    'trap_domains = ["trap.example", "*.wild.example"]\n'
                    'persona = "postfix"\n'
                    '[[listener]]\naddress = "127.0.0.1:2525"\ntls = "starttls"\n'
                    '[limits]\nmax_recipients = 50\n'
                    '[[address]]\naddress = "abuse@trap.example"\npolicy = "unknown-user"\n')
    out = run(spamhattan_bin, "config", "check", "--config", str(good))
    assert out.returncode == 0, out.stderr
    resolved = tomllib.loads(out.stdout)
    assert resolved["hostname"] == "mx1.example.net"
    assert resolved["trap_domains"] == ["trap.example", "*.wild.example"]
    assert resolved["limits"]["max_recipients"] == 50


def test_environment_overrides_the_config(spamhattan_bin, tmp_path):
    env = dict(os.environ, SPAMHATTAN_TRAP_DOMAINS="a.example,b.example",
               SPAMHATTAN_HOSTNAME="env.example.net", SPAMHATTAN_DATA_DIR=str(tmp_path / "env"),
               SPAMHATTAN_SMTP_LISTEN="127.0.0.1:2600")
    out = run(spamhattan_bin, "config", "check", env=env)
    assert out.returncode == 0, out.stderr
    resolved = tomllib.loads(out.stdout)
    assert resolved["trap_domains"] == ["a.example", "b.example"]
    assert resolved["hostname"] == "env.example.net"
    assert resolved["data_dir"] == str(tmp_path / "env")
    assert [l["address"] for l in resolved["listener"]] == ["127.0.0.1:2600"]


def test_serve_rejects_a_bad_listen_address_in_one_line(spamhattan_bin, tmp_path):
    out = run(spamhattan_bin, "serve", "--smtp-listen", "nonsense", "--trap-domain", "trap.example",
              "--data-dir", str(tmp_path / "d"))
    assert len(assert_clean_error(out, "nonsense")) == 1, out.stderr


def test_serve_refuses_a_data_dir_that_is_a_file(spamhattan_bin, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("I am a file\n")
    out = run(spamhattan_bin, "serve", "--smtp-listen", "127.0.0.1:0", "--trap-domain",
              "trap.example", "--data-dir", str(not_a_dir))
    assert_clean_error(out, str(not_a_dir))


def test_serve_reports_a_port_in_use(spamhattan_bin, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = "127.0.0.1:%d" % taken.getsockname()[1]
        out = run(spamhattan_bin, "serve", "--smtp-listen", address, "--trap-domain",
                  "trap.example", "--data-dir", str(tmp_path / "d"))
    assert_clean_error(out, address)


def test_sigterm_and_sigint_stop_the_server_with_exit_0(trap_factory):
    for sig in (signal.SIGTERM, signal.SIGINT):
        trap = trap_factory(f"d{int(sig)}").start()
        assert trap.stop(sig) == 0, trap.stderr_tail()


def test_store_can_be_inspected_while_serving(trap):
    msg = make_message("inspect me")
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        s.sendmail("sender@src.example", ["trap@trap.example"], msg)
    trap.assert_stored(msg)
    stats = trap.cli("store", "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert isinstance(json.loads(stats.stdout), dict)
    human = trap.cli("store", "stats")
    assert human.returncode == 0 and human.stdout.strip(), human.stderr
    verify = trap.cli("store", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert trap.cli("messages", "list", "--json", "--limit", "1").stdout.count(b"\n") == 1
    human_list = trap.cli("messages", "list")
    assert human_list.returncode == 0 and human_list.stdout.strip(), human_list.stderr


def test_messages_are_listed_newest_first(trap):
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        for n in range(3):
            s.sendmail("sender@src.example", ["trap@trap.example"], make_message(f"order {n}"))
    subjects = [trap.raw(m["id"]).split(b"Subject: ")[1].split(b"\r\n")[0] for m in trap.messages()]
    assert subjects == [b"order 2", b"order 1", b"order 0"]


def test_raw_of_an_unknown_message_fails_with_a_message(trap):
    out = trap.cli("messages", "raw", "0" * 64)
    assert out.returncode == 1
    assert out.stdout == b""
    assert out.stderr.strip() and b"panicked" not in out.stderr


def test_stored_message_is_logged_as_an_event(trap):
    with smtplib.SMTP(trap.host, trap.port, timeout=10) as s:
        s.sendmail("sender@src.example", ["trap@trap.example"], make_message("event"))
    trap.stop()
    events = [json.loads(l) for l in (trap.data_dir / "events.jsonl").read_text().splitlines() if l]
    assert "spamhattan.message.stored" in {e.get("eventid") for e in events}, events[:20]
