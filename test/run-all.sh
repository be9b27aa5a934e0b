#!/usr/bin/env bash
# Runs all tests: installs npm dependencies and Debian test peers, then `bun test` with a JUnit
# report from which the closing counts line is computed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi
bash test/install-peers.sh || { echo "installing test peers failed"; echo "0 passed, 1 failed"; exit 1; }
BUN=node_modules/.bin/bun
# The ODBC connector's native binding is compiled from source (about a minute per target, then
# cached in dist/native/): done here, before the tests, so no test's build step pays for it.
for target in linux-x64 linux-arm64; do
  "$BUN" build/odbc-addon.ts "$target" >/dev/null 2>&1 || echo "note: the ODBC binding for $target was not built (its tests will say why)"
done
report=$(mktemp -d)/junit.xml
"$BUN" test --timeout 60000 --reporter=junit --reporter-outfile="$report" "$@"
rc=$?
if [ -s "$report" ]; then
  read -r tests failures skipped < <(python3 - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
tests = failures = skipped = 0
for tc in root.iter("testcase"):
    tests += 1
    if tc.find("failure") is not None or tc.find("error") is not None:
        failures += 1
    elif tc.find("skipped") is not None:
        skipped += 1
print(tests, failures, skipped)
PY
)
else
  tests=0; failures=1; skipped=0
fi
passed=$((tests - failures - skipped))
# A runner crash (non-zero exit) with no failing test case still counts as a failure.
if [ "$rc" -ne 0 ] && [ "$failures" -eq 0 ]; then failures=1; fi
line="$passed passed, $failures failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failures" -eq 0 ] && [ "$passed" -gt 0 ]
