#!/usr/bin/env bash
# CI check of every service's /metrics with real parsers (issue 17):
#   - the default answer is OpenMetrics 1.0 (`application/openmetrics-text`), parsed by the
#     reference OpenMetrics parser of the Python prometheus-client (PyPI, pinned, in a venv
#     under target/);
#   - `Accept: text/plain` gets the classic text format 0.0.4, which `promtool check metrics`
#     (Debian's `prometheus` package, installed if missing) must pass without a complaint;
#   - the business metrics are there: cache lookups and fault settings everywhere, orders by
#     status and compensations outstanding (order), stock drift per menu (restaurant);
#   - a real Prometheus (the same package's server, on a free loopback port) with the compose
#     profile's deploy/observability/prometheus.yml, pointed at this stack, scrapes all three (`up` == 1) and has the order placed here in `testbed_orders`.
# Starts the all-in-one launcher (scripts/stack.sh), signs up, orders, reads menus twice
# and switches one fault on, so every metric has samples. Values are asserted by the
# services' own tests (tests/*/metrics.rs); this script proves the formats.
#
#   scripts/metrics-check.sh
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
W="$(mktemp -d "${TMPDIR:-/tmp}/metrics-check.XXXXXX")"
trap 'rm -rf "$W"' EXIT
CHECK_NAME=metrics-check
source "$here/check-lib.sh"

PARSER_VERSION="0.26.0"
venv="$here/../target/metrics-venv"
command -v promtool >/dev/null 2>&1 || apt_install prometheus || { fail "could not install promtool"; finish; }
if ! "$venv/bin/python" -c "import prometheus_client, sys; sys.exit(prometheus_client.__version__ != '$PARSER_VERSION')" 2>/dev/null; then
    rm -rf "$venv"
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "prometheus-client==$PARSER_VERSION"; } >"$W/pip.log" 2>&1 \
        || { cat "$W/pip.log"; fail "could not install prometheus-client $PARSER_VERSION from PyPI"; finish; }
fi
echo "metrics-check: $(promtool --version 2>&1 | head -1); prometheus-client $PARSER_VERSION (OpenMetrics parser)"

source "$here/stack.sh"
stack_cleanup_hooks+=("rm -rf '$W'")

# ---- traffic, so that every metric has samples ---------------------------------------------
json=(-H 'Content-Type: application/json')
token=$("$root/target/debug/testbed" user-token --user-url "$USER_URL" --username metrics_check --password s3cret-pass)
curl -fsS "${json[@]}" -H "Authorization: Bearer $token" "$ORDER_URL/orders" \
    -d '{"items":[{"menu_id":1,"quantity":1}],"address":"Seoul Gangnam-gu 123-45","phone":"010-1234-5678"}' >/dev/null \
    || fail "placing an order"
curl -fsS "$RESTAURANT_URL/menus" >/dev/null && curl -fsS "$RESTAURANT_URL/menus" >/dev/null
curl -fsS "${json[@]}" -d '{"delay_ms": 5}' "$RESTAURANT_URL/chaos/inventory_delay" >/dev/null

# ---- each service's /metrics in both formats -------------------------------------------------
declare -A expect=(
    [user]="testbed_http_requests_total testbed_cache_lookups_total testbed_fault_setting testbed_faults_active"
    [restaurant]="testbed_cache_lookups_total testbed_fault_setting testbed_faults_active testbed_stock_drift"
    [order]="testbed_cache_lookups_total testbed_fault_setting testbed_orders testbed_compensations_outstanding"
)
declare -A url=([user]="$USER_URL" [restaurant]="$RESTAURANT_URL" [order]="$ORDER_URL")
for svc in user restaurant order; do
    type=$(curl -fsS -o "$W/$svc.om" -w '%{content_type}' "${url[$svc]}/metrics")
    [[ "$type" == application/openmetrics-text* ]] && pass "$svc: /metrics is $type" || fail "$svc: /metrics content type is '$type'"
    if "$venv/bin/python" -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse
print(len(list(parse(open(sys.argv[1]).read()))), "families")' "$W/$svc.om" >"$W/$svc.parse" 2>&1; then
        pass "$svc: the OpenMetrics parser accepts it ($(cat "$W/$svc.parse"))"
    else
        cat "$W/$svc.parse"; fail "$svc: the OpenMetrics parser rejects it"
    fi
    type=$(curl -fsS -H 'Accept: text/plain' -o "$W/$svc.prom" -w '%{content_type}' "${url[$svc]}/metrics")
    [[ "$type" == "text/plain; version=0.0.4"* ]] && pass "$svc: Accept: text/plain gets $type" || fail "$svc: Accept: text/plain gets '$type'"
    if promtool check metrics <"$W/$svc.prom" >"$W/$svc.lint" 2>&1; then
        pass "$svc: promtool check metrics passes"
    else
        cat "$W/$svc.lint"; fail "$svc: promtool check metrics complains"
    fi
    for name in ${expect[$svc]}; do
        grep -q "^$name[{ ]" "$W/$svc.prom" && pass "$svc: $name present" || fail "$svc: $name missing"
    done
