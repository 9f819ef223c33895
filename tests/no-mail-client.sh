#!/usr/bin/env bash
# The trap must never send mail: no SMTP/mail-sending client crate may be in the dependency tree
# of the shipped binary (dev-dependencies of tests may use one; the binary may not).
set -euo pipefail
cd "$(dirname "$0")/.."
deny='^(lettre|mail-send|async-smtp|samotop|smtp-client|mailgun|sendmail|email-send|mail-smtp)$'
deps=$(cargo tree --locked -p spamhattan -e normal,build --prefix none --format '{p}' | awk '{print $1}' | sort -u)
found=$(grep -E "$deny" <<<"$deps" || true)
if [ -n "$found" ]; then
    echo "mail-sending crates in the binary's dependency tree: $found" >&2
    exit 1
fi
echo "no mail-sending crate among $(wc -l <<<"$deps") dependencies of the binary"
