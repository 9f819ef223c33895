"""/metrics, /healthz and /readyz of a real `serve`, scraped over HTTP and read with the
Prometheus project's own parser (prometheus_client.parser), as a Prometheus server would."""

import os
import smtplib
import time
import urllib.error
import urllib.request

import pytest

from conftest import make_message

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("prometheus-client missing: python3 -m pip install -r tests/requirements.txt",
                allow_module_level=True)

ANALYSIS_DEADLINE = 60
TOKEN = "scrape-token-0123456789abcdef"
CONFIG = "[analysis.auth]\nenabled = false\n"


def get(url, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def scrape(base, token=None):
    """{sample name: {frozenset(labels): value}} of one scrape; the parser rejects bad text."""
    status, headers, body = get(f"{base}/metrics", token)
    assert status == 200, body
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get(name, {}).get(frozenset(labels.items()))


def total(samples, name):
    return sum(samples.get(name, {}).values())


@pytest.fixture
def served(trap_factory):
    trap = trap_factory(extra_args=["--http-listen", "127.0.0.1:0"]).start()
    trap.base = f"http://{trap.ready['http']}"
    return trap


def test_counters_match_what_was_sent(served):
    base = served.base
    before = scrape(base)
    assert value(before, "spamhattan_smtp_messages_total") == 0
    assert value(before, "spamhattan_build_info", version=value_label(before)) == 1

    sizes = []
    with smtplib.SMTP(served.host, served.port, timeout=10) as smtp:
        smtp.ehlo("client.example")
        for i in range(3):
            msg = make_message(f"metrics {i}", body=b"x" * (1000 * (i + 1)) + b"\r\n")
            sizes.append(len(msg))
            refused = smtp.sendmail("sender@src.example", ["trap@trap.example"], msg)
            assert refused == {}
        # One recipient outside the trap domains: refused, the trap never relays.
        smtp.mail("sender@src.example")
        code, _ = smtp.rcpt("victim@not-a-trap.example")
        assert code == 554, code
        smtp.rset()

    deadline = time.monotonic() + ANALYSIS_DEADLINE
    while True:
        after = scrape(base)
        if (total(after, "spamhattan_messages_analyzed_total") >= 3
                and total(after, "spamhattan_messages_clustered_total") >= 3):
            break
        assert time.monotonic() < deadline, "3 messages not analysed and clustered within the deadline"
        time.sleep(0.2)

    assert value(after, "spamhattan_smtp_messages_total") == 3
    assert value(after, "spamhattan_messages_clustered_total") == 3
    sent = sum(sizes)
    stored = value(after, "spamhattan_smtp_message_bytes_total")
    assert sent <= stored <= sent + 3 * 2, (sent, stored)
    assert value(after, "spamhattan_smtp_recipients_accepted_total") == 3
    assert value(after, "spamhattan_smtp_refusals_total", stage="rcpt", reason="relay-denied") == 1
    assert value(after, "spamhattan_smtp_refusals_total", stage="rcpt", reason="unknown-user") == 0
    assert value(after, "spamhattan_smtp_anomalies_total", kind="relay-attempt") == 1
    assert value(after, "spamhattan_smtp_sessions_total") >= 1
    # The histogram has one observation per report, and its buckets are cumulative.
    assert value(after, "spamhattan_analysis_latency_seconds_count") == 3
    assert value(after, "spamhattan_analysis_latency_seconds_bucket", le="+Inf") == 3
    assert 0 < value(after, "spamhattan_analysis_latency_seconds_sum") < 3 * ANALYSIS_DEADLINE
    assert value(after, "spamhattan_analysis_engine_duration_seconds_count") == 3
    buckets = sorted(((float(dict(k)["le"]), v) for k, v in
                      after["spamhattan_analysis_latency_seconds_bucket"].items()))
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    # Store gauges: the queue is drained, nothing presses on MAIL.
    assert value(after, "spamhattan_analysis_queue_depth") == 0
    assert value(after, "spamhattan_store_pressure", state="normal") == 1
    assert value(after, "spamhattan_store_spool_bytes") >= sent
    # No label value names a peer, an address or a host: only our fixed sets.
    for name, series in after.items():
        for labels in series:
            for _, v in labels:
                assert "example" not in v and "127.0.0.1" not in v, (name, labels)

    status, _, body = get(f"{base}/healthz")
    assert (status, body) == (200, "ok\n")
    status, _, body = get(f"{base}/readyz")
    assert (status, body) == (200, "ready\n")


def value_label(samples):
    """The version label of spamhattan_build_info (whatever the binary's version is)."""
    (labels,) = samples["spamhattan_build_info"].keys()
    return dict(labels)["version"]


def test_metrics_token_guards_metrics_but_not_the_probes(trap_factory, tmp_path):
    config = tmp_path / "token.toml"
    config.write_text(CONFIG + f'[http]\nmetrics_token = "{TOKEN}"\n')
    trap = trap_factory(extra_args=["--config", str(config),
                                    "--http-listen", "127.0.0.1:0"]).start()
    base = f"http://{trap.ready['http']}"
    for token in (None, "wrong-token-0123456789abcdef", TOKEN[:-1]):
        status, headers, body = get(f"{base}/metrics", token)
        assert status == 401, (token, status)
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert "spamhattan_" not in body.replace("/metrics", "")
    samples = scrape(base, TOKEN)
    assert value(samples, "spamhattan_smtp_messages_total") == 0
    assert get(f"{base}/healthz")[0] == 200
    assert get(f"{base}/readyz")[0] == 200


def test_a_short_metrics_token_is_refused_at_start(trap_factory, tmp_path):
    config = tmp_path / "short.toml"
    config.write_text(CONFIG + '[http]\nmetrics_token = "abc"\n')
    trap = trap_factory()
    out = trap.cli("config", "check", "--config", str(config), "--trap-domain", "trap.example")
    assert out.returncode == 1
    assert b"metrics_token" in out.stderr, out.stderr
