#!/usr/bin/env bash
# CI check for the Docker deployment files (no Docker engine needed):
#   1. docker-compose.yml passes a compose client's `config` (the `docker compose` plugin when
#      it works here, otherwise Debian's `docker-compose`, installed on demand);
#   2. the resolved config has what the testbed needs (services, healthchecks,
#      depends_on: service_healthy, the loadgen profile, the gateway's template mount);
#   3. the gateway template, rendered exactly as the nginx image would render it with the
#      compose environment (envsubst limited by NGINX_ENVSUBST_FILTER), passes `nginx -t`
#      inside an nginx.conf like the image's (service host names mapped to 127.0.0.1, as
#      `user`, `restaurant` and `order` do not resolve outside compose).
#   2b. safe by default: every published port on loopback, no built-in JWT/service/admin
#      secret (the same check must reject an unsafe copy: `8001:8001`, the old fallback
#      secret), and the secrets-init command really writes random, owner-only secrets;
#   2c. docker-compose.faults.yml on top: every link through the faultproxy container
#      (deploy/faultproxy/links.json), its API on loopback only;
#   4. the observability profile: `promtool check config` on deploy/observability/prometheus.yml,
#      the Grafana dashboard JSON (panels, annotations, data source), every query through
#      `promtool check rules`.
# Also checks the shell scripts parse (bash -n). Installs nginx / docker-compose /
# gettext-base / prometheus (promtool) from Debian's packages when missing (needs root). Exits non-zero on any failure.
#
#   scripts/validate-compose.sh [path/to/docker-compose.yml]
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
compose_file="${1:-$repo/docker-compose.yml}"
W="$(mktemp -d "${TMPDIR:-/tmp}/validate-compose.XXXXXX")"
trap 'rm -rf "$W"' EXIT

CHECK_NAME=validate-compose
source "$here/check-lib.sh"

[[ -f "$compose_file" ]] || { fail "no compose file at $compose_file"; finish; }
cd "$(dirname "$compose_file")"

# ---- 1. a compose client that validates without an engine ---------------------------------
compose=()
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    echo "validate-compose: no 'docker compose' plugin here; installing Debian's docker-compose"
    apt_install docker-compose || { fail "could not install docker-compose"; finish; }
    compose=(docker-compose)
fi
echo "validate-compose: using ${compose[*]} ($("${compose[@]}" version 2>/dev/null | head -1))"

cf=(-f "$compose_file")
# Resolved as CI and a newcomer would: without secrets in the environment.
unset JWT_SECRET SERVICE_TOKEN_SECRET ADMIN_TOKEN GATEWAY_BIND
if "${compose[@]}" "${cf[@]}" --profile loadgen --profile observability config -q 2>"$W/config.err"; then
    pass "${compose[*]} config -q accepts $(basename "$compose_file")"
else
    cat "$W/config.err"
    fail "${compose[*]} config rejects $(basename "$compose_file")"
    finish
fi
"${compose[@]}" "${cf[@]}" --profile loadgen --profile observability config >"$W/resolved.yml" 2>"$W/config.err" || { cat "$W/config.err"; fail "compose config (resolved)"; finish; }

# ---- 2. what the testbed needs --------------------------------------------------------------
py=""
for cand in python3 /usr/bin/python3; do
    if "$cand" -c 'import yaml' 2>/dev/null; then py="$cand"; break; fi
done
if [[ -z "$py" ]]; then
    apt_install python3-yaml && py=/usr/bin/python3
fi
if [[ -n "$py" ]]; then
    if "$py" - "$W/resolved.yml" "$W/gateway.env" <<'PY'
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
svcs = cfg.get("services", {})
problems = []
def need(cond, msg):
    if not cond:
        problems.append(msg)
for name in ("postgres", "redis", "user", "restaurant", "order", "gateway", "loadgen"):
    need(name in svcs, "service %s is missing" % name)
