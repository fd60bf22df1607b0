//! Real-Lean integration tests: they run when `lake` is on PATH and the Lake project in lean/
//! (or $PROVER_LEAN_PROJECT) has the pinned toolchain and a built REPL; otherwise each prints
//! why it skips. They cover what only a real Lean can show (lean/README.md, "First real run"):
//! - REPL: a proof is accepted, a wrong one rejected, native_decide rejected by name
//!   (`Lean.ofReduceBool`/`Lean.trustCompiler`, or v4.29's per-proof axiom) and accepted when
//!   allowed;
//! - memory: recycling sees the REPL under `lake env` (its process group's private memory
//!   after `import Mathlib` is over a small threshold), and `import Mathlib` works under the
//!   12 GiB `RLIMIT_AS` with `MALLOC_ARENA_MAX=2` (or the cap must stay off);
//! - LSP: `lake env lean --server` with the project given as a relative directory accepts a
//!   proof, and a parse error at an appended `#print axioms` line rejects.
use std::path::{Path, PathBuf};
use std::time::Duration;

use prover::verify::lean::{
    plan_file, verify_file_lsp, AxiomPolicy, Job, LeanCommand, Pool, PoolConfig, Status, Verdict,
};

fn lake_on_path() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("lake").is_file()))
        .unwrap_or(false)
}

/// The Lake project, if it is set up; otherwise prints why the test skips.
fn lean_project() -> Option<PathBuf> {
    if !lake_on_path() {
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
            "skipping: {} is missing: run `lake update && lake exe cache get && lake build repl` in {}",
            repl.display(),
            project.display()
        );
        return None;
    }
    Some(project)
}

fn repl_command(project: &Path) -> LeanCommand {
    let repl = project.join(".lake/packages/REPL/.lake/build/bin/repl");
    LeanCommand {
        program: "lake".into(),
        args: vec!["env".into(), repl.display().to_string()],
        cwd: Some(project.to_path_buf()),
        env: Vec::new(),
    }
}

const HEADER: &str = "import Mathlib\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n";
const NATIVE: &str =
    "theorem mathd_numbertheory_127 : (∑ k ∈ Finset.range 101, 2 ^ k) % 7 = 3 := by sorry";

fn job(stmt: &str, proof: &str) -> Job {
    Job::Proof {
        header: HEADER.into(),
        formal_statement: stmt.into(),
        proof: proof.into(),
    }
}

fn config(project: &Path) -> PoolConfig {
    let mut cfg = PoolConfig::new(repl_command(project));
    cfg.workers = 1;
    cfg.timeout = Duration::from_secs(600);
    cfg
}

fn reason(v: &Verdict) -> &str {
    v.status.reason().unwrap_or("")
}

#[tokio::test]
async fn real_lean_accepts_a_proof_and_rejects_cheats() {
    let Some(project) = lean_project() else {
        return;
    };
    let pool = Pool::new(config(&project));
    let stmt = "theorem mathd_algebra_304 : 91 ^ 2 = 8281 := by sorry";
    let ok = pool.verify(job(stmt, "norm_num")).await;
    assert_eq!(ok.status, Status::Accepted, "{ok:?}");
    let wrong = pool
        .verify(job("theorem t : (2:ℕ) + 2 = 5 := by sorry", "norm_num"))
        .await;
    assert!(matches!(wrong.status, Status::Rejected { .. }), "{wrong:?}");
    // native_decide: rejected because of its axioms, named in the reason (v4.24 reports
    // `Lean.ofReduceBool`; from v4.29 a per-proof `…._native.native_decide.ax_…`)
    let native = pool.verify(job(NATIVE, "native_decide")).await;
    assert!(
        matches!(native.status, Status::Rejected { .. }),
        "{native:?}"
    );
    let r = reason(&native);
    assert!(
        r.contains("Lean.ofReduceBool")
            || r.contains("Lean.trustCompiler")
            || r.contains("._native.native_decide.ax"),
        "the rejection must name native_decide's axioms: {native:?}"
    );
    assert!(r.contains("--allow-native-decide"), "{native:?}");
}

