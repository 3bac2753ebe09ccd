#!/usr/bin/env bash
# CI check for the NGINX gateway (issue 5): renders gateway/templates/default.conf.template
# for loopback upstreams, checks it with `nginx -t`, starts nginx on a free port in front of
# the three services (already running, e.g. `testbed up`), and drives the brief's flow
# through it: signup -> login -> menus -> order (PAID) -> status -> cancel (CANCELLED).
# It also checks that fault switches, admin calls and /metrics are not reachable through
# the gateway, and that a dead upstream gives the gateway's JSON 502/504.
#
#   scripts/gateway-test.sh [--user-url URL] [--restaurant-url URL] [--order-url URL] [--keep]
#
# Environment: USER_URL, RESTAURANT_URL, ORDER_URL (defaults http://127.0.0.1:8001/8002/8003),
# ADMIN_TOKEN (sent as X-Admin-Token when resetting faults directly on the services before the
# run), GATEWAY_TEST_TIMEOUT (curl --max-time, default 15 s), GATEWAY_TEST_KEEP=1 (keep the
# work directory). Installs nginx from Debian's packages when it is missing (needs root).
# Prints PASS/FAIL lines and a closing "gateway-test: N passed, N failed"; exits 1 on failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
USER_URL="${USER_URL:-http://127.0.0.1:8001}"
RESTAURANT_URL="${RESTAURANT_URL:-http://127.0.0.1:8002}"
ORDER_URL="${ORDER_URL:-http://127.0.0.1:8003}"
TIMEOUT="${GATEWAY_TEST_TIMEOUT:-15}"
KEEP="${GATEWAY_TEST_KEEP:-0}"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --user-url) USER_URL="$2"; shift 2 ;;
        --restaurant-url) RESTAURANT_URL="$2"; shift 2 ;;
        --order-url) ORDER_URL="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gateway-test: unknown argument $1" >&2; exit 2 ;;
    esac
done

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
info() { echo "----- $*"; }

W="$(mktemp -d "${TMPDIR:-/tmp}/gateway-test.XXXXXX")"
NGINX_PIDS=()
cleanup() {
    local pid
    for pid in "${NGINX_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -QUIT "$pid" 2>/dev/null
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    if [[ "$KEEP" == 1 ]]; then echo "gateway-test: work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
    echo "gateway-test: $passed passed, $failed failed"
    [[ "$failed" == 0 ]] && exit 0 || exit 1
}

# ---- nginx ---------------------------------------------------------------------------------
find_nginx() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }; }
NGINX="$(find_nginx || true)"
if [[ -z "$NGINX" ]]; then
    info "nginx not found; installing Debian's nginx package"
    if [[ "$(id -u)" != 0 ]]; then echo "gateway-test: nginx is missing and we are not root" >&2; exit 2; fi
    # Do not let the package start a system nginx on port 80.
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$W/apt.log" 2>&1 &&
        apt-get install -y -qq --no-install-recommends nginx >>"$W/apt.log" 2>&1
    rc=$?
    [[ "$made_policy" == 1 ]] && rm -f /usr/sbin/policy-rc.d
    if [[ $rc != 0 ]]; then cat "$W/apt.log" >&2; echo "gateway-test: apt-get install nginx failed" >&2; exit 2; fi
    NGINX="$(find_nginx)"
fi
info "using $("$NGINX" -v 2>&1)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
hostport() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print("%s:%d" % (p.hostname, p.port or 80))' "$1"; }

# start_gateway DIR PORT USER RESTAURANT ORDER -> sets GW
start_gateway() {
    local dir="$1" port="$2"
    if ! "$here/render-gateway.sh" --daemon-off --port "127.0.0.1:$port" \
        --user "$3" --restaurant "$4" --order "$5" "$dir" >"$W/render.log" 2>&1; then
        cat "$W/render.log"; fail "render gateway template into $dir"; finish
    fi
    if "$NGINX" -t -q -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" >"$W/nginx-t.log" 2>&1; then
        pass "nginx -t accepts the rendered config ($dir/nginx.conf)"
    else
        cat "$W/nginx-t.log"; fail "nginx -t rejects the rendered config"; finish
    fi
    "$NGINX" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" >"$dir/logs/stdout.log" 2>&1 &
    local pid=$!
    NGINX_PIDS+=("$pid")
    GW="http://127.0.0.1:$port"
    for _ in $(seq 1 50); do
        if curl -fsS --max-time 2 -o /dev/null "$GW/health" 2>/dev/null; then return 0; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$dir/logs/error.log" "$dir/logs/stdout.log" 2>/dev/null
    fail "nginx did not start on $GW"; finish
}