for name, port in (("user", 8001), ("restaurant", 8002), ("order", 8003)):
    s = svcs.get(name, {})
    env = s.get("environment", {}) or {}
    need(str(env.get("PORT")) == str(port), "%s: PORT should be %d" % (name, port))
    need(env.get("HOST") == "0.0.0.0", "%s: HOST should be 0.0.0.0" % name)
    need(str(env.get("JWT_SECRET_FILE", "")).startswith("/run/testbed-secrets/"), "%s: JWT_SECRET_FILE should be in /run/testbed-secrets" % name)
    need(str(env.get("DATABASE_URL", "")).startswith("postgres://"), "%s: DATABASE_URL should be postgres://" % name)
    need(env.get("REDIS_URL") == "redis://redis:6379", "%s: REDIS_URL" % name)
    need(any(str(p.get("target") if isinstance(p, dict) else p).split("/")[0].endswith(str(port)) for p in s.get("ports", [])), "%s: port %d not published" % (name, port))
    need("test" in (s.get("healthcheck") or {}), "%s: no healthcheck" % name)
    need("build" in s, "%s: not built from the Dockerfile" % name)
for name in ("user", "restaurant", "order", "gateway", "loadgen"):
    deps = svcs.get(name, {}).get("depends_on", {}) or {}
    need(isinstance(deps, dict) and deps and all(v.get("condition") == ("service_completed_successfully" if k == "secrets-init" else "service_healthy") for k, v in deps.items()),
         "%s: depends_on must use condition: service_healthy (secrets-init: service_completed_successfully)" % name)
for name in ("user", "restaurant", "order"):
    need("secrets-init" in (svcs.get(name, {}).get("depends_on") or {}), "%s: must wait for secrets-init" % name)
for name in ("postgres", "redis", "gateway"):
    need("test" in (svcs.get(name, {}).get("healthcheck") or {}), "%s: no healthcheck" % name)
order_env = svcs.get("order", {}).get("environment", {}) or {}
need(order_env.get("USER_SERVICE_URL") == "http://user:8001", "order: USER_SERVICE_URL")
need(order_env.get("RESTAURANT_SERVICE_URL") == "http://restaurant:8002", "order: RESTAURANT_SERVICE_URL")
need(svcs.get("loadgen", {}).get("profiles") == ["loadgen"], "loadgen: should be under profiles: [loadgen]")
gw = svcs.get("gateway", {})
need(any("/etc/nginx/templates" in str(v) for v in gw.get("volumes", [])), "gateway: templates not mounted at /etc/nginx/templates")
need(any(str(p.get("target") if isinstance(p, dict) else p).split("/")[0].endswith("80") for p in gw.get("ports", [])), "gateway: port 80 not published")
need(any("docker-entrypoint-initdb.d" in str(v) for v in svcs.get("postgres", {}).get("volumes", [])), "postgres: no init script mounted")
need("postgres-data" in (cfg.get("volumes") or {}), "named volume postgres-data missing")
with open(sys.argv[2], "w") as f:
    for k, v in (gw.get("environment") or {}).items():
        f.write("%s=%s\n" % (k, "" if v is None else v))
for p in problems:
    print("  - " + p)
sys.exit(1 if problems else 0)
PY
    then pass "resolved compose config has the services, healthchecks, depends_on and profile the testbed needs"
    else fail "resolved compose config is missing pieces (listed above)"
    fi
else
    fail "no python with PyYAML to inspect the resolved compose config"
fi

# ---- 2b. safe by default: loopback-only ports, no built-in secret ---------------------------
# The same check runs on a deliberately unsafe copy (ports on all interfaces, the old
# fallback secret), which it must reject: a check that cannot fail proves nothing.
cat >"$W/safety.py" <<'PY'
import ipaddress, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
svcs = cfg.get("services", {})
problems = []
SECRETS = ("JWT_SECRET", "SERVICE_TOKEN_SECRET", "ADMIN_TOKEN")
KNOWN_DEFAULTS = ("change-me-dev-secret", "testbed-development-secret-not-for-production")
def host_ip(port):
    """The host address of a published port, in either form a compose client prints."""
    if isinstance(port, dict):
        return port.get("host_ip") or ""
    spec = str(port).split("/")[0]
    if spec.startswith("["):
        return spec[1:spec.index("]")]
    parts = spec.split(":")
    return parts[0] if len(parts) == 3 else ""
