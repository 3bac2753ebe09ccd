#!/usr/bin/env bash
# Bench step (issue 15): does the load generator's memory stay flat on a long run? Runs one
# scenario for N minutes against the all-in-one launcher (embedded storage, free ports),
# samples loadgen's resident memory (VmRSS from /proc) every 10 s, and fails when a sample
# after the first minute exceeds the one-minute figure by more than 20 %.
# Usage: bench/loadgen-memory.sh  (env: MINUTES=30, SCENARIO=cache-effect, USERS=…,
#        MAX_GROWTH_PERCENT=20, PROFILE=debug|release, OUT=<file for the samples>,
#        LOADGEN_BIN=<a loadgen binary to use instead of building one>)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
minutes=${MINUTES:-30}
scenario=${SCENARIO:-cache-effect}
max_growth=${MAX_GROWTH_PERCENT:-20}
profile=${PROFILE:-debug}
flag=(); [ "$profile" = release ] && flag=(--release)
loadgen=${LOADGEN_BIN:-$root/target/$profile/loadgen}
[ -n "${LOADGEN_BIN:-}" ] || cargo build -q "${flag[@]}" -p loadgen --bin loadgen
source "$root/scripts/stack.sh"
samples=${OUT:-$STACK_WORK/rss.tsv}
users=(); [ -n "${USERS:-}" ] && users=(--users "$USERS")

"$loadgen" run "$scenario" --run-time "${minutes}m" "${users[@]}" \
  --no-dashboard --report-dir "$STACK_WORK/reports" \
  --user-url "$USER_URL" --restaurant-url "$RESTAURANT_URL" --order-url "$ORDER_URL" \
  >"$STACK_WORK/loadgen.log" 2>&1 &
loadgen_pid=$!
stack_cleanup_hooks+=("kill $loadgen_pid 2>/dev/null || true")
started=$(date +%s)
printf 'seconds\trss_kib\n' >"$samples"
while kill -0 "$loadgen_pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$loadgen_pid/status" 2>/dev/null || true)
  [ -n "$rss" ] && printf '%s\t%s\n' "$(( $(date +%s) - started ))" "$rss" >>"$samples"
  sleep 10
done
verdict=0; wait "$loadgen_pid" || verdict=$?
grep -E "^\[|  (PASS|FAIL) " "$STACK_WORK/loadgen.log" | grep -v "^\[.*\] [0-9]" || true
echo "loadgen exited $verdict (the scenario's own verdict; this bench judges memory only)"
# The figure: every sample after the first minute against the first sample at ≥ 60 s.
awk -F'\t' -v max="$max_growth" -v minutes="$minutes" '
  NR == 1 { next }
  { print "  " $1 " s\t" $2 " KiB" }
  $1 >= 60 && base == "" { base = $2 }
  base != "" { if ($2 > peak) peak = $2; last = $2 }
  END {
    if (base == "") { print "no sample after the first minute: run longer"; exit 2 }
    growth = (peak - base) * 100 / base
    printf "loadgen RSS over %s min: %.1f MiB at 1 min, peak after %.1f MiB, last %.1f MiB: growth %+.1f%% (limit %s%%)\n",
      minutes, base / 1024, peak / 1024, last / 1024, growth, max
    exit (growth > max) ? 1 : 0
  }' "$samples"