# ---- HTTP helpers --------------------------------------------------------------------------
# req METHOD URL [curl args...]: sets STATUS; body in $W/body, headers in $W/hdr
req() {
    local m="$1" url="$2"; shift 2
    : >"$W/body"; : >"$W/hdr"
    STATUS="$(curl -sS --path-as-is --max-time "$TIMEOUT" --connect-timeout 5 -X "$m" \
        -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@" "$url" 2>"$W/curl.err")" || STATUS="${STATUS:-000}"
    [[ -n "$STATUS" ]] || STATUS=000
}
jreq() { local m="$1" url="$2" data="$3"; shift 3; req "$m" "$url" -H 'Content-Type: application/json' --data "$data" "$@"; }
body() { head -c 400 "$W/body"; }
# jget PATH: dotted path into the JSON body (numbers index lists); prints the value or fails
jget() {
    python3 - "$W/body" "$1" <<'PY'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for part in filter(None, sys.argv[2].split(".")):
        v = v[int(part)] if isinstance(v, list) else v[part]
except Exception:
    sys.exit(1)
print(json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else v))
PY
}
header() { tr -d '\r' <"$W/hdr" | awk -v h="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1)==h {v=$2} END {print v}'; }
is_json_ct() { header Content-Type | grep -qi '^application/json'; }

# expect_gateway_error STATUS ERRORCODE DESCRIPTION: checks status, JSON content type and body
expect_json_error() {
    local want="$1" code="$2" what="$3" got_code
    got_code="$(jget error 2>/dev/null || true)"
    if [[ "$STATUS" == "$want" && "$got_code" == "$code" ]] && is_json_ct; then
        pass "$what -> $STATUS {\"error\":\"$code\"} application/json"
    else
        fail "$what -> want $want JSON error '$code', got $STATUS ($(header Content-Type)): $(body)"
    fi
}

# ---- preflight: the services -----------------------------------------------------------------
info "services: user=$USER_URL restaurant=$RESTAURANT_URL order=$ORDER_URL"
for url in "$USER_URL" "$RESTAURANT_URL" "$ORDER_URL"; do
    req GET "$url/health"
    if [[ "$STATUS" == 200 ]]; then pass "service $url/health is up"; else fail "service $url/health answered $STATUS $(cat "$W/curl.err")"; fi
done
[[ "$failed" == 0 ]] || { echo "gateway-test: start the services first (e.g. testbed up)"; finish; }
# Start from a clean slate: faults off (directly on the services; the gateway never routes it).
admin=(); [[ -n "${ADMIN_TOKEN:-}" ]] && admin=(-H "X-Admin-Token: $ADMIN_TOKEN")
for url in "$USER_URL" "$RESTAURANT_URL" "$ORDER_URL"; do
    req DELETE "$url/chaos" "${admin[@]}"
    info "DELETE $url/chaos -> $STATUS"
done

# ---- gateway in front of the live services ---------------------------------------------------
info "gateway in front of the services"
start_gateway "$W/gw" "$(free_port)" "$(hostport "$USER_URL")" "$(hostport "$RESTAURANT_URL")" "$(hostport "$ORDER_URL")"
info "gateway at $GW"

req GET "$GW/health"
if [[ "$STATUS" == 200 && "$(jget status)" == ok ]] && is_json_ct; then pass "GET /health on the gateway -> 200 JSON"; else fail "GET /health on the gateway -> $STATUS $(body)"; fi

uname="gw_$(date +%s)_$RANDOM$RANDOM"
pw="Gateway-test-pass-123"
jreq POST "$GW/api/users/signup" "{\"username\":\"$uname\",\"password\":\"$pw\"}"
user_id="$(jget id 2>/dev/null || jget user.id 2>/dev/null || true)"
if [[ "$STATUS" == 201 ]]; then pass "POST /api/users/signup ($uname) -> 201"; else fail "POST /api/users/signup -> $STATUS $(body)"; fi

jreq POST "$GW/api/users/login" "{\"username\":\"$uname\",\"password\":\"$pw\"}"
token="$(jget access_token 2>/dev/null || true)"
if [[ "$STATUS" == 200 && -n "$token" ]]; then pass "POST /api/users/login -> 200 with access_token"; else fail "POST /api/users/login -> $STATUS $(body)"; fi
auth=(-H "Authorization: Bearer $token")

req POST "$GW/api/users/validate" "${auth[@]}"
if [[ "$STATUS" == 200 && "$(jget valid 2>/dev/null)" == True ]]; then pass "public POST /api/users/validate -> 200 valid"; else fail "POST /api/users/validate -> $STATUS $(body)"; fi

if [[ -n "$user_id" ]]; then
    req GET "$GW/api/users/$user_id" "${auth[@]}"
    if [[ "$STATUS" == 200 && "$(jget username 2>/dev/null)" == "$uname" ]]; then pass "GET /api/users/$user_id -> 200 $uname"; else fail "GET /api/users/$user_id -> $STATUS $(body)"; fi
else
    info "signup answer carries no id; skipping GET /api/users/{id}"
fi

rid="gwtest-$RANDOM-$RANDOM"
req GET "$GW/api/restaurants/menus" -H "X-Request-Id: $rid"
menu_id="$(python3 - "$W/body" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
menus = d if isinstance(d, list) else next((v for v in d.values() if isinstance(v, list)), []) if isinstance(d, dict) else []
menus = [m for m in menus if isinstance(m, dict) and "id" in m]
ok = [m for m in menus if (m.get("stock") or 0) > 0]
pick = next((m for m in ok if m["id"] == 1), ok[0] if ok else None)
if pick is None:
    sys.exit(1)
print(pick["id"])
PY
)"
if [[ "$STATUS" == 200 && -n "$menu_id" ]]; then pass "GET /api/restaurants/menus -> 200, ordering menu $menu_id"; else fail "GET /api/restaurants/menus -> $STATUS, no menu in stock: $(body)"; menu_id=1; fi
if [[ "$(header X-Request-Id)" == "$rid" ]]; then pass "X-Request-Id sent by the client comes back ($rid)"; else fail "X-Request-Id: sent $rid, got '$(header X-Request-Id)'"; fi
req GET "$GW/api/restaurants/menus"
if [[ "$(header X-Request-Id)" =~ ^[0-9a-f]{32}$ ]]; then pass "X-Request-Id generated by the gateway ($(header X-Request-Id))"; else fail "no generated X-Request-Id: '$(header X-Request-Id)'"; fi