def loopback(ip):
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"
for name, s in svcs.items():
    for port in s.get("ports") or []:
        ip = host_ip(port)
        if not loopback(ip):
            problems.append("%s: port %s is bound to %s" % (name, port, ip or "all interfaces"))
    env = s.get("environment") or {}
    for key in SECRETS:
        if env.get(key):
            problems.append("%s: %s has a built-in value" % (name, key))
    for key, value in env.items():
        if any(d in str(value) for d in KNOWN_DEFAULTS):
            problems.append("%s: %s holds a published default secret" % (name, key))
for name in ("user", "restaurant", "order"):
    env = svcs.get(name, {}).get("environment") or {}
    if not env.get("JWT_SECRET_FILE"):
        problems.append("%s: no JWT_SECRET_FILE (the generated secret)" % name)
for name in ("restaurant", "order"):
    env = svcs.get(name, {}).get("environment") or {}
    if not env.get("SERVICE_TOKEN_SECRET_FILE"):
        problems.append("%s: no SERVICE_TOKEN_SECRET_FILE (the generated secret)" % name)
if "SERVICE_TOKEN_SECRET_FILE" in (svcs.get("user", {}).get("environment") or {}):
    problems.append("user: must not get the service token secret")
for p in problems:
    print("  - " + p)
sys.exit(1 if problems else 0)
PY
safety() { "$py" "$W/safety.py" "$1"; }
if [[ -z "$py" ]]; then
    fail "no python with PyYAML for the safety check"
else
    if safety "$W/resolved.yml"; then
        pass "published ports are on 127.0.0.1 only; no built-in JWT/service/admin secret"
    else
        fail "compose is not safe by default (listed above)"
    fi
    # Self-test: the old, unsafe shape must be caught.
    sed -E -e 's/"127\.0\.0\.1:(800[123]):/"\1:/' \
        -e 's|JWT_SECRET_FILE: .*|JWT_SECRET: ${JWT_SECRET:-change-me-dev-secret}|' \
        "$compose_file" >"$W/unsafe.yml"
    if "${compose[@]}" -f "$W/unsafe.yml" --project-directory "$(dirname "$compose_file")" config >"$W/unsafe-resolved.yml" 2>"$W/config.err" &&
        ! safety "$W/unsafe-resolved.yml" >"$W/unsafe.out" &&
        grep -q "user: port .* all interfaces" "$W/unsafe.out" && grep -q "published default secret" "$W/unsafe.out"; then
        pass "self-test: the check rejects 8001:8001 and the old fallback secret ($(grep -c '^  - ' "$W/unsafe.out") problems found)"
    else
        cat "$W/config.err" "$W/unsafe.out" 2>/dev/null
        fail "self-test: the safety check did not reject an unsafe compose file"
    fi
fi

# ---- 2c. the fault-proxy overlay (docker-compose.faults.yml, issue 13) ----------------------
# Every link of deploy/faultproxy/links.json exists, the services reach PostgreSQL, Redis and
# each other only through it, loadgen goes through its loadgen-> links, and the combined file
# is as safe as the plain one (its API published on loopback only).
faults_file="$(dirname "$compose_file")/docker-compose.faults.yml"
if [[ -f "$faults_file" && -n "$py" ]]; then
    if "${compose[@]}" "${cf[@]}" -f "$faults_file" --profile loadgen config >"$W/faults.yml" 2>"$W/config.err" &&
        safety "$W/faults.yml" &&
        "$py" - "$W/faults.yml" "$(dirname "$compose_file")/deploy/faultproxy/links.json" <<'PY'
import json, sys, yaml
svcs = yaml.safe_load(open(sys.argv[1]))["services"]
links = {l["name"]: l for l in json.load(open(sys.argv[2]))}
problems = []
def need(cond, msg):
    if not cond:
        problems.append(msg)
names = ["loadgen->%s" % s for s in ("user", "restaurant", "order")] + ["order->user", "order->restaurant"]
names += ["%s->%s" % (s, d) for d in ("postgres", "redis") for s in ("user", "restaurant", "order")]
need(sorted(links) == sorted(names), "links.json should hold exactly %s" % names)
def through(name):
    port = links[name]["listen"].rsplit(":", 1)[1]
    return "faultproxy:%s" % port
