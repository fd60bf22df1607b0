//! [`ReplProbe`]: one REPL worker process (see [`super::worker`]) driven by hand, for
//! diagnostics and protocol tests: send a request through the typed protocol, get the raw
//! reply and how it parsed.
use std::time::{Duration, Instant};

use super::sandbox::SandboxConfig;
use super::worker::{LeanCommand, ReplWorker, WorkerLimits};

/// Low-level access to one REPL process, for diagnostics and protocol tests: send a request
/// (JSON text, parsed into the typed protocol first), get the raw reply and how it parsed.
pub struct ReplProbe {
    worker: ReplWorker,
    timeout: Duration,
}

/// One reply seen through [`ReplProbe`].
#[derive(Debug, Clone)]
pub struct ProbeReply {
    /// The reply exactly as the process wrote it, without the blank line that ended it.
    pub raw: String,
    /// `"command"`, `"proof_step"` or `"error"`: the typed shape it parsed into.
    pub kind: &'static str,
    /// True when the typed reply serializes back to the same JSON (every field is typed).
    pub round_trips: bool,
}

impl ReplProbe {
    /// Start one process.
    pub fn start(command: &LeanCommand, timeout: Duration) -> Result<Self, String> {
        let limits = WorkerLimits {
            memory_limit_bytes: None,
            max_reply_bytes: 64 << 20,
            sandbox: SandboxConfig::default(),
        };
        let worker = ReplWorker::spawn(command, &limits).map_err(|e| e.to_string())?;
        Ok(ReplProbe { worker, timeout })
    }

    /// Send `request` (JSON text; a raw newline in it is deleted as the REPL would) through
    /// the typed protocol and parse the reply.
    pub async fn request(&mut self, request: &str) -> Result<ProbeReply, String> {
        use super::protocol::{ReplRequest, ReplResponse};
        let joined: String = request.lines().map(str::trim_end).collect();
        let typed: ReplRequest = serde_json::from_str(&joined)
            .map_err(|e| format!("not a REPL request ({e}): {joined}"))?;
        let original: serde_json::Value =
            serde_json::from_str(&joined).map_err(|e| e.to_string())?;
        if serde_json::to_value(&typed).map_err(|e| e.to_string())? != original {
            return Err(format!(
                "request does not round-trip through the typed protocol: {joined}"
            ));
        }
        let raw = self
            .worker
            .request_raw(&typed.to_line(), Instant::now() + self.timeout)
            .await
            .map_err(|e| e.to_string())?;
        let parsed = ReplResponse::parse(&raw)?;
        let kind = match parsed {
            ReplResponse::Command(_) => "command",
            ReplResponse::ProofStep(_) => "proof_step",
            ReplResponse::Error(_) => "error",
        };
        let back = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
        let orig: serde_json::Value = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
        Ok(ProbeReply {
            raw,
            kind,
            round_trips: back == orig,
        })
    }

    /// Send one raw line (plus the blank line) and read the raw reply; used to show what
    /// malformed input does.
    pub async fn request_raw_line(&mut self, line: &str) -> Result<String, String> {
        self.worker
            .request_raw(line, Instant::now() + self.timeout)
            .await
            .map_err(|e| e.to_string())
    }
}
