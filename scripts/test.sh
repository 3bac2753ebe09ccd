#!/usr/bin/env bash
# The whole test suite, as CI runs it: checks (and if needed starts) PostgreSQL and Redis,
# then formatting, lints, and every test. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; }
pg_start() { pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start 2>&1; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
redis_start() {
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log 2>&1
}
# ensure NAME UP START HINT: NAME answers (UP), or START starts it within 30 s; else HINT and exit.
ensure() {
  say "checking $1"
  if ! $2; then
    echo "$1 does not answer; trying to start it"
    $3 || true
    for _ in $(seq 1 30); do $2 && break; sleep 1; done
  fi
  $2 || { printf 'FAIL: %s is not reachable.\nStart it, e.g.: %s\n' "$1" "$4" >&2; exit 1; }
}
ensure "PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)" pg_up pg_start \
  "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
ensure "Redis on 127.0.0.1:6379" redis_up redis_start \
  "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''"

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "one build serves everything: -p testbed then -p loadgen compiles no dependency twice"
BUILD_ONCE_SHARED=1 bash scripts/build-once.sh

say "service binaries (the reliability tests run and kill them as real processes)"
cargo build -p user-service -p restaurant-service -p order-service --bins

# The CI scripts in order: each script, then what it proves.
while IFS='|' read -r script proves; do
  say "$proves"
  # shellcheck disable=SC2086 # a step may carry arguments after the script's name
  bash scripts/$script </dev/null
done <<'STEPS'
validate-compose.sh|docker-compose.yml and the gateway config (compose client's config, nginx -t)
validate-k8s.sh|Kubernetes manifests (kustomize render, strict schema validation, nginx -t)
gateway-ci.sh --install-only|nginx for the gateway tests (testbed/tests/outside/gateway.rs: the real services behind a real nginx), which run with the workspace tests below
gateway-replicas.sh|the gateway with two Restaurant Service replicas, one killed
fuzz.sh|API fuzzing: schemathesis against every service's /openapi.json, then testbed audit
report-ci.sh|a scenario run end to end: reports written, HTML rendered in headless Chromium
chaos-scenarios.sh|the six process, link and dependency fault scenarios (short mode, testbed up --processes --fault-proxy, PostgreSQL + Redis)
dashboard-pty.sh|the live dashboard in a real pseudo-terminal (tmux): keys, q, terminal restored, report
toxiproxy-client.sh|a real Toxiproxy client (PyPI toxiproxy-python) drives the fault proxy
metrics-check.sh|every service's /metrics: promtool check metrics, the OpenMetrics parser, business metrics
deny-check.sh|dependency hygiene: cargo-deny licences, bans and sources (offline)
deps-check.sh|dependencies: none unused (cargo-machete), rust-version truthful
workflow-check.sh|the example GitHub Actions workflow (docs/ci/): actionlint, then its run: steps as written
STEPS

say "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
