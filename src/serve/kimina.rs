//! The request and response JSON of Kimina Lean Server 2.x as `kimina-client` 0.2.1 speaks it
//! (read from the client's `models.py`; these are our own types), and how a [`Verdict`] is
//! written in it.
//!
//! - `POST /api/check`: [`CheckRequest`] → [`CheckResponse`]; one [`ReplResult`] per snippet,
//!   with either `error` (the server could not decide: a timeout says "timed out") or
//!   `response` (what Lean said: `messages`, `sorries`).
//! - `POST /verify` (alias `/one_pass_verify_batch`): [`VerifyRequest`] → [`VerifyResponse`],
//!   the older shape (`custom_id`, `proof` or `code`, `time` inside `response`).
//!
//! What differs from Kimina (documented in the README): every snippet goes through prover's
//! checks (the file guard, the sealed channel, the post-checks). Where prover rejects a snippet
//! that Lean alone would pass (a foreign axiom, a theorem missing from the final environment,
//! a construct the guard refuses) the response carries one extra error message, `prover:
//! REASON`, so a client's "valid" (no error, no sorry) is never more lenient than prover's
//! verdict. Each result also carries `verdict` and `reason` (extra keys; the client's models
//! ignore them).
use serde::{Deserialize, Serialize};

use crate::verify::lean::soundness::is_sorry_warning;
use crate::verify::lean::{LeanMessage, Severity, Status, Verdict};

fn default_timeout() -> u64 {
    30
}

fn default_true() -> bool {
    true
}

/// One snippet of `/api/check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snippet {
    /// Identifier echoed back.
    pub id: String,
    /// A whole Lean file; its leading imports are its header.
    pub code: String,
}

/// `POST /api/check` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The snippets (non-empty, unique ids).
    pub snippets: Vec<Snippet>,
    /// Seconds per snippet (0: the server's limit).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Accepted for compatibility; no diagnostics are returned.
    #[serde(default)]
    pub debug: bool,
    /// Accepted for compatibility: header environments are always reused.
    #[serde(default = "default_true")]
    pub reuse: bool,
    /// Accepted for compatibility; info trees are not returned.
    #[serde(default)]
    pub infotree: Option<String>,
}

/// A line and column (1-based line, 0-based column, as the REPL reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pos {
    /// Line.
    pub line: u64,
    /// Column.
    pub column: u64,
}

/// A Lean message in the REPL's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// "info" | "warning" | "error".
    pub severity: String,
    /// Where it starts.
    pub pos: Pos,
    /// Where it ends (not known here).
    #[serde(rename = "endPos", skip_serializing_if = "Option::is_none")]
    pub end_pos: Option<Pos>,
    /// The text.
    pub data: String,
}

/// A `sorry` in the REPL's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sorry {
    /// Where it starts.
    pub pos: Pos,
    /// Where it ends.
    #[serde(rename = "endPos")]
    pub end_pos: Pos,
    /// The goal (not known here: empty).
    pub goal: String,
}

/// What Lean said about one snippet (the REPL's command response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResponse {
    /// Messages, positions in the snippet's own lines.
    pub messages: Vec<Message>,
    /// Sorries.
    pub sorries: Vec<Sorry>,
    /// Seconds (only in `/verify` responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
}

/// One result of `/api/check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplResult {
    /// The snippet's id.
    pub id: String,
    /// Seconds from admission to verdict.
    pub time: f64,
    /// Lean's reply or the error, and prover's verdict.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What `/api/check` and `/verify` report for one item beside its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Set when the server could not decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when Lean answered (exactly one of `error` and `response`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<CommandResponse>,
    /// prover's verdict: "accepted" | "rejected" | "error".
    pub verdict: String,
    /// Why (null when accepted).
    pub reason: Option<String>,
}

impl Outcome {
    /// The outcome of `v`; `time_in_response` puts its seconds into the response (`/verify`
    /// reports them there, `/api/check` beside the id).
    fn of(v: &Verdict, time_in_response: bool) -> Self {
        let (error, response) = match command_response(v) {
            Ok(mut r) => {
                if time_in_response {
                    r.time = Some(v.seconds);
                }
                (None, Some(r))
            }
            Err(e) => (Some(e), None),
        };
        Outcome {
            error,
            response,
            verdict: v.status.label().into(),
            reason: v.status.reason().map(str::to_string),
        }
    }
}

/// `POST /api/check` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResponse {
    /// One result per snippet, in request order.
    pub results: Vec<ReplResult>,
}

/// One code of `/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Code {
    /// Identifier echoed back (a string or a number).
    pub custom_id: serde_json::Value,
    /// The file (either this or `code`).
    #[serde(default)]
    pub proof: Option<String>,
    /// The file (older clients).
    #[serde(default)]
    pub code: Option<String>,
}

impl Code {
    /// The Lean text, or why there is none.
    pub fn text(&self) -> Result<&str, String> {
        self.proof
            .as_deref()
            .or(self.code.as_deref())
            .ok_or_else(|| format!("code {} has neither \"proof\" nor \"code\"", self.custom_id))
    }
}

