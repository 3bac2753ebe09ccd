#!/usr/bin/env bash
# Takes the README screenshot of the live dashboard from a real run: the launcher with each
# service as its own process (`up --processes`) on free ports, `loadgen run
# restaurant-freeze` in a 132x40 tmux pane, the pane captured with its colours while the
# Restaurant Service is frozen (SIGSTOP from 12 s to 15 s; captured at t = 14 s: the fault
# panel shows the pause on, the histogram the requests queued behind it), turned into HTML (a
# few lines of Python read the SGR colours) and photographed by headless Chromium. Then q
# ends the run. Needs tmux and chromium (Debian packages; installed when missing and running
# as root). SHOT_SCENARIO and SHOT_AT (elapsed m:ss) pick another moment.
# Usage: scripts/dashboard-screenshot.sh [out.png, default docs/dashboard.png]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out=$(realpath -m "${1:-$root/docs/dashboard.png}")
cd "$root"

STACK_PROCESSES=1 source "$root/scripts/tmux-stack.sh"
need_tool chromium || { echo "chromium is needed (apt-get install chromium)" >&2; exit 1; }
scenario=${SHOT_SCENARIO:-restaurant-freeze}
at=${SHOT_AT:-0:14}
tmux_pane shot 132 40 '$ '
sleep 1
t send-keys -t shot "cd '$work' && '$loadgen' run $scenario $service_urls --control-url $CONTROL_API_URL" Enter
for _ in $(seq 1 400); do
  t capture-pane -p -t shot | grep -q "elapsed $at" && break
  sleep 0.25
done
t capture-pane -p -t shot | grep -q "elapsed $at" || { echo "the dashboard never reached $at" >&2; t capture-pane -p -t shot; exit 1; }
t capture-pane -e -p -t shot >"$work/dashboard.ansi"
t send-keys -t shot q

# The pane's ANSI (SGR colours, bold, reverse) as HTML, in a legible dark-theme palette.
python3 - "$work/dashboard.ansi" >"$work/dashboard.html" <<'PY'
import html, re, sys
palette = ["#1d1f21", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d8d8d8",
           "#7f848e", "#ff7b86", "#b5e890", "#ffd787", "#82c4ff", "#e09cf5", "#7fdbe6", "#ffffff"]
default_fg, default_bg = "#d8d8d8", "#1d1f21"
def xterm(n):
    if n < 16: return palette[n]
    if n >= 232: v = 8 + (n - 232) * 10; return f"#{v:02x}{v:02x}{v:02x}"
    n -= 16; steps = [0, 95, 135, 175, 215, 255]
    return "#%02x%02x%02x" % (steps[n // 36], steps[n // 6 % 6], steps[n % 6])
state = dict(fg=None, bg=None, bold=False, dim=False, italic=False, underline=False, reverse=False)
def apply(params):
    codes = [int(c) if c else 0 for c in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0: state.update(fg=None, bg=None, bold=False, dim=False, italic=False, underline=False, reverse=False)
        elif c == 1: state["bold"] = True
        elif c == 2: state["dim"] = True
        elif c == 3: state["italic"] = True
        elif c == 4: state["underline"] = True
        elif c == 7: state["reverse"] = True
        elif c == 22: state.update(bold=False, dim=False)
        elif c == 23: state["italic"] = False
        elif c == 24: state["underline"] = False
        elif c == 27: state["reverse"] = False
        elif 30 <= c <= 37: state["fg"] = palette[c - 30]
        elif c == 39: state["fg"] = None
        elif 40 <= c <= 47: state["bg"] = palette[c - 40]
        elif c == 49: state["bg"] = None
        elif 90 <= c <= 97: state["fg"] = palette[c - 90 + 8]
        elif 100 <= c <= 107: state["bg"] = palette[c - 100 + 8]
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                state[key] = xterm(codes[i + 2]); i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                state[key] = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5]); i += 4
        i += 1
def style():
    fg, bg = state["fg"] or default_fg, state["bg"] or default_bg
    if state["reverse"]: fg, bg = bg, fg
    css = [f"color:{fg}", f"background:{bg}"]
    if state["bold"]: css.append("font-weight:bold")
    if state["dim"]: css.append("opacity:0.7")
    if state["italic"]: css.append("font-style:italic")
    if state["underline"]: css.append("text-decoration:underline")
    return ";".join(css)
out = []
for line in open(sys.argv[1], encoding="utf-8").read().split("\n"):
    for part in re.split(r"(\x1b\[[0-9;]*m)", line):
        if part.startswith("\x1b["): apply(part[2:-1])
        elif part: out.append(f'<span style="{style()}">{html.escape(part)}</span>')
    out.append("\n")
print(f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: {default_bg}; }}
pre {{ margin: 0; padding: 12px 14px; color: {default_fg}; background: {default_bg};
      font: 14px/1.17 "DejaVu Sans Mono", monospace; }}
</style></head><body><pre>{"".join(out).rstrip()}</pre></body></html>""")
PY
# 132 columns × 8.43 px + padding; 40 rows × 16.4 px + padding.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --window-size=1142,680 --screenshot="$work/dashboard.png" "file://$work/dashboard.html" >/dev/null 2>&1
mkdir -p "$(dirname "$out")"
cp "$work/dashboard.png" "$out"
echo "dashboard-screenshot: $out"
