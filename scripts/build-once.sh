#!/usr/bin/env bash
# Proves that one build serves everything: `cargo build -p testbed` followed by
# `cargo build -p loadgen` compiles no dependency the second time (both resolve the same
# features, through the workspace-hack crate that cargo-hakari maintains).
# Runs in a scratch target directory, emptied first: in the shared target/ an earlier
# `cargo build -p loadgen` would already hold loadgen's units and the check would prove
# nothing. The debug profile is enough (feature resolution does not depend on the
# profile); `--release` checks the release profile. BUILD_ONCE_SHARED=1 uses the shared
# target/ instead (what CI does, first thing after clippy, so no minutes are spent on a second
# build). Usage: scripts/build-once.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=()
[ "${1:-}" = "--release" ] && profile=(--release)
if [ "${BUILD_ONCE_SHARED:-0}" = 1 ]; then
  # scripts/test.sh on a fresh clone: the shared target/ holds no build yet (only clippy's
  # checks), so the check is as strict as in a scratch directory and the build is reused by
  # every later step. On a warm target/ this mode proves less.
  :
else
  export CARGO_TARGET_DIR="${BUILD_ONCE_TARGET_DIR:-$PWD/target/build-once}"
  rm -rf "$CARGO_TARGET_DIR"
  trap 'rm -rf "$CARGO_TARGET_DIR"' EXIT
fi

start=$SECONDS
cargo build --locked "${profile[@]}" -p testbed 2>&1 | grep -E '^\s+(Compiling|Finished)' | tail -n 1
first=$((SECONDS - start))
start=$SECONDS
second_log=$(cargo build --locked "${profile[@]}" -p loadgen 2>&1)
second=$((SECONDS - start))
# Workspace crates print their path: "Compiling loadgen v0.1.0 (/…/loadgen)".
recompiled=$(grep -E '^\s+Compiling ' <<<"$second_log" | grep -v ' (/' || true)
echo "build-once: -p testbed ${first}s, then -p loadgen ${second}s"
if [ -n "$recompiled" ]; then
  echo "FAIL: \`cargo build -p loadgen\` after \`-p testbed\` compiled dependencies again" >&2
  echo "(features differ; run \`cargo hakari generate\` to update workspace-hack):" >&2
  echo "$recompiled" >&2
  exit 1
fi
echo "build-once: the second build compiled no dependency"
