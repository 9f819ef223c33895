"""Harvest simulation on loopback: three harvesters crawl the bait pages of a real `serve`, each
from an address of its own (two as real TCP peers 127.0.0.x, one named by a trusted proxy in
X-Forwarded-For), scrape the addresses in every form a page shows them, and later spam them from
their own senders. The API and the CLI must attribute every message to the visit that issued its
address: visitor IP, user agent, page, and the form it was read in."""

import html
import http.client
import json
import re
import smtplib
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

ATTRIBUTION_DEADLINE = 90
PAGES_PER_HARVESTER = 3
FORMS = ("mailto", "text", "obfuscated", "entities")
CONFIG = """[analysis.auth]
enabled = false
[bait]
trusted_proxies = ["127.0.0.1"]
site_name = "Northwind Logistics"
"""


@dataclass
class Harvester:
    name: str
    source: str  # the TCP peer address the crawler connects from
    agent: str
    forwarded_for: str | None  # what it puts in X-Forwarded-For
    visitor: str  # the IP the trap must record
    start: str  # the first page it fetches
    sender: str  # the spammer who buys its list
    smtp_source: str  # where that spammer connects from


HARVESTERS = [
    Harvester("siphon", "127.0.0.2", "EmailSiphon", None, "127.0.0.2", "/",
              "offers@bulk-one.example", "127.0.0.21"),
    # Not a trusted proxy: its X-Forwarded-For is a lie and must be ignored.
    Harvester("collector", "127.0.0.3", "Mozilla/4.0 (compatible; EmailCollector 1.0)",
              "203.0.113.99", "127.0.0.3", "/team/sales", "news@bulk-two.example", "127.0.0.22"),
    # Behind the trusted proxy 127.0.0.1: the proxy names the visitor.
    Harvester("proxied", "127.0.0.1", "libwww-perl/6.05", "198.51.100.23", "198.51.100.23",
              "/contact/hamburg", "deals@bulk-three.example", "127.0.0.23"),
]

MAILTO = re.compile(r'href="mailto:([^"?]+)"')
TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
OBFUSCATED = re.compile(r"([\w-]+(?: \[dot\] [\w-]+)*) \[at\] ([\w-]+(?: \[dot\] [\w-]+)+)")
ENTITIES = re.compile(r"(?:&#\d+;){6,}")
LINK = re.compile(r'<a href="(/[^"]*)"')


def scrape(page):
    """{address: form} as a harvester reads them: each form with the regex that finds it."""
    found = {}
    for a in MAILTO.findall(page):
        found[a.lower()] = "mailto"
    visible = re.sub(r"<[^>]*>", " ", page)
    for a in TEXT.findall(visible):
        found.setdefault(a.lower(), "text")
    for local, domain in OBFUSCATED.findall(visible):
        a = f"{local}@{domain}".replace(" [dot] ", ".")
        found.setdefault(a.lower(), "obfuscated")
    for run in ENTITIES.findall(page):
        found.setdefault(html.unescape(run).lower(), "entities")
    return found


def fetch(bait, path, h):
    host, _, port = bait.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(h.source, 0))
    headers = {"User-Agent": h.agent, "Accept": "text/html"}
    if h.forwarded_for:
        headers["X-Forwarded-For"] = h.forwarded_for
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def crawl(bait, h):
    """Breadth first from h.start, PAGES_PER_HARVESTER pages: {address: (form, path)}."""
    queue, seen, harvested = [h.start], set(), {}
    while queue and len(seen) < PAGES_PER_HARVESTER:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        status, headers, page = fetch(bait, path, h)
        assert status == 200, (path, status)
        assert headers.get("cache-control") == "no-store"
        found = scrape(page)
        assert sorted(found.values()) == sorted(FORMS), (path, found)
        for address, form in found.items():
            assert address not in harvested, f"{address} shown twice"
            harvested[address] = (form, path)
        queue += LINK.findall(page)
    assert len(seen) == PAGES_PER_HARVESTER, seen
    return harvested


def spam(trap, h, addresses):
    with smtplib.SMTP(trap.host, trap.port, timeout=10, source_address=(h.smtp_source, 0)) as s:
        s.ehlo("mail.bulk.example")
        for n, address in enumerate(sorted(addresses)):
            msg = (f"From: {h.sender}\r\nTo: {address}\r\nSubject: Cheap offer {h.name} {n}\r\n"
                   f"Message-ID: <{h.name}.{n}@bulk.example>\r\n\r\n"
                   f"Dear {address}, buy now ({h.name} list, entry {n}).\r\n").encode()
            assert s.sendmail(h.sender, [address], msg) == {}


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def get(self, path):
        req = urllib.request.Request(self.base + path,
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def json(self, path):
        status, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)


def cli_json(trap, *args):
    out = trap.cli(*args, "--json")
    assert out.returncode == 0, (args, out.stderr.decode(errors="replace"))
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


