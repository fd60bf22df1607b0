//! Batch checking for the RL path: JSONL in, JSONL out (`prover verify FILE.jsonl --lean`).
//!
//! Input, one object per line:
//! - `{"id", "formal_statement", "header"?, "proof"}`: `proof` is a tactic body, spliced after
//!   the statement's `:= by` exactly as the trainer and `prover eval minif2f` do
//!   ([`Job::Proof`]: `assemble` + the static guard);
//! - `{"id", "formal_statement", "header"?, "code"}`: `code` is a whole Lean file, checked like
//!   `prover verify FILE.lean --against` a reference made of `header` + `formal_statement`
//!   ([`Job::File`]).
//!
//! `header` defaults to the empty string (no imports). `id` is any JSON value, echoed back.
//! Exactly one of `proof` and `code`; unknown fields are refused (a typo must not pass
//! silently). Blank lines are skipped.
//!
//! Output, one object per input line, in input order:
//! `{"id", "verdict": "accepted"|"rejected"|"error", "reason", "axioms", "seconds"}`, where
//! `axioms` lists the axioms of the checked theorems (empty unless Lean ran) and `reason` is
//! null for accepted proofs. A malformed line gets an `error` record whose reason names the
//! file and line, and the run goes on.
//!
//! Exit status ([`BatchSummary::exit_code`]): 2 if any line is an error (a verifier error or a
//! malformed line), else 1 if any is rejected, else 0.
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

use super::pool::Job;
use super::verdict::{Status, Verdict};
use super::verifier::LeanVerifier;

/// One input line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchEntry {
    /// 1-based line number in the input file.
    pub line: usize,
    /// The line's `id` (null when the line has none or could not be parsed).
    pub id: Value,
    /// The job, or why the line is malformed (`FILE:LINE: …`).
    pub job: Result<Job, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: Value,
    formal_statement: String,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    proof: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

const SHAPE: &str = "expected {\"id\", \"formal_statement\", \"header\"?, \"proof\"} or {\"id\", \"formal_statement\", \"header\"?, \"code\"}";

/// Parse one line (`file` and `line` only name it in errors).
pub fn parse_line(text: &str, file: &Path, line: usize) -> BatchEntry {
    let at = |msg: String| format!("{}:{line}: {msg}", file.display());
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return BatchEntry {
                line,
                id: Value::Null,
                job: Err(at(format!("not JSON ({e}); {SHAPE}"))),
            }
        }
    };
    let mut id = value.get("id").cloned().unwrap_or(Value::Null);
    let job = match serde_json::from_value::<Line>(value) {
        Err(e) => Err(at(format!("{e}; {SHAPE}"))),
        Ok(l) => {
            id = l.id;
            let header = l.header.unwrap_or_default();
            match (l.proof, l.code) {
                (Some(proof), None) => Ok(Job::Proof {
                    header,
                    formal_statement: l.formal_statement,
                    proof,
                }),
                (None, Some(code)) => {
                    let mut reference = header;
                    if !reference.is_empty() && !reference.ends_with('\n') {
                        reference.push('\n');
                    }
                    reference.push_str(&l.formal_statement);
                    Ok(Job::File {
                        text: code,
                        reference: Some(reference),
                    })
                }
                (Some(_), Some(_)) => Err(at(format!(
                    "both \"proof\" and \"code\" given; give one. {SHAPE}"
                ))),
                (None, None) => Err(at(format!("neither \"proof\" nor \"code\" given. {SHAPE}"))),
            }
        }
    };
    BatchEntry { line, id, job }
}

/// Parse a whole JSONL text (blank lines skipped).
pub fn parse_batch(text: &str, file: &Path) -> Vec<BatchEntry> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l, file, i + 1))
        .collect()
}

/// The output record of one checked line.
pub fn record(id: &Value, v: &Verdict) -> Value {
    let mut axioms: Vec<&str> = Vec::new();
    for t in &v.theorems {
        for a in &t.axioms {
            if !axioms.contains(&a.as_str()) {
                axioms.push(a);
            }
        }
    }
    json!({
        "id": id,
        "verdict": v.status.label(),
        "reason": v.status.reason(),
        "axioms": axioms,
        "seconds": v.seconds,
    })
}

/// Counts over a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Accepted lines.
    pub accepted: usize,
    /// Rejected lines.
    pub rejected: usize,
    /// Verifier errors (not counting malformed lines).
    pub errors: usize,
    /// Malformed input lines.
    pub malformed: usize,
}

impl BatchSummary {
    /// 2 if anything is an error or malformed, else 1 if anything is rejected, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 || self.malformed > 0 {
            2
        } else if self.rejected > 0 {
            1
        } else {
            0
        }
    }
}

