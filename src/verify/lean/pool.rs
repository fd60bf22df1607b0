//! The verifier pool: N REPL workers behind a bounded queue, with header reuse, per-job
//! limits, retry-once on worker failure, a verdict cache and metrics. This file holds the
//! public [`Pool`], its configuration and metrics, the queue and the worker loop; which job a
//! free worker takes is decided in `schedule.rs` (each worker process holds one header
//! environment, and jobs go preferably to a worker already holding theirs), running one job on
//! a worker in `run_job.rs`, and the verdict cache is `verdict_cache.rs`.
//! Every submitted job gets exactly one verdict (a oneshot channel per job).
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, Notify, Semaphore};

use super::memory::WorkerChoice;
pub use super::repl_probe::{ProbeReply, ReplProbe};
use super::run_job::run_job;
use super::sandbox::{self, SandboxConfig, SandboxReport};
use super::schedule;
use super::soundness::{assemble, plan_file, Assembled, AxiomPolicy};
use super::verdict::{Status, Verdict};
use super::verdict_cache::VerdictCache;
use super::worker::ReplWorker;
pub use super::worker::{shell_split, LeanCommand};

/// Pool settings. Defaults: see [`PoolConfig::new`].
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// How to start one REPL.
    pub command: LeanCommand,
    /// Number of worker processes (default: `min(cores − 1, RAM / 8 GiB)`, at least 1; see
    /// [`WorkerChoice`]).
    pub workers: usize,
    /// Wall-clock limit for one job (header import + proof + axiom queries); default 300 s.
    pub timeout: Duration,
    /// `RLIMIT_AS` of each worker process (address space, per process); default `None`: it
    /// can fail `import Mathlib`, see [`super::memory`]. Check a value with the one-liner in
    /// lean/README.md before setting it.
    pub memory_limit_bytes: Option<u64>,
    /// Restart a worker after this many jobs (the REPL never frees environments); default 200.
    pub max_jobs_per_worker: u64,
    /// Restart a worker whose process group holds more private resident memory than this
    /// after a job; default 8 GiB.
    pub max_rss_bytes: Option<u64>,
    /// Kill a worker whose process group holds more private resident memory than this during
    /// a job (checked every 200 ms; a verifier error, retried once); default 12 GiB.
    pub rss_limit_bytes: Option<u64>,
    /// Jobs queued or running at once before `verify` waits (backpressure); default 1024.
    pub queue_capacity: usize,
    /// Verdicts kept in the cache; default 100 000 (0 disables it).
    pub cache_capacity: usize,
    /// Largest reply accepted from Lean; default 64 MiB.
    pub max_reply_bytes: usize,
    /// Toolchain identity, part of the cache key (e.g. `leanprover/lean4:v4.24.0`).
    pub toolchain: String,
    /// Which axioms an accepted proof may use.
    pub axioms: AxiomPolicy,
    /// What each worker process may do (network, filesystem, rlimits).
    pub sandbox: SandboxConfig,
}

impl PoolConfig {
    /// Defaults around `command`.
    pub fn new(command: LeanCommand) -> Self {
        PoolConfig {
            command,
            workers: WorkerChoice::for_this_machine().workers,
            timeout: Duration::from_secs(300),
            memory_limit_bytes: None,
            max_jobs_per_worker: 200,
            max_rss_bytes: Some(8 << 30),
            rss_limit_bytes: Some(12 << 30),
            queue_capacity: 1024,
            cache_capacity: 100_000,
            max_reply_bytes: 64 << 20,
            toolchain: "leanprover/lean4:v4.24.0".into(),
            axioms: AxiomPolicy::default(),
            sandbox: SandboxConfig::from_env(),
        }
    }
}

/// One thing to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// RL mode: prover assembles `header` + `formal_statement` (its `sorry` removed) + the
    /// policy's `proof` body. The header is trusted.
    Proof {
        /// Trusted header (imports, options, opens), e.g. a miniF2F `header` field.
        header: String,
        /// Reference statement ending in `:= by sorry`.
        formal_statement: String,
        /// The policy's tactic proof (what comes after `:= by`).
        proof: String,
    },
    /// A whole user file, optionally checked against a reference file's statements.
    File {
        /// The file's text.
        text: String,
        /// The reference file's text (`--against`).
        reference: Option<String>,
    },
}

