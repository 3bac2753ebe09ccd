#!/usr/bin/env bash
# The live dashboard in a real pseudo-terminal (tmux, on a private server socket): starts the
# all-in-one launcher on free ports in a temporary directory, runs
# `loadgen run inter-service-flow` in a tmux pane for ~10 s and checks the dashboard is on
# screen and answers keys (Tab, ?), presses q and checks the run ends, the terminal is restored
# (normal screen, cursor shown, cooked mode, the shell prompt back) and the report exists.
# Then a deliberate panic while the dashboard holds the terminal (loadgen/examples/
# dashboard_panic.rs) must restore it too. Exits non-zero on any failure; the last line is
# `dashboard-pty: N passed, N failed`. Used by scripts/test.sh.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cargo build -q -p loadgen --example dashboard_panic || exit 1
panicker="$root/target/debug/examples/dashboard_panic"
source "$root/scripts/tmux-stack.sh"

screen() { t capture-pane -p -J -t pty -S -300; }
on_screen() { screen | grep -qF -- "$1"; }
not_on_screen() { ! on_screen "$1"; }
pane() { t display-message -p -t pty "$1"; }
wait_for() { # wait_for <seconds> <text>: true once the text is on screen
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do on_screen "$2" && return 0; sleep 0.25; done
  return 1
}
restored() { # restored WHEN: the terminal is as the shell had it (last: it clears the screen)
  check "$1: the alternate screen was left" [ "$(pane '#{alternate_on}')" = 0 ]
  check "$1: the cursor is shown" [ "$(pane '#{cursor_flag}')" = 1 ]
  check "$1: the terminal is in cooked mode" [ "$(tty_mode)" = cooked ]
}
tty_mode() { # prints cooked or raw, as the shell in the pane sees its terminal
  t send-keys -t pty "clear; stty -a | grep -q -- ' -icanon' && echo tty-is-\$((0))raw || echo tty-is-\$((0))cooked" Enter
  wait_for 10 "tty-is-0" || { echo unknown; return; }
  if on_screen "tty-is-0cooked"; then echo cooked; else echo raw; fi
}

prompt='dashboard-pty$ '
tmux_pane pty 140 45 "$prompt"
wait_for 10 "$prompt" || { echo "FAIL: no shell in tmux" >&2; screen; exit 1; }

# ----- a run, watched for ~10 s, then q -----
started=$SECONDS
t send-keys -t pty "cd '$work' && '$loadgen' run inter-service-flow --run-time 60s --users 10 --report-dir '$work/reports' $service_urls; echo loadgen-exit=\$?" Enter
check "the dashboard appears (alternate screen, run header)" wait_for 30 "· inter-service-flow · RUNNING"
check "the terminal is on the alternate screen while the dashboard shows" [ "$(pane '#{alternate_on}')" = 1 ]
check "the cursor is hidden while the dashboard shows" [ "$(pane '#{cursor_flag}')" = 0 ]
while [ $((SECONDS - started)) -lt 10 ]; do sleep 0.5; done
screen >"$work/dashboard.txt"
for text in "latency histogram" "percentiles" "p99.9" "requests/s · now" "status codes" \
            "fault settings" "restaurant none" "inventory consistency" "bulgogi" "naengmyeon" \
            "users 10/10" "▶ POST /orders"; do
  check "on screen after ~10 s: $text" grep -qF -- "$text" "$work/dashboard.txt"
done
check "a histogram bucket label (≤…) is drawn" grep -qE -- '≤[0-9.]+(µs|ms|s) ' "$work/dashboard.txt"
check "no stray output on the dashboard (goose's 'users launched' is held back)" not_on_screen "users launched"
t send-keys -t pty Tab
check "Tab selects the next endpoint" wait_for 5 "▶ GET /orders/{id}"
t send-keys -t pty '?'
check "? opens the help" wait_for 5 "stop the run gracefully"
t send-keys -t pty '?'
sleep 1
check "? closes the help again" not_on_screen "stop the run gracefully"
t send-keys -t pty q
check "q asks the run to stop (header says so)" wait_for 5 "STOPPING"
check "after q the process exits" wait_for 60 "loadgen-exit="
check "the shell's screen shows the verdict, not the dashboard" on_screen "[inter-service-flow] done:"
check "no dashboard panel is left on the normal screen" not_on_screen "latency histogram"
check "output held back during the dashboard is printed after it" on_screen "users launched."
exit_code=$(screen | sed -n 's/.*loadgen-exit=\([0-9]*\).*/\1/p' | tail -n1)
check "loadgen exited with a verdict (0 or 1), not an error (exit $exit_code)" [ "$exit_code" = 0 -o "$exit_code" = 1 ]
report_dir=$(ls -d "$work"/reports/inter-service-flow/*/ 2>/dev/null | head -n1)
check "the report was written (index.html)" [ -n "$report_dir" -a -s "${report_dir}index.html" ]
check "the run record says it was stopped early" grep -q '"stopped_early": *true' "${report_dir}run.json"
restored "after q"
check "the shell prompt is back" wait_for 5 "$prompt"

# ----- a panic while the dashboard holds the terminal -----
t send-keys -t pty "clear; '$panicker'; echo panic-exit=\$?" Enter
check "the panicking program takes the terminal" wait_for 10 "holding the terminal, about to panic"
check "the panicking program exits" wait_for 20 "panic-exit="
check "the panic message is readable on the normal screen" on_screen "deliberate panic while the dashboard holds the terminal"
check "output written before the panic is printed" on_screen "stray output written while the dashboard was up"
check "the panic exit status is 101" on_screen "panic-exit=101"
restored "after the panic"

if [ "$failed" -gt 0 ]; then
  echo "--- screen at the end ---"; screen | tail -n 40
  echo "--- dashboard after ~10 s ---"; cat "$work/dashboard.txt" 2>/dev/null
fi
finish
