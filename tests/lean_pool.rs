//! The verifier pool against the simulated REPL (`repl-standin --sim`): verdicts, header
//! reuse, cache, and every fault mode (hang, crash, garbage, flood, memory growth): the pool
//! times out, kills the process group, recycles, retries once, reports verifier errors apart
//! from rejections, and never loses or duplicates a verdict.
mod common;
use std::time::Duration;

use prover::verify::lean::{AxiomPolicy, Job, LeanCommand, Pool, PoolConfig, Status};

const HEADER: &str = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n";
use common::{reason, X_PLUS_ZERO as STATEMENT};

fn standin(extra: &[&str], env: Vec<(String, String)>) -> LeanCommand {
    LeanCommand {
        env,
        ..common::repl_standin(extra)
    }
}

fn config(workers: usize) -> PoolConfig {
    let mut c = PoolConfig::new(standin(&["--sim"], Vec::new()));
    c.workers = workers;
    c.timeout = Duration::from_secs(10);
    c
}

fn job(proof: &str) -> Job {
    common::x_plus_zero_job(HEADER, proof)
}

#[tokio::test]
async fn verdicts_header_reuse_and_cache() {
    let pool = Pool::new(config(2));
    let ok = pool.verify(job("simp")).await;
    assert_eq!(ok.status, Status::Accepted, "{ok:?}");
    assert_eq!(
        ok.theorems[0].axioms,
        ["propext", "Classical.choice", "Quot.sound"]
    );
    assert!(!ok.cached);
    let again = pool.verify(job("simp")).await;
    assert!(again.cached && again.is_accepted());
    let bad = pool.verify(job("exact SIM_ERROR")).await;
    assert!(reason(&bad).contains("linarith failed"), "{bad:?}");
    let native = pool.verify(job("native_decide")).await;
    assert!(reason(&native).contains("Lean.ofReduceBool"), "{native:?}");
    let static_reject = pool.verify(job("sorry")).await;
    assert!(reason(&static_reject).contains("sorry"));
    for i in 0..6 {
        assert!(pool
            .verify(job(&format!("simp -- {i}")))
            .await
            .is_accepted());
    }
    let m = pool.metrics();
    assert!(m.spawned <= 2, "header reused: {m:?}");
    assert_eq!(m.cache_hits, 1);
    assert_eq!(m.completed, m.submitted);
    assert_eq!((m.accepted, m.rejected, m.errors), (8, 3, 0));

    let mut cfg = config(1);
    cfg.axioms = AxiomPolicy {
        allow_native_decide: true,
    };
    let permissive = Pool::new(cfg);
    assert!(permissive.verify(job("native_decide")).await.is_accepted());
}

#[tokio::test]
async fn a_hang_times_out_kills_the_group_retries_once_then_reports_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let mut cfg = config(1);
    cfg.command = standin(
        &["--sim"],
        vec![("STANDIN_PID_FILE".into(), pid_file.display().to_string())],
    );
    cfg.timeout = Duration::from_millis(800);
    cfg.sandbox.writable_paths.push(dir.path().to_path_buf());
    let pool = Pool::new(cfg);
    let v = pool.verify(job("exact SIM_HANG")).await;
    assert!(
        v.is_error(),
        "a hang is a verifier error, not a rejection: {v:?}"
    );
    assert!(
        reason(&v).contains("did not answer") && reason(&v).contains("twice"),
        "{v:?}"
    );
    let m = pool.metrics();
    assert_eq!((m.timeouts, m.restarts), (2, 2), "{m:?}");
    // the `sleep` grandchild died with its process group
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut gone = false;
    for _ in 0..50 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "grandchild {pid} survived the group kill");
    // the pool recovers
    assert!(pool.verify(job("simp")).await.is_accepted());
}

#[tokio::test]
async fn a_crash_is_retried_once_on_a_fresh_worker() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1);
    cfg.command = standin(
        &["--sim", "--state-dir", dir.path().to_str().unwrap()],
        Vec::new(),
    );
    cfg.sandbox.writable_paths.push(dir.path().to_path_buf());
    let pool = Pool::new(cfg);
    let v = pool.verify(job("exact SIM_CRASH_ONCE:k1")).await;
    assert!(v.is_accepted(), "{v:?}");
    let v = pool.verify(job("exact SIM_CRASH")).await;
    assert!(v.is_error(), "{v:?}");
    assert!(reason(&v).contains("closed its output"), "{v:?}");
    let m = pool.metrics();
    assert_eq!(m.restarts, 3, "{m:?}");
    assert_eq!(m.errors, 1);
}

#[tokio::test]
async fn garbage_and_floods_are_verifier_errors() {
    let mut cfg = config(1);
    cfg.max_reply_bytes = 1 << 20;
    let pool = Pool::new(cfg);
    let g = pool.verify(job("exact SIM_GARBAGE")).await;
    assert!(
        g.is_error() && reason(&g).contains("unknown shape"),
        "{g:?}"
    );
    let f = pool.verify(job("exact SIM_FLOOD")).await;
    assert!(f.is_error() && reason(&f).contains("exceeded"), "{f:?}");
    let r = pool.verify(job("exact SIM_REFUSE")).await;
    assert!(matches!(r.status, Status::Rejected { .. }), "{r:?}");
    assert!(pool.verify(job("simp")).await.is_accepted());
}