/// A snapshot of the pool's counters (logged by the trainer).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PoolMetrics {
    /// Worker processes configured.
    pub workers: usize,
    /// Jobs submitted to `verify`.
    pub submitted: u64,
    /// Verdicts returned.
    pub completed: u64,
    /// Accepted verdicts.
    pub accepted: u64,
    /// Rejected verdicts (static or after Lean).
    pub rejected: u64,
    /// Verifier errors.
    pub errors: u64,
    /// Verdicts answered from the cache.
    pub cache_hits: u64,
    /// Jobs waiting for a worker now.
    pub queue_depth: usize,
    /// Jobs a worker is running now.
    pub in_flight: usize,
    /// Completed jobs per second since the first submission.
    pub jobs_per_second: f64,
    /// Median job latency (submit → verdict) over the last 10 000 jobs, ms.
    pub p50_latency_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_latency_ms: f64,
    /// Workers replaced after a crash, timeout or protocol error.
    pub restarts: u64,
    /// Workers restarted on purpose (job count or memory threshold).
    pub recycles: u64,
    /// Jobs that hit the timeout (each attempt counted).
    pub timeouts: u64,
    /// Worker processes started.
    pub spawned: u64,
    /// Mean time per job the pool spends outside Lean (scheduling, framing, parsing,
    /// post-checks), ms: service time minus time waiting for Lean's replies.
    pub mean_overhead_ms: f64,
    /// Jobs whose REPL channel carried a frame nobody asked for (a forged reply): each is an
    /// error, its worker was killed and replaced, nothing of it was cached.
    pub channel_anomalies: u64,
    /// What the worker sandbox enforces on this machine, and what it cannot.
    pub sandbox: SandboxReport,
}

/// The pool's counters behind [`PoolMetrics`], with what the percentiles and rates need.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) m: PoolMetrics,
    first_submit: Option<Instant>,
    latencies: VecDeque<f64>,
    overhead_sum: f64,
    overhead_n: u64,
}

struct Prepared {
    assembled: Assembled,
    trusted_header: bool,
    key: [u8; 32],
}

struct Pending {
    job: Arc<Prepared>,
    reply: oneshot::Sender<Verdict>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Pending>,
    closed: bool,
    holders: Vec<Option<String>>,
}

struct Inner {
    cfg: PoolConfig,
    queue: Mutex<Queue>,
    notify: Notify,
    slots: Semaphore,
    cache: Mutex<VerdictCache>,
    counters: Mutex<Counters>,
}

struct CloseGuard(Arc<Inner>);

impl Drop for CloseGuard {
    fn drop(&mut self) {
        self.0.queue.lock().unwrap().closed = true;
        self.0.notify.notify_waiters();
    }
}

/// The verifier pool. Cheap to clone; workers stop when the last clone is dropped.
/// Create it inside a tokio runtime.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
    _guard: Arc<CloseGuard>,
}

