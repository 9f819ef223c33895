"""Console accounts end to end: `users add` through a pipe, a form login against a real `serve`,
API tokens, the listing that never shows a hash, refused passwords, TLS on the console."""

import http.client
import json
import ssl
import subprocess
import urllib.parse

import pytest

from conftest import require_tool

PASSWORD = "correct horse battery staple"


def console(trap_factory, extra_args=(), config_text=None):
    trap = trap_factory(extra_args=["--http-listen", "127.0.0.1:0", *extra_args])
    if config_text is not None:
        trap.config_text = config_text
    trap.start()
    host, _, port = trap.ready["http"].rpartition(":")
    trap.http_host, trap.http_port = host, int(port)
    return trap


def request(trap, method, path, body=None, headers=None, tls=None):
    if tls is None:
        conn = http.client.HTTPConnection(trap.http_host, trap.http_port, timeout=10)
    else:
        conn = http.client.HTTPSConnection(trap.http_host, trap.http_port, timeout=10, context=tls)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        # `resp.headers` looks names up case-insensitively (hyper sends them in lower case).
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def add_user(trap, name, password, role="admin"):
    return trap.cli("users", "add", name, "--role", role, input=(password + "\n").encode())


def login(trap, user, password, next_path="/", tls=None):
    form = urllib.parse.urlencode({"user": user, "password": password, "next": next_path})
    return request(trap, "POST", "/login", body=form, tls=tls,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})


def session_of(headers):
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("spamhattan_session="), cookie
    return cookie.split(";", 1)[0]


def test_a_user_added_through_a_pipe_logs_in_and_opens_pages(trap_factory):
    trap = console(trap_factory)
    # First start without a user says how to make one; the login page says it too.
    assert "spamhattan users add NAME --role admin" in trap.stderr_tail(200)
    status, _, body = request(trap, "GET", "/login")
    assert status == 200 and b"users add NAME --role admin" in body

    out = add_user(trap, "ana", PASSWORD)
    assert out.returncode == 0, out.stderr.decode()
    status, headers, body = login(trap, "ana", PASSWORD, next_path="/login?next=/x")
    assert status == 303, body
    assert headers["Location"] == "/login?next=/x"
    cookie = headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie, "plain HTTP on loopback"
    session = session_of(headers)

    # A console page: anonymous visitors are sent to the login page, the session gets in.
    status, headers, _ = request(trap, "GET", "/")
    assert status == 303 and headers["Location"].startswith("/login"), (status, headers)
    status, headers, _ = request(trap, "GET", "/", headers={"Cookie": session})
    assert status == 200, (status, headers)
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src" in headers["Content-Security-Policy"]

    status, _, body = login(trap, "ana", "wrong password!!")
    assert status == 401 and b"wrong user name or password" in body
    status, _, body = login(trap, "nobody", PASSWORD)
    assert status == 401 and b"wrong user name or password" in body


def test_a_token_authenticates_api_requests_until_revoked(trap_factory):
    trap = console(trap_factory)
    out = trap.cli("tokens", "create", "siem", "--role", "reader")
    assert out.returncode == 0, out.stderr.decode()
    token = out.stdout.decode().strip()
    assert token.startswith("sht_") and len(token) == 4 + 43, token
    assert token not in out.stderr.decode()

    status, _, _ = request(trap, "GET", "/api/v1/messages")
    assert status == 401
    status, _, body = request(trap, "GET", "/api/v1/messages",
                              headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    status, _, _ = request(trap, "GET", "/api/v1/messages",
                           headers={"Authorization": f"Bearer {token}x"})
    assert status == 401

    listed = [json.loads(l) for l in trap.cli("tokens", "list").stdout.splitlines()]
    assert [t["name"] for t in listed] == ["siem"] and listed[0]["last_used"] is not None
    assert token not in json.dumps(listed)
    assert trap.cli("tokens", "revoke", "siem").returncode == 0
    status, _, _ = request(trap, "GET", "/api/v1/messages",
                           headers={"Authorization": f"Bearer {token}"})
    assert status == 401


def test_users_list_shows_no_hash_and_remove_ends_sessions(trap_factory):
    trap = console(trap_factory)
    assert add_user(trap, "ana", PASSWORD).returncode == 0
    assert add_user(trap, "bo", PASSWORD + "!", role="reader").returncode == 0
    out = trap.cli("users", "list")
    assert out.returncode == 0, out.stderr.decode()
    users = [json.loads(l) for l in out.stdout.splitlines()]
    assert [(u["name"], u["role"]) for u in users] == [("ana", "admin"), ("bo", "reader")]
    assert all(set(u) == {"name", "role", "created_at"} for u in users), users
    assert b"argon2" not in out.stdout

    status, headers, _ = login(trap, "bo", PASSWORD + "!")
    session = session_of(headers)
    assert request(trap, "GET", "/", headers={"Cookie": session})[0] == 200
    assert trap.cli("users", "remove", "bo").returncode == 0
    assert request(trap, "GET", "/", headers={"Cookie": session})[0] == 303
    assert trap.cli("users", "remove", "bo").returncode != 0


@pytest.mark.parametrize("password, reason", [
    ("short pw", b"shorter than 12 characters"),
    ("x" * 1025, b"longer than 1024 bytes"),
    ("", b"no password on standard input"),
])
def test_a_bad_password_is_refused_with_a_clear_message(trap_factory, password, reason):
    trap = trap_factory()
    out = add_user(trap, "ana", password) if password else trap.cli(
        "users", "add", "ana", "--role", "admin", input=b"")
    assert out.returncode in (1, 2), out
    assert reason in out.stderr, out.stderr
    assert trap.cli("users", "list").stdout == b""


def test_a_bad_name_or_role_is_refused(trap_factory):
    trap = trap_factory()
    out = add_user(trap, "a b", PASSWORD)
    assert out.returncode == 2 and b"name" in out.stderr, out.stderr
    out = add_user(trap, "ana", PASSWORD, role="root")
    assert out.returncode == 2 and b"role" in out.stderr, out.stderr


def test_the_console_speaks_tls_with_secure_cookies(trap_factory, tmp_path):
    openssl = require_tool("openssl")
    cert, key = tmp_path / "console.crt", tmp_path / "console.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    config = ("[analysis.auth]\nenabled = false\n"
              f"[http]\ntls_cert = \"{cert}\"\ntls_key = \"{key}\"\n")
    trap = console(trap_factory, config_text=config)
    assert add_user(trap, "ana", PASSWORD).returncode == 0
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    status, headers, _ = login(trap, "ana", PASSWORD, tls=ctx)
    assert status == 303
    assert "; Secure" in headers["Set-Cookie"]
    # Plain HTTP on the TLS port gets no console.
    try:
        status = request(trap, "GET", "/login")[0]
    except (http.client.HTTPException, OSError):
        status = None
    assert status is None, f"plain HTTP answered {status}"


def test_failed_logins_are_throttled_by_client_address(trap_factory):
    trap = console(trap_factory)
    assert add_user(trap, "ana", PASSWORD).returncode == 0
    assert add_user(trap, "bo", PASSWORD).returncode == 0
    for _ in range(5):
        assert login(trap, "ana", "wrong password!!")[0] == 401
    status, headers, body = login(trap, "ana", PASSWORD)
    assert status == 429, body
    assert 1 <= int(headers["Retry-After"]) <= 15 * 60
    assert "Set-Cookie" not in headers
    # The same address guessing another name is held too.
    assert login(trap, "bo", PASSWORD)[0] == 429
