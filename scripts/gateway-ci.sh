#!/usr/bin/env bash
# Starts the all-in-one launcher (embedded storage, a temporary directory, free ports) and
# runs scripts/gateway-test.sh through a real nginx in front of it. Used by scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build -q -p testbed --bin testbed
bin="$root/target/debug/testbed"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(free_port); rp=$(free_port); op=$(free_port)
(cd "$work" && RUST_LOG=warn exec "$bin" up --user-port "$up" --restaurant-port "$rp" --order-port "$op") >"$work/launcher.log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -fsS --max-time 2 "http://127.0.0.1:$op/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/launcher.log"; echo "launcher exited" >&2; exit 1; }
  sleep 0.5
done
"$root/scripts/gateway-test.sh" --user-url "http://127.0.0.1:$up" \
  --restaurant-url "http://127.0.0.1:$rp" --order-url "http://127.0.0.1:$op"
