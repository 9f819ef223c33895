"""Intel feeds end to end (issue 5): mail caught over SMTP at trap addresses, analysed and
clustered, then exported in every format and checked by the consumers' own tools
(stix2-validator and the OASIS stix2 library, pymisp, dnspython, Python's csv), and searched
for anything that would burn the trap (its domains, host name, recipient addresses)."""

import base64
import json
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from conftest import HOSTNAME, REPO, Trap

sys.path.insert(0, str(REPO / "tests" / "tools"))
import campaign_gen  # noqa: E402

ORACLES = REPO / "tests" / "oracles"
RECIPIENTS = [f"{n}@trap.example" for n in ("jan.de.vries", "finance", "info", "p.jansen")]
RECIPIENTS += ["office@sub.wild.example"]
FORMATS = ["stix", "misp", "csv-urls", "csv-payloads", "csv-iocs", "txt-urls", "txt-domains",
           "txt-ips", "txt-sha256", "hosts", "rpz", "jsonl"]
CONFIG = """
[analysis.auth]
enabled = false

[feeds]
producer = "Example CERT spamtrap"
contact = "cert@cert.example"
refresh_secs = 0
rpz_origin = "rpz.cert.example."

[[feeds.audience]]
name = "cert"
tlp = "amber"
users = [{ user = "cert", password = "cert-password-1" }]

[[feeds.audience]]
name = "isp"
tlp = "green"
min_confidence = 60
formats = ["csv-urls", "txt-domains", "rpz", "stix"]
tokens = ["isp-token-0123456789abcdef"]
"""


def leaky_phish(i, rcpt):
    """A phishing mail that names its recipient everywhere a kit does: the subject, a URL
    parameter, a base64 fragment, the greeting, a spoofed From, and our own Received hop."""
    m = EmailMessage()
    m["Received"] = f"from bot{i}.example (unknown [198.51.100.{i}]) by {HOSTNAME} with ESMTP"
    m["From"] = f"Security Team <security@account-verify{i % 2}.example>"
    m["To"] = rcpt
    m["Subject"] = f"Action required for {rcpt}: verify your mailbox"
    m["Message-ID"] = make_msgid(domain="account-verify.example")
    token = base64.b64encode(rcpt.encode()).decode()
    m.set_content(
        f"Dear {rcpt},\n\nYour mailbox {rcpt} will be closed. Verify here:\n"
        f"https://login-verify.example/owa/auth.php?email={rcpt}&id={1000 + i}\n"
        f"https://login-verify.example/owa/next.php#{token}\n"
        f"Unsubscribe: http://trap.example/unsubscribe?u={rcpt}\n")
    return m.as_bytes()


@pytest.fixture(scope="module")
def fed_trap(tmp_path_factory, spamhattan_bin):
    """A trap that caught generated campaigns and the leaky phish over SMTP, analysed and
    clustered (`worker --until-idle` after a graceful stop)."""
    base = tmp_path_factory.mktemp("feeds")
    cfg = base / "feeds.toml"
    cfg.write_text(CONFIG)
    trap = Trap(spamhattan_bin, base / "data", extra_args=["--config", str(cfg)])
    trap.start()
    corpus = campaign_gen.generate(4, (6, 9), 4, seed=5)
    mails = [m.raw for m in corpus.messages]
    mails += [leaky_phish(i, RECIPIENTS[i % len(RECIPIENTS)]) for i in range(12)]
    with smtplib.SMTP(trap.host, trap.port, timeout=30) as s:
        for i, raw in enumerate(mails):
            s.sendmail("bounce@sender.example", [RECIPIENTS[i % len(RECIPIENTS)]], raw)
    assert trap.stop() == 0
    out = trap.cli("worker", "--until-idle", "--config", str(cfg), timeout=300)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    trap.cfg = cfg
    return trap


def export(trap, fmt, out, *extra):
    r = trap.cli("export", "--config", str(trap.cfg), "--format", fmt, "--out", str(out), *extra)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stderr.decode()