stock() { # prints the menu's stock from the operator view GET /inventory/{id} (direct: not routed)
    req GET "$RESTAURANT_URL/inventory/$menu_id" ${ADMIN_TOKEN:+-H "X-Admin-Token: $ADMIN_TOKEN"}
    [[ "$STATUS" == 200 ]] && jget stock
}
stock0="$(stock || true)"
if [[ "$stock0" =~ ^[0-9]+$ ]]; then pass "stock audit of menu $menu_id read directly: $stock0"; else fail "GET $RESTAURANT_URL/inventory/$menu_id gave no stock figure ($STATUS)"; stock0=""; fi

for p in "/api/restaurants/restaurants" "/api/restaurants/menus/$menu_id"; do
    req GET "$GW$p"
    if [[ "$STATUS" == 200 ]]; then pass "public GET $p -> 200"; else fail "public GET $p -> $STATUS $(body)"; fi
done

order_body="{\"items\":[{\"menu_id\":$menu_id,\"quantity\":1}],\"address\":\"Seoul\",\"phone\":\"010-1234-5678\"}"
jreq POST "$GW/api/orders" "$order_body" "${auth[@]}"
order_id="$(jget id 2>/dev/null || true)"
if [[ "$STATUS" == 201 && "$(jget status 2>/dev/null)" == PAID && -n "$order_id" ]]; then pass "POST /api/orders -> 201 PAID (order $order_id)"; else fail "POST /api/orders -> $STATUS $(body)"; fi

if [[ -n "$stock0" ]]; then
    s="$(stock || true)"
    if [[ "$s" == "$((stock0 - 1))" ]]; then pass "stock of menu $menu_id went $stock0 -> $s"; else fail "stock of menu $menu_id: was $stock0, now '$s' (want $((stock0 - 1)))"; fi
fi

req GET "$GW/api/orders/$order_id" "${auth[@]}"
if [[ "$STATUS" == 200 && "$(jget status 2>/dev/null)" == PAID ]]; then pass "GET /api/orders/$order_id -> 200 PAID"; else fail "GET /api/orders/$order_id -> $STATUS $(body)"; fi

req POST "$GW/api/orders/$order_id/cancel" "${auth[@]}"
st="$(jget status 2>/dev/null || true)"
if [[ "$STATUS" == 200 && ( -z "$st" || "$st" == CANCELLED ) ]]; then pass "POST /api/orders/$order_id/cancel -> 200 ${st:-}"; else fail "POST /api/orders/$order_id/cancel -> $STATUS $(body)"; fi

