//! The verdict every checked proof gets: a [`Status`] (accepted, rejected — the proof is wrong
//! or cheats — or error: the verifier itself failed, never counted as a rejection), with Lean's
//! messages and the axioms of each theorem.
use serde::{Deserialize, Serialize};

pub use crate::verify::Status;

/// Severity of a Lean message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// An error: the proof is rejected.
    Error,
    /// A warning (e.g. `declaration uses 'sorry'`, linter output).
    Warning,
    /// Information (`#print`, `trace`, ...).
    Info,
}

/// One message Lean printed, with a 1-based line and a 0-based column (as the REPL reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeanMessage {
    /// Error, warning or info.
    pub severity: Severity,
    /// 1-based line in the checked text (0: no position).
    pub line: u64,
    /// 0-based column.
    pub column: u64,
    /// The message text.
    pub text: String,
}

/// The axioms one theorem depends on, and whether they are all allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TheoremReport {
    /// Theorem name.
    pub name: String,
    /// Axioms from `#print axioms` (empty when Lean gave no report).
    pub axioms: Vec<String>,
    /// True when the theorem exists and depends only on allowed axioms.
    pub ok: bool,
}

/// The answer for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Accepted, rejected or error.
    pub status: Status,
    /// Lean's messages about the checked text.
    pub messages: Vec<LeanMessage>,
    /// One report per theorem that had to be proved.
    pub theorems: Vec<TheoremReport>,
    /// Wall-clock seconds this job took (for a cache hit: the time of the lookup).
    pub seconds: f64,
    /// True when the verdict came from the cache.
    pub cached: bool,
}

impl Verdict {
    /// A rejection with no Lean output (static checks).
    pub fn rejected(reason: impl Into<String>) -> Self {
        Verdict {
            status: Status::rejected(reason),
            messages: Vec::new(),
            theorems: Vec::new(),
            seconds: 0.0,
            cached: false,
        }
    }
    /// A verifier error.
    pub fn error(reason: impl Into<String>) -> Self {
        Verdict {
            status: Status::error(reason),
            messages: Vec::new(),
            theorems: Vec::new(),
            seconds: 0.0,
            cached: false,
        }
    }
    /// True when accepted.
    pub fn is_accepted(&self) -> bool {
        self.status.is_accepted()
    }
    /// True for a verifier error.
    pub fn is_error(&self) -> bool {
        self.status.is_error()
    }
}

/// Runs `check` on every job concurrently, one tokio task each, and returns the verdicts in
/// input order. A task that panics or is cancelled gives an `error` verdict for its job, so every
/// job gets exactly one verdict.
pub(crate) async fn verify_each<J, F, Fut>(jobs: Vec<J>, check: F) -> Vec<Verdict>
where
    F: Fn(J) -> Fut,
    Fut: std::future::Future<Output = Verdict> + Send + 'static,
{
    let handles: Vec<_> = jobs.into_iter().map(|j| tokio::spawn(check(j))).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(match h.await {
            Ok(v) => v,
            Err(e) => Verdict::error(format!("verification task failed: {e}")),
        });
    }
    out
}