fn default_verify_timeout() -> u64 {
    300
}

/// `POST /verify` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyRequest {
    /// The files.
    pub codes: Vec<Code>,
    /// Seconds per file (0: the server's limit).
    #[serde(default = "default_verify_timeout")]
    pub timeout: u64,
    /// Accepted for compatibility; info trees are not returned.
    #[serde(default)]
    pub infotree_type: Option<String>,
    /// Accepted for compatibility: the verdict cache is keyed by the exact text and is sound
    /// to reuse.
    #[serde(default)]
    pub disable_cache: bool,
}

/// One result of `/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyResult {
    /// The code's id.
    pub custom_id: serde_json::Value,
    /// Lean's reply (carrying `time`) or the error, and prover's verdict.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// `POST /verify` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyResponse {
    /// One result per code, in request order.
    pub results: Vec<VerifyResult>,
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn message(m: &LeanMessage) -> Message {
    Message {
        severity: severity(m.severity).into(),
        pos: Pos {
            line: m.line,
            column: m.column,
        },
        end_pos: None,
        data: m.text.clone(),
    }
}

/// How a verdict reads in Kimina's JSON: `Err(error string)` when the server could not decide
/// (a timeout says "timed out", which the client counts as a timeout), else Lean's messages
/// and sorries plus, when prover rejects what Lean's messages alone would pass, one error
/// message `prover: REASON` at line 1.
pub fn command_response(v: &Verdict) -> Result<CommandResponse, String> {
    let reason = match &v.status {
        Status::Error { reason } => {
            return Err(if reason.contains("did not answer within") {
                format!("Lean REPL command timed out: {reason}")
            } else {
                reason.clone()
            })
        }
        Status::Rejected { reason } => Some(reason.as_str()),
        Status::Accepted => None,
    };
    let mut messages: Vec<Message> = v.messages.iter().map(message).collect();
    let sorries: Vec<Sorry> = v
        .messages
        .iter()
        .filter(|m| is_sorry_warning(&m.text))
        .map(|m| {
            let pos = Pos {
                line: m.line,
                column: m.column,
            };
            Sorry {
                pos,
                end_pos: pos,
                goal: String::new(),
            }
        })
        .collect();
    let mut sorries = sorries;
    let lean_alone_fails =
        !sorries.is_empty() || v.messages.iter().any(|m| m.severity == Severity::Error);
    if let (Some(reason), false) = (reason, lean_alone_fails) {
        let pos = reason_position(reason).unwrap_or(Pos { line: 1, column: 0 });
        if reason.contains("`sorry` is not allowed") {
            // the guard stopped a sorry before Lean saw it: report it as Lean would, a sorry
            sorries.push(Sorry {
                pos,
                end_pos: Pos {
                    line: pos.line,
                    column: pos.column + 5,
                },
                goal: String::new(),
            });
            messages.push(Message {
                severity: "warning".into(),
                pos,
                end_pos: None,
                data: "declaration uses 'sorry'".into(),
            });
        } else {
            messages.push(Message {
                severity: "error".into(),
                pos,
                end_pos: None,
                data: format!("prover: {reason}"),
            });
        }
    }
    Ok(CommandResponse {
        messages,
        sorries,
        time: None,
    })
}

/// The last "line L, column C" a reason names (the guard's and the post-checks' wording).
fn reason_position(reason: &str) -> Option<Pos> {
    let at = reason.rfind("line ")?;
    let rest = &reason[at + 5..];
    let (line, rest) = rest.split_once(", column ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some(Pos {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

/// The `/api/check` result of one snippet.
pub fn check_result(id: &str, v: &Verdict) -> ReplResult {
    ReplResult {
        id: id.to_string(),
        time: v.seconds,
        outcome: Outcome::of(v, false),
    }
}

/// The `/verify` result of one code.
pub fn verify_result(custom_id: &serde_json::Value, v: &Verdict) -> VerifyResult {
    VerifyResult {
        custom_id: custom_id.clone(),
        outcome: Outcome::of(v, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_lean_alone_would_pass_carries_an_error_message() {
        let v = Verdict::rejected("`t` depends on disallowed axioms [\"my_axiom\"]");
        let r = command_response(&v).unwrap();
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].severity, "error");
        assert!(r.messages[0].data.starts_with("prover: "));
        let mut sorry = Verdict::rejected("Lean: declaration uses 'sorry' (line 3)");
        sorry.messages.push(LeanMessage {
            severity: Severity::Warning,
            line: 3,
            column: 8,
            text: "declaration uses 'sorry'".into(),
        });
        let r = command_response(&sorry).unwrap();
        // a sorry stays a sorry for the client (no extra error)
        assert_eq!((r.sorries.len(), r.messages.len()), (1, 1));
        let timeout =
            Verdict::error("the Lean worker failed twice: Lean did not answer within 1.0 s");
        assert!(command_response(&timeout)
            .unwrap_err()
            .contains("timed out"));
    }
}
