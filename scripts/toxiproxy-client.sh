#!/usr/bin/env bash
# A Toxiproxy client nobody here wrote (PyPI toxiproxy-python, in a venv under target/) drives
# the faultproxy binary: services/faultproxy/tests/toxiproxy_client.py does the steps and
# exits non-zero if any fails. Thin glue: build, install, start on a free port, run, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

cargo build -q -p faultproxy --bin faultproxy

venv="$target/toxiproxy-client-venv"
if ! "$venv/bin/python" -c 'import toxiproxy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check toxiproxy-python==0.1.1
fi

log="$(mktemp)"
"$target/debug/faultproxy" --port 0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
addr=""
for _ in $(seq 100); do
  addr="$(sed -n 's/^faultproxy API listening on //p' "$log")"
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "faultproxy did not start:"; cat "$log"; exit 1; }

timeout 120 "$venv/bin/python" services/faultproxy/tests/toxiproxy_client.py "${addr%:*}" "${addr##*:}"
