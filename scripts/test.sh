#!/usr/bin/env bash
# The whole test suite, as CI runs it: checks (and if needed starts) PostgreSQL and Redis,
# then formatting, lints, and every test. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

say "checking PostgreSQL on 127.0.0.1:5432"
if ! pg_up; then
  echo "PostgreSQL does not answer; trying to start it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start 2>&1 || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! pg_up; then
  echo "FAIL: PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres, trust auth)." >&2
  echo "Start it, e.g.: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  exit 1
fi

say "checking Redis on 127.0.0.1:6379"
if ! redis_up; then
  echo "Redis does not answer; trying to start it"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log 2>&1 || true
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
if ! redis_up; then
  echo "FAIL: Redis is not reachable on 127.0.0.1:6379." >&2
  echo "Start it, e.g.: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''" >&2
  exit 1
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "one build serves everything: -p testbed then -p loadgen compiles no dependency twice"
BUILD_ONCE_SHARED=1 bash scripts/build-once.sh

say "docker-compose.yml and the gateway config (compose client's config, nginx -t)"
bash scripts/validate-compose.sh

say "Kubernetes manifests (kustomize render, strict schema validation, nginx -t)"
bash scripts/validate-k8s.sh

say "the NGINX gateway in front of the real services"
bash scripts/gateway-ci.sh

say "the gateway with two Restaurant Service replicas, one killed"
bash scripts/gateway-replicas.sh

say "API fuzzing: schemathesis against every service's /openapi.json"
bash scripts/fuzz.sh

say "service binaries (the reliability tests run and kill them as real processes)"
cargo build -p user-service -p restaurant-service -p order-service --bins

say "a scenario run end to end: reports written, HTML rendered in headless Chromium"
bash scripts/report-ci.sh

say "the six process, link and dependency fault scenarios (short mode, testbed up --processes --fault-proxy, PostgreSQL + Redis)"
bash scripts/chaos-scenarios.sh

say "the live dashboard in a real pseudo-terminal (tmux): keys, q, terminal restored, report"
bash scripts/dashboard-pty.sh

say "a real Toxiproxy client (PyPI toxiproxy-python) drives the fault proxy"
bash scripts/toxiproxy-client.sh

say "every service's /metrics: promtool check metrics, the OpenMetrics parser, business metrics"
bash scripts/metrics-check.sh

say "dependency hygiene: cargo-deny licences, bans and sources (offline)"
bash scripts/deny-check.sh

say "dependencies: none unused (cargo-machete), rust-version truthful"
bash scripts/deps-check.sh


say "the example GitHub Actions workflow (docs/ci/): actionlint, then its run: steps as written"
bash scripts/workflow-check.sh

say "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
