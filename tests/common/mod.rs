//! Shared test set-up: where the shared fixtures and the model live, and the skip message a
//! test prints when one is absent (the README explains how to get each).
#![allow(dead_code)]
use std::path::{Path, PathBuf};

pub mod serve;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Says why a test skips: prints `skipping: REASON`, or fails the test when
/// `PROVER_REQUIRE_FIXTURES=1` (CI sets it, so no test there can pass by skipping).
pub fn skip(reason: &str) {
    if std::env::var("PROVER_REQUIRE_FIXTURES").is_ok_and(|v| v == "1") {
        panic!("PROVER_REQUIRE_FIXTURES=1 but this test would skip: {reason}");
    }
    eprintln!("skipping: {reason}");
}

/// `../shared/REL`, or `None` after [`skip`] says why the test skips.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = root().join("../shared").join(rel);
    if p.exists() {
        Some(p)
    } else {
        skip(&format!(
            "{} is missing (../shared not present)",
            p.display()
        ));
        None
    }
}

/// A tiny random HF checkpoint of `../shared/fixtures/tiny-models` ("tiny-llama", "tiny-qwen2").
pub fn tiny_model(name: &str) -> Option<PathBuf> {
    shared(&format!("fixtures/tiny-models/{name}"))
}

/// The SmolLM2 GGUF (`$PROVER_TEST_MODEL`, else the one `scripts/fetch-model.sh` fetches).
pub fn smollm2_gguf() -> Option<PathBuf> {
    let p = std::env::var("PROVER_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            root().join("models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    if p.exists() {
        Some(p)
    } else {
        skip(&format!(
            "{} not found (run scripts/fetch-model.sh or set PROVER_TEST_MODEL)",
            p.display()
        ));
        None
    }
}

/// The `prover` binary of this build.
pub fn prover() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_prover"))
}

/// The stand-in REPL (`src/bin/repl-standin.rs`) with `args` (`--sim`: answers like Lean on
/// the simulated library), as the pool's command.
pub fn repl_standin(args: &[&str]) -> prover::verify::lean::LeanCommand {
    prover::verify::lean::LeanCommand {
        program: env!("CARGO_BIN_EXE_repl-standin").to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: None,
        env: Vec::new(),
    }
}

/// The stand-in LSP server (`src/bin/lsp-standin.rs`) with `args`, run in `cwd`.
pub fn lsp_standin(args: &[&str], cwd: &Path) -> prover::verify::lean::LeanCommand {
    prover::verify::lean::LeanCommand {
        program: env!("CARGO_BIN_EXE_lsp-standin").to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: Some(cwd.to_path_buf()),
        env: Vec::new(),
    }
}

/// The simulated REPL as a `--repl-cmd` / `repl_cmd` value.
pub fn standin_sim() -> String {
    format!("{} --sim", env!("CARGO_BIN_EXE_repl-standin"))
}

/// `max |a − b|` over all elements (f32 tensors of one shape).
pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// The statement the pool tests prove, with `sorry` where the proof goes.
pub const X_PLUS_ZERO: &str = "theorem t (x : ℕ) : x + 0 = x := by sorry";

/// A proof job for [`X_PLUS_ZERO`] under `header`.
pub fn x_plus_zero_job(header: &str, proof: &str) -> prover::verify::lean::Job {
    prover::verify::lean::Job::Proof {
        header: header.into(),
        formal_statement: X_PLUS_ZERO.into(),
        proof: proof.into(),
    }
}

/// A verdict's reason ("" when accepted).
pub fn reason(v: &prover::verify::lean::Verdict) -> &str {
    v.status.reason().unwrap_or("")
}
