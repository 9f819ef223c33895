#!/usr/bin/env python3
"""Oracle for the RPZ writer: check_rpz.py ZONE ORIGIN

Parses the zone with dnspython (dns.zone.from_file, relativize=False), checks the SOA and
NS at the apex and that every other name holds exactly one CNAME and nothing else (RPZ:
no TXT next to a policy CNAME), then prints the record count. Exits 1 on failure.
"""
import sys

import dns.rdatatype
import dns.zone


def fail(msg):
    print(f"check_rpz: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        fail("usage: check_rpz.py ZONE ORIGIN")
    path, origin = sys.argv[1], sys.argv[2]
    try:
        zone = dns.zone.from_file(path, origin=origin, relativize=False)
    except Exception as e:  # dnspython raises many kinds; all mean "does not parse"
        fail(f"{path}: {type(e).__name__}: {e}")
    apex = zone.origin
    count = 0
    for name, node in zone.nodes.items():
        types = sorted(dns.rdatatype.to_text(r.rdtype) for r in node.rdatasets)
        if name == apex:
            if "SOA" not in types or "NS" not in types:
                fail(f"apex {apex} lacks SOA or NS: {types}")
        elif types != ["CNAME"]:
            fail(f"{name}: expected one CNAME, found {types}")
        count += sum(len(r) for r in node.rdatasets)
    print(f"check_rpz: OK: {count} records")


if __name__ == "__main__":
    main()
