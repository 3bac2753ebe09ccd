#!/usr/bin/env bash
# API fuzzing (issue 9): schemathesis (PyPI, pinned, in a venv under target/) against each
# service's /openapi.json, faults off, with a bounded number of examples per operation.
# Checks: not_a_server_error (no 5xx), response_schema_conformance (every answer matches the
# documented schema) and status_code_conformance (every status is documented). Starts the
# launcher (`testbed up`) on free ports with the shared PostgreSQL (throw-away databases,
# dropped at the end) and Redis (a key prefix), or embedded with FUZZ_EMBEDDED=1. A user is
# signed up and logged in, and its token is sent with every request, so the order endpoints
# are exercised beyond 401. Used by scripts/test.sh; exits 1 when any service has a failure.
#
#   scripts/fuzz.sh
#
# Environment: FUZZ_EXAMPLES (max examples per operation, default 100), FUZZ_SEED (default 1,
# so CI runs are reproducible; any number explores other inputs), FUZZ_EMBEDDED=1 (SQLite and
# in-process caches), TEST_DATABASE_SERVER, TEST_REDIS_URL. Reports (JUnit) go to
# target/fuzz-report/.
#
# Not fuzzed: the fault switches under /chaos/ (switching faults on is what they do, and
# the run is with faults off) and POST /validate (its `?delay` is the brief's per-call fault
# parameter, up to 60 s); both are covered by the services' own tests.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
VERSION="4.32.5"
venv="$root/target/fuzz-venv"
st="$venv/bin/schemathesis"
examples="${FUZZ_EXAMPLES:-100}"
seed="${FUZZ_SEED:-1}"
reports="$root/target/fuzz-report"
server="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
redis="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"

if ! "$st" --version 2>/dev/null | grep -qF "$VERSION"; then
    echo "fuzz: installing schemathesis $VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q "schemathesis==$VERSION" ||
        { echo "fuzz: could not install schemathesis $VERSION from PyPI" >&2; exit 1; }
fi

cargo build -q -p testbed --bin testbed || exit 1
bin="$root/target/debug/testbed"
work="$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
up=$(free_port); rp=$(free_port); op=$(free_port)
prefix="fuzz_$(date +%s)_${RANDOM}_"
storage=()
if [[ "${FUZZ_EMBEDDED:-0}" != 1 ]]; then
    storage=(--database-server "$server" --database-prefix "$prefix" --redis-url "$redis" --cache-prefix "$prefix")
fi
(cd "$work" && RUST_LOG=warn exec "$bin" up --user-port "$up" --restaurant-port "$rp" --order-port "$op" "${storage[@]}") \
    >"$work/launcher.log" 2>&1 &
pid=$!
cleanup() {
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [[ ${#storage[@]} -gt 0 ]]; then
        for db in users restaurants orders; do
            psql "$server/postgres" -qAtc "DROP DATABASE IF EXISTS \"$prefix$db\" WITH (FORCE)" >/dev/null 2>&1
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 240); do
    curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$op/ready" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/launcher.log"; echo "fuzz: launcher exited" >&2; exit 1; }
    sleep 0.5
done
curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$op/ready" || { cat "$work/launcher.log"; echo "fuzz: launcher not ready" >&2; exit 1; }

name="fuzzer_$RANDOM$RANDOM"
curl -fsS --max-time 10 -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"fuzz-pass-123\"}" "http://127.0.0.1:$up/signup" ||
    { echo "fuzz: signup failed" >&2; exit 1; }
token="$(curl -fsS --max-time 10 -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"fuzz-pass-123\"}" "http://127.0.0.1:$up/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" ||
    { echo "fuzz: login failed" >&2; exit 1; }

mkdir -p "$reports"
passed=0
failed=0
for service in user:$up restaurant:$rp order:$op; do
    svc="${service%%:*}"
    port="${service##*:}"
    echo
    echo "==== fuzzing the $svc service (http://127.0.0.1:$port/openapi.json, $examples examples per operation, seed $seed)"
    exclude=(--exclude-path-regex '^/chaos/')
    [[ "$svc" == user ]] && exclude+=(--exclude-path /validate)
    # Run from the work directory: schemathesis keeps a .schemathesis/ cache in the current one.
    if (cd "$work" && "$st" run "http://127.0.0.1:$port/openapi.json" \
        --checks not_a_server_error,response_schema_conformance,status_code_conformance \
        --max-examples "$examples" --seed "$seed" --workers 1 --request-timeout 20 \
        --phases examples,coverage,fuzzing,stateful --suppress-health-check all \
        -H "Authorization: Bearer $token" "${exclude[@]}" \
        --report junit --report-junit-path "$reports/$svc.xml" --output-truncate false) \
        >"$work/$svc.out" 2>&1; then
        tail -n 25 "$work/$svc.out"
        echo "PASS: $svc service: no 5xx, every answer matches its documented schema and status"
        passed=$((passed + 1))
    else
        cat "$work/$svc.out"
        echo "FAIL: $svc service: schemathesis found failures (above; JUnit in $reports/$svc.xml)"
        failed=$((failed + 1))
    fi
done

# What the fuzzing did to the data: orders it placed, and the stock books still balance.
echo
stats="$(curl -fsS --max-time 10 "http://127.0.0.1:$op/orders/stats" || true)"
echo "orders the fuzzer placed, by status: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["by_status"])' "$stats" 2>/dev/null || echo "$stats")"
audit="$(curl -fsS --max-time 10 "http://127.0.0.1:$rp/inventory" || true)"
if python3 -c 'import json,sys; a=json.loads(sys.argv[1]); bad=[m for m in a if m["drift"] != 0]; print(f"{len(a)} menus audited, drift 0 on all" if not bad else f"drift on {bad}"); sys.exit(1 if bad else 0)' "$audit"; then
    echo "PASS: stock books balance after fuzzing"
    passed=$((passed + 1))
else
    echo "FAIL: stock books do not balance after fuzzing: $audit"
    failed=$((failed + 1))
fi
echo
echo "fuzz: $passed passed, $failed failed"
[[ "$failed" == 0 ]]
