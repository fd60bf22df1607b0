//! The JSON of `prover serve`'s sound endpoint, `POST /prove`, shared by the server
//! (the `serve` module) and the remote client ([`super::remote`]) so both sides read one
//! definition.
//!
//! Request: `{"items": [ProveItem, ...]}` (or a bare array of items). Each item is a line of
//! the `prover verify FILE.jsonl --lean` batch ([`super::batch`]) plus an optional
//! `allow_native_decide`:
//! - `{"id", "formal_statement", "header"?, "proof"}`: `proof` is a tactic body spliced after
//!   the statement's `:= by` (the RL path);
//! - `{"id", "formal_statement", "header"?, "code"}`: `code` is a whole file, checked against
//!   `header` + `formal_statement` as `prover verify FILE.lean --against` does;
//! - `{"id", "code"}` without `formal_statement`: a whole file checked in plain mode (every
//!   theorem proved without sorry or foreign axioms; what it states is not compared).
//!
//! Response: `{"results": [ProveResult, ...]}` in request order: `{"id", "verdict":
//! "accepted"|"rejected"|"error", "reason", "axioms", "seconds", "messages", "theorems",
//! "retryable"}`. `messages` and `theorems` are what Lean said (positions in the user's text;
//! per theorem the axioms `#print axioms` listed, `found: false` when the theorem was not in
//! the final environment), so a client can re-apply the post-checks itself.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pool::Job;
use super::verdict::{LeanMessage, Verdict};

/// One job of a `/prove` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProveItem {
    /// Any JSON value, echoed back.
    pub id: Value,
    /// The reference statement, ending in `:= by sorry` (absent: plain file mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formal_statement: Option<String>,
    /// The trusted header (imports, options, opens); default empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A tactic body (RL mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// A whole Lean file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Also accept native_decide's axioms (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_native_decide: Option<bool>,
}

const SHAPE: &str = "expected {\"id\", \"formal_statement\", \"header\"?, \"proof\" | \"code\", \"allow_native_decide\"?} or {\"id\", \"code\"}";

impl ProveItem {
    /// The item for `job` (what the remote client sends).
    pub fn from_job(id: Value, job: &Job, allow_native_decide: bool) -> Self {
        let mut item = ProveItem {
            id,
            formal_statement: None,
            header: None,
            proof: None,
            code: None,
            allow_native_decide: Some(allow_native_decide),
        };
        match job {
            Job::Proof {
                header,
                formal_statement,
                proof,
            } => {
                item.header = Some(header.clone());
                item.formal_statement = Some(formal_statement.clone());
                item.proof = Some(proof.clone());
            }
            Job::File { text, reference } => {
                item.code = Some(text.clone());
                // a reference file travels whole as the statement, with no separate header
                item.formal_statement = reference.clone();
            }
        }
        item
    }

    /// The job this item asks for, or why it is malformed.
    pub fn job(&self) -> Result<Job, String> {
        let header = self.header.clone().unwrap_or_default();
        match (&self.formal_statement, &self.proof, &self.code) {
            (Some(st), Some(proof), None) => Ok(Job::Proof {
                header,
                formal_statement: st.clone(),
                proof: proof.clone(),
            }),
            (Some(st), None, Some(code)) => {
                let mut reference = header;
                if !reference.is_empty() && !reference.ends_with('\n') {
                    reference.push('\n');
                }
                reference.push_str(st);
                Ok(Job::File {
                    text: code.clone(),
                    reference: Some(reference),
                })
            }
            (None, None, Some(code)) if self.header.is_none() => Ok(Job::File {
                text: code.clone(),
                reference: None,
            }),
            (_, Some(_), Some(_)) => Err(format!("both \"proof\" and \"code\" given; {SHAPE}")),
            (None, Some(_), None) => Err(format!("\"proof\" needs \"formal_statement\"; {SHAPE}")),
            (None, None, Some(_)) => Err(format!(
                "\"header\" without \"formal_statement\": put the header in \"code\"; {SHAPE}"
            )),
            (_, None, None) => Err(format!("neither \"proof\" nor \"code\" given; {SHAPE}")),
        }
    }
}

/// A `/prove` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProveRequest {
    /// `{"items": [...]}`.
    Items {
        /// The jobs.
        items: Vec<ProveItem>,
    },
    /// A bare array of items.
    Bare(Vec<ProveItem>),
}

impl ProveRequest {
    /// The items.
    pub fn into_items(self) -> Vec<ProveItem> {
        match self {
            ProveRequest::Items { items } | ProveRequest::Bare(items) => items,
        }
    }
}

/// What Lean said about one theorem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTheorem {
    /// The theorem's name.
    pub name: String,
    /// Whether `#print axioms NAME` answered (the theorem is in the final environment).
    pub found: bool,
    /// The axioms it listed.
    pub axioms: Vec<String>,
}

/// One `/prove` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProveResult {
    /// The item's id.
    pub id: Value,
    /// "accepted" | "rejected" | "error".
    pub verdict: String,
    /// Why (null when accepted).
    pub reason: Option<String>,
    /// The axioms of the checked theorems, deduplicated.
    pub axioms: Vec<String>,
    /// Seconds from admission to verdict.
    pub seconds: f64,
    /// Lean's messages (positions in the user's text).
    #[serde(default)]
    pub messages: Vec<LeanMessage>,
    /// Per expected theorem, what `#print axioms` said.
    #[serde(default)]
    pub theorems: Vec<WireTheorem>,
    /// True when the error is the server's, not the job's (shutting down): send it elsewhere.
    #[serde(default)]
    pub retryable: bool,
}

impl ProveResult {
    /// The result for `verdict`.
    pub fn from_verdict(id: Value, v: &Verdict) -> Self {
        let mut axioms: Vec<String> = Vec::new();
        for t in &v.theorems {
            for a in &t.axioms {
                if !axioms.contains(a) {
                    axioms.push(a.clone());
                }
            }
        }
        ProveResult {
            id,
            verdict: v.status.label().to_string(),
            reason: v.status.reason().map(str::to_string),
            axioms,
            seconds: v.seconds,
            messages: v.messages.clone(),
            theorems: v
                .theorems
                .iter()
                .map(|t| WireTheorem {
                    name: t.name.clone(),
                    // post_check reports a missing theorem as not ok with no axioms
                    found: t.ok || !t.axioms.is_empty(),
                    axioms: t.axioms.clone(),
                })
                .collect(),
            retryable: false,
        }
    }
}

/// A `/prove` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProveResponse {
    /// One result per item, in request order.
    pub results: Vec<ProveResult>,
}
