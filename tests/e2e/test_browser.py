"""The console in a real browser: headless Chromium logs in, sees the dashboard with data,
sees a new arrival appear live, searches, and opens a mail whose HTML tries scripts, remote images, CSS imports, a meta
refresh, an auto-submitted form and frames, all aimed at a canary HTTP server on loopback.

Nothing may run and nothing may load: the canary counts zero requests, no dialog opens, and
no request leaves the console's origin. Screenshots go to
${SPAMHATTAN_ARTIFACTS:-/tmp/spamhattan-artifacts}/screenshots/.

Needs Debian's `chromium`, Node.js and `npm ci` in tests/browser (playwright-core drives the
system Chromium; it downloads nothing). Missing pieces skip the test, or fail it with CI=true.
"""

import http.client
import http.server
import json
import os
import shutil
import smtplib
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import REPO

BROWSER_DIR = REPO / "tests" / "browser"
PASSWORD = "browser test password 1"
SUBJECT = "Quarterly invoice <script>alert('subject')</script>"
BODY_TEXT = "Browser canary body"
ANALYSED_TIMEOUT = 60
BROWSER_TIMEOUT = 180


def need(condition, message):
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class Canary:
    """An HTTP server on loopback that records every request it gets (any method)."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _hit(self):
                hits.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = _hit

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def hostile_html(port):
    c = f"http://127.0.0.1:{port}"
    return f"""<html><head>
<meta http-equiv="refresh" content="0;url={c}/refresh">
<base href="{c}/base/">
<link rel="stylesheet" href="{c}/link.css">
<style>@import url("{c}/import.css"); body {{ background: url({c}/background.png); }}
@font-face {{ font-family: x; src: url({c}/font.woff); }} p {{ font-family: x; }}</style>
</head><body>
<p>{BODY_TEXT}</p>
<script>alert("script ran"); fetch("{c}/fetch"); new Image().src = "{c}/script-image";</script>
<img src="{c}/img">
<img src="missing" onerror="new Image().src='{c}/onerror'">
<img srcset="{c}/srcset 2x">
<div style="background-image: url('{c}/inline-style')">styled</div>
<iframe src="{c}/iframe"></iframe>
<object data="{c}/object"></object>
<video poster="{c}/poster"></video>
<form id="f" action="{c}/form" method="post"><input name="a" value="b"></form>
<script>document.getElementById("f").submit();</script>
<a href="{c}/link">a link</a>
<svg><image href="{c}/svg-image"/></svg>
</body></html>
"""


def hostile_mail(port):
    html = hostile_html(port)
    return (
        "From: \"<img src=x onerror=alert('from')>\" <lure@src.example>\r\n"
        "To: victim@trap.example\r\n"
        f"Subject: {SUBJECT}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Please pay the invoice.\r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html.replace("\n", "\r\n")
        + "\r\n--b--\r\n"
    ).encode()


def http_request(trap, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(trap.http_host, trap.http_port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def login_cookie(trap, user):
    form = urllib.parse.urlencode({"user": user, "password": PASSWORD, "next": "/"})
    status, headers, body = http_request(
        trap, "POST", "/login", body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303, body
    return headers["Set-Cookie"].split(";", 1)[0]


def wait_until_searchable(trap, cookie, query):
    """Polls the search page until the analysed message shows, with a deadline."""
    deadline = time.monotonic() + ANALYSED_TIMEOUT
    path = "/messages?q=" + urllib.parse.quote(query)
    while True:
        status, _, body = http_request(trap, "GET", path, headers={"Cookie": cookie})
        if status == 200 and b'href="/messages/' in body:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the message was not searchable within {ANALYSED_TIMEOUT}s "
                        f"(status {status})\n{trap.stderr_tail()}")
        time.sleep(0.2)


def test_hostile_mail_in_a_real_browser_runs_and_loads_nothing(trap_factory):
    node = shutil.which("node")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    need(node is not None, "node not found: apt-get install nodejs")
    need(Path(chromium).is_file(), "chromium not found: apt-get install chromium chromium-driver")
    need((BROWSER_DIR / "node_modules" / "playwright-core").is_dir(),
         "playwright-core not installed: (cd tests/browser && npm ci)")

    artifacts = Path(os.environ.get("SPAMHATTAN_ARTIFACTS", "/tmp/spamhattan-artifacts"))
    shots = artifacts / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    canary = Canary()
    try:
        trap = trap_factory(extra_args=["--http-listen", "127.0.0.1:0"])
        trap.start()
        host, _, port = trap.ready["http"].rpartition(":")
        trap.http_host, trap.http_port = host, int(port)
        out = trap.cli("users", "add", "ana", "--role", "reader",
                       input=(PASSWORD + "\n").encode())
        assert out.returncode == 0, out.stderr.decode()

        with smtplib.SMTP(trap.host, trap.port, timeout=10) as smtp:
            smtp.sendmail("lure@src.example", ["victim@trap.example"], hostile_mail(canary.port))

        cookie = login_cookie(trap, "ana")
        wait_until_searchable(trap, cookie, "subject:Quarterly")

        env = dict(os.environ,
                   CONSOLE_URL=f"http://{trap.http_host}:{trap.http_port}",
                   CONSOLE_USER="ana", CONSOLE_PASSWORD=PASSWORD,
                   SEARCH="subject:Quarterly", EXPECT_TEXT=BODY_TEXT,
                   SCREENSHOTS=str(shots), CHROMIUM=chromium,
                   SMTP_HOST=trap.host, SMTP_PORT=str(trap.port))
        run = subprocess.run([node, str(BROWSER_DIR / "console.mjs")], cwd=BROWSER_DIR, env=env,
                             capture_output=True, timeout=BROWSER_TIMEOUT)
        assert run.returncode == 0, run.stderr.decode()
        result = json.loads(run.stdout.decode().strip().splitlines()[-1])
        (artifacts / "browser-result.json").write_text(json.dumps(result, indent=2))
        # Anything the mail could still make happen has had its chance by now.
        time.sleep(0.5)
        hits = list(canary.hits)
    finally:
        canary.close()

    assert result["errors"] == [], result["errors"]
    steps = {s["step"]: s for s in result["steps"]}
    assert steps["dashboard"]["chartBars"] > 0, steps["dashboard"]
    assert steps["dashboard"]["messageLinks"] > 0, steps["dashboard"]
    assert steps["live"]["badge"] == "1", steps["live"]
    assert steps["search"]["hits"] >= 1, steps["search"]
    assert steps["message"]["sandbox"] == "", steps["message"]
    assert BODY_TEXT in result["frameText"], result["frameText"]
    assert "direct-body" in steps
    # The verdict of the test: nothing ran, nothing loaded, nothing left the origin.
    assert hits == [], f"the canary was reached: {hits}"
    assert result["dialogs"] == [], f"a dialog opened: {result['dialogs']}"
    assert result["offOrigin"] == [], f"requests left the console: {result['offOrigin']}"
    for png in ("01-dashboard.png", "02-live.png", "02-search.png", "03-message.png", "04-body-direct.png"):
        assert (shots / png).stat().st_size > 0, png
