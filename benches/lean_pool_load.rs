//! Load bench for the Lean verifier pool: pushes N jobs (default 10 000) through 4 stand-in
//! REPL workers (`repl-standin --sim`, which answers a canned success + axioms reply) and
//! prints jobs/s, latency percentiles and the pool's own overhead per job (service time minus
//! time waiting on the worker's replies; target < 1 ms).
//!
//! Run: `cargo bench --profile dev --bench lean_pool_load [-- JOBS WORKERS]`
use std::time::{Duration, Instant};

use prover::verify::lean::{Job, LeanCommand, Pool, PoolConfig};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let jobs: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let workers: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut cfg = PoolConfig::new(LeanCommand {
            program: env!("CARGO_BIN_EXE_repl-standin").into(),
            args: vec!["--sim".into()],
            cwd: None,
            env: Vec::new(),
        });
        cfg.workers = workers;
        cfg.timeout = Duration::from_secs(30);
        cfg.cache_capacity = 0;
        cfg.max_jobs_per_worker = 1_000_000;
        let pool = Pool::new(cfg);
        let header = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n";
        let batch: Vec<Job> = (0..jobs)
            .map(|i| Job::Proof {
                header: header.into(),
                formal_statement: format!("theorem t{i} (x : ℕ) : x + 0 = x := by sorry"),
                proof: format!("simp -- {i}"),
            })
            .collect();
        let t0 = Instant::now();
        let verdicts = pool.verify_batch(batch).await;
        let wall = t0.elapsed().as_secs_f64();
        let accepted = verdicts.iter().filter(|v| v.is_accepted()).count();
        let m = pool.metrics();
        println!("| jobs | workers | accepted | wall s | jobs/s | p50 ms | p99 ms | pool overhead ms/job | restarts |");
        println!("|---|---|---|---|---|---|---|---|---|");
        println!(
            "| {jobs} | {workers} | {accepted} | {wall:.2} | {:.0} | {:.2} | {:.2} | {:.4} | {} |",
            jobs as f64 / wall,
            m.p50_latency_ms,
            m.p99_latency_ms,
            m.mean_overhead_ms,
            m.restarts
        );
        println!("metrics: {}", serde_json::to_string(&m).unwrap());
        assert_eq!(accepted, jobs, "every job should be accepted by the stand-in");
    });
}
