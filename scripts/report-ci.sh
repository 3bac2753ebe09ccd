#!/usr/bin/env bash
# Runs one scenario in short mode against the launcher with the real loadgen binary, checks
# the reports it writes (summary.json passed, junit.xml, run.json), and screenshots the HTML
# report in headless Chromium, failing when the picture is blank. Used by scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/stack.sh"
cargo build -q -p loadgen --bin loadgen
"$root/target/debug/loadgen" run cache-effect --short --no-dashboard \
  --user-url "$USER_URL" --restaurant-url "$RESTAURANT_URL" --order-url "$ORDER_URL" \
  --report-dir "$STACK_WORK/reports" | tail -n 25
report=$(ls -d "$STACK_WORK"/reports/cache-effect/*/ | head -n 1)
for file in index.html summary.json junit.xml run.json; do
  [ -s "$report/$file" ] || { echo "FAIL: $file missing from $report" >&2; exit 1; }
done
python3 - "$report/summary.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
passed = summary.get("passed")
print(f"summary.json: passed={passed}")
sys.exit(0 if passed is True else 1)
PY
python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$report/junit.xml"
mkdir -p "$root/target/ci"
"$root/scripts/report-screenshot.sh" "$report/index.html" "$root/target/ci/report.png"
echo "report screenshot: $root/target/ci/report.png"
