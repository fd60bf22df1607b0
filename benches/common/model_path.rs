//! The model a benchmark runs on: the command-line path, else `$PROVER_TEST_MODEL`, else the
//! SmolLM2 GGUF that `scripts/fetch-model.sh` fetches. Shared by the policy benchmarks.
use std::path::PathBuf;

/// The model path, or `None` after printing why the benchmark skips (no model file).
pub fn model_path(arg: Option<&str>) -> Option<PathBuf> {
    let path = arg
        .map(PathBuf::from)
        .or_else(|| std::env::var("PROVER_TEST_MODEL").ok().map(PathBuf::from))
        .unwrap_or_else(|| {
            PathBuf::from("models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipping: {} not found (run scripts/fetch-model.sh)",
            path.display()
        );
        None
    }
}