impl Pool {
    /// Start the pool's worker tasks (processes start lazily, on their first job).
    pub fn new(cfg: PoolConfig) -> Self {
        let workers = cfg.workers.max(1);
        let inner = Arc::new(Inner {
            slots: Semaphore::new(cfg.queue_capacity.max(1)),
            queue: Mutex::new(Queue {
                holders: vec![None; workers],
                ..Default::default()
            }),
            notify: Notify::new(),
            cache: Mutex::new(VerdictCache::new(cfg.cache_capacity)),
            counters: Mutex::new(Counters {
                m: PoolMetrics {
                    workers,
                    sandbox: sandbox::report(&cfg.sandbox),
                    ..Default::default()
                },
                ..Default::default()
            }),
            cfg,
        });
        for id in 0..workers {
            tokio::spawn(worker_loop(inner.clone(), id));
        }
        Pool {
            _guard: Arc::new(CloseGuard(inner.clone())),
            inner,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.cfg
    }

    /// Check one job. Waits while the queue is full (backpressure).
    pub async fn verify(&self, job: Job) -> Verdict {
        let started = Instant::now();
        {
            let mut c = self.inner.counters.lock().unwrap();
            c.m.submitted += 1;
            c.first_submit.get_or_insert(started);
        }
        let prepared = match self.prepare(job) {
            Ok(p) => p,
            Err(reason) => return self.finish(Verdict::rejected(reason), started, false),
        };
        let cached = self.inner.cache.lock().unwrap().get(&prepared.key);
        if let Some(mut v) = cached {
            v.cached = true;
            v.seconds = started.elapsed().as_secs_f64();
            return self.finish(v, started, true);
        }
        let _permit = match self.inner.slots.acquire().await {
            Ok(p) => p,
            Err(_) => return self.finish(Verdict::error("the pool is closed"), started, false),
        };
        let (tx, rx) = oneshot::channel();
        let key = prepared.key;
        {
            let mut q = self.inner.queue.lock().unwrap();
            if q.closed {
                drop(q);
                return self.finish(Verdict::error("the pool is closed"), started, false);
            }
            q.jobs.push_back(Pending {
                job: Arc::new(prepared),
                reply: tx,
            });
        }
        self.inner.notify.notify_waiters();
        let mut verdict = match rx.await {
            Ok(v) => v,
            Err(_) => Verdict::error("the verifier dropped this job (worker task ended)"),
        };
        verdict.seconds = started.elapsed().as_secs_f64();
        if !verdict.is_error() {
            self.inner.cache.lock().unwrap().put(key, &verdict);
        }
        self.finish(verdict, started, false)
    }

    /// Check many jobs; verdicts come back in input order. At most `queue_capacity` are queued
    /// at once; the rest wait.
    pub async fn verify_batch(&self, jobs: Vec<Job>) -> Vec<Verdict> {
        super::verdict::verify_each(jobs, |j| {
            let p = self.clone();
            async move { p.verify(j).await }
        })
        .await
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> PoolMetrics {
        let depth = self.inner.queue.lock().unwrap().jobs.len();
        let c = self.inner.counters.lock().unwrap();
        let mut m = c.m.clone();
        m.queue_depth = depth;
        m.in_flight = (self.inner.cfg.queue_capacity.max(1) - self.inner.slots.available_permits())
            .saturating_sub(depth);
        if let Some(t0) = c.first_submit {
            let s = t0.elapsed().as_secs_f64();
            if s > 0.0 {
                m.jobs_per_second = m.completed as f64 / s;
            }
        }
        let mut l: Vec<f64> = c.latencies.iter().copied().collect();
        l.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| {
            if l.is_empty() {
                0.0
            } else {
                l[((l.len() - 1) as f64 * p).round() as usize]
            }
        };
        m.p50_latency_ms = pct(0.5);
        m.p99_latency_ms = pct(0.99);
        if c.overhead_n > 0 {
            m.mean_overhead_ms = c.overhead_sum / c.overhead_n as f64;
        }
        m
    }

    fn prepare(&self, job: Job) -> Result<Prepared, String> {
        let (assembled, trusted_header) = match job {
            Job::Proof {
                header,
                formal_statement,
                proof,
            } => (assemble(&header, &formal_statement, &proof)?, true),
            Job::File { text, reference } => (plan_file(&text, reference.as_deref())?, false),
        };
        let mut h = Sha256::new();
        for part in [
            self.inner.cfg.toolchain.as_str(),
            assembled.header.as_str(),
            assembled.body.as_str(),
            &assembled.theorems.join("\n"),
            if self.inner.cfg.axioms.allow_native_decide {
                "native"
            } else {
                "std"
            },
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        Ok(Prepared {
            assembled,
            trusted_header,
            key: h.finalize().into(),
        })
    }

    fn finish(&self, mut v: Verdict, started: Instant, cached: bool) -> Verdict {
        if v.seconds == 0.0 {
            v.seconds = started.elapsed().as_secs_f64();
        }
        let mut c = self.inner.counters.lock().unwrap();
        c.m.completed += 1;
        if cached {
            c.m.cache_hits += 1;
        }
        match v.status {
            Status::Accepted => c.m.accepted += 1,
            Status::Rejected { .. } => c.m.rejected += 1,
            Status::Error { .. } => c.m.errors += 1,
        }
        c.latencies.push_back(v.seconds * 1e3);
        if c.latencies.len() > 10_000 {
            c.latencies.pop_front();
        }
        v
    }
}

/// Take the next job for worker `id` (chosen by [`schedule::pick`]), waiting while the queue is
/// empty; `None` when the pool is closed.
async fn next_job(inner: &Inner, id: usize) -> Option<Pending> {
    loop {
        let notified = inner.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut q = inner.queue.lock().unwrap();
            let headers = q.jobs.iter().map(|p| p.job.assembled.header.as_str());
            if let Some(pick) = schedule::pick(headers, &q.holders, id) {
                let p = q.jobs.remove(pick).expect("index in range");
                q.holders[id] = Some(p.job.assembled.header.clone());
                return Some(p);
            }
            if q.closed {
                return None;
            }
        }
        notified.await;
    }
}

async fn worker_loop(inner: Arc<Inner>, id: usize) {
    let mut slot: Option<ReplWorker> = None;
    while let Some(p) = next_job(&inner, id).await {
        let service_start = Instant::now();
        if p.reply.is_closed() {
            continue; // the caller went away
        }
        let (verdict, lean_seconds) = run_job(
            &inner.cfg,
            &inner.counters,
            &mut slot,
            &p.job.assembled,
            p.job.trusted_header,
        )
        .await;
        let service = service_start.elapsed().as_secs_f64();
        {
            let mut c = inner.counters.lock().unwrap();
            c.overhead_sum += (service - lean_seconds).max(0.0) * 1e3;
            c.overhead_n += 1;
        }
        let _ = p.reply.send(verdict);
    }
    if let Some(mut w) = slot.take() {
        w.kill();
    }
}
