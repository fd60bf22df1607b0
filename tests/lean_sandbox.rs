//! What a hostile proof can do to a Lean worker, against the simulated REPL
//! (`repl-standin --sim`): forge reply frames on the REPL channel (the sentinel catches it: the
//! job is an error, the worker is replaced, nothing is cached, the next honest job is
//! accepted), write outside its temp dir, open a network connection, fork many children (the
//! sandbox makes each fail inside the worker, and the pool keeps serving). Where this kernel
//! lacks a mechanism, the test asserts that the pool reports it as missing instead.
mod common;
use std::time::Duration;

use prover::verify::lean::sandbox::support;
use prover::verify::lean::{Job, Pool, PoolConfig, Status, Verdict};

const HEADER: &str = "import Mathlib\nimport Aesop\n\nopen BigOperators Real Nat Topology Rat\n\n";
use common::reason;

fn config(workers: usize) -> PoolConfig {
    let mut c = PoolConfig::new(common::repl_standin(&["--sim"]));
    c.workers = workers;
    c.timeout = Duration::from_secs(20);
    c
}

fn job(proof: &str) -> Job {
    common::x_plus_zero_job(HEADER, proof)
}

/// The text of the stand-in's probe report (`SIM_WRITE …: failed: …`) in a verdict.
fn probe_report<'a>(v: &'a Verdict, probe: &str) -> &'a str {
    v.messages
        .iter()
        .find(|m| m.text.starts_with(probe))
        .map(|m| m.text.as_str())
        .unwrap_or_else(|| panic!("no {probe} report in {v:?}"))
}

#[tokio::test]
async fn a_forged_frame_is_an_error_replaces_the_worker_and_is_never_cached() {
    let pool = Pool::new(config(1));
    assert!(pool.verify(job("simp")).await.is_accepted());
    assert_eq!(pool.metrics().spawned, 1);
    let mut anomalies = 0;
    for (k, forger) in ["SIM_FORGE", "SIM_FORGE_LATE", "SIM_FORGE_SENTINEL"]
        .iter()
        .enumerate()
    {
        let v = pool.verify(job(&format!("exact {forger}"))).await;
        assert!(
            v.is_error(),
            "{forger}: a forged channel gave a verdict: {v:?}"
        );
        assert!(reason(&v).contains("nobody asked"), "{forger}: {v:?}");
        anomalies += 1;
        let m = pool.metrics();
        assert_eq!(m.channel_anomalies, anomalies, "{forger}: {m:?}");
        // the next honest job runs on a fresh worker and is accepted
        let honest = pool.verify(job(&format!("simp -- after {k}"))).await;
        assert!(honest.is_accepted(), "{forger}: {honest:?}");
        // one fresh worker after each of the two forged jobs of every round before this one
        assert_eq!(pool.metrics().spawned, 2 + 2 * k as u64, "{forger}");
        // nothing of the forged job was cached: it is checked (and caught) again
        let again = pool.verify(job(&format!("exact {forger}"))).await;
        assert!(again.is_error() && !again.cached, "{forger}: {again:?}");
        anomalies += 1;
        assert!(pool
            .verify(job(&format!("simp -- after again {k}")))
            .await
            .is_accepted());
    }
    let m = pool.metrics();
    assert_eq!(m.channel_anomalies, 6);
    assert_eq!(m.cache_hits, 0, "{m:?}");
    assert_eq!(m.errors, 6);
}

#[tokio::test]
async fn a_forger_in_a_batch_shifts_no_other_verdict() {
    let pool = Pool::new(config(1));
    let proofs = [
        ("simp -- a", "accepted"),
        ("exact SIM_FORGE -- b", "error"),
        ("simp -- c", "accepted"),
        ("exact SIM_ERROR -- d", "rejected"),
        ("exact SIM_FORGE_LATE -- e", "error"),
        ("exact SIM_ERROR -- f", "rejected"),
        ("simp -- g", "accepted"),
    ];
    let verdicts = pool
        .verify_batch(proofs.iter().map(|(p, _)| job(p)).collect())
        .await;
    for ((p, want), v) in proofs.iter().zip(&verdicts) {
        assert_eq!(v.status.label(), *want, "{p}: {v:?}");
    }
    assert_eq!(pool.metrics().channel_anomalies, 2);
}

#[tokio::test]
async fn writes_outside_the_private_temp_dir_fail_inside_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("escaped.txt");
    let pool = Pool::new(config(1));
    let v = pool
        .verify(job(&format!("exact SIM_WRITE:{}", target.display())))
        .await;
    let report = probe_report(&v, "SIM_WRITE ");
    if support().landlock_abi > 0 {
        assert!(report.contains("failed"), "{report}");
        assert!(!target.exists(), "the worker wrote {}", target.display());
    } else {
        let m = pool.metrics();
        assert!(
            m.sandbox.missing.iter().any(|x| x.starts_with("Landlock")),
            "no Landlock and not reported: {m:?}"
        );
    }
    // its own temp dir works, and is private to the worker
    let v = pool.verify(job("exact SIM_WRITE_TMP")).await;
    let report = probe_report(&v, "SIM_WRITE_TMP ");
    assert!(report.ends_with("succeeded"), "{report}");
    assert!(
        report.contains("prover-lean-"),
        "TMPDIR not private: {report}"
    );
    // a writable path given in the configuration is writable
    let mut cfg = config(1);
    cfg.sandbox.writable_paths.push(dir.path().to_path_buf());
    let allowed = Pool::new(cfg);
    let v = allowed
        .verify(job(&format!("exact SIM_WRITE:{}", target.display())))
        .await;
    assert!(
        probe_report(&v, "SIM_WRITE ").ends_with("succeeded"),
        "{v:?}"
    );
    assert!(target.exists());
    // the pool keeps serving
    assert!(pool.verify(job("simp")).await.is_accepted());
}

