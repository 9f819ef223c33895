"""Issue 7 end to end with PostgreSQL as the collectors' store: three sensors → NATS JetStream →
two collectors on separate hosts' worth of data dirs → one private PostgreSQL server
(tests/e2e/postgres.py), everything over real connections.

What must hold after every scenario, checked in PostgreSQL itself with psql: every message a
sensor answered `250` is stored exactly once (one sighting per arrival), with the tags of the
sensor that took it; its raw bytes are there byte for byte (read back by the *other* collector);
the sensors' spools drain to empty. Faults: PostgreSQL restarted under load, a collector killed
with SIGKILL mid-batch.
"""

import subprocess
import threading

import pytest

from conftest import sha256
from network import Collector, Nats, Sensor, wait_for
from postgres import Postgres
from test_sensor_network import metric, send, smtp_source

STORE_DEADLINE = 180


@pytest.fixture
def net(tmp_path, spamhattan_bin):
    made = []
    pg = Postgres().start()

    class Net:
        postgres = pg

        def nats(self):
            n = Nats(tmp_path / f"nats{len(made)}")
            made.append(n)
            return n.start()

        def collector(self, nats, name, **kw):
            c = Collector(spamhattan_bin, tmp_path / name, nats, postgres=pg, **kw)
            made.append(c)
            return c.start()

        def sensor(self, nats, sensor_id, sector, location):
            s = Sensor(spamhattan_bin, tmp_path / sensor_id, nats, sensor_id, sector=sector,
                       location=location)
            made.append(s)
            s = s.start()
            s.sector, s.location = sector, location
            return s

    yield Net()
    for p in reversed(made):
        p.stop()
    pg.remove()


def stored_rows(pg):
    """(sighting id, sensor id, sector, location) of every sighting in PostgreSQL."""
    return pg.sql("SELECT encode(id, 'hex'), json::jsonb->'sensor'->>'id', "
                  "json::jsonb->'sensor'->>'sector', json::jsonb->'sensor'->>'location' "
                  "FROM sightings")


def count(pg, table):
    return int(pg.sql(f"SELECT count(*) FROM {table}")[0][0])


def assert_exactly_once(pg, expected, sensors):
    rows = stored_rows(pg)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "a sighting was stored twice"
    by_sensor = {}
    for _, sid, sector, location in rows:
        assert sid in sensors, sid
        assert (sector, location) == (sensors[sid].sector, sensors[sid].location)
        by_sensor[sid] = by_sensor.get(sid, 0) + 1
    assert by_sensor == expected
    # The sensors table counts what was stored, not what was delivered.
    counted = {r[0]: int(r[1]) for r in pg.sql("SELECT id, sightings FROM sensors")}
    assert counted == expected


def wait_stored(pg, total, what):
    wait_for(what, lambda: count(pg, "sightings") >= total, STORE_DEADLINE)


def wait_drained(sensor):
    wait_for(f"{sensor.sensor_id}'s spool drained",
             lambda: metric(sensor.ready["http"], "spamhattan_bus_unforwarded_messages") == 0, 30)


def test_three_sensors_two_collectors_store_every_message_once_in_postgres(net):
    nats = net.nats()
    collectors = [net.collector(nats, "central-a"), net.collector(nats, "central-b")]
    sensors = {sid: net.sensor(nats, sid, sector, loc) for sid, sector, loc in
               [("bank-nl", "bank", "NL"), ("isp-de", "isp", "DE"), ("gov-be", "government", "BE")]}
    loads = [threading.Thread(target=smtp_source, args=(s, 700)) for s in sensors.values()]
    for t in loads:
        t.start()
    for t in loads:
        t.join()
    exact = {sid: send(s, 20, sid) for sid, s in sensors.items()}
    expected = {sid: 720 for sid in sensors}
    total = sum(expected.values())
    wait_stored(net.postgres, total, "every accepted message in PostgreSQL")
    assert_exactly_once(net.postgres, expected, sensors)
    # One store: what collector A stored, collector B reads, byte for byte.
    for msgs in exact.values():
        for msg in msgs[:3]:
            assert collectors[1].raw(sha256(msg)) == msg
            assert collectors[0].raw(sha256(msg)) == msg
    assert len(collectors[1].messages()) == total
    parts = [metric(c.http, "spamhattan_bus_received_total", kind="capture", outcome="stored")
             for c in collectors]
    assert sum(parts) == total and all(p > 0 for p in parts), parts
    for s in sensors.values():
        wait_drained(s)
    # The collectors' workers share one job queue: every sighting analysed once.
    wait_for("every sighting analysed", lambda: count(net.postgres, "reports") >= total,
             STORE_DEADLINE)
    assert count(net.postgres, "reports") == total
    assert count(net.postgres, "jobs") == 0


def test_postgres_restarted_under_load_loses_and_duplicates_nothing(net):
    nats = net.nats()
    collector = net.collector(nats, "central")
    sensor = net.sensor(nats, "bank-nl", "bank", "NL")
    before = send(sensor, 20, "before")
    wait_stored(net.postgres, len(before), "first messages stored")
    done = threading.Event()
    during = []

    def load():
        # Paced and bounded: 10 messages a second at most, 300 in all.
        while not done.is_set() and len(during) < 300:
            during.extend(send(sensor, 10, f"restart {len(during)}"))
            done.wait(1)

    t = threading.Thread(target=load)
    t.start()
    wait_stored(net.postgres, len(before) + 10, "the load flowing into PostgreSQL")
    net.postgres.stop("fast")
    done.wait(10)
    net.postgres.start()
    done.wait(5)
    done.set()
    t.join()
    total = len(before) + len(during)
    wait_stored(net.postgres, total, "every accepted message after the restart")
    assert_exactly_once(net.postgres, {"bank-nl": total}, {"bank-nl": sensor})
    for msg in during[-3:]:
        assert collector.raw(sha256(msg)) == msg
    wait_drained(sensor)
    assert collector.proc.poll() is None, "the collector survived the restart"
    retried = metric(collector.http, "spamhattan_bus_received_total", kind="any", outcome="retried")
    assert retried > 0, "no batch met the stopped server: the test did not test the restart"


def test_collector_killed_mid_batch_with_postgres_loses_and_duplicates_nothing(net):
    nats = net.nats()
    collector = net.collector(nats, "central", bus_extra="ack_wait_secs = 3\n")
    sensor = net.sensor(nats, "gov-be", "government", "BE")
    load = threading.Thread(target=smtp_source, args=(sensor, 1500, 6))
    load.start()
    wait_stored(net.postgres, 200, "the collector is storing")
    collector.kill()
    load.join()
    collector.start()
    wait_stored(net.postgres, 1500, "everything stored after the restart")
    assert_exactly_once(net.postgres, {"gov-be": 1500}, {"gov-be": sensor})
    wait_drained(sensor)


def test_a_sensor_refuses_a_postgres_store(tmp_path, spamhattan_bin):
    """A sensor's spool must be its local journal: a PostgreSQL store is refused at start with
    the reason, before anything listens."""
    conf = tmp_path / "sensor.toml"
    conf.write_text('[sensor]\nid = "bank-nl"\n[store]\npostgres_url = "postgresql://db1/x"\n'
                    '[bus]\nurl = "nats://127.0.0.1:1"\n')
    out = subprocess.run([str(spamhattan_bin), "sensor", "--config", str(conf), "--data-dir",
                          str(tmp_path / "d"), "--smtp-listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode != 0
    assert "a sensor's spool is local" in out.stderr, out.stderr
