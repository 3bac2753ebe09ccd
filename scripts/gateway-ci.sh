#!/usr/bin/env bash
# The NGINX gateway in front of the real services: makes sure Debian's nginx is installed,
# then runs the Rust tests services/testbed/tests/outside/gateway.rs (the stack in-process on free
# ports, the template rendered by scripts/render-gateway.sh, `nginx -t`, the brief's flow
# through nginx with the contract clients, the paths never routed, a dead upstream's JSON
# 502/504). `--install-only` stops after the install: scripts/test.sh uses it, and its final
# `cargo nextest run --workspace` runs these tests with the rest rather than twice.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/check-lib.sh
need_nginx || { echo "gateway-ci: nginx is missing and could not be installed (apt-get install nginx)" >&2; exit 1; }
echo "gateway-ci: $("$NGINX" -v 2>&1)"
[[ "${1:-}" == --install-only ]] && exit 0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p testbed --test outside gateway::
else
  cargo test -p testbed --test outside gateway::
fi
