//! Typed messages: the leanprover-community REPL's JSON requests and replies, and the few
//! LSP / JSON-RPC messages the LSP driver exchanges with `lean --server` (via `lsp-types`).
//!
//! REPL facts (from its source, `REPL/Main.lean` and `REPL/JSON.lean`): a request is one line
//! of JSON followed by a blank line; the reply is pretty-printed JSON followed by a blank line;
//! `Option` fields are omitted when absent; positions have 1-based lines and 0-based columns.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::verdict::{LeanMessage, Severity};

/// A request to the REPL. Variant order follows the REPL's own parse order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ReplRequest {
    /// `{"tactic", "proofState"}`: run a tactic on a stored proof state.
    ProofStep {
        tactic: String,
        #[serde(rename = "proofState")]
        proof_state: u64,
    },
    /// `{"pickleTo", "env"}`: save an environment to an .olean file.
    PickleEnvironment {
        #[serde(rename = "pickleTo")]
        pickle_to: String,
        env: u64,
    },
    /// `{"unpickleEnvFrom"}`: load a pickled environment.
    UnpickleEnvironment {
        #[serde(rename = "unpickleEnvFrom")]
        unpickle_env_from: String,
    },
    /// `{"pickleTo", "proofState"}`: save a proof state.
    PickleProofState {
        #[serde(rename = "pickleTo")]
        pickle_to: String,
        #[serde(rename = "proofState")]
        proof_state: u64,
    },
    /// `{"unpickleProofStateFrom", "env"?}`: load a pickled proof state.
    UnpickleProofState {
        #[serde(rename = "unpickleProofStateFrom")]
        unpickle_proof_state_from: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        env: Option<u64>,
    },
    /// `{"cmd", "env"?, ...}`: elaborate Lean source text (on top of `env` if given).
    Command(CommandRequest),
    /// `{"path", "env"?, ...}`: elaborate a file read by the REPL itself.
    File {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        env: Option<u64>,
        #[serde(
            rename = "allTactics",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        all_tactics: Option<bool>,
    },
}

/// The fields of a `cmd` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CommandRequest {
    pub cmd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<u64>,
    #[serde(
        rename = "allTactics",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub all_tactics: Option<bool>,
    #[serde(rename = "rootGoals", default, skip_serializing_if = "Option::is_none")]
    pub root_goals: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infotree: Option<String>,
}

impl ReplRequest {
    /// A plain command on top of `env`.
    pub fn command(cmd: impl Into<String>, env: Option<u64>) -> Self {
        ReplRequest::Command(CommandRequest {
            cmd: cmd.into(),
            env,
            all_tactics: None,
            root_goals: None,
            infotree: None,
        })
    }

    /// The request as the single JSON line the REPL expects (serde escapes every newline, so
    /// the line never contains a raw newline, which the REPL would delete).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("REPL requests always serialize")
    }
}

/// A REPL position: 1-based line, 0-based column (the REPL reports line 0 for tactic-mode
/// messages that have no source position).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pos {
    pub line: u64,
    pub column: u64,
}

/// Message severity as the REPL prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReplSeverity {
    Error,
    Warning,
    #[serde(alias = "information")]
    Info,
}

/// One message Lean logged while elaborating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplMessage {
    pub severity: ReplSeverity,
    pub pos: Pos,
    #[serde(rename = "endPos", default, skip_serializing_if = "Option::is_none")]
    pub end_pos: Option<Pos>,
    pub data: String,
}

/// A `sorry` the REPL found, with the proof state it opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplSorry {
    #[serde(
        rename = "proofState",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub proof_state: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos: Option<Pos>,
    pub goal: String,
    #[serde(rename = "endPos", default, skip_serializing_if = "Option::is_none")]
    pub end_pos: Option<Pos>,
}

/// One tactic (with `allTactics: true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplTactic {
    #[serde(
        rename = "usedConstants",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub used_constants: Option<Vec<String>>,
    pub tactic: String,
    #[serde(rename = "proofState")]
    pub proof_state: u64,
    pub pos: Pos,
    pub goals: String,
    #[serde(rename = "endPos")]
    pub end_pos: Pos,
}

/// Reply to a `cmd` / `path` request (and to environment pickling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CommandResponse {
    pub env: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ReplMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorries: Vec<ReplSorry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tactics: Vec<ReplTactic>,
    /// Info trees are kept as raw JSON: we never interpret them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infotree: Option<Value>,
}

/// Reply to a tactic / proof-state request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProofStepResponse {
    #[serde(rename = "proofState")]
    pub proof_state: u64,
    pub goals: Vec<String>,
    #[serde(
        rename = "proofStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub proof_status: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ReplMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorries: Vec<ReplSorry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<String>,
}

/// `{"message": "..."}`: the REPL could not run the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplError {
    pub message: String,
}

/// Any REPL reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ReplResponse {
    ProofStep(ProofStepResponse),
    Command(CommandResponse),
    Error(ReplError),
}

impl ReplResponse {
    /// Parse one reply (the text between blank lines).
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("REPL reply is not JSON ({e}): {}", preview(text)))?;
        serde_json::from_value(value)
            .map_err(|e| format!("REPL reply has an unknown shape ({e}): {}", preview(text)))
    }
}

