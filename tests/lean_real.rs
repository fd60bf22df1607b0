//! Real-Lean integration tests: they run when `lake` is on PATH and the Lake project in lean/
//! (or $PROVER_LEAN_PROJECT) has the pinned toolchain and a built REPL; otherwise they print
//! why they skip.
use std::path::{Path, PathBuf};
use std::time::Duration;

use prover::verify::lean::{AxiomPolicy, Job, LeanCommand, Pool, PoolConfig, Status};

fn lean_setup() -> Option<LeanCommand> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("lake").is_file()))
        .unwrap_or(false);
    if !on_path {
        eprintln!(
            "skipping: `lake` is not on PATH (install elan and build lean/, see lean/README.md)"
        );
        return None;
    }
    let project = std::env::var_os("PROVER_LEAN_PROJECT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("lean"));
    let toolchain = std::fs::read_to_string(project.join("lean-toolchain")).unwrap_or_default();
    if !toolchain.contains("v4.24.0") {
        eprintln!(
            "skipping: {} does not pin leanprover/lean4:v4.24.0",
            project.display()
        );
        return None;
    }
    let repl = project.join(".lake/packages/REPL/.lake/build/bin/repl");
    if !repl.is_file() {
        eprintln!(
            "skipping: {} is missing: run `lake exe cache get && lake build repl` in {}",
            repl.display(),
            project.display()
        );
        return None;
    }
    Some(LeanCommand {
        program: "lake".into(),
        args: vec!["env".into(), repl.display().to_string()],
        cwd: Some(project),
        env: Vec::new(),
    })
}

const HEADER: &str = "import Mathlib\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n";

#[tokio::test]
async fn real_lean_accepts_a_proof_and_rejects_cheats() {
    let Some(cmd) = lean_setup() else { return };
    let mut cfg = PoolConfig::new(cmd);
    cfg.workers = 1;
    cfg.timeout = Duration::from_secs(600);
    cfg.axioms = AxiomPolicy::default();
    let pool = Pool::new(cfg);
    let job = |stmt: &str, proof: &str| Job::Proof {
        header: HEADER.into(),
        formal_statement: stmt.into(),
        proof: proof.into(),
    };
    let stmt = "theorem mathd_algebra_304 : 91 ^ 2 = 8281 := by sorry";
    let ok = pool.verify(job(stmt, "norm_num")).await;
    assert_eq!(ok.status, Status::Accepted, "{ok:?}");
    let wrong = pool
        .verify(job("theorem t : (2:ℕ) + 2 = 5 := by sorry", "norm_num"))
        .await;
    assert!(matches!(wrong.status, Status::Rejected { .. }), "{wrong:?}");
    let native = pool
        .verify(job(
            "theorem mathd_numbertheory_127 : (∑ k in Finset.range 101, 2 ^ k) % 7 = 3 := by sorry",
            "native_decide",
        ))
        .await;
    assert!(
        matches!(native.status, Status::Rejected { .. }),
        "{native:?}"
    );
}