#[tokio::test]
async fn real_lean_accepts_native_decide_when_allowed() {
    let Some(project) = lean_project() else {
        return;
    };
    let mut cfg = config(&project);
    cfg.axioms = AxiomPolicy {
        allow_native_decide: true,
    };
    let pool = Pool::new(cfg);
    let v = pool.verify(job(NATIVE, "native_decide")).await;
    assert_eq!(v.status, Status::Accepted, "{v:?}");
    eprintln!("native_decide axioms: {:?}", v.theorems[0].axioms);
}

#[tokio::test]
async fn real_lean_recycling_sees_the_repl_under_lake_env() {
    let Some(project) = lean_project() else {
        return;
    };
    // `lake` itself holds a few MiB; the REPL under it, after `import Mathlib`, far more
    // than 256 MiB of private memory. Summed over the group, the worker is recycled.
    let mut cfg = config(&project);
    cfg.max_rss_bytes = Some(256 << 20);
    let pool = Pool::new(cfg);
    let v = pool
        .verify(job(
            "theorem mathd_algebra_304 : 91 ^ 2 = 8281 := by sorry",
            "norm_num",
        ))
        .await;
    assert_eq!(v.status, Status::Accepted, "{v:?}");
    let m = pool.metrics();
    assert_eq!(m.recycles, 1, "the REPL's memory was not seen: {m:?}");
}

#[tokio::test]
async fn real_lean_imports_mathlib_under_a_12_gib_address_space_cap() {
    let Some(project) = lean_project() else {
        return;
    };
    // the first-real-run question of lean/README.md: does `import Mathlib` fit in a 12 GiB
    // RLIMIT_AS with MALLOC_ARENA_MAX=2? If this fails, keep `memory_limit_bytes` off (the
    // default) and report the machine's core count with the failure.
    let mut cfg = config(&project);
    cfg.memory_limit_bytes = Some(12 << 30);
    let pool = Pool::new(cfg);
    let v = pool
        .verify(job(
            "theorem mathd_algebra_304 : 91 ^ 2 = 8281 := by sorry",
            "norm_num",
        ))
        .await;
    assert_eq!(
        v.status,
        Status::Accepted,
        "import Mathlib failed under RLIMIT_AS = 12 GiB on {} cores: {v:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}

#[tokio::test]
async fn real_lean_lsp_with_a_relative_project_dir() {
    let Some(project) = lean_project() else {
        return;
    };
    // the default project is the relative `lean`: the document URI must still be absolute
    let relative = if project == Path::new(env!("CARGO_MANIFEST_DIR")).join("lean") {
        PathBuf::from("lean")
    } else {
        project.clone()
    };
    let cmd = LeanCommand {
        program: "lake".into(),
        args: vec!["env".into(), "lean".into(), "--server".into()],
        cwd: Some(relative),
        env: Vec::new(),
    };
    let check = |text: &'static str| {
        let cmd = cmd.clone();
        async move {
            let plan = plan_file(text, None).expect("passes the guard");
            verify_file_lsp(
                &cmd,
                &plan,
                AxiomPolicy::default(),
                Duration::from_secs(600),
                None,
                Some(12 << 30),
            )
            .await
        }
    };
    let ok = check("import Mathlib\n\ntheorem t : (91:ℕ) ^ 2 = 8281 := by\n  norm_num\n").await;
    assert_eq!(ok.status, Status::Accepted, "{ok:?}");
    // an unfinished last declaration: Lean reports the parse error at the next token, the
    // appended `#print axioms`; it must reject, not hide among the axiom reports
    let bad = check("import Mathlib\n\ntheorem t : (91:ℕ) ^ 2 = 8281 := by\n  norm_num\n\ntheorem u : True :=\n").await;
    assert!(matches!(bad.status, Status::Rejected { .. }), "{bad:?}");
    assert!(reason(&bad).contains("Lean error"), "{bad:?}");
}
