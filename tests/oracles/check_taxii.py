#!/usr/bin/env python3
"""Oracle: walk spamhattan's TAXII 2.1 server with the OASIS client, taxii2-client.

usage: check_taxii.py BASE_URL USER PASSWORD EXPECTED_COLLECTIONS [FORBIDDEN_TOKEN]

BASE_URL is the server root (http://127.0.0.1:8080); EXPECTED_COLLECTIONS a comma list of
the collection titles USER must see, exactly. FORBIDDEN_TOKEN, when given, must appear in no
object (a trap address, say). For every collection: all objects page by page (small pages),
no duplicate (id, version) within a page, none across pages except the `malware` objects the
server shares between campaigns of one family (de-duplicated within a page only, by design),
manifest pages in date_added order, added_after strictly after, match[type]=indicator.
Exits 1 with a message on the first failure.
"""
import json
import sys

from taxii2client.v21 import Server, as_pages

PER_REQUEST = 7
SHARED_ACROSS_PAGES = {"malware"}


def fail(msg):
    print(f"check_taxii: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check_collection(c, forbidden):
    if not c.can_read or c.can_write:
        fail(f"{c.title}: can_read must be true and can_write false")
    if c.media_types != ["application/stix+json;version=2.1"]:
        fail(f"{c.title}: media_types {c.media_types}")
    objects, seen = [], set()
    for page in as_pages(c.get_objects, per_request=PER_REQUEST):
        got = page.get("objects", [])
        if len(got) > PER_REQUEST:
            fail(f"{c.title}: page of {len(got)} objects for limit {PER_REQUEST}")
        in_page = set()
        for o in got:
            key = (o["id"], o.get("modified", o.get("created", "")))
            if key in in_page:
                fail(f"{c.title}: {key} twice in one page")
            in_page.add(key)
            if key in seen and o["type"] not in SHARED_ACROSS_PAGES:
                fail(f"{c.title}: {key} returned again on a later page")
            if key not in seen:
                objects.append(o)
            seen.add(key)
    if forbidden and any(forbidden in json.dumps(o) for o in objects):
        fail(f"{c.title}: an object contains the forbidden token")

    records = []
    for page in as_pages(c.get_manifest, per_request=PER_REQUEST):
        records.extend(page.get("objects", []))
    dates = [r["date_added"] for r in records]
    if dates != sorted(dates):
        fail(f"{c.title}: manifest not in date_added order")
    for d in dates:
        if len(d) != len("2016-02-16T12:00:07.123456Z") or not d.endswith("Z"):
            fail(f"{c.title}: date_added {d!r} is not a microsecond TAXII timestamp")
    if {r["id"] for r in records} != {o["id"] for o in objects}:
        fail(f"{c.title}: manifest and objects name different ids")

    if len(records) >= 2:
        middle = dates[len(dates) // 2]
        later = c.get_manifest(added_after=middle).get("objects", [])
        if any(r["date_added"] <= middle for r in later):
            fail(f"{c.title}: added_after={middle} returned an object added at or before it")
        want = {r["id"] for r in records if r["date_added"] > middle}
        if not want <= {r["id"] for r in later}:
            fail(f"{c.title}: added_after={middle} lost objects")
        env = c.get_objects(added_after=middle)
        if {o["id"] for o in env.get("objects", [])} != {r["id"] for r in later}:
            fail(f"{c.title}: objects and manifest disagree for added_after")

    indicators = c.get_objects(type=["indicator"]).get("objects", [])
    if any(o["type"] != "indicator" for o in indicators):
        fail(f"{c.title}: match[type]=indicator returned other types")
    if len(indicators) != sum(1 for o in objects if o["type"] == "indicator"):
        fail(f"{c.title}: match[type]=indicator count differs from the full walk")
    return len(objects)


def main(argv):
    if len(argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base, user, password, expected = argv[1:5]
    forbidden = argv[5] if len(argv) == 6 else None
    expected = sorted(t for t in expected.split(",") if t)
    try:
        server = Server(base.rstrip("/") + "/taxii2/", user=user, password=password)
        if not server.title or not server.api_roots:
            fail("discovery without title or api_roots")
        root = server.api_roots[0]
        if "application/taxii+json;version=2.1" not in root.versions:
            fail(f"api root versions {root.versions}")
        titles = sorted(c.title for c in root.collections)
        if titles != expected:
            fail(f"collections {titles}, expected {expected}")
        counts = {c.title: check_collection(c, forbidden) for c in root.collections}
    except SystemExit:
        raise
    except Exception as e:  # the client raises on any protocol violation
        fail(f"{type(e).__name__}: {e}")
    print(f"check_taxii: ok {counts}")


if __name__ == "__main__":
    main(sys.argv)