def oracle(script, *args):
    r = subprocess.run([sys.executable, str(ORACLES / script), *map(str, args)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")[-4000:]
    return r.stdout.decode()


def all_text(path):
    if path.is_dir():
        return "".join(p.read_text(errors="replace") for p in sorted(path.rglob("*")) if p.is_file())
    return path.read_text(errors="replace")


BURNING = ["trap.example", "wild.example", HOSTNAME] + RECIPIENTS + [
    base64.b64encode(r.encode()).decode().rstrip("=") for r in RECIPIENTS]


def assert_unburnt(text, where):
    low = text.lower()
    for needle in BURNING:
        assert needle.lower() not in low, f"{where} names the trap: {needle!r}"


@pytest.fixture(scope="module")
def exports(fed_trap, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    paths = {}
    for fmt in FORMATS:
        p = out / ("misp" if fmt == "misp" else f"{fmt}.out")
        export(fed_trap, fmt, p, "--audience", "cert")
        paths[fmt] = p
    return paths


def test_every_format_has_content_and_never_names_the_trap(exports):
    for fmt, path in exports.items():
        text = all_text(path)
        assert_unburnt(text, fmt)
    # The phish's URL survives with the recipient pseudonymised.
    urls = exports["txt-urls"].read_text()
    assert "login-verify.example/owa/auth.php?email=p-" in urls, urls[:2000]
    assert "pseudonym.invalid" in urls


def test_stix_bundle_passes_the_strict_validator_and_ids_match_the_oasis_library(exports):
    oracle("check_stix.py", exports["stix"])
    bundle = json.loads(exports["stix"].read_text())
    types = {o["type"] for o in bundle["objects"]}
    assert {"identity", "marking-definition", "campaign", "indicator", "url", "domain-name",
            "relationship", "observed-data", "sighting"} <= types, types


def test_misp_feed_loads_in_pymisp_and_its_metadata_regenerates_identically(exports):
    oracle("check_misp.py", exports["misp"])


def test_csv_feeds_parse_with_their_documented_headers(exports):
    for fmt in ("csv-urls", "csv-payloads", "csv-iocs"):
        oracle("check_csv.py", fmt, exports[fmt])


def test_rpz_zone_parses_with_dnspython(exports):
    oracle("check_rpz.py", exports["rpz"], "rpz.cert.example.")


def test_text_lists_hold_one_token_per_line_and_jsonl_parses(exports):
    for fmt in ("txt-urls", "txt-domains", "txt-ips", "txt-sha256", "hosts"):
        for line in exports[fmt].read_text().splitlines():
            if line and not line.startswith("#"):
                assert line.strip() == line and ("\t" not in line), (fmt, line)
                if fmt != "hosts":
                    assert " " not in line, (fmt, line)
    rows = [json.loads(l) for l in exports["jsonl"].read_text().splitlines() if l.strip()]
    assert rows and all(r["kind"] in ("url", "domain", "ip", "email", "sha256") for r in rows)
    assert all(0 <= r["confidence"] <= 100 and r["tlp"] in ("green", "amber") for r in rows)


def test_audiences_see_only_what_their_tlp_and_confidence_allow(fed_trap, tmp_path):
    export(fed_trap, "jsonl", tmp_path / "cert.jsonl", "--audience", "cert")
    r = fed_trap.cli("export", "--config", str(fed_trap.cfg), "--format", "jsonl",
                     "--audience", "isp", "--out", str(tmp_path / "isp.jsonl"))
    assert r.returncode != 0 and b"does not receive jsonl" in r.stderr, r.stderr
    export(fed_trap, "stix", tmp_path / "isp.json", "--audience", "isp")
    isp = json.loads((tmp_path / "isp.json").read_text())
    confidences = [o["confidence"] for o in isp["objects"] if o["type"] == "indicator"]
    assert confidences and min(confidences) >= 60, confidences
    cert = [json.loads(l) for l in (tmp_path / "cert.jsonl").read_text().splitlines() if l]
    assert any(r["confidence"] < 60 for r in cert), "the cert audience gets the low ones too"


def test_a_delta_since_now_is_empty_and_a_full_snapshot_is_not(fed_trap, tmp_path):
    export(fed_trap, "jsonl", tmp_path / "full.jsonl", "--audience", "cert")
    export(fed_trap, "jsonl", tmp_path / "delta.jsonl", "--audience", "cert", "--since", "0m")
    assert (tmp_path / "full.jsonl").read_text().strip()
    assert not (tmp_path / "delta.jsonl").read_text().strip()


def test_bad_export_requests_are_refused_clearly(fed_trap, tmp_path):
    for args, words in [
        (["--format", "xml"], b"unknown format"),
        (["--format", "jsonl", "--audience", "nobody"], b"no audience"),
        (["--format", "jsonl", "--audience", "cert", "--since", "yesterday-ish"], b"since"),
    ]:
        r = fed_trap.cli("export", "--config", str(fed_trap.cfg), *args,
                         "--out", str(tmp_path / "x"))
        assert r.returncode == 2 and words in r.stderr.lower(), r.stderr


@pytest.fixture(scope="module")
def http_trap(fed_trap, tmp_path_factory):
    """The fed trap serving TAXII and /feeds/ on loopback, publishing on start."""
    cfg = tmp_path_factory.mktemp("http") / "http.toml"
    cfg.write_text(CONFIG.replace("refresh_secs = 0", "refresh_secs = 30"))
    trap = Trap(fed_trap.bin, fed_trap.data_dir,
                extra_args=["--config", str(cfg), "--http-listen", "127.0.0.1:0"])
    trap.start()
    # The ready line names the HTTP listener next to the SMTP ones.
    trap.http_addr = trap.ready["http"]
    yield trap
    trap.stop()


def get(url, headers=None):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_taxii_clients_see_exactly_their_collections_and_nothing_of_the_trap(http_trap):
    base = f"http://{http_trap.http_addr}"
    oracle("check_taxii.py", base, "cert", "cert-password-1", "cert", "trap.example")
    status, _, _ = get(f"{base}/taxii2/spamhattan/collections/",
                       {"Accept": "application/taxii+json;version=2.1"})
    assert status == 401, "no credentials, no collections"
    status, headers, body = get(f"{base}/taxii2/spamhattan/collections/", {
        "Accept": "application/taxii+json;version=2.1",
        "Authorization": "Token isp-token-0123456789abcdef"})
    assert status == 200 and headers["Content-Type"] == "application/taxii+json;version=2.1"
    assert [c["title"] for c in json.loads(body)["collections"]] == ["isp"]
    assert_unburnt(body.decode(), "TAXII collections")


def test_published_feeds_are_served_with_etags(http_trap):
    import time
    base = f"http://{http_trap.http_addr}"
    auth = {"Authorization": "Token isp-token-0123456789abcdef"}
    deadline = time.monotonic() + 120
    while True:  # the first publication runs right after start, off the request path
        status, headers, body = get(f"{base}/feeds/isp/urls.csv", auth)
        if status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, (status, body[:300])
    assert headers["Content-Type"].startswith("text/csv")
    assert_unburnt(body.decode(), "published urls.csv")
    status, _, _ = get(f"{base}/feeds/isp/urls.csv", {**auth, "If-None-Match": headers["ETag"]})
    assert status == 304
    status, _, _ = get(f"{base}/feeds/cert/urls.csv", auth)
    assert status == 404, "another audience's feed is invisible"
    status, _, _ = get(f"{base}/feeds/isp/..%2f..%2ffeeds.toml", auth)
    assert status == 404


def test_one_campaign_exports_as_its_own_valid_bundle(fed_trap, tmp_path):
    out = fed_trap.cli("campaigns", "list", "--json")
    assert out.returncode == 0, out.stderr
    shared = [c for c in map(json.loads, out.stdout.splitlines())
              if c["verdict"] in ("phishing", "malware", "ransomware-delivery", "scam")]
    assert shared, out.stdout[:500]
    cid = shared[0]["id"]
    export(fed_trap, "stix", tmp_path / "one.json", "--audience", "cert", "--campaign", str(cid))
    oracle("check_stix.py", tmp_path / "one.json")
    objects = json.loads((tmp_path / "one.json").read_text())["objects"]
    campaigns = [o for o in objects if o["type"] == "campaign"]
    assert len(campaigns) == 1, campaigns
    targets = {o["target_ref"] for o in objects
               if o["type"] == "relationship" and o["relationship_type"] == "indicates"}
    assert targets == {campaigns[0]["id"]}, targets
    r = fed_trap.cli("export", "--config", str(fed_trap.cfg), "--format", "stix",
                     "--audience", "cert", "--campaign", "999999", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and b"no campaign 999999" in r.stderr, r.stderr


def test_senders_are_email_messages_and_urls_are_misp_url_objects(exports):
    objects = json.loads(exports["stix"].read_text())["objects"]
    addrs = {o["id"] for o in objects if o["type"] == "email-addr"}
    messages = [o for o in objects if o["type"] == "email-message"]
    assert addrs and messages and all(m["from_ref"] in addrs and m["is_multipart"] is False
                                      and "to_refs" not in m for m in messages)
    events = [json.loads(p.read_text())["Event"] for p in exports["misp"].glob("*-*.json")]
    urls = [o for e in events for o in e["Object"] if o["name"] == "url"]
    assert urls and all(any(a["object_relation"] == "url" and a["to_ids"] for a in o["Attribute"])
                        for o in urls)
    assert not any(a["type"] == "url" for e in events for a in e["Attribute"]), \
        "URLs travel as url objects"
