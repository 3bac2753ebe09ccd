# Sourced by the dashboard scripts: tmux (Debian's, installed when missing), the load
# generator built, the launcher started (scripts/stack.sh; set STACK_PROCESSES=1 first for
# `up --processes`), and a private tmux server for the panes, killed with the stack.
# Sets loadgen, work and service_urls (loadgen's --*-url flags for this stack); t runs tmux
# on the private server; tmux_pane NAME COLUMNS ROWS PROMPT opens a bare bash in a session.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/check-lib.sh"
need_tool tmux || { echo "FAIL: tmux is not available (apt-get install tmux)" >&2; exit 1; }
cargo build -q -p loadgen --bin loadgen || exit 1
loadgen="$root/target/debug/loadgen"
source "$root/scripts/stack.sh"
work=$STACK_WORK
service_urls="--user-url $USER_URL --restaurant-url $RESTAURANT_URL --order-url $ORDER_URL"
tmux_socket="$CHECK_NAME-$$"
stack_cleanup_hooks+=("tmux -L '$tmux_socket' kill-server 2>/dev/null || true")
t() { tmux -L "$tmux_socket" "$@"; }
tmux_pane() { t new-session -d -s "$1" -x "$2" -y "$3" "env -u TMUX PS1='$4' bash --norc --noprofile"; }
