#!/usr/bin/env bash
# The six process, link and dependency fault scenarios (issue 13) in short mode against
# `testbed up --processes --fault-proxy` on the real PostgreSQL + Redis: private databases
# (chaosci_<random>_users|restaurants|orders, dropped at the end) and a private cache prefix,
# an admin token, free ports. One line per scenario with its figures, reports kept under
# target/ci/chaos-scenarios/<scenario>/, then `testbed audit` on the books after all of them;
# exits 1 if any failed. Thin glue: the scenarios, the preflight, the fault driving and the
# verdicts are loadgen's (its exit code and run.json's `passed`); the Python below only
# formats a digest of each run.json for the CI log. Used by scripts/test.sh.
#
#   scripts/chaos-scenarios.sh [scenario …]   (env: TEST_DATABASE_SERVER, TEST_REDIS_URL)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
server="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
redis="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] ||
  scenarios=(order-crash restaurant-freeze redis-outage db-brownout partition slow-network)

cargo build -q -p loadgen --bin loadgen

prefix="chaosci_$(date +%s)_${RANDOM}${RANDOM}_"
export ADMIN_TOKEN="chaos-ci-$RANDOM$RANDOM$RANDOM"
# The default PENDING_TIMEOUT_SECS (30 s): a crash's orders are recovered by liveness, not age.
stack_args=(--database-server "$server" --database-prefix "$prefix" --redis-url "$redis" --cache-prefix "$prefix")
# Registered before the stack starts: a start that fails still drops what it created.
stack_cleanup_hooks=("drop_databases '$server' '${prefix}users' '${prefix}restaurants' '${prefix}orders'")
STACK_PROCESSES=1 STACK_FAULT_PROXY=1 source "$root/scripts/stack.sh"
work="$STACK_WORK"
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
# Every scenario's own final check read the books; this reads them once more after all six.
"$root/target/debug/testbed" audit --restaurant-url "$RESTAURANT_URL" --order-url "$ORDER_URL" --within-secs 60 ||
  failed+=("books after the scenarios")
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "chaos-scenarios: failed: ${failed[*]} (logs: the launcher's follows)"
  tail -n 40 "$work/launcher.log"
  exit 1
fi
echo "chaos-scenarios: ${#scenarios[@]} passed"
