#!/usr/bin/env bash
# Takes a headless-Chromium screenshot of a loadgen HTML report and fails when the picture
# is blank or shows no chart lines.
#
#   scripts/report-screenshot.sh reports/<scenario>/<timestamp>/index.html out.png
#
# Needs Debian's `chromium`; installs it with apt-get when missing and running as root
# (set REPORT_SCREENSHOT_NO_INSTALL=1 to forbid that). The page is opened from disk with
# networking off, so a report that needed the network would show up broken here.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <report.html> <out.png>" >&2
    exit 2
fi
report=$1
out=$2
if [[ ! -f "$report" ]]; then
    echo "report-screenshot: no such file: $report" >&2
    exit 2
fi

source "$(dirname "$0")/check-lib.sh"
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" && -z "${REPORT_SCREENSHOT_NO_INSTALL:-}" ]]; then
    echo "report-screenshot: installing Debian's chromium" >&2
    need_tool chromium && browser=chromium
fi
[[ -n "$browser" ]] || { echo "report-screenshot: chromium is not installed (apt-get install chromium)" >&2; exit 2; }

abs_report=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
mkdir -p "$(dirname "$out")"
rm -f "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-extensions --no-first-run --hide-scrollbars --user-data-dir="$profile" \
    --window-size=1280,2200 --screenshot="$out" "file://$abs_report" >/dev/null 2>&1 || true
if [[ ! -s "$out" ]]; then
    echo "report-screenshot: chromium wrote no screenshot" >&2
    exit 1
fi

# Decode the PNG (no imaging library needed) and judge it.
python3 - "$out" <<'PY'
import struct, sys, zlib

path = sys.argv[1]
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"report-screenshot: {path} is not a PNG")
pos, idat, width = 8, b"", 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
    elif kind == b"IDAT":
        idat += chunk
    pos += 12 + length
if depth != 8 or color not in (2, 6):
    sys.exit(f"report-screenshot: unexpected PNG format (depth {depth}, colour type {color})")
bpp = 3 if color == 2 else 4
raw = zlib.decompress(idat)
stride = width * bpp
rows, prev, i = [], bytearray(stride), 0
for _ in range(height):
    kind = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if kind == 1: line[x] = (line[x] + a) & 255
        elif kind == 2: line[x] = (line[x] + b) & 255
        elif kind == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line

total = width * height
counts = {}
for row in rows:
    for x in range(0, stride, bpp):
        px = row[x:x + 3]
        counts[px] = counts.get(px, 0) + 1
background, most = max(counts.items(), key=lambda kv: kv[1])
other = total - most
# Series colours of the report's charts (blue percentile/throughput line, red errors, …).
def near(rgb, target, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(rgb, target))
chart_pixels = sum(n for px, n in counts.items()
                   if near(px, (0x1f, 0x77, 0xb4)) or near(px, (0xff, 0x7f, 0x0e)) or near(px, (0x2c, 0xa0, 0x2c)))
print(f"report-screenshot: {path}: {width}x{height}, {len(counts)} colours, "
      f"{other * 100 / total:.1f}% non-background, {chart_pixels} chart-line pixels")
if len(counts) < 16 or other < total * 0.02:
    sys.exit("report-screenshot: the screenshot is blank")
if chart_pixels < 200:
    sys.exit("report-screenshot: no chart lines visible")
PY