done
grep -q '^testbed_fault_setting{fault="inventory_delay",field="delay_ms"} 5$' "$W/restaurant.prom" \
    && pass "restaurant: the switched-on fault shows in testbed_fault_setting" \
    || fail "restaurant: inventory_delay=5 not in testbed_fault_setting"

# ---- a real Prometheus scrapes all three (it negotiates OpenMetrics) -------------------------
if command -v prometheus >/dev/null 2>&1; then
    prom_port=$(free_port)
    hostport() { echo "${1#http://}"; }
    # The compose profile's own scrape config, pointed at this stack, scraping every second.
    sed -e "s/\"user:8001\"/\"$(hostport "$USER_URL")\"/" \
        -e "s/\"restaurant:8002\"/\"$(hostport "$RESTAURANT_URL")\"/" \
        -e "s/\"order:8003\"/\"$(hostport "$ORDER_URL")\"/" \
        -e 's/_interval: 5s/_interval: 1s/; s/scrape_timeout: 4s/scrape_timeout: 1s/' \
        "$here/../deploy/observability/prometheus.yml" >"$W/prometheus.yml"
    prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/tsdb" \
        --web.listen-address="127.0.0.1:$prom_port" >"$W/prometheus.log" 2>&1 &
    prom_pid=$!
    stack_cleanup_hooks+=("kill $prom_pid 2>/dev/null; wait $prom_pid 2>/dev/null")
    query() { curl -fsS --max-time 2 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
        python3 -c 'import json,sys; print(" ".join(r["value"][1] for r in json.load(sys.stdin)["data"]["result"]))' 2>/dev/null; }
    for _ in $(seq 1 60); do [[ "$(query 'sum(up)')" == 3 ]] && break; sleep 0.5; done
    [[ "$(query 'sum(up)')" == 3 ]] && pass "Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') scrapes all three services (up == 1)" \
        || { tail -5 "$W/prometheus.log"; query 'up'; fail "Prometheus could not scrape every service"; }
    paid=$(query 'testbed_orders{service="order",status="PAID"}')
    [[ "$paid" == 1 ]] && pass "Prometheus has testbed_orders{status=\"PAID\"} = 1 (the order placed above)" \
        || fail "Prometheus: testbed_orders{status=\"PAID\"} is '$paid', expected 1"
    # Every query of the Grafana dashboard, against this Prometheus: all must evaluate, and the
    # latency, request and order panels must have data.
    sleep 2 # a second sample for the rate() windows
    if python3 - "http://127.0.0.1:$prom_port" "$here/../deploy/observability/grafana/dashboards/testbed.json" >"$W/dash.out" 2>&1 <<'PY'
import json, sys, urllib.parse, urllib.request
base, dash = sys.argv[1], json.load(open(sys.argv[2]))
bad = 0
for panel in dash["panels"]:
    for target in panel["targets"]:
        url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": target["expr"]})
        answer = json.load(urllib.request.urlopen(url, timeout=5))
        series = len(answer["data"]["result"]) if answer.get("status") == "success" else -1
        must = panel["title"].startswith(("Latency", "Requests", "Orders"))
        ok = series > 0 or (series == 0 and not must)
        bad += not ok
        print("  %s %s: %d series" % ("ok " if ok else "BAD", panel["title"], series))
for note in dash["annotations"]["list"]:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": note["expr"]})
    ok = json.load(urllib.request.urlopen(url, timeout=5)).get("status") == "success"
    bad += not ok
    print("  %s annotation %s" % ("ok " if ok else "BAD", note["name"]))
sys.exit(1 if bad else 0)
PY
    then cat "$W/dash.out"; pass "every Grafana dashboard query and annotation evaluates in Prometheus (latency, requests, orders have data)"
    else cat "$W/dash.out"; fail "a Grafana dashboard query fails or has no data in Prometheus"
    fi
else
    fail "no prometheus binary (Debian package prometheus) to scrape the services"
fi
curl -fsS -X DELETE "$RESTAURANT_URL/chaos" >/dev/null

finish
