#!/usr/bin/env bash
# Starts the all-in-one launcher and runs scripts/gateway-test.sh through a real nginx in
# front of it. Used by scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/stack.sh"
"$root/scripts/gateway-test.sh" --user-url "$USER_URL" \
  --restaurant-url "$RESTAURANT_URL" --order-url "$ORDER_URL"
