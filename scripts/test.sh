#!/usr/bin/env bash
# The whole test suite (the README's test command). Uses the debug profile, whose
# dependencies are built with opt-level 3 (see Cargo.toml), so model tests run at full speed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --bins
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --no-fail-fast -- --test-threads 2 2>&1 | tee "$log" || status=$?
# One closing line summing every test binary (cargo prints one per binary, doc-tests last).
awk '/^test result:/ {p += $4; f += $6; s += $8} END {printf "tests: %d passed, %d failed, %d skipped\n", p, f, s}' "$log"
exit "$status"