need("faultproxy" in svcs and "faultproxy" in " ".join(svcs["faultproxy"].get("command", [])), "faultproxy service missing")
for s in ("user", "restaurant", "order"):
    env = svcs[s].get("environment") or {}
    need(through("%s->postgres" % s) in str(env.get("DATABASE_URL")), "%s: DATABASE_URL not through %s->postgres" % (s, s))
    need(through("%s->redis" % s) in str(env.get("REDIS_URL")), "%s: REDIS_URL not through %s->redis" % (s, s))
    need((svcs[s].get("depends_on") or {}).get("faultproxy", {}).get("condition") == "service_healthy", "%s: must wait for faultproxy" % s)
order = svcs["order"].get("environment") or {}
need(through("order->user") in str(order.get("USER_SERVICE_URL")), "order: USER_SERVICE_URL not through order->user")
need(through("order->restaurant") in str(order.get("RESTAURANT_SERVICE_URL")), "order: RESTAURANT_SERVICE_URL not through order->restaurant")
lg = svcs["loadgen"].get("environment") or {}
for s, var in (("user", "USER_URL"), ("restaurant", "RESTAURANT_URL"), ("order", "ORDER_URL")):
    need(through("loadgen->%s" % s) in str(lg.get(var)), "loadgen: %s not through loadgen->%s" % (var, s))
need(str(lg.get("FAULT_PROXY_URL")) == "http://faultproxy:8474", "loadgen: FAULT_PROXY_URL")
for p in problems:
    print("  - " + p)
sys.exit(1 if problems else 0)
PY
    then pass "docker-compose.faults.yml: every link through the faultproxy container, API on loopback only"
    else
        cat "$W/config.err" 2>/dev/null
        fail "docker-compose.faults.yml does not wire the services through the fault proxy (listed above)"
    fi
fi

# The one-shot secrets-init command, run here with sh on a scratch directory: two random
# 64-hex-digit secrets, owner-only for the services' uid, kept as they are on a second start.
if [[ -n "$py" ]] && "$py" -c '
import sys, yaml
cmd = yaml.safe_load(open(sys.argv[1]))["services"]["secrets-init"]["command"]
open(sys.argv[2], "w").write(cmd[-1].replace("$$", "$").replace("/secrets", sys.argv[3]))' \
    "$W/resolved.yml" "$W/secrets-init.sh" "$W/secrets" 2>"$W/init.err"; then
    mkdir -p "$W/secrets"
    env -u JWT_SECRET -u SERVICE_TOKEN_SECRET sh -euc "$(cat "$W/secrets-init.sh")" >/dev/null 2>"$W/init.err"
    first="$(cat "$W/secrets/jwt_secret" 2>/dev/null)"
    env -u JWT_SECRET -u SERVICE_TOKEN_SECRET sh -euc "$(cat "$W/secrets-init.sh")" >/dev/null 2>>"$W/init.err"
    modes="$(stat -c '%a %u' "$W/secrets/jwt_secret" "$W/secrets/service_token_secret" 2>/dev/null | sort -u)"
    if [[ "$first" =~ ^[0-9a-f]{64}$ && "$(cat "$W/secrets/jwt_secret")" == "$first" &&
          "$(cat "$W/secrets/service_token_secret")" =~ ^[0-9a-f]{64}$ && "$first" != "$(cat "$W/secrets/service_token_secret")" &&
          ( "$(id -u)" != 0 || "$modes" == "400 10001" ) ]]; then
        pass "secrets-init writes two random secrets (mode ${modes:-?}), kept on a second start"
    else
        cat "$W/init.err"; fail "secrets-init did not write the secrets as expected (got '${modes}')"
    fi
else
    cat "$W/init.err" 2>/dev/null; fail "no secrets-init command in the resolved compose config"
fi

