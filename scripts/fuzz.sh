#!/usr/bin/env bash
# API fuzzing (issue 9): schemathesis (PyPI, pinned, in a venv under target/) against each
# service's /openapi.json, faults off, with a bounded number of examples per operation.
# Checks: not_a_server_error (no 5xx), response_schema_conformance (every answer matches the
# documented schema) and status_code_conformance (every status is documented). Starts the
# launcher (`testbed up`) on free ports with the shared PostgreSQL (throw-away databases,
# dropped at the end) and Redis (a key prefix), or embedded with FUZZ_EMBEDDED=1. A user is
# signed up and logged in, and its token is sent with every request, so the order endpoints
# are exercised beyond 401. Afterwards `testbed audit` checks the books (drift 0, nothing
# PENDING). Used by scripts/test.sh; exits 1 when any service has a failure.
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

prefix="fuzz_$(date +%s)_${RANDOM}_"
stack_args=()
if [[ "${FUZZ_EMBEDDED:-0}" != 1 ]]; then
    stack_args=(--database-server "$server" --database-prefix "$prefix" --redis-url "$redis" --cache-prefix "$prefix")
    # Registered before the stack starts: a start that fails still drops what it created.
    stack_cleanup_hooks=("drop_databases '$server' '${prefix}users' '${prefix}restaurants' '${prefix}orders'")
fi
source "$root/scripts/stack.sh"
work="$STACK_WORK"

name="fuzzer_$RANDOM$RANDOM"
token="$("$root/target/debug/testbed" user-token --user-url "$USER_URL" \
    --username "$name" --password fuzz-pass-123)" || { echo "fuzz: signup or login failed" >&2; exit 1; }

mkdir -p "$reports"
for service in "user=$USER_URL" "restaurant=$RESTAURANT_URL" "order=$ORDER_URL"; do
    svc="${service%%=*}"
    url="${service#*=}"
    echo
    echo "==== fuzzing the $svc service ($url/openapi.json, $examples examples per operation, seed $seed)"
    exclude=(--exclude-path-regex '^/chaos/')
    [[ "$svc" == user ]] && exclude+=(--exclude-path /validate)
    # Run from the work directory: schemathesis keeps a .schemathesis/ cache in the current one.
    if (cd "$work" && "$st" run "$url/openapi.json" \
        --checks not_a_server_error,response_schema_conformance,status_code_conformance \
        --max-examples "$examples" --seed "$seed" --workers 1 --request-timeout 20 \
        --phases examples,coverage,fuzzing,stateful --suppress-health-check all \
        -H "Authorization: Bearer $token" "${exclude[@]}" \
        --report junit --report-junit-path "$reports/$svc.xml" --output-truncate false) \
        >"$work/$svc.out" 2>&1; then
        tail -n 25 "$work/$svc.out"
        pass "$svc service: no 5xx, every answer matches its documented schema and status"
    else
        cat "$work/$svc.out"
        fail "$svc service: schemathesis found failures (above; JUnit in $reports/$svc.xml)"
    fi
done

# What the fuzzing did to the data: the orders it placed by status, none left PENDING, and
# the stock books still balance.
echo
if "$root/target/debug/testbed" audit --restaurant-url "$RESTAURANT_URL" --order-url "$ORDER_URL" --within-secs 30; then
    pass "the books balance after fuzzing (drift 0 on every menu, nothing PENDING)"
else
    fail "the books do not balance after fuzzing"
fi
echo
finish
