//! Memory limits of the verifier pool see the REPL even when it runs as the child of a wrapper
//! (as `lake env repl` runs it): recycling after a job and the during-job limit both sum the
//! worker's whole process group. Workers get `MALLOC_ARENA_MAX=2`.
use std::time::Duration;

use prover::verify::lean::{Job, LeanCommand, Pool, PoolConfig, ReplProbe};

mod common;
use common::reason;

const HEADER: &str = "import Mathlib\n\nopen Nat\n\n";

/// `sh` runs the stand-in REPL as its child and waits for it (`; exit` keeps the shell from
/// exec-ing it), like `lake env`: the worker's own process is the small shell.
fn wrapped_standin(before: &str) -> LeanCommand {
    LeanCommand {
        program: "sh".into(),
        args: vec![
            "-c".into(),
            format!("{before}\"$0\" --sim; exit $?"),
            env!("CARGO_BIN_EXE_repl-standin").into(),
            env!("CARGO_BIN_EXE_lsp-standin").into(),
        ],
        cwd: None,
        env: Vec::new(),
    }
}

fn config(cmd: LeanCommand) -> PoolConfig {
    let mut c = PoolConfig::new(cmd);
    c.workers = 1;
    c.timeout = Duration::from_secs(20);
    c
}

fn job(proof: &str) -> Job {
    common::x_plus_zero_job(HEADER, proof)
}

#[tokio::test]
async fn a_worker_whose_child_grows_is_recycled() {
    let mut cfg = config(wrapped_standin(""));
    cfg.max_rss_bytes = Some(40 << 20);
    let pool = Pool::new(cfg);
    // small jobs: the group stays under the threshold, one process serves them all
    for i in 0..3 {
        assert!(pool
            .verify(job(&format!("simp -- {i}")))
            .await
            .is_accepted());
    }
    assert_eq!((pool.metrics().recycles, pool.metrics().spawned), (0, 1));
    // the REPL (the shell's child) grows by 64 MiB per job: recycled after each
    for i in 0..3 {
        let v = pool.verify(job(&format!("exact SIM_GROW:64 -- {i}"))).await;
        assert!(v.is_accepted(), "{v:?}");
    }
    let m = pool.metrics();
    assert_eq!((m.recycles, m.spawned), (3, 3), "{m:?}");
}

#[tokio::test]
async fn a_group_over_the_limit_during_a_job_is_killed() {
    // a sibling in the worker's group holds 256 MiB while the REPL hangs on the proof: the
    // during-job limit fires long before the 20 s timeout; retried once, then an error
    let mut cfg = config(wrapped_standin("\"$1\" --hog 256 & "));
    cfg.rss_limit_bytes = Some(64 << 20);
    let pool = Pool::new(cfg);
    let v = pool.verify(job("exact SIM_HANG")).await;
    assert!(v.is_error(), "{v:?}");
    assert!(reason(&v).contains("private memory"), "{v:?}");
    assert!(!reason(&v).contains("did not answer"), "{v:?}");
    let m = pool.metrics();
    assert_eq!((m.restarts, m.timeouts), (2, 0), "{m:?}");
}

#[tokio::test]
async fn workers_get_malloc_arena_max_unless_the_command_sets_it() {
    // a "REPL" that answers one request with its MALLOC_ARENA_MAX, in the REPL's framing
    let echo = |env: Vec<(String, String)>| LeanCommand {
        program: "sh".into(),
        args: vec![
            "-c".into(),
            "read line; printf 'arena=%s\\n\\n' \"$MALLOC_ARENA_MAX\"; sleep 5".into(),
        ],
        cwd: None,
        env,
    };
    for (env, want) in [
        (Vec::new(), "arena=2\n"),
        (
            vec![("MALLOC_ARENA_MAX".to_string(), "4".to_string())],
            "arena=4\n",
        ),
    ] {
        let mut probe = ReplProbe::start(&echo(env), Duration::from_secs(10)).unwrap();
        assert_eq!(probe.request_raw_line("{}").await.unwrap(), want);
    }
}
