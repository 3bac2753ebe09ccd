#!/usr/bin/env bash
# A newcomer's first hour, timed: clone → stack ready (README's first command, from an empty
# target/ with the ~/.cargo registry cache present), then → first scenario report (README's
# second command). Glue around git, cargo and curl; the figures go to stdout and, as JSON, to
# reports/bench/first-hour-<profile>-<date>.json.
#
# Usage: bench/first-hour.sh [PROFILE]   (PROFILE: release (default) or dev; cargo's
# CARGO_PROFILE_<NAME>_* variables try other settings without editing Cargo.toml, e.g.
# CARGO_PROFILE_RELEASE_OPT_LEVEL=1 bench/first-hour.sh). Ports 18001–18003 keep it clear of
# a stack already running on the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
profile=${1:-release}
flag=(--profile "$profile")
[ "$profile" = dev ] && flag=()

work=$(mktemp -d /tmp/first-hour.XXXXXX)
stack_pid=
cleanup() {
  [ -n "$stack_pid" ] && kill -TERM "$stack_pid" 2>/dev/null && wait "$stack_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

git clone -q "$repo" "$work/clone"
cd "$work/clone"
ports=(--user-port 18001 --restaurant-port 18002 --order-port 18003)
start=$SECONDS
cargo run -q --locked "${flag[@]}" -p testbed -- up "${ports[@]}" --data-dir "$work/data" \
  >"$work/up.log" 2>&1 &
stack_pid=$!
for port in 18001 18002 18003; do
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
    kill -0 "$stack_pid" 2>/dev/null || { cat "$work/up.log" >&2; exit 1; }
    sleep 1
  done
done
ready=$((SECONDS - start))
echo "first-hour ($profile): clone → stack ready in ${ready}s"

start=$SECONDS
USER_URL=http://127.0.0.1:18001 RESTAURANT_URL=http://127.0.0.1:18002 \
  ORDER_URL=http://127.0.0.1:18003 \
  cargo run --locked "${flag[@]}" -p testbed -- loadgen run inter-service-flow --short \
  --no-dashboard --out "$work/report" >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; exit 1; }
report=$((SECONDS - start))
compiled=$(grep -cE '^\s+Compiling ' "$work/run.log" || true)
[ -f "$work/report/index.html" ] || { echo "no report written" >&2; exit 1; }
echo "first-hour ($profile): stack ready → first report in ${report}s ($compiled crates compiled)"

mkdir -p "$repo/reports/bench"
out="$repo/reports/bench/first-hour-$profile-$(date +%F).json"
printf '{"profile":"%s","clone_to_ready_s":%d,"ready_to_report_s":%d,"compiled_second":%d,"overrides":"%s"}\n' \
  "$profile" "$ready" "$report" "$compiled" "$(env | grep -E '^CARGO_PROFILE_' | tr '\n' ' ')" >"$out"
echo "first-hour: wrote $out"
