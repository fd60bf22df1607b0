//! `prover verify FILE.lean` through `cli::verify_lean::run`, with the simulated REPL as
//! `--repl-cmd`: exit codes 0 / 1 / 2 and the `--json` shape.
use std::path::PathBuf;

use prover::cli::verify::{Backend, VerifyArgs};
use prover::cli::verify_lean::{run, verdict_json};
use prover::verify::lean::Verdict;

fn args(file: PathBuf, against: Option<PathBuf>, repl_cmd: &str) -> VerifyArgs {
    VerifyArgs {
        file: Some(file),
        reference: None,
        response: None,
        against,
        backend: Backend::Repl,
        repl_cmd: Some(repl_cmd.to_string()),
        lean_project: None,
        timeout: 20.0,
        allow_native_decide: false,
        lenient: false,
        json: true,
    }
}

const REF: &str = "import Mathlib\n\nopen Real\n\ntheorem t (x : ℕ) : x + 0 = x := by sorry\n";

#[test]
fn exit_codes_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let standin = format!("'{}' --sim", env!("CARGO_BIN_EXE_repl-standin"));
    let reference = dir.path().join("ref.lean");
    std::fs::write(&reference, REF).unwrap();
    let good = dir.path().join("good.lean");
    std::fs::write(&good, REF.replace(":= by sorry", ":= by\n  simp")).unwrap();
    let swapped = dir.path().join("swapped.lean");
    std::fs::write(
        &swapped,
        REF.replace("x + 0 = x := by sorry", "True := by\n  trivial"),
    )
    .unwrap();
    let failing = dir.path().join("failing.lean");
    std::fs::write(
        &failing,
        REF.replace(":= by sorry", ":= by\n  exact SIM_ERROR"),
    )
    .unwrap();

    assert_eq!(
        run(&args(good.clone(), Some(reference.clone()), &standin)).unwrap(),
        0
    );
    assert_eq!(run(&args(good.clone(), None, &standin)).unwrap(), 0);
    assert_eq!(
        run(&args(swapped, Some(reference.clone()), &standin)).unwrap(),
        1
    );
    assert_eq!(run(&args(failing, None, &standin)).unwrap(), 1);
    assert_eq!(
        run(&args(good.clone(), None, "/nonexistent/repl --x")).unwrap(),
        2
    );
    let mut lsp_missing = args(good, None, "/nonexistent/lean --server");
    lsp_missing.backend = Backend::Lsp;
    assert_eq!(run(&lsp_missing).unwrap(), 2);
}

#[test]
fn json_has_the_documented_fields() {
    let v = Verdict::rejected("statement differs");
    let j = verdict_json(std::path::Path::new("a.lean"), &v);
    for k in [
        "file", "verdict", "theorems", "messages", "reason", "seconds",
    ] {
        assert!(j.get(k).is_some(), "missing {k}: {j}");
    }
    assert_eq!(j["verdict"], "rejected");
    assert_eq!(j["reason"], "statement differs");
}
