# Sourced by the CI scripts: starts the all-in-one launcher (debug build, embedded storage
# unless stack_args says otherwise, a temporary directory, free ports) in the background and
# stops it on exit. Sets USER_URL, RESTAURANT_URL, ORDER_URL, STACK_WORK, stack_ports and
# stack_pid; the launcher inherits the caller's environment (e.g. ADMIN_TOKEN).
# stack_args=(…) set before sourcing: more `testbed up` flags (storage, prefixes).
# STACK_PROCESSES=1: each service as its own process (`up --processes`), with the control
# API on a free port in CONTROL_API_URL (process faults: kill, pause, …).
# STACK_FAULT_PROXY=1: every link through the fault proxy, its API in FAULT_PROXY_URL.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/check-lib.sh"
cargo build -q -p testbed --bin testbed || exit 1
STACK_WORK=$(mktemp -d)
stack_ports=("$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)")
stack_extra=("${stack_args[@]+"${stack_args[@]}"}")
if [ "${STACK_PROCESSES:-0}" = 1 ]; then
  stack_extra+=(--processes --control-port "${stack_ports[3]}")
  export CONTROL_API_URL="http://127.0.0.1:${stack_ports[3]}"
fi
if [ "${STACK_FAULT_PROXY:-0}" = 1 ]; then
  stack_extra+=(--fault-proxy --fault-proxy-port "${stack_ports[4]}")
  export FAULT_PROXY_URL="http://127.0.0.1:${stack_ports[4]}"
fi
(cd "$STACK_WORK" && RUST_LOG=warn exec "$root/target/debug/testbed" up \
  --user-port "${stack_ports[0]}" --restaurant-port "${stack_ports[1]}" --order-port "${stack_ports[2]}" \
  "${stack_extra[@]}") \
  >"$STACK_WORK/launcher.log" 2>&1 &
stack_pid=$!
# Callers add clean-up commands to stack_cleanup_hooks, before sourcing (so a failed start
# still runs them) or after; they run once the launcher has stopped, so nothing they remove
# (e.g. its databases) is still in use or brought back by a restarting service.
stack_cleanup_hooks=("${stack_cleanup_hooks[@]+"${stack_cleanup_hooks[@]}"}")
stack_stop() {
  local hook
  stop_quietly "$stack_pid"
  for hook in "${stack_cleanup_hooks[@]+"${stack_cleanup_hooks[@]}"}"; do eval "$hook"; done
  rm -rf "$STACK_WORK"
}
trap stack_stop EXIT
trap 'exit 130' INT TERM
export USER_URL="http://127.0.0.1:${stack_ports[0]}"
export RESTAURANT_URL="http://127.0.0.1:${stack_ports[1]}"
export ORDER_URL="http://127.0.0.1:${stack_ports[2]}"
wait_url "$ORDER_URL/ready" 120 "$stack_pid" "$STACK_WORK/launcher.log" || exit 1
if [ "${STACK_PROCESSES:-0}" = 1 ]; then
  wait_url "$CONTROL_API_URL/processes" 60 "$stack_pid" "$STACK_WORK/launcher.log" \
    ${ADMIN_TOKEN:+-H "X-Admin-Token: $ADMIN_TOKEN"} || exit 1
fi
