#!/usr/bin/env bash
# Dependency hygiene with cargo-deny (deny.toml): licences, banned/wildcard dependencies and
# sources, checked offline. Installs cargo-deny from crates.io when it is missing. The
# RustSec advisory check needs its database from GitHub, which this CI cannot reach; it runs
# where GitHub is reachable (see SECURITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
    echo "installing cargo-deny (crates.io)"
    cargo install --locked cargo-deny
fi
cargo deny --offline check licenses bans sources
echo "deny-check: advisories not checked here (the RustSec database is on GitHub, unreachable from this CI)"
