#!/usr/bin/env bash
# docs/collector.md carries the configuration reference the program prints.
set -euo pipefail
doc="$FM_SOURCE_DIR/docs/collector.md"
want=$(sed -n '/<!-- BEGIN config reference -->/,/<!-- END config reference -->/p' "$doc" | sed '1d;$d')
got=$("$FM_COLLECTOR" --print-config-reference)
if [[ "$want" != "$got" ]]; then
    diff <(echo "$want") <(echo "$got") || true
    echo "FAIL: docs/collector.md is out of date: regenerate its reference with" \
        "fieldmon-collector --print-config-reference" >&2
    exit 1
fi
echo "coll_doc: ok"