#[tokio::test]
async fn workers_are_recycled_by_job_count_and_memory() {
    let mut cfg = config(1);
    cfg.max_jobs_per_worker = 3;
    let pool = Pool::new(cfg);
    for i in 0..7 {
        assert!(pool
            .verify(job(&format!("simp -- {i}")))
            .await
            .is_accepted());
    }
    assert_eq!(pool.metrics().recycles, 2);

    let mut cfg = config(1);
    cfg.max_rss_bytes = Some(40 << 20);
    let pool = Pool::new(cfg);
    for i in 0..3 {
        let v = pool.verify(job(&format!("exact SIM_GROW:64 -- {i}"))).await;
        assert!(v.is_accepted(), "{v:?}");
    }
    let m = pool.metrics();
    assert_eq!((m.recycles, m.spawned), (3, 3), "{m:?}");
}

#[tokio::test]
async fn the_address_space_cap_turns_a_memory_hog_into_an_error() {
    let mut cfg = config(1);
    cfg.memory_limit_bytes = Some(256 << 20);
    let pool = Pool::new(cfg);
    let v = pool.verify(job("exact SIM_GROW:1024")).await;
    assert!(v.is_error(), "{v:?}");
    assert!(pool.verify(job("simp")).await.is_accepted());
}

#[tokio::test]
async fn a_broken_trusted_header_is_a_verifier_error() {
    let pool = Pool::new(config(1));
    let v = pool
        .verify(Job::Proof {
            header: "import SIM_BAD_HEADER\n".into(),
            formal_statement: STATEMENT.into(),
            proof: "simp".into(),
        })
        .await;
    assert!(
        v.is_error() && reason(&v).contains("trusted header"),
        "{v:?}"
    );
}

#[tokio::test]
async fn a_mixed_batch_gets_exactly_one_matching_verdict_per_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(3);
    cfg.command = standin(
        &["--sim", "--state-dir", dir.path().to_str().unwrap()],
        Vec::new(),
    );
    cfg.sandbox.writable_paths.push(dir.path().to_path_buf());
    cfg.queue_capacity = 4;
    cfg.timeout = Duration::from_secs(2);
    cfg.max_jobs_per_worker = 5;
    let pool = Pool::new(cfg);
    let kinds = [
        "ok",
        "error",
        "crash",
        "garbage",
        "crash_once",
        "sorry",
        "other_header",
    ];
    let mut jobs = Vec::new();
    let mut expect = Vec::new();
    for i in 0..42 {
        let k = kinds[i % kinds.len()];
        let (proof, header, want) = match k {
            "ok" => (format!("simp -- {i}"), HEADER, "accepted"),
            "error" => (format!("exact SIM_ERROR -- {i}"), HEADER, "rejected"),
            "crash" => (format!("exact SIM_CRASH -- {i}"), HEADER, "error"),
            "garbage" => (format!("exact SIM_GARBAGE -- {i}"), HEADER, "error"),
            "crash_once" => (format!("exact SIM_CRASH_ONCE:j{i}"), HEADER, "accepted"),
            "sorry" => (format!("sorry -- {i}"), HEADER, "rejected"),
            _ => (format!("simp -- {i}"), "import Mathlib\n", "accepted"),
        };
        jobs.push(Job::Proof {
            header: header.into(),
            formal_statement: STATEMENT.into(),
            proof,
        });
        expect.push(want);
    }
    let verdicts = pool.verify_batch(jobs).await;
    assert_eq!(verdicts.len(), 42);
    for (i, (v, want)) in verdicts.iter().zip(&expect).enumerate() {
        assert_eq!(v.status.label(), *want, "job {i}: {v:?}");
    }
    let m = pool.metrics();
    assert_eq!(m.submitted, 42);
    assert_eq!(m.completed, 42);
    assert_eq!(m.accepted + m.rejected + m.errors, 42);
    assert_eq!(m.queue_depth, 0);
    assert!(m.p99_latency_ms >= m.p50_latency_ms);
}

#[tokio::test]
async fn lean_errors_quote_lines_of_the_users_text() {
    let pool = Pool::new(config(1));
    // RL mode: line 1 is the first line of the policy's proof body, whatever the statement
    for (k, proof) in [
        (1, "exact SIM_ERROR"),
        (3, "simp\nring_nf\nexact SIM_ERROR"),
        (4, "-- a comment\n\nsimp\n  exact SIM_ERROR"),
    ] {
        let v = pool.verify(job(proof)).await;
        assert!(
            reason(&v).contains(&format!("line {k},")),
            "{proof:?}: {v:?}"
        );
        assert_eq!(v.messages[0].line, k, "{proof:?}");
    }
    // file mode: lines of the whole file, header included
    let text = format!("{HEADER}theorem t (x : ℕ) : x + 0 = x := by\n  simp\n  exact SIM_ERROR\n");
    let line = text.lines().count() as u64;
    let v = pool
        .verify(Job::File {
            text,
            reference: None,
        })
        .await;
    assert!(reason(&v).contains(&format!("line {line},")), "{v:?}");
}
