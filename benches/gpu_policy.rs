//! GPU benchmarks (CUDA build only); see scripts/device-check.sh.
fn main() {}
