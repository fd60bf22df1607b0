//! One handle over the two ways proofs reach Lean: a local [`Pool`] of REPL processes or
//! remote `prover serve` instances ([`RemotePool`]). `prover verify`, `eval minif2f` and the
//! trainer's Lean reward hold a [`LeanVerifier`] and do not care which.
use super::pool::{Job, Pool, PoolMetrics};
use super::remote::RemotePool;
use super::verdict::Verdict;

/// A local pool or remote servers. Cheap to clone.
#[derive(Clone)]
pub enum LeanVerifier {
    /// REPL processes on this machine.
    Local(Pool),
    /// `prover serve` instances.
    Remote(RemotePool),
}

impl From<Pool> for LeanVerifier {
    fn from(p: Pool) -> Self {
        LeanVerifier::Local(p)
    }
}

impl From<RemotePool> for LeanVerifier {
    fn from(p: RemotePool) -> Self {
        LeanVerifier::Remote(p)
    }
}

impl LeanVerifier {
    /// Check one job: exactly one verdict.
    pub async fn verify(&self, job: Job) -> Verdict {
        match self {
            LeanVerifier::Local(p) => p.verify(job).await,
            LeanVerifier::Remote(r) => r.verify(job).await,
        }
    }

    /// Check many jobs concurrently; verdicts in input order.
    pub async fn verify_batch(&self, jobs: Vec<Job>) -> Vec<Verdict> {
        match self {
            LeanVerifier::Local(p) => p.verify_batch(jobs).await,
            LeanVerifier::Remote(r) => r.verify_batch(jobs).await,
        }
    }

    /// The pool's counters; for remote servers the ones the client keeps (jobs and verdicts,
    /// in-flight requests; failovers under `restarts`).
    pub fn metrics(&self) -> PoolMetrics {
        match self {
            LeanVerifier::Local(p) => p.metrics(),
            LeanVerifier::Remote(r) => {
                let m = r.metrics();
                PoolMetrics {
                    workers: m.in_flight.len(),
                    submitted: m.submitted,
                    completed: m.completed,
                    accepted: m.accepted,
                    rejected: m.rejected,
                    errors: m.errors,
                    in_flight: m.in_flight.iter().sum(),
                    restarts: m.failovers,
                    ..Default::default()
                }
            }
        }
    }

    /// The counters as JSON (the remote client's own when remote).
    pub fn metrics_json(&self) -> serde_json::Value {
        match self {
            LeanVerifier::Local(p) => serde_json::to_value(p.metrics()).unwrap_or_default(),
            LeanVerifier::Remote(r) => serde_json::to_value(r.metrics()).unwrap_or_default(),
        }
    }
}
