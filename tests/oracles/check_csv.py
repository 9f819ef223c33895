#!/usr/bin/env python3
"""Oracle for the CSV writers: check_csv.py KIND FILE (KIND: csv-urls, csv-payloads, csv-iocs)

Skips `#` lines the way consumers do, reads the rest with csv.DictReader, checks the exact
header row for KIND, that every row has as many fields as the header, and that every
`*_utc` field is empty or parses as `YYYY-MM-DD HH:MM:SS`. Exits 1 on failure.
"""
import csv
import sys
from datetime import datetime

HEADERS = {
    "csv-urls": "first_seen_utc,last_seen_utc,url,host,campaign_id,campaign_uuid,malware_family,"
    "verdict,confidence,tlp,valid_until_utc",
    "csv-payloads": "first_seen_utc,last_seen_utc,sha256,md5,sha1,ssdeep,tlsh,file_name,file_type,"
    "mime_type,size,container_chain,campaign_id,malware_family,confidence,tlp",
    "csv-iocs": "first_seen_utc,last_seen_utc,ioc_value,ioc_type,threat_type,campaign_id,"
    "malware_family,confidence,tlp,valid_until_utc,count",
}


def fail(msg):
    print(f"check_csv: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in HEADERS:
        fail(f"usage: check_csv.py {{{','.join(HEADERS)}}} FILE")
    kind, path = sys.argv[1], sys.argv[2]
    expected = HEADERS[kind].split(",")
    with open(path, encoding="utf-8", newline="") as f:
        lines = [l for l in f.read().split("\n") if l and not l.startswith("#")]
    if not lines:
        fail("no header row")
    if lines[0] != ",".join(expected):
        fail(f"header row {lines[0]!r}, expected {','.join(expected)!r}")
    raw_rows = list(csv.reader(lines[1:]))
    for n, row in enumerate(raw_rows, start=1):
        if len(row) != len(expected):
            fail(f"row {n} has {len(row)} fields, expected {len(expected)}: {row}")
    rows = list(csv.DictReader(lines))
    if len(rows) != len(raw_rows):
        fail(f"DictReader read {len(rows)} rows, the file has {len(raw_rows)} data lines")
    for n, row in enumerate(rows, start=1):
        for k, v in row.items():
            if k.endswith("_utc") and v:
                try:
                    datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
                except ValueError:
                    fail(f"row {n} {k}={v!r} is not YYYY-MM-DD HH:MM:SS")
    print(f"check_csv: OK: {kind} {len(rows)} rows")


if __name__ == "__main__":
    main()
