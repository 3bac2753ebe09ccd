# Sourced by the CI scripts: starts the all-in-one launcher (debug build, embedded storage,
# a temporary directory, free ports) in the background and stops it on exit.
# Sets USER_URL, RESTAURANT_URL, ORDER_URL, STACK_WORK, stack_ports and stack_pid.
# STACK_PROCESSES=1: each service as its own process (`up --processes`), with the control
# API on a free port in CONTROL_API_URL (process faults: kill, pause, …).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build -q -p testbed --bin testbed
STACK_WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stack_ports=("$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)")
stack_extra=()
if [ "${STACK_PROCESSES:-0}" = 1 ]; then
  stack_extra=(--processes --control-port "${stack_ports[3]}")
  export CONTROL_API_URL="http://127.0.0.1:${stack_ports[3]}"
fi
(cd "$STACK_WORK" && RUST_LOG=warn exec "$root/target/debug/testbed" up \
  --user-port "${stack_ports[0]}" --restaurant-port "${stack_ports[1]}" --order-port "${stack_ports[2]}" \
  "${stack_extra[@]}") \
  >"$STACK_WORK/launcher.log" 2>&1 &
stack_pid=$!
# Callers add their own clean-up commands to stack_cleanup_hooks; they run first.
stack_cleanup_hooks=()
stack_stop() {
  local hook
  for hook in "${stack_cleanup_hooks[@]}"; do eval "$hook"; done
  kill -TERM "$stack_pid" 2>/dev/null || true
  wait "$stack_pid" 2>/dev/null || true
  rm -rf "$STACK_WORK"
}
trap stack_stop EXIT
USER_URL="http://127.0.0.1:${stack_ports[0]}"
RESTAURANT_URL="http://127.0.0.1:${stack_ports[1]}"
ORDER_URL="http://127.0.0.1:${stack_ports[2]}"
for _ in $(seq 1 120); do
  curl -fsS --max-time 2 "$ORDER_URL/ready" >/dev/null 2>&1 && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$STACK_WORK/launcher.log"; echo "launcher exited" >&2; exit 1; }
  sleep 0.5
done
