#!/usr/bin/env bash
# The whole test suite (the README's test command). Uses the debug profile, whose
# dependencies are built with opt-level 3 (see Cargo.toml), so model tests run at full speed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --bins
cargo test --no-fail-fast -- --test-threads 2