# ---- 3. the gateway template, rendered like the nginx image, through nginx -t ---------------
need_nginx || NGINX=""
need_tool envsubst gettext-base
if [[ -z "$NGINX" ]] || ! command -v envsubst >/dev/null 2>&1; then
    fail "nginx or envsubst is missing and could not be installed"; finish
fi
[[ -s "$W/gateway.env" ]] || { fail "no gateway environment in the resolved compose config"; finish; }

mkdir -p "$W/nginx/conf.d" "$W/nginx/logs" "$W/nginx/tmp"
# What the image's 20-envsubst-on-templates.sh does, with the compose environment plus the
# variables the image itself defines.
(
    set -e
    mapfile -t envs <"$W/gateway.env"
    env -i PATH="$PATH" HOSTNAME=gateway HOME=/root NGINX_VERSION=1.27.5 PKG_RELEASE=1 \
        NJS_VERSION=0.8.10 NJS_RELEASE=1 DYNPKG_RELEASE=1 "${envs[@]}" bash -c '
        filter="${NGINX_ENVSUBST_FILTER:-}"
        defined_envs=$(printf "\${%s} " $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
        echo "validate-compose: envsubst variables: $defined_envs"
        envsubst "$defined_envs" <"$1" >"$2"
    ' _ "$repo/gateway/templates/default.conf.template" "$W/nginx/conf.d/default.conf"
) || { fail "rendering the gateway template like the nginx image"; finish; }
if grep -nE '\$\{?(GATEWAY_PORT|(USER|RESTAURANT|ORDER)_UPSTREAM_SERVERS)' "$W/nginx/conf.d/default.conf"; then
    fail "gateway template has unrendered variables with the compose environment"
else
    pass "gateway template renders with the compose environment (NGINX_ENVSUBST_FILTER honoured)"
fi
if grep -q '\$request_id' "$W/nginx/conf.d/default.conf" && grep -q '\$http_x_request_id' "$W/nginx/conf.d/default.conf"; then
    pass "nginx's own \$variables survive rendering"
else
    fail "rendering ate nginx's own \$variables (check NGINX_ENVSUBST_FILTER)"
fi
# Compose service names do not resolve here: point them at loopback, ports unchanged.
sed -E -i 's/^([[:space:]]*server[[:space:]]+)[A-Za-z][A-Za-z0-9_.-]*:/\1127.0.0.1:/' "$W/nginx/conf.d/default.conf"
run_as=""; [[ "$(id -u)" == 0 ]] && run_as="user root;"
cat >"$W/nginx/nginx.conf" <<CONF
# shaped like the nginx image's /etc/nginx/nginx.conf
$run_as
worker_processes auto;
error_log $W/nginx/logs/error.log notice;
pid $W/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                    '\$status \$body_bytes_sent "\$http_referer" '
                    '"\$http_user_agent" "\$http_x_forwarded_for"';
    access_log $W/nginx/logs/access.log main;
    client_body_temp_path $W/nginx/tmp/body;
    proxy_temp_path $W/nginx/tmp/proxy;
    fastcgi_temp_path $W/nginx/tmp/fastcgi;
    uwsgi_temp_path $W/nginx/tmp/uwsgi;
    scgi_temp_path $W/nginx/tmp/scgi;
    sendfile on;
    keepalive_timeout 65;
    include $W/nginx/conf.d/*.conf;
}
CONF
[[ -f /etc/nginx/mime.types ]] || sed -i '/mime.types/d' "$W/nginx/nginx.conf"
if "$NGINX" -t -p "$W/nginx" -e "$W/nginx/logs/error.log" -c "$W/nginx/nginx.conf" >"$W/nginx-t.log" 2>&1; then
    pass "nginx -t accepts the gateway config as the image would render it ($("$NGINX" -v 2>&1 | sed 's/.*: //'))"
else
    cat "$W/nginx-t.log"
    fail "nginx -t rejects the gateway config rendered with the compose environment"
fi

# The standalone renderer (used by the gateway tests and scripts/gateway-replicas.sh) with
# loopback upstreams.
if "$here/render-gateway.sh" --port 127.0.0.1:8080 "$W/render" >/dev/null 2>"$W/render.err" &&
    "$NGINX" -t -q -p "$W/render" -e "$W/render/logs/error.log" -c "$W/render/nginx.conf" >"$W/render-t.log" 2>&1; then
    pass "scripts/render-gateway.sh output passes nginx -t"
else
    cat "$W/render.err" "$W/render-t.log" 2>/dev/null
    fail "scripts/render-gateway.sh output does not pass nginx -t"
fi

# ---- 4. the observability profile: Prometheus config, Grafana dashboard --------------------
obs="$repo/deploy/observability"
command -v promtool >/dev/null 2>&1 || apt_install prometheus
if ! command -v promtool >/dev/null 2>&1; then
    fail "promtool is missing and could not be installed (Debian package prometheus)"
else
    if promtool check config "$obs/prometheus.yml" >"$W/promtool.log" 2>&1; then
        pass "promtool check config accepts deploy/observability/prometheus.yml"
    else
        cat "$W/promtool.log"; fail "promtool check config rejects deploy/observability/prometheus.yml"
    fi
    # The dashboard: loads as JSON, has the panels and annotations the issue asks for, every
    # query uses the provisioned data source; its PromQL goes through promtool as rules.
    if "${py:-python3}" - "$obs" "$W/dashboard-rules.yml" <<'PY'
import json, os, sys
obs, rules_out = sys.argv[1], sys.argv[2]
dash = json.load(open(os.path.join(obs, "grafana/dashboards/testbed.json")))
problems = []
ds = "testbed-prometheus"
exprs = []
titles = [p.get("title", "") for p in dash.get("panels", [])]
for want in ("Latency per route", "Orders by status", "Stock drift", "Compensations outstanding", "Cache hit ratio", "Fault"):
    if not any(t.startswith(want) for t in titles):
        problems.append("no panel titled %r..." % want)
ids = [p.get("id") for p in dash.get("panels", [])]
if len(set(ids)) != len(ids):
    problems.append("panel ids are not unique")
for p in dash.get("panels", []):
    if not p.get("targets"):
        problems.append("panel %r has no query" % p.get("title"))
    for t in p.get("targets", []):
        if (t.get("datasource") or {}).get("uid") != ds:
            problems.append("panel %r: query not on data source %s" % (p.get("title"), ds))
        exprs.append(t.get("expr", ""))
notes = dash.get("annotations", {}).get("list", [])
if not any("testbed_fault" in (a.get("expr") or "") for a in notes):
    problems.append("no annotation from the fault metrics")
exprs += [a["expr"] for a in notes if a.get("expr")]
for name in ("testbed_http_request_duration_seconds_bucket", "testbed_orders", "testbed_faults_active"):
    if not any(name in e for e in exprs):
        problems.append("no query uses %s" % name)
ds_file = open(os.path.join(obs, "grafana/provisioning/datasources/prometheus.yml")).read()
if "uid: " + ds not in ds_file:
    problems.append("the provisioned data source has not uid %s" % ds)
with open(rules_out, "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        f.write("      - record: dashboard:query_%d\n        expr: %s\n" % (i, json.dumps(e)))
for p in problems:
    print("  - " + p)
print("dashboard: %d panels, %d queries, %d annotations" % (len(titles), len(exprs) - len(notes), len(notes)))
sys.exit(1 if problems else 0)
PY
    then pass "the Grafana dashboard JSON has its panels, annotations and data source"
    else fail "the Grafana dashboard JSON is incomplete (listed above)"
    fi
    if promtool check rules "$W/dashboard-rules.yml" >"$W/rules.log" 2>&1; then
        pass "every dashboard query is valid PromQL (promtool check rules)"
    else
        cat "$W/rules.log"; fail "a dashboard query is not valid PromQL"
    fi
fi

# ---- shell scripts parse ------------------------------------------------------------------------
for f in "$repo"/scripts/*.sh "$repo"/deploy/postgres/*.sh; do
    [[ -f "$f" ]] || continue
    if bash -n "$f" 2>"$W/bashn.err"; then pass "bash -n ${f#"$repo"/}"; else cat "$W/bashn.err"; fail "bash -n ${f#"$repo"/}"; fi
done

finish