req GET "$GW/api/orders/$order_id" "${auth[@]}"
if [[ "$STATUS" == 200 && "$(jget status 2>/dev/null)" == CANCELLED ]]; then pass "GET /api/orders/$order_id -> 200 CANCELLED"; else fail "GET /api/orders/$order_id after cancel -> $STATUS $(body)"; fi

if [[ -n "$stock0" ]]; then
    s="$(stock || true)"
    if [[ "$s" == "$stock0" ]]; then pass "stock of menu $menu_id restored to $stock0"; else fail "stock of menu $menu_id after cancel: '$s' (want $stock0)"; fi
fi

# Upstream errors pass through untouched (not replaced by the gateway).
jreq POST "$GW/api/orders" "$order_body"
e="$(jget error 2>/dev/null || true)"
if [[ "$STATUS" == 401 && -n "$e" ]] && is_json_ct; then pass "POST /api/orders without a token -> the service's own 401 JSON ($e)"; else fail "POST /api/orders without a token -> $STATUS $(body)"; fi

# ---- never routed: fault switches, admin calls, metrics, stock moves, operator views ----------
info "blocked paths"
blocked=(
    "GET /api/users/chaos" "GET /api/restaurants/chaos" "GET /api/orders/chaos"
    "DELETE /api/users/chaos" "DELETE /api/orders/chaos"
    "POST /api/users/chaos/delay {\"delay_ms\":1500}" "POST /api/users/chaos/error {\"enable\":true}"
    "POST /api/restaurants/chaos/inventory_delay {\"delay_ms\":3000}"
    "POST /api/orders/chaos/payment_fail {\"fail_percent\":100}"
    "GET /api/users/metrics" "GET /api/restaurants/metrics" "GET /api/orders/metrics"
    "GET /api/restaurants/admin/menus" "POST /api/restaurants/admin/menus {\"restaurant_id\":1,\"name\":\"x\",\"price\":1,\"stock\":1}"
    "GET /api/restaurants/%63haos" "GET /api/restaurants/CHAOS" "GET /api/restaurants/menus/../chaos"
    "GET /api/orders//metrics" "GET /chaos" "GET /metrics" "GET /admin/menus"
    "GET /api/restaurants/inventory" "GET /api/restaurants/inventory/1"
    "PUT /api/restaurants/inventory/1 {\"quantity\":1,\"order_id\":999999}"
    "POST /api/restaurants/inventory/1/restore {\"order_id\":999999}"
    "PUT /api/restaurants/Inventory/1 {\"quantity\":1}" "GET /api/restaurants/menus/1/../../inventory/1"
    "GET /api/orders/stats"
)
for b in "${blocked[@]}"; do
    read -r m p d <<<"$b"
    if [[ -n "${d:-}" ]]; then jreq "$m" "$GW$p" "$d"; else req "$m" "$GW$p"; fi
    expect_json_error 404 not_found "$m $p"
done
# The blocked POST /chaos/payment_fail must not have reached the service: an order still pays.
jreq POST "$GW/api/orders" "$order_body" "${auth[@]}"
order2="$(jget id 2>/dev/null || true)"
if [[ "$STATUS" == 201 && "$(jget status 2>/dev/null)" == PAID ]]; then pass "faults were not switched on through the gateway (second order PAID)"; else fail "second order after blocked fault calls -> $STATUS $(body)"; fi
[[ -n "$order2" ]] && req POST "$GW/api/orders/$order2/cancel" "${auth[@]}"

# ---- dead upstream: the gateway's own JSON 502/504 ---------------------------------------------
info "gateway with its upstreams on a closed port"
dead="127.0.0.1:$(free_port)"
start_gateway "$W/gw-dead" "$(free_port)" "$dead" "$dead" "$dead"
for mp in "GET /api/restaurants/menus" "POST /api/orders" "GET /api/users/1"; do
    read -r m p <<<"$mp"
    if [[ "$m" == POST ]]; then jreq POST "$GW$p" "$order_body"; else req GET "$GW$p"; fi
    e="$(jget error 2>/dev/null || true)"
    if [[ ( "$STATUS" == 502 && "$e" == bad_gateway ) || ( "$STATUS" == 504 && "$e" == gateway_timeout ) ]] && is_json_ct \
        && [[ -n "$(header X-Request-Id)" ]]; then
        pass "$m $p with the upstream down -> $STATUS {\"error\":\"$e\"} application/json"
    else
        fail "$m $p with the upstream down -> $STATUS ($(header Content-Type)): $(body)"
    fi
done

finish