/// First 200 characters of a text, for error messages.
pub(crate) fn preview(text: &str) -> String {
    let mut s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

// ---------------------------------------------------------------------------------------------
// LSP (JSON-RPC 2.0) messages for `lean --server`.

/// One JSON-RPC message: a request (id + method), a notification (method) or a response (id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RpcMessage {
    pub jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl RpcMessage {
    /// A request with an id.
    pub fn request(id: i64, method: &str, params: Value) -> Self {
        RpcMessage {
            jsonrpc: "2.0".into(),
            id: Some(Value::from(id)),
            method: Some(method.into()),
            params: Some(params),
            result: None,
            error: None,
        }
    }
    /// A notification (no id).
    pub fn notification(method: &str, params: Value) -> Self {
        RpcMessage {
            jsonrpc: "2.0".into(),
            id: None,
            method: Some(method.into()),
            params: Some(params),
            result: None,
            error: None,
        }
    }
    /// A response to a request of the peer.
    pub fn response(id: Value, result: Value) -> Self {
        RpcMessage {
            jsonrpc: "2.0".into(),
            id: Some(id),
            method: None,
            params: None,
            result: Some(result),
            error: None,
        }
    }
}

/// Lean's `$/lean/fileProgress` notification: the ranges still being elaborated; an empty
/// `processing` list means the file is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeanFileProgressParams {
    #[serde(rename = "textDocument")]
    pub text_document: lsp_types::VersionedTextDocumentIdentifier,
    pub processing: Vec<LeanFileProgressProcessingInfo>,
}

/// One range Lean is still processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeanFileProgressProcessingInfo {
    pub range: lsp_types::Range,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<u32>,
}

/// Method name of Lean's progress notification.
pub(crate) const FILE_PROGRESS: &str = "$/lean/fileProgress";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_has_no_raw_newline_and_round_trips() {
        let r = ReplRequest::command("theorem t : 1 = 1 := by\n  rfl", Some(3));
        let line = r.to_line();
        assert!(!line.contains('\n'));
        assert_eq!(line, r#"{"cmd":"theorem t : 1 = 1 := by\n  rfl","env":3}"#);
        let back: ReplRequest = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn untagged_requests_pick_the_right_variant() {
        let p: ReplRequest = serde_json::from_str(r#"{"pickleTo": "a.olean", "env": 0}"#).unwrap();
        assert!(matches!(p, ReplRequest::PickleEnvironment { .. }));
        let p: ReplRequest =
            serde_json::from_str(r#"{"pickleTo": "a.olean", "proofState": 0}"#).unwrap();
        assert!(matches!(p, ReplRequest::PickleProofState { .. }));
        let p: ReplRequest = serde_json::from_str(r#"{"tactic": "rfl", "proofState": 2}"#).unwrap();
        assert!(matches!(p, ReplRequest::ProofStep { .. }));
    }

    #[test]
    fn replies_parse_by_shape() {
        assert!(matches!(
            ReplResponse::parse(r#"{"env": 0}"#).unwrap(),
            ReplResponse::Command(_)
        ));
        assert!(matches!(
            ReplResponse::parse(r#"{"message": "Unknown environment."}"#).unwrap(),
            ReplResponse::Error(_)
        ));
        assert!(ReplResponse::parse("garbage").is_err());
        assert!(ReplResponse::parse(r#"{"what": 1}"#).is_err());
    }
}

/// What Lean said about one job, in driver-independent form (the REPL and LSP drivers both
/// produce it; [`super::post_check`] decides from it).
#[derive(Debug, Clone, Default)]
pub(crate) struct LeanOutput {
    /// Messages about the checked text (lines relative to the body).
    pub messages: Vec<LeanMessage>,
    /// Number of `sorry`s the REPL reported.
    pub sorries: usize,
    /// For each theorem, the messages of its `#print axioms` command.
    pub axiom_messages: Vec<(String, Vec<LeanMessage>)>,
}

impl LeanOutput {
    /// The output of one job from the REPL's reply to the checked body and, per theorem, its
    /// reply to `#print axioms NAME` (an error reply becomes one error message). Any other
    /// kind of axioms reply is an error naming it.
    pub(crate) fn from_replies(
        body: &CommandResponse,
        axiom_replies: Vec<(String, ReplResponse)>,
    ) -> Result<Self, String> {
        let mut out = LeanOutput {
            messages: body.messages.iter().map(ReplMessage::to_message).collect(),
            sorries: body.sorries.len(),
            axiom_messages: Vec::with_capacity(axiom_replies.len()),
        };
        for (name, reply) in axiom_replies {
            let msgs = match reply {
                ReplResponse::Command(a) => {
                    a.messages.iter().map(ReplMessage::to_message).collect()
                }
                ReplResponse::Error(e) => vec![LeanMessage {
                    severity: Severity::Error,
                    line: 0,
                    column: 0,
                    text: e.message,
                }],
                other => return Err(format!("unexpected reply to #print axioms: {other:?}")),
            };
            out.axiom_messages.push((name, msgs));
        }
        Ok(out)
    }
}

impl ReplMessage {
    /// The message in the verdict's form.
    pub(crate) fn to_message(&self) -> LeanMessage {
        LeanMessage {
            severity: match self.severity {
                ReplSeverity::Error => Severity::Error,
                ReplSeverity::Warning => Severity::Warning,
                ReplSeverity::Info => Severity::Info,
            },
            line: self.pos.line,
            column: self.pos.column,
            text: self.data.clone(),
        }
    }
}
