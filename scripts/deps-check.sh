#!/usr/bin/env bash
# Dependency hygiene, as CI runs it (part of scripts/test.sh):
#  1. no unused dependency: cargo-machete (installed from crates.io when missing);
#  2. a truthful `rust-version`: every workspace crate inherits the workspace's, and it is
#     exactly the highest of what the locked dependencies declare (for this host) and what
#     our own code needs (RUST_VERSION_FLOOR: let-chains, stable since 1.88).
# Only one toolchain is installable here, so the declared version is not built with that
# older compiler; the clippy step's `incompatible_msrv` lint (on by default) refuses
# standard-library APIs newer than rust-version, which covers our side from below.
set -euo pipefail
cd "$(dirname "$0")/.."

RUST_VERSION_FLOOR=1.88
MACHETE_VERSION=0.9.2

if ! cargo machete --version >/dev/null 2>&1; then
  echo "installing cargo-machete $MACHETE_VERSION from crates.io"
  cargo install --locked "cargo-machete@$MACHETE_VERSION"
fi
# Our crates only: workspace-hack's dependencies exist for their features, not for use.
cargo machete services loadgen

host=$(rustc -vV | sed -n 's/^host: //p')
cargo metadata --format-version 1 --locked --filter-platform "$host" |
  python3 -c '
import json, sys
floor = sys.argv[1]
meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
built = {node["id"] for node in meta["resolve"]["nodes"]}
def key(v):
    parts = [int(p) for p in v.split(".")]
    return parts + [0] * (3 - len(parts))
declared = {p["name"]: p.get("rust_version") for p in meta["packages"] if p["id"] in members}
deps = [(p["rust_version"], p["name"], p["version"]) for p in meta["packages"]
        if p["id"] not in members and p["id"] in built and p.get("rust_version")]
need, name, version = max(deps, key=lambda d: key(d[0]))
required = max(need, floor, key=key)
print(f"rust-version: dependencies need {need} ({name} {version}), our code {floor}; "
      f"required {required}")
wrong = {crate: v for crate, v in declared.items() if v is None or key(v) != key(required)}
if wrong:
    print(f"FAIL: rust-version must be {required} in every workspace crate "
          f"(rust-version.workspace = true); found {wrong}", file=sys.stderr)
    sys.exit(1)
print(f"rust-version {required} declared by all {len(declared)} workspace crates")
' "$RUST_VERSION_FLOOR"
