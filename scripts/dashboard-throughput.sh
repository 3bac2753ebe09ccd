#!/usr/bin/env bash
# Measures what the live dashboard costs the load: the same short scenario run alternately
# with the dashboard (in a tmux pseudo-terminal) and with --no-dashboard (same pane), in ABBA
# order so drift of the embedded stores over the runs cancels out, against the all-in-one
# launcher on free ports. Prints requests/s of every run (from run.json: requests / load
# seconds) with the CPU seconds of loadgen and of its dashboard thread, and the mean of each
# side. A measurement, not a test: it never fails on the figure.
# Usage: scripts/dashboard-throughput.sh [pairs, default 3] [extra loadgen run arguments…]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
pairs=${1:-3}; shift || true
extra=("$@")
[ ${#extra[@]} -gt 0 ] || extra=(--run-time 20s --users 40)

source "$root/scripts/tmux-stack.sh"
tmux_pane bench 140 45 'bench$ '
sleep 1

requests_per_second() { # <report dir>: requests / load seconds of the run saved there
  python3 - "$1" <<'PY'
import glob, json, sys
run = json.load(open(glob.glob(sys.argv[1] + "/*/*/run.json")[0]))
print(f"{sum(e['requests'] for e in run['endpoints']) / run['load_secs']:.1f}")
PY
}

run_side() { # run_side <dashboard|plain> <report dir>: one run in the pane
  local side=$1 dir=$2 flags="" redirect=""
  runs=$((runs + 1))
  # The dashboard shows only when stdout is the pane; the plain run prints progress lines.
  [ "$side" = plain ] && { flags="--no-dashboard"; redirect=">/dev/null 2>&1"; }
  t send-keys -t bench "clear; '$loadgen' run inter-service-flow ${extra[*]} $flags --report-dir '$dir' $service_urls $redirect; echo bench-\$(($runs))done" Enter
  sleep 2
  if [ "$side" = dashboard ]; then
    t capture-pane -p -t bench | grep -q 'inventory consistency\|SETTING UP' \
      || echo "warning: no dashboard seen in $dir" >&2
  fi
  # CPU seconds of the whole loadgen process and of its dashboard thread, last seen alive.
  local pid; pid=$(pgrep -n -f -- "--report-dir $dir" || true)
  local tick; tick=$(getconf CLK_TCK)
  process_cpu=0; screen_cpu=0
  while ! t capture-pane -p -t bench | grep -q "bench-${runs}done"; do
    if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
      process_cpu=$(awk -v t="$tick" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat" 2>/dev/null || echo "$process_cpu")
      for task in /proc/"$pid"/task/*; do
        if [ "$(cat "$task/comm" 2>/dev/null)" = dashboard ]; then
          screen_cpu=$(awk -v t="$tick" '{ printf "%.2f", ($14 + $15) / t }' "$task/stat" 2>/dev/null || echo "$screen_cpu")
        fi
      done
    fi
    sleep 0.5
  done
}

with=(); without=(); runs=0
for pair in $(seq 1 "$pairs"); do
  if [ $((pair % 2)) -eq 1 ]; then order=(dashboard plain); else order=(plain dashboard); fi
  for side in "${order[@]}"; do
    dir="$work/reports-$side-$pair"
    run_side "$side" "$dir"
    rps=$(requests_per_second "$dir")
    if [ "$side" = dashboard ]; then with+=("$rps"); else without+=("$rps"); fi
    echo "pair $pair  $side  $rps req/s  (loadgen CPU ${process_cpu}s, dashboard thread ${screen_cpu}s)"
  done
done
python3 - "${with[*]}" "${without[*]}" <<'PY'
import sys
with_ = [float(x) for x in sys.argv[1].split()]
without = [float(x) for x in sys.argv[2].split()]
mean = lambda xs: sum(xs) / len(xs)
a, b = mean(with_), mean(without)
print(f"with dashboard:    {' '.join(f'{x:.1f}' for x in with_)}  mean {a:.1f} req/s")
print(f"without dashboard: {' '.join(f'{x:.1f}' for x in without)}  mean {b:.1f} req/s")
print(f"difference: {(a - b) / b * 100:+.1f} % (with vs without)")
PY
