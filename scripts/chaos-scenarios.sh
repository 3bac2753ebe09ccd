#!/usr/bin/env bash
# The six process, link and dependency fault scenarios (issue 13) in short mode against
# `testbed up --processes --fault-proxy` on the real PostgreSQL + Redis: private databases
# (chaosci_<random>_users|restaurants|orders, dropped at the end) and a private cache prefix,
# an admin token, free ports. One line per scenario with its figures, reports kept under
# target/ci/chaos-scenarios/<scenario>/; exits 1 if any failed.
# Thin glue: the scenarios, the preflight and the fault driving are loadgen's. Used by
# scripts/test.sh.
#
#   scripts/chaos-scenarios.sh [scenario …]   (env: TEST_DATABASE_SERVER, TEST_REDIS_URL)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
server="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
redis="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] ||
  scenarios=(order-crash restaurant-freeze redis-outage db-brownout partition slow-network)

cargo build -q -p testbed --bin testbed
cargo build -q -p loadgen --bin loadgen

work="$(mktemp -d "${TMPDIR:-/tmp}/chaos-scenarios.XXXXXX")"
prefix="chaosci_$(date +%s)_${RANDOM}${RANDOM}_"
admin="chaos-ci-$RANDOM$RANDOM$RANDOM"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ports=("$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)")
launcher=""
cleanup() {
  if [[ -n "$launcher" ]]; then
    kill -TERM "$launcher" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$launcher" 2>/dev/null || true
    wait "$launcher" 2>/dev/null || true
  fi
  for db in users restaurants orders; do
    psql "$server/postgres" -qAtc "DROP DATABASE IF EXISTS \"${prefix}${db}\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The default PENDING_TIMEOUT_SECS (30 s): a crash's orders are recovered by liveness, not age.
(cd "$work" && ADMIN_TOKEN="$admin" RUST_LOG=warn exec "$root/target/debug/testbed" up \
  --processes --fault-proxy \
  --user-port "${ports[0]}" --restaurant-port "${ports[1]}" --order-port "${ports[2]}" \
  --control-port "${ports[3]}" --fault-proxy-port "${ports[4]}" \
  --database-server "$server" --database-prefix "$prefix" \
  --redis-url "$redis" --cache-prefix "$prefix") \
  >"$work/launcher.log" 2>&1 &
launcher=$!
export USER_URL="http://127.0.0.1:${ports[0]}" RESTAURANT_URL="http://127.0.0.1:${ports[1]}"
export ORDER_URL="http://127.0.0.1:${ports[2]}" CONTROL_API_URL="http://127.0.0.1:${ports[3]}"
export FAULT_PROXY_URL="http://127.0.0.1:${ports[4]}" ADMIN_TOKEN="$admin"
for _ in $(seq 1 240); do
  curl -fsS --max-time 2 -H "X-Admin-Token: $admin" "$CONTROL_API_URL/processes" >/dev/null 2>&1 &&
    curl -fsS --max-time 2 "$ORDER_URL/ready" >/dev/null 2>&1 && break
  kill -0 "$launcher" 2>/dev/null || { cat "$work/launcher.log"; echo "FAIL: the launcher exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS --max-time 2 "$ORDER_URL/ready" >/dev/null || { cat "$work/launcher.log"; echo "FAIL: the stack is not ready" >&2; exit 1; }
echo "stack: testbed up --processes --fault-proxy, databases ${prefix}*, control $CONTROL_API_URL, proxy $FAULT_PROXY_URL"

reports="$root/target/ci/chaos-scenarios"
rm -rf "$reports"
failed=()
for name in "${scenarios[@]}"; do
  out="$reports/$name"
  started=$SECONDS
  set +e
  "$root/target/debug/loadgen" run "$name" --short --no-dashboard --out "$out" >"$work/$name.log" 2>&1
  code=$?
  set -e
  if [[ ! -s "$out/run.json" ]]; then
    echo "FAIL $name: exit $code, no run.json"
    tail -n 20 "$work/$name.log"
    failed+=("$name")
    continue
  fi
  python3 - "$out/run.json" "$code" "$((SECONDS - started))" <<'PY' || failed+=("$name")
import json, sys
run = json.load(open(sys.argv[1]))
code, wall = int(sys.argv[2]), sys.argv[3]
requests = sum(e["requests"] for e in run["endpoints"])
errors = sum(e["errors"] for e in run["endpoints"])
tally = run["tally"]
final = run.get("final_check") or {}
drift = sum(abs(r["drift"]) for r in final.get("rows", []))
pending = final.get("orders_by_status", {}).get("PENDING", 0)
# Units the clients were told were PAID (less what they cancelled) against the server's.
client_sold = sum(tally.get("net_sold", {}).values())
server_sold = sum(r["sold"] for r in final.get("rows", []))
fault_windows = run.get("fault_windows", [])
windows = "; ".join(f'{w["label"]} {w["start_s"]:.1f}-{w["end_s"]:.1f}s' for w in fault_windows)
passed = run["passed"] and code == 0
print(
    f'{"PASS" if passed else "FAIL"} {run["scenario"]["name"]}: {requests} requests, {errors} errors, '
    f'orders paid {tally["paid"]}, failed/errored {tally["declined"] + tally["order_errors"]} '
    f'(outcome unknown to the client {tally["unknown_outcomes"]}), drift {drift}, PENDING {pending}, '
    f'units sold: clients saw {client_sold}, server counts {server_sold}, {wall}s'
)
# The load while a fault was on against the rest, per second of the timeline (all endpoints).
chaos = [w for w in fault_windows if w["kind"] in
         ("kill", "restart", "pause", "link", "partition", "dependency_down")]
def during(second):
    return any(w["start_s"] - 1 < second <= w["end_s"] for w in chaos)
inside = [p for p in run["timeline"] if during(p["second"])]
outside = [p for p in run["timeline"] if not during(p["second"]) and p["requests"]]
def describe(points):
    if not points:
        return "-"
    req = sum(p["requests"] for p in points)
    err = sum(p["errors"] for p in points)
    worst = max(p["p95"] for p in points) / 1000
    return f"{req} req, {err} errors, worst p95 {worst:.0f} ms"
recovery = next((a for a in run["assertions"] if a["title"].startswith("recovered")), None)
print(f'    faults [{windows}]')
print(f'    while faulted: {describe(inside)}; otherwise: {describe(outside)}'
      + (f'; {recovery["title"]}: {recovery["actual"]}' if recovery else ''))
def took(measure):
    return {"recovered": lambda: f'{measure["after_s"]:.2f}s', "not_recovered": lambda: "NOT",
            "recovering": lambda: "…"}.get(measure["state"], lambda: "-")()
for figure in run.get("recovery", []):
    w = figure["window"]
    print(f'    recovery after {w["kind"]} {w["target"]} (ended {w["end_s"]:.1f}s): books '
          f'{took(figure["books"])}, errors {took(figure["errors"])}, p95 {took(figure["p95"])}')
for a in run["assertions"]:
    if not a["passed"]:
        print(f'    failed: {a["title"]}: {a["actual"]}; expected {a["expected"]} {a["detail"]}')
for note in run["notes"]:
    print(f"    note: {note}")
sys.exit(0 if passed else 1)
PY
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "chaos-scenarios: failed: ${failed[*]} (logs: the launcher's follows)"
  tail -n 40 "$work/launcher.log"
  exit 1
fi
echo "chaos-scenarios: ${#scenarios[@]} passed"
