#!/usr/bin/env bash
# Gateway with two replicas of the Restaurant Service, one killed (issue 9). Starts two
# restaurant-service processes on one PostgreSQL database (the shared server on 127.0.0.1:5432,
# a throw-away database dropped at the end), renders the gateway with both as upstream
# servers (scripts/render-gateway.sh), checks that both get traffic, kills one with SIGKILL
# and checks that every request through the gateway still succeeds (the public reads), that
# stock calls are not routed at all, and that stock still balances.
# Used by scripts/test.sh; prints PASS/FAIL lines and "gateway-replicas: N passed, N failed".
#
#   scripts/gateway-replicas.sh        (env: TEST_DATABASE_SERVER, default postgres://postgres@127.0.0.1:5432)
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
server="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
source "$root/scripts/check-lib.sh"

cargo build -q -p restaurant-service --bin restaurant-service || { fail "build restaurant-service"; finish; }
cargo build -q -p testbed --bin testbed || { fail "build testbed (its audit subcommand)"; finish; }
bin="$root/target/debug/restaurant-service"
need_nginx || { fail "nginx is not installed and could not be installed (apt-get install nginx)"; finish; }

W="$(mktemp -d "${TMPDIR:-/tmp}/gateway-replicas.XXXXXX")"
db="gwrep_$(date +%s)_$RANDOM$RANDOM"
url="$server/$db"
pids=()
nginx_pid=""
cleanup() {
    local pid
    for pid in "${pids[@]}"; do stop_quietly "$pid" KILL; done
    stop_quietly "$nginx_pid" QUIT # QUIT lets the master stop its workers; KILL would orphan them
    drop_databases "$server" "$db"
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_replica NAME PORT -> pid in REPLICA_PID
start_replica() {
    (RUST_LOG=warn TESTBED_DEV=1 HOST=127.0.0.1 PORT="$2" DATABASE_URL="$url" DATA_DIR="$W/data" \
        exec "$bin") >"$W/$1.log" 2>&1 &
    REPLICA_PID=$!
    pids+=("$REPLICA_PID")
    wait_url "http://127.0.0.1:$2/ready" 30 "$REPLICA_PID" "$W/$1.log" ||
        { fail "replica $1 did not become ready on port $2"; finish; }
}

pa="$(free_port)"; pb="$(free_port)"; gp="$(free_port)"; dead="$(free_port)"
# One after the other, so only the first runs the migrations and the seed.
start_replica a "$pa"; pid_a=$REPLICA_PID
start_replica b "$pb"
pass "two restaurant-service replicas on one database ($db): 127.0.0.1:$pa and 127.0.0.1:$pb"

if ! "$root/scripts/render-gateway.sh" --daemon-off --port "127.0.0.1:$gp" \
    --restaurant "127.0.0.1:$pa,127.0.0.1:$pb" --user "127.0.0.1:$dead" --order "127.0.0.1:$dead" \
    "$W/gw" >"$W/render.log" 2>&1; then
    cat "$W/render.log"; fail "render the gateway"; finish
fi
"$NGINX" -p "$W/gw" -e "$W/gw/logs/error.log" -c "$W/gw/nginx.conf" >"$W/nginx.log" 2>&1 &
nginx_pid=$!
GW="http://127.0.0.1:$gp"
wait_url "$GW/health" 5 "$nginx_pid" "$W/gw/logs/error.log" || { fail "nginx did not start"; finish; }
pass "gateway on $GW with restaurant upstreams 127.0.0.1:$pa and 127.0.0.1:$pb"

# run_requests N LABEL: N public requests through the gateway (menu list, one menu, the
# restaurants); counts answers that are not 200.
run_requests() {
    local n="$1" label="$2" bad=0 i status
    local paths=(/api/restaurants/menus /api/restaurants/menus/1 /api/restaurants/restaurants)
    for i in $(seq 1 "$n"); do
        status="$(curl -sS -o "$W/body" -w '%{http_code}' --max-time 10 "$GW${paths[i % 3]}")"
        if [[ "$status" != 200 ]]; then
            bad=$((bad + 1))
            echo "  $label request $i -> $status $(head -c 300 "$W/body" 2>/dev/null)"
        fi
    done
    BAD=$bad
}

# Requests whose final upstream was 127.0.0.1:PORT (after a retry the field lists "a, b").
served_by() { grep -cE "upstream=([0-9.:]+, )*127\.0\.0\.1:$1 " "$W/gw/logs/access.log" 2>/dev/null || true; }

run_requests 40 "both up"
if [[ "$BAD" == 0 ]]; then pass "40 requests with both replicas up -> all 200"; else fail "$BAD of 40 requests failed with both replicas up"; fi
a_before="$(served_by "$pa")"; b_before="$(served_by "$pb")"
if [[ "$a_before" -gt 0 && "$b_before" -gt 0 ]]; then pass "both replicas served traffic (a: $a_before, b: $b_before)"; else fail "round robin: a served $a_before, b served $b_before"; fi

kill -KILL "$pid_a" 2>/dev/null; wait "$pid_a" 2>/dev/null
pass "replica a (127.0.0.1:$pa) killed with SIGKILL"

run_requests 80 "one killed"
if [[ "$BAD" == 0 ]]; then pass "80 requests with one replica killed -> all 200"; else fail "$BAD of 80 requests failed with one replica killed"; fi
b_after="$(served_by "$pb")"
retried="$(grep -c "upstream=127.0.0.1:$pa, 127.0.0.1:$pb " "$W/gw/logs/access.log" 2>/dev/null || true)"
if [[ "$((b_after - b_before))" -ge 80 ]]; then pass "replica b answered all $((b_after - b_before)) requests after the kill ($retried passed on by nginx from the dead replica)"; else fail "replica b answered $((b_after - b_before)) of 80 requests after the kill"; fi

status="$(curl -sS -o "$W/body" -w '%{http_code}' --max-time 10 -X PUT -H 'Content-Type: application/json' \
    -d '{"quantity":1,"order_id":900001}' "$GW/api/restaurants/inventory/1")"
if [[ "$status" == 404 ]]; then pass "PUT /api/restaurants/inventory/1 through the gateway -> 404 (stock calls are not routed)"; else fail "PUT /api/restaurants/inventory/1 through the gateway -> $status $(head -c 300 "$W/body")"; fi
if "$root/target/debug/testbed" audit --restaurant-url "http://127.0.0.1:$pb" --menu 1 --reserved 0; then
    pass "the books read directly at replica b: menu 1 has nothing reserved through the gateway, drift 0 on every menu"
else
    fail "the books at replica b after the kill (want menu 1 reserved 0, drift 0)"
fi

finish
