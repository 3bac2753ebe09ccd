#!/usr/bin/env bash
# Benchmarks against the limits (issue 8). Builds release binaries, starts the three services
# as separate processes on PostgreSQL + Redis, and measures side by side with wrk and pgbench.
# Writes reports/bench/<date>.json and .md. Usage: bench/run.sh [--duration 10] [--connections 32]
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
done
cargo build --release -q -p user-service -p restaurant-service -p order-service -p testbed -p loadgen
python3 bench/run.py "$@"
# The login/signup flood against the release User Service (issue 16): peak RSS and /health
# latency while 500 anonymous requests for random names arrive at once.
cargo test --release -q -p testbed --test flood -- --nocapture 2>&1 | grep "flood of" |
  tee "reports/bench/login-flood-$(date +%F).txt"
