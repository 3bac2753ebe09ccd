#!/usr/bin/env bash
# Benchmarks against the limits (issues 8 and 15), in one command: installs the tools it
# needs (wrk, perf, inferno), builds release binaries, starts the three services as separate
# processes on PostgreSQL + Redis and measures side by side with wrk and pgbench; writes
# reports/bench/<date>.json, .md, -sweep.svg and flame/<label>-orders.svg. Exits non-zero
# when a self-check fails (orders counted by wrk vs PAID in the books vs stock lost; a 5xx or
# a stall in the concurrency sweep) or the measuring overruns its bound (540 s).
# Usage: bench/run.sh [--duration 10] [--connections 16] [--flame LABEL] [--no-flame] …
#        (bench/run.py --help lists them; the flame graph's label defaults to the date)
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v perf >/dev/null || missing+=(linux-perf)
command -v pgbench >/dev/null || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v inferno-flamegraph >/dev/null || cargo install -q --locked inferno
cargo build --release -q -p user-service -p restaurant-service -p order-service -p testbed -p loadgen
args=("$@")
if [[ " ${args[*]} " != *" --flame "* && " ${args[*]} " != *" --no-flame "* ]]; then
  args+=(--flame "$(date +%F)")
fi
status=0
PYTHONDONTWRITEBYTECODE=1 python3 bench/run.py "${args[@]}" || status=$?
# The login/signup flood against the release User Service (issue 16): peak RSS and /health
# latency while 500 anonymous requests for random names arrive at once.
timeout 300 cargo test --release -q -p testbed --test security -- flood:: --nocapture 2>&1 | grep "flood of" |
  tee "reports/bench/login-flood-$(date +%F).txt"
exit "$status"
