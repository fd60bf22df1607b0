//! The trainer's Lean reward against the simulated REPL (`repl-standin --sim`): extraction,
//! malformed completions, rejections by the soundness guard and verifier errors.
use std::time::Duration;

use prover::data::FormalTask;
use prover::data::Task;
use prover::eval::prompts::ProofPromptStyle;
use prover::rl::lean_reward::LeanRewarder;
use prover::rl::traits::Rewarder;
use prover::verify::lean::{LeanCommand, Pool, PoolConfig};
use prover::verify::Status;

fn rewarder() -> LeanRewarder {
    rewarder_with(Duration::from_secs(10), Vec::new(), None)
}

fn rewarder_with(
    timeout: Duration,
    env: Vec<(String, String)>,
    writable: Option<std::path::PathBuf>,
) -> LeanRewarder {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap();
    let pool = {
        let _g = rt.enter();
        let mut c = PoolConfig::new(LeanCommand {
            program: env!("CARGO_BIN_EXE_repl-standin").to_string(),
            args: vec!["--sim".into()],
            cwd: None,
            env,
        });
        c.workers = 2;
        c.timeout = timeout;
        c.sandbox.writable_paths.extend(writable);
        Pool::new(c)
    };
    LeanRewarder::new(rt, pool, ProofPromptStyle::Complete)
}

fn task(name: &str) -> Task {
    let f = FormalTask {
        name: name.into(),
        header: "import Mathlib\nimport Aesop\n\nopen BigOperators Real Nat Topology Rat\n\n"
            .into(),
        formal_statement: format!("theorem {name} (x : ℕ) : x + 0 = x := by sorry"),
        informal: None,
        split: Some("valid".into()),
    };
    Task::Formal(f)
}

#[test]
fn lean_verdicts_become_rewards() {
    let mut r = rewarder();
    let (a, b) = (task("t_a"), task("t_b"));
    let groups = vec![
        (
            &a,
            vec![
                "\n  simp\n```\nextra prose".to_string(),
                "   \n```".to_string(),
                "\n  sorry\n```".to_string(),
            ],
        ),
        (
            &b,
            vec![
                "\n  exact SIM_ERROR\n```".to_string(),
                "\n  exact SIM_CRASH\n```".to_string(),
            ],
        ),
    ];
    let out = r.judge_batch(&groups).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].len(), 3);
    assert_eq!(out[1].len(), 2);
    assert_eq!(out[0][0].verdict, Status::Accepted, "{:?}", out[0][0]);
    assert!(out[0][0].well_formed);
    // what was graded: the extracted body (cut at the closing fence), nothing when none
    assert_eq!(out[0][0].graded.as_deref().map(str::trim), Some("simp"));
    assert_eq!(out[0][1].graded, None);
    assert_eq!(out[0][2].graded.as_deref().map(str::trim), Some("sorry"));
    assert!(!out[0][1].well_formed, "an empty body is malformed");
    assert!(matches!(&out[0][1].verdict, Status::Rejected { reason: m } if m.contains("no proof")));
    assert!(matches!(&out[0][2].verdict, Status::Rejected { reason: m } if m.contains("sorry")));
    assert!(
        matches!(&out[1][0].verdict, Status::Rejected { .. }),
        "{:?}",
        out[1][0]
    );
    // a crashing checker is an error (final: the pool retried it; the trainer drops it), never
    // a reward
    assert!(
        matches!(&out[1][1].verdict, Status::Error { .. }),
        "{:?}",
        out[1][1]
    );
    // a task without a formal statement is a clear error
    let bare = Task::informal("t_c", "1+1", "2");
    let e = format!("{:#}", r.judge(&bare, &["simp".into()]).unwrap_err());
    assert!(e.contains("t_c") && e.contains("formal"), "{e}");
}

/// A hanging proof costs one timeout plus one retry end to end: the pool tries it twice, and
/// the trainer, told that the rewarder retries on its own, does not ask again.
#[test]
fn a_hang_is_attempted_twice_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hangs.log");
    let mut r = rewarder_with(
        Duration::from_millis(600),
        vec![("STANDIN_HANG_LOG".into(), log.display().to_string())],
        Some(dir.path().to_path_buf()),
    );
    assert!(r.retries_errors_itself());
    let a = task("t_hang");
    let out = r
        .judge_batch(&[(&a, vec!["\n  exact SIM_HANG\n```".to_string()])])
        .unwrap();
    assert!(
        matches!(&out[0][0].verdict, Status::Error { reason: m } if m.contains("did not answer")),
        "{:?}",
        out[0][0]
    );
    let attempts = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(attempts, 2, "one attempt plus one retry");
    assert_eq!(r.pool().metrics().timeouts, 2);
}
