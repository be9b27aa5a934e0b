#!/usr/bin/env bash
# Runs all tests: installs npm dependencies and Debian test peers, then `bun test` with a JUnit
# report from which the closing counts line is computed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm run deps || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi
bash test/install-peers.sh || { echo "installing test peers failed"; echo "0 passed, 1 failed"; exit 1; }
BUN=node_modules/.bin/bun
# The ODBC connector's native binding is compiled from source (about a minute per target, then
# cached in dist/native/): done here, before the tests, so no test's build step pays for it.
for target in linux-x64 linux-arm64; do
  "$BUN" build/odbc-addon.ts "$target" >/dev/null 2>&1 || echo "note: the ODBC binding for $target was not built (its tests will say why)"
done
# The executables the tests run (x64, and arm64 under qemu), built once here: the test files run in
# parallel processes (bun test --parallel), which reuse them (TB_GW_TEST_PREBUILT) instead of each
# building its own. A failed build leaves no stale file behind: the tests that need it say why.
# A build that hangs is stopped after 15 minutes, and a build without its start-up layout profile
# (which would ship silently otherwise) is named in the log.
build_log=$(mktemp)
build() { # outfile, then build.ts arguments
  local out=$1
  shift
  timeout -k 10 900 "$BUN" build.ts "$@" >"$build_log" 2>&1 || { rm -f "$out"; echo "note: building $out failed (the binary tests will say why): $(tail -n 3 "$build_log" | tr '\n' ' ')"; }
  grep -h "^build: no bytecode layout profile" "$build_log" | sed "s|^|note: $out: |"
}
build dist/tb-gw
build dist/tb-gw-linux-arm64 --target linux-arm64
rm -f "$build_log"
export TB_GW_TEST_PREBUILT=1
# Two processes on CI's two cores: most long tests wait on the clock (outages, polls, restarts).
# test/timings.json (per-file durations of a full run) starts the longest files first.
report=$(mktemp -d)/junit.xml
"$BUN" test --parallel="${TB_GW_TEST_PARALLEL:-2}" --timings=test/timings.json --timeout 60000 --reporter=junit --reporter-outfile="$report" "$@"
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
