#!/usr/bin/env bash
# docs/faults.md carries the rules file reference fieldmonctl prints.
set -euo pipefail
doc="$FM_SOURCE_DIR/docs/faults.md"
want=$(sed -n '/<!-- BEGIN rules reference -->/,/<!-- END rules reference -->/p' "$doc" | sed '1d;$d')
got=$("$FM_CTL" rules --reference)
if [[ "$want" != "$got" ]]; then
    diff <(echo "$want") <(echo "$got") || true
    echo "FAIL: docs/faults.md is out of date: regenerate its reference with" \
        "fieldmonctl rules --reference" >&2
    exit 1
fi
# The shipped rules file passes the checker.
"$FM_CTL" rules -t "$FM_SOURCE_DIR/deploy/rules-default.yaml"
echo "tickets_doc: ok"