#[tokio::test]
async fn the_network_is_out_of_reach() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let pool = Pool::new(config(1));
    let v = pool.verify(job(&format!("exact SIM_CONNECT:{addr}"))).await;
    let report = probe_report(&v, "SIM_CONNECT ");
    let s = support();
    if s.network_namespace || s.landlock_abi >= 4 {
        assert!(report.contains("failed"), "{report}");
        assert!(
            listener.accept().is_err(),
            "the worker reached a socket on the host"
        );
    } else {
        assert!(
            pool.metrics()
                .sandbox
                .missing
                .iter()
                .any(|x| x.starts_with("network namespace")),
            "no network isolation and not reported"
        );
    }
    assert!(pool.verify(job("simp")).await.is_accepted());
}

#[tokio::test]
async fn a_fork_bomb_hits_the_process_limit() {
    let mut cfg = config(1);
    cfg.sandbox.max_processes = Some(24);
    if support().root {
        // the kernel does not apply RLIMIT_NPROC to root: drop to `nobody`
        cfg.sandbox.run_as_uid = Some(65534);
    }
    let pool = Pool::new(cfg);
    let v = pool.verify(job("exact SIM_FORK:200")).await;
    let report = probe_report(&v, "SIM_FORK");
    let started: usize = report
        .trim_start_matches("SIM_FORK: started ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{report}"));
    assert!(started < 24, "{started} children started: {report}");
    assert!(report.contains("first failure"), "{report}");
    assert!(matches!(v.status, Status::Rejected { .. }), "{v:?}");
    assert!(pool.verify(job("simp")).await.is_accepted());
    let m = pool.metrics();
    assert!(
        !m.sandbox
            .missing
            .iter()
            .any(|x| x.starts_with("RLIMIT_NPROC")),
        "{m:?}"
    );
}

#[tokio::test]
async fn the_metrics_say_what_the_sandbox_enforces() {
    let pool = Pool::new(config(1));
    let m = pool.metrics();
    assert_eq!(&m.sandbox.support, support());
    // on root without run_as_uid, RLIMIT_NPROC cannot hold: that must be said
    assert_eq!(
        m.sandbox
            .missing
            .iter()
            .any(|x| x.starts_with("RLIMIT_NPROC")),
        support().root
    );
    let mut cfg = config(1);
    cfg.sandbox = prover::verify::lean::SandboxConfig::disabled();
    let off = Pool::new(cfg);
    assert_eq!(
        off.metrics().sandbox.missing,
        ["sandbox disabled by configuration"]
    );
    assert!(off.verify(job("simp")).await.is_accepted());
}

/// The stand-in answers the sentinel in both modes the way the REPL answers `#check` (one info
/// message `N : Nat` at 1:0–1:6 and a new env; the shape of `def_eval` / `dup_msg` in the
/// recorded transcripts), so the pool's seal can be tested on replayed transcripts too.
#[tokio::test]
async fn both_stand_in_modes_answer_the_sentinel() {
    use prover::verify::lean::ReplProbe;
    let replay_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/repl");
    let mut modes = vec![vec!["--sim".to_string()]];
    if replay_dir.is_dir() {
        modes.push(vec!["--replay".into(), replay_dir.display().to_string()]);
    } else {
        eprintln!(
            "skipping the replay mode: {} is missing",
            replay_dir.display()
        );
    }
    for args in modes {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let cmd = common::repl_standin(&args);
        let mut probe = ReplProbe::start(&cmd, Duration::from_secs(20)).unwrap();
        let r = probe
            .request(r##"{"cmd": "#check (340282366920938463463374607431768211455 : Nat)"}"##)
            .await
            .unwrap();
        assert_eq!(r.kind, "command", "{args:?}: {}", r.raw);
        let v: serde_json::Value = serde_json::from_str(&r.raw).unwrap();
        assert_eq!(
            v["messages"],
            serde_json::json!([{"severity": "info", "pos": {"line": 1, "column": 0},
                "endPos": {"line": 1, "column": 6},
                "data": "340282366920938463463374607431768211455 : Nat"}]),
            "{args:?}"
        );
        assert!(v["env"].is_u64(), "{args:?}: {}", r.raw);
        // anything else after `#check` is not a sentinel and gets no invented answer
        let other = probe
            .request(r##"{"cmd": "#check (x : Nat)"}"##)
            .await
            .unwrap();
        assert!(!other.raw.contains("x : Nat"), "{args:?}: {}", other.raw);
    }
}