@pytest.fixture
def bait_trap(trap_factory, tmp_path):
    config = tmp_path / "bait.toml"
    config.write_text(CONFIG)
    trap = trap_factory(extra_args=["--config", str(config), "--bait-listen", "127.0.0.1:0",
                                    "--http-listen", "127.0.0.1:0"]).start()
    assert "bait" in trap.ready, trap.ready
    made = trap.cli("tokens", "create", "harvest-e2e", "--role", "reader")
    assert made.returncode == 0, made.stderr.decode(errors="replace")
    trap.api = Api(f"http://{trap.ready['http']}", made.stdout.decode().strip())
    return trap


def wait_for_hits(trap, expected):
    """Polls (with a deadline) until every seed mailed has its message attributed."""
    deadline = time.monotonic() + ATTRIBUTION_DEADLINE
    while True:
        hit = cli_json(trap, "seeds", "list", "--hit", "--limit", "500")
        if len(hit) >= expected:
            return hit
        if time.monotonic() > deadline:
            pytest.fail(f"{len(hit)} of {expected} seeds attributed after "
                        f"{ATTRIBUTION_DEADLINE}s\n{trap.stderr_tail()}")
        time.sleep(0.2)


def test_every_harvested_address_leads_back_to_its_visit(bait_trap):
    trap, bait = bait_trap, bait_trap.ready["bait"]
    status, _, robots = fetch(bait, "/robots.txt", HARVESTERS[0])
    assert (status, robots) == (200, "User-agent: *\nDisallow: /\n")

    lists = {h.name: crawl(bait, h) for h in HARVESTERS}
    everything = [a for found in lists.values() for a in found]
    assert len(set(everything)) == len(everything) == 4 * PAGES_PER_HARVESTER * len(HARVESTERS)
    for h in HARVESTERS:
        spam(trap, h, lists[h.name])
    wait_for_hits(trap, len(everything))

    for h in HARVESTERS:
        for address, (form, path) in lists[h.name].items():
            api = trap.api.json("/api/v1/seeds/" + urllib.parse.quote(address, safe="@"))
            (cli,) = cli_json(trap, "seeds", "show", address)
            for d in (api, cli):
                assert d["seed"]["address"] == address
                assert d["seed"]["origin"] == "visit"
                assert d["seed"]["form"] == form, (address, d["seed"])
                visit = d["visit"]
                assert (visit["ip"], visit["user_agent"], visit["path"]) == \
                    (h.visitor, h.agent, path), (h.name, address, visit)
                assert d["seed"]["hits"] == 1 and len(d["hits"]) == 1, d
                assert d["hits"][0]["sender"] == h.sender
                assert d["hits"][0]["peer"].startswith(h.smtp_source + ":"), d["hits"][0]
                assert d["first_spam_after_secs"] >= 0
            # The console's page of the seed says the same (the token works for pages too).
            status, page = trap.api.get("/seeds/" + urllib.parse.quote(address, safe="@"))
            assert status == 200, page
            for shown in (h.visitor, h.agent.split("/")[0], path, h.sender):
                assert shown in page, (address, shown)

    for h in HARVESTERS:
        (cli,) = cli_json(trap, "harvesters", "show", h.visitor)
        api = trap.api.json("/api/v1/harvesters/" + h.visitor)
        for d in (api, cli):
            row = d["harvester"]
            assert row["ip"] == h.visitor
            assert row["visits"] == PAGES_PER_HARVESTER, row
            assert row["seeds"] == row["seeds_hit"] == row["messages"] == 4 * PAGES_PER_HARVESTER
            assert row["last_user_agent"] == h.agent
            assert len(d["visits"]) == PAGES_PER_HARVESTER
    # The lie in X-Forwarded-For from an untrusted peer made no harvester of its own.
    status, _ = trap.api.get("/api/v1/harvesters/203.0.113.99")
    assert status == 404

    events = [json.loads(line) for line in (trap.data_dir / "events.jsonl").read_text().splitlines()
              if '"spamhattan.bait.visit"' in line]
    assert sorted(e["ip"] for e in events) == sorted(
        h.visitor for h in HARVESTERS for _ in range(PAGES_PER_HARVESTER))
    status, metrics = trap.api.get("/metrics")
    assert status == 200
    assert f"spamhattan_bait_visits_total {len(events)}" in metrics.splitlines()


def test_a_bait_listener_without_a_usable_domain_is_a_config_error(spamhattan_bin, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[bait]\nlisten = "127.0.0.1:0"\n')
    out = subprocess.run([str(spamhattan_bin), "config", "check", "--config", str(config),
                          "--data-dir", str(tmp_path / "d")], capture_output=True, timeout=30)
    assert out.returncode != 0
    assert "[bait] has no domain" in out.stderr.decode(errors="replace")
