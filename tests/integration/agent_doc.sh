#!/usr/bin/env bash
# docs/config.md is exactly what `fieldmon-agent --print-config-reference`
# prints, so the reference cannot drift from the key tables.
set -euo pipefail
doc="$FM_SOURCE_DIR/docs/config.md"
if ! diff -u "$doc" <("$FM_AGENT" --print-config-reference); then
    echo "FAIL: docs/config.md is out of date: regenerate it with" \
        "fieldmon-agent --print-config-reference > docs/config.md" >&2
    exit 1
fi

# The example configuration in deploy/ stays loadable.
"$FM_AGENT" -t -c "$FM_SOURCE_DIR/deploy/agent-example.yaml"
echo "agent_doc: ok"
