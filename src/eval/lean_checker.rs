//! The Lean verifier (a local pool or remote `prover serve` instances) as the
//! [`ProofChecker`] of the miniF2F evaluation, with the tokio runtime it runs on.
use crate::data::FormalTask;
use crate::eval::minif2f::{AttemptVerdict, ProofChecker};
use crate::verify::lean::{Job, LeanVerifier};

/// Remote proofs kept in flight per `prover serve` instance.
const IN_FLIGHT_PER_SERVER: usize = 4;

/// Checks each proof body as a [`Job::Proof`] (the task's header and statement, the body) on
/// `verifier`, blocking on `rt`.
pub struct LeanChecker {
    rt: tokio::runtime::Runtime,
    verifier: LeanVerifier,
}

impl LeanChecker {
    /// A checker over `verifier`, which was started inside `rt`.
    pub fn new(rt: tokio::runtime::Runtime, verifier: LeanVerifier) -> Self {
        LeanChecker { rt, verifier }
    }

    /// How many proofs to keep in flight (the evaluation's verifying threads): as many as the
    /// local pool has workers, or a few per remote server.
    pub fn proofs_in_flight(&self) -> usize {
        match &self.verifier {
            LeanVerifier::Local(p) => p.config().workers,
            LeanVerifier::Remote(r) => IN_FLIGHT_PER_SERVER * r.config().servers.len(),
        }
    }

    /// The verifier's counters as JSON.
    pub fn metrics_json(&self) -> serde_json::Value {
        self.verifier.metrics_json()
    }
}

impl ProofChecker for LeanChecker {
    fn check(&self, task: &FormalTask, body: &str) -> AttemptVerdict {
        let job = Job::Proof {
            header: task.header.clone(),
            formal_statement: task.formal_statement.clone(),
            proof: body.to_string(),
        };
        let v = self.rt.block_on(self.verifier.verify(job));
        AttemptVerdict {
            status: v.status,
            seconds: v.seconds,
        }
    }
}
