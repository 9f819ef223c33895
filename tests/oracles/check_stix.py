#!/usr/bin/env python3
"""Oracle for the STIX bundle writer: check_stix.py BUNDLE.json...

For each bundle:
1. runs the OASIS stix2-validator (spec version 2.1, strict: SHOULD warnings fail too) and
   fails unless it reports the bundle valid;
2. recomputes the id of every cyber observable (SCO) with the OASIS `stix2` library: the
   object is parsed without its id (allow_custom=False, so unknown properties fail as well)
   and the id `stix2` generates must equal the one written.
Exits 0 when every bundle passes, 1 otherwise (with the reasons on stderr), 2 on usage errors.
"""
import json
import sys

import stix2
from stix2validator import ValidationOptions, print_results, validate_file

# Cyber observable types of STIX 2.1 (ids are UUIDv5 over their ID-contributing properties).
SCO_TYPES = {
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
    "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process",
    "software", "url", "user-account", "windows-registry-key", "x509-certificate",
}


def check_validator(path):
    result = validate_file(path, ValidationOptions(version="2.1", strict=True))
    if result.is_valid:
        return []
    print_results([result])
    return [f"{path}: stix2-validator (2.1, strict) says invalid"]


def check_sco_ids(path):
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    errors = []
    checked = 0
    for obj in bundle.get("objects", []):
        if obj.get("type") not in SCO_TYPES:
            continue
        written = obj.get("id")
        without_id = {k: v for k, v in obj.items() if k != "id"}
        try:
            parsed = stix2.parse(without_id, allow_custom=False, version="2.1")
        except Exception as e:  # any refusal by the library is a failure of ours
            errors.append(f"{path}: {written}: stix2 refuses the object: {e}")
            continue
        if parsed.id != written:
            errors.append(f"{path}: SCO id {written} but stix2 computes {parsed.id}")
        checked += 1
    print(f"{path}: {checked} SCO ids recomputed with stix2 {stix2.__version__}")
    return errors


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    errors = []
    for path in paths:
        errors += check_validator(path)
        errors += check_sco_ids(path)
    for e in errors:
        print(f"FAIL {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"OK: {len(paths)} bundle(s) valid, SCO ids match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
