"""TLS between a collector's store and PostgreSQL, with libpq's `sslmode` meanings
(crates/store/src/pg/tls.rs), against a real server.

The private cluster (tests/e2e/postgres.py) gets a certificate signed by a CA made here with
`openssl`, naming 127.0.0.1 only, and listens on 127.0.0.1 and 127.0.0.2; its pg_hba.conf accepts
`hostssl` only, so every connection that works is encrypted (the server refuses the others),
and `pg_stat_ssl` says so. The binary is driven through `spamhattan store stats --postgres-url`,
which opens the store exactly as a collector does.
"""

import os
import shutil
import subprocess
import urllib.parse

import pytest

from postgres import Postgres


def openssl(*args, cwd):
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.pem"


@pytest.fixture(scope="module")
def tls_pg(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("openssl not installed (Debian package openssl)")
    d = tmp_path_factory.mktemp("pgtls")
    ca = make_ca(d, "test-ca")
    other_ca = make_ca(d, "other-ca")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=db.test", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                               "basicConstraints=critical,CA:FALSE\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "test-ca.pem", "-CAkey", "test-ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    pg = Postgres()
    for name in ("server.pem", "server.key"):
        shutil.copy(d / name, pg.data / name)
        if os.geteuid() == 0:
            shutil.chown(pg.data / name, "postgres", "postgres")
        os.chmod(pg.data / name, 0o600)
    with open(pg.data / "postgresql.conf", "a") as f:
        f.write("ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\n"
                "listen_addresses = '127.0.0.1,127.0.0.2'\n")
    (pg.data / "pg_hba.conf").write_text(
        "local all all trust\nhostssl all all 127.0.0.0/8 trust\n")
    pg.start()
    yield pg, ca, other_ca
    pg.remove()


def url(pg, host="127.0.0.1", **params):
    query = urllib.parse.urlencode(params)
    return f"postgresql://postgres@{host}:{pg.port}/postgres" + (f"?{query}" if query else "")


def stats(spamhattan_bin, tmp_path, postgres_url):
    return subprocess.run([str(spamhattan_bin), "store", "stats", "--json", "--data-dir",
                           str(tmp_path / "data"), "--postgres-url", postgres_url],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={k: v for k, v in os.environ.items()
                               if k != "SPAMHATTAN_POSTGRES_URL"})


def test_the_store_opens_over_tls_in_each_mode_that_encrypts(tls_pg, spamhattan_bin, tmp_path):
    pg, ca, _ = tls_pg
    for postgres_url in (url(pg),  # prefer, the default: the server offers TLS
                         url(pg, sslmode="require"),
                         url(pg, sslmode="verify-ca", sslrootcert=ca),
                         url(pg, sslmode="verify-full", sslrootcert=ca),
                         f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres "
                         f"sslmode=verify-full sslrootcert='{ca}'"):
        out = stats(spamhattan_bin, tmp_path, postgres_url)
        assert out.returncode == 0, f"{postgres_url}: {out.stderr}"
    # The server took only encrypted connections (pg_hba: hostssl), and says they were.
    rows = pg.sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                  "WHERE a.backend_type = 'client backend' AND a.client_addr IS NOT NULL "
                  "AND NOT s.ssl")
    assert rows == [["0"]]


def test_a_plain_connection_is_refused_by_a_server_that_wants_tls(tls_pg, spamhattan_bin,
                                                                   tmp_path):
    pg, _, _ = tls_pg
    out = stats(spamhattan_bin, tmp_path, url(pg, sslmode="disable"))
    assert out.returncode != 0
    assert "no encryption" in out.stderr, out.stderr


def test_verification_refuses_a_certificate_from_another_ca_or_for_another_name(
        tls_pg, spamhattan_bin, tmp_path):
    pg, ca, other_ca = tls_pg
    # Signed by a CA the store was not told to trust.
    for mode in ("verify-ca", "verify-full", "require"):
        out = stats(spamhattan_bin, tmp_path, url(pg, sslmode=mode, sslrootcert=other_ca))
        assert out.returncode != 0, mode
        assert "UnknownIssuer" in out.stderr or "unknown issuer" in out.stderr.lower(), out.stderr
    # 127.0.0.2 reaches the same server, whose certificate names 127.0.0.1 only: verify-full
    # refuses it, verify-ca (chain only) accepts it.
    out = stats(spamhattan_bin, tmp_path, url(pg, host="127.0.0.2", sslmode="verify-full",
                                              sslrootcert=ca))
    assert out.returncode != 0
    assert "NotValidForName" in out.stderr or "not valid for" in out.stderr.lower(), out.stderr
    out = stats(spamhattan_bin, tmp_path, url(pg, host="127.0.0.2", sslmode="verify-ca",
                                              sslrootcert=ca))
    assert out.returncode == 0, out.stderr


def test_settings_that_cannot_be_meant_are_refused_with_the_reason(tls_pg, spamhattan_bin,
                                                                    tmp_path):
    pg, ca, _ = tls_pg
    cases = [(url(pg, sslmode="verify-full"), "need sslrootcert"),
             (url(pg, sslrootcert=ca), "sslrootcert asks for a certificate check"),
             (url(pg, sslmode="allow"), "sslmode=allow"),
             (url(pg, sslmode="verify-full", sslrootcert=tmp_path / "missing.pem"),
              "missing.pem")]
    for postgres_url, reason in cases:
        out = stats(spamhattan_bin, tmp_path, postgres_url)
        assert out.returncode != 0, postgres_url
        assert reason in out.stderr, out.stderr