/// Check every entry on `pool` (all submitted at once; the pool's queue applies backpressure)
/// and hand each output record to `emit` in input order, as soon as it and all before it are
/// done. Malformed entries are emitted as `error` records and also passed to `malformed`.
pub async fn run_batch(
    pool: &LeanVerifier,
    entries: Vec<BatchEntry>,
    mut emit: impl FnMut(Value),
    mut malformed: impl FnMut(&str),
) -> BatchSummary {
    let mut summary = BatchSummary::default();
    let mut pending = Vec::with_capacity(entries.len());
    for e in entries {
        match e.job {
            Ok(job) => {
                let p = pool.clone();
                pending.push((e.id, Ok(tokio::spawn(async move { p.verify(job).await }))));
            }
            Err(why) => pending.push((e.id, Err(why))),
        }
    }
    for (id, p) in pending {
        match p {
            Ok(handle) => {
                let v = match handle.await {
                    Ok(v) => v,
                    Err(e) => Verdict::error(format!("verification task failed: {e}")),
                };
                match v.status {
                    Status::Accepted => summary.accepted += 1,
                    Status::Rejected { .. } => summary.rejected += 1,
                    Status::Error { .. } => summary.errors += 1,
                }
                emit(record(&id, &v));
            }
            Err(why) => {
                summary.malformed += 1;
                malformed(&why);
                emit(json!({
                    "id": id,
                    "verdict": "error",
                    "reason": why,
                    "axioms": [],
                    "seconds": 0.0,
                }));
            }
        }
    }
    summary
}

/// Every entry as an `error` record with `reason` (Lean could not be started), malformed
/// lines with their own reason.
pub fn fail_all(
    entries: Vec<BatchEntry>,
    reason: &str,
    mut emit: impl FnMut(Value),
    mut malformed: impl FnMut(&str),
) -> BatchSummary {
    let mut summary = BatchSummary::default();
    for e in entries {
        let why = match &e.job {
            Ok(_) => {
                summary.errors += 1;
                reason.to_string()
            }
            Err(why) => {
                summary.malformed += 1;
                malformed(why);
                why.clone()
            }
        };
        emit(json!({"id": e.id, "verdict": "error", "reason": why, "axioms": [], "seconds": 0.0}));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_jobs_or_located_errors() {
        let f = Path::new("in.jsonl");
        let text = concat!(
            "{\"id\": 1, \"formal_statement\": \"theorem t : True := by sorry\", \"proof\": \"trivial\"}\n",
            "\n",
            "{\"id\": \"b\", \"header\": \"import Mathlib\", \"formal_statement\": \"theorem t : True := by sorry\", \"code\": \"theorem t : True := trivial\"}\n",
            "{\"id\": 3, \"formal_statement\": \"x\", \"proof\": \"p\", \"code\": \"c\"}\n",
            "{\"id\": 4, \"formal_statement\": \"x\"}\n",
            "{\"id\": 5, \"formal_statement\": \"x\", \"prof\": \"typo\"}\n",
            "not json\n",
            "{\"formal_statement\": \"x\", \"proof\": \"p\"}\n",
        );
        let e = parse_batch(text, f);
        assert_eq!(e.len(), 7);
        assert_eq!(
            e[0].job,
            Ok(Job::Proof {
                header: String::new(),
                formal_statement: "theorem t : True := by sorry".into(),
                proof: "trivial".into()
            })
        );
        assert_eq!(e[1].line, 3);
        assert_eq!(e[1].id, json!("b"));
        assert_eq!(
            e[1].job,
            Ok(Job::File {
                text: "theorem t : True := trivial".into(),
                reference: Some("import Mathlib\ntheorem t : True := by sorry".into())
            })
        );
        let errs: Vec<&str> = e[2..]
            .iter()
            .map(|x| x.job.as_ref().unwrap_err().as_str())
            .collect();
        assert!(errs[0].starts_with("in.jsonl:4: both"), "{}", errs[0]);
        assert!(errs[1].starts_with("in.jsonl:5: neither"), "{}", errs[1]);
        assert!(
            errs[2].starts_with("in.jsonl:6:") && errs[2].contains("prof"),
            "{}",
            errs[2]
        );
        assert!(errs[3].starts_with("in.jsonl:7: not JSON"), "{}", errs[3]);
        assert!(
            errs[4].starts_with("in.jsonl:8:") && errs[4].contains("id"),
            "{}",
            errs[4]
        );
        assert_eq!(e[2].id, json!(3));
    }

    #[test]
    fn exit_code_ranks_errors_over_rejections() {
        let s = |a, r, e, m| BatchSummary {
            accepted: a,
            rejected: r,
            errors: e,
            malformed: m,
        };
        assert_eq!(s(3, 0, 0, 0).exit_code(), 0);
        assert_eq!(s(0, 0, 0, 0).exit_code(), 0);
        assert_eq!(s(3, 1, 0, 0).exit_code(), 1);
        assert_eq!(s(3, 1, 1, 0).exit_code(), 2);
        assert_eq!(s(3, 0, 0, 1).exit_code(), 2);
    }
}
