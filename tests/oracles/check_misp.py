#!/usr/bin/env python3
"""Oracle for the MISP feed writer: check_misp.py DIR

Loads every event with pymisp's MISPEvent().load_file, validates it against pymisp's
schema-lax.json, refuses email-dst attributes (trap addresses), then regenerates
manifest.json and hashes.csv with pymisp.tools.feed_meta_generator in a copy of DIR and
compares them with ours (manifest as JSON, hashes.csv as a sorted set of lines).
Exits 1 with a message on the first failure.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

import jsonschema
import pymisp
from pymisp import MISPEvent
from pymisp.tools import feed_meta_generator


def fail(msg):
    print(f"check_misp: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage: check_misp.py DIR")
    feed = Path(sys.argv[1])
    schema = json.loads((Path(pymisp.__file__).parent / "data" / "schema-lax.json").read_text())
    events = [p for p in feed.glob("*.json") if p.name != "manifest.json"]
    if not events:
        fail(f"no event files in {feed}")
    for p in events:
        raw = json.loads(p.read_text(encoding="utf-8"))
        try:
            jsonschema.validate(raw, schema)
        except jsonschema.ValidationError as e:
            fail(f"{p.name}: schema-lax: {e.message}")
        ev = MISPEvent()
        ev.load_file(str(p))
        if ev.uuid + ".json" != p.name:
            fail(f"{p.name}: event uuid {ev.uuid} does not match the file name")
        if len(ev.info) > 256 or "\n" in ev.info:
            fail(f"{p.name}: info longer than 256 or with a newline")
        attrs = list(ev.attributes) + [a for o in ev.objects for a in o.attributes]
        for a in attrs:
            if a.type == "email-dst" or getattr(a, "object_relation", None) in ("to", "cc", "bcc"):
                fail(f"{p.name}: attribute {a.uuid} is {a.type}/{getattr(a, 'object_relation', None)}: trap address")
        uuids = [a.uuid for a in attrs]
        if len(uuids) != len(set(uuids)):
            fail(f"{p.name}: duplicate attribute uuids")
    for name in ("manifest.json", "hashes.csv"):
        if not (feed / name).is_file():
            fail(f"{name} missing")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "feed"
        shutil.copytree(feed, copy)
        feed_meta_generator(copy)
        ours = json.loads((feed / "manifest.json").read_text(encoding="utf-8"))
        theirs = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
        if ours != theirs:
            for k in sorted(set(ours) | set(theirs)):
                if ours.get(k) != theirs.get(k):
                    fail(f"manifest.json differs for {k}:\n ours:   {ours.get(k)}\n pymisp: {theirs.get(k)}")
        ours_h = sorted(set((feed / "hashes.csv").read_text().splitlines()))
        theirs_h = sorted(set((copy / "hashes.csv").read_text().splitlines()))
        if ours_h != theirs_h:
            only_ours = set(ours_h) - set(theirs_h)
            only_theirs = set(theirs_h) - set(ours_h)
            fail(f"hashes.csv differs: only ours {sorted(only_ours)[:5]}, only pymisp {sorted(only_theirs)[:5]}")
    print(f"check_misp: OK: {len(events)} events, {len(ours_h)} distinct hash lines")


if __name__ == "__main__":
    main()
