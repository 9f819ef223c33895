"""Issue 7: sensors and collectors reach NATS over TLS when configured. A private nats-server
requires TLS with client certificates (`verify: true`); certificates come from a throwaway CA
made here with openssl. Messages flow end to end over TLS; a sensor without a client
certificate, or one that does not trust the server's CA, is refused at start with the reason.
"""

import subprocess

import pytest

from conftest import require_tool, sha256
from network import Collector, Nats, Sensor, wait_for
from test_sensor_network import send, stored

STORE_DEADLINE = 120


def openssl(*args, cwd):
    out = subprocess.run([require_tool("openssl"), *args], cwd=cwd, capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all EC P-256."""
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test bus CA",
            cwd=d)
    for name, ext in [("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")]:
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile",
                f"{name}.ext", cwd=d)
    return d


@pytest.fixture
def tls_net(tmp_path, spamhattan_bin):
    pki = make_pki(tmp_path / "pki")
    made = []
    nats = Nats(tmp_path / "nats", config_text=(
        f'tls {{\n  cert_file: "{pki}/server.pem"\n  key_file: "{pki}/server.key"\n'
        f'  ca_file: "{pki}/ca.pem"\n  verify: true\n}}\n'))
    made.append(nats)
    nats.start()
    client_tls = (f'tls_ca_file = "{pki}/ca.pem"\ntls_cert_file = "{pki}/client.pem"\n'
                  f'tls_key_file = "{pki}/client.key"\ntls_required = true\n')

    class Net:
        def collector(self):
            c = Collector(spamhattan_bin, tmp_path / "central", nats, bus_extra=client_tls)
            made.append(c)
            return c.start()

        def sensor(self, sid, bus_extra=client_tls):
            s = Sensor(spamhattan_bin, tmp_path / sid, nats, sid, bus_extra=bus_extra)
            made.append(s)
            return s

    net = Net()
    net.pki, net.nats = pki, nats
    yield net
    for p in reversed(made):
        p.stop()


def test_messages_flow_over_tls_with_client_certificates(tls_net):
    collector = tls_net.collector()
    sensor = tls_net.sensor("bank-nl").start()
    sent = send(sensor, 20, "over tls")
    assert len(sent) == 20
    listed = wait_for("the messages stored over TLS",
                      lambda: (lambda l: l if len(l) >= 20 else None)(stored(collector)),
                      STORE_DEADLINE)
    assert len({m["sighting"] for m in listed}) == 20
    assert collector.raw(sha256(sent[0])) == sent[0]


def start_fails(sensor):
    """Runs the sensor's command to its exit: it must refuse to start, and say why."""
    out = subprocess.run(sensor.command(), capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode != 0, out.stdout
    return out.stderr


def test_a_sensor_without_a_client_certificate_is_refused(tls_net):
    pki = tls_net.pki
    sensor = tls_net.sensor("no-cert", bus_extra=f'tls_ca_file = "{pki}/ca.pem"\n'
                                                 "tls_required = true\n")
    err = start_fails(sensor)
    assert "certificate" in err.lower() and "tls" in err.lower(), err


def test_a_sensor_that_does_not_trust_the_server_is_refused(tls_net, tmp_path):
    other = make_pki(tmp_path / "other-pki")
    sensor = tls_net.sensor("wrong-ca", bus_extra=(
        f'tls_ca_file = "{other}/ca.pem"\ntls_cert_file = "{tls_net.pki}/client.pem"\n'
        f'tls_key_file = "{tls_net.pki}/client.key"\ntls_required = true\n'))
    err = start_fails(sensor)
    assert "certificate" in err.lower() and "tls" in err.lower(), err
