//! The LSP driver: check one whole file with `lake env lean --server` over stdio.
//!
//! initialize → initialized → didOpen (version one: the file plus one `#print axioms NAME`
//! line per theorem) → `textDocument/waitForDiagnostics` (answered once the file is
//! elaborated) → didChange (version two: the same text plus a `#check (NONCE : Nat)` sentinel
//! line) → waitForDiagnostics, collecting `textDocument/publishDiagnostics` meanwhile (sealing:
//! see [`lsp_session`]). Diagnostics on the appended `#print axioms` lines are the axiom
//! reports (matched by position, so a `trace` message in the user's file cannot fake one); all
//! others are the file's messages. Only information-severity messages there count as axiom
//! reports, so an error reported on such a line (e.g. the parse error of an unfinished last
//! declaration) still rejects.
//!
//! The file URI is absolute and percent-escaped ([`file_uri`]); stderr is drained; the process
//! group's private memory is watched against `rss_limit_bytes` (see `memory`).
use std::path::Path;
use std::time::{Duration, Instant};

use lsp_types::{
    ClientCapabilities, DiagnosticSeverity, DidOpenTextDocumentParams, InitializeParams,
    PublishDiagnosticsParams, TextDocumentItem, Uri,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncWrite, BufReader};

use super::memory;
use super::pool::LeanCommand;
use super::protocol::{preview, LeanFileProgressParams, RpcMessage, FILE_PROGRESS};
use super::sandbox::SandboxConfig;
use super::soundness::{post_check, Assembled, AxiomPolicy, LeanOutput};
use super::stderr_tail::StderrTail;
use super::transport::LspChannel;
use super::verdict::{LeanMessage, Severity, Verdict};
use super::worker::{kill_group, spawn_in_group, WorkerLimits};

/// The text sent to Lean: the file plus one `#print axioms` line per theorem, and the 0-based
/// line of each of those.
pub(crate) fn with_axiom_queries(a: &Assembled) -> (String, Vec<(String, u32)>) {
    let mut text = a.file_text();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    let mut lines = Vec::new();
    for name in &a.theorems {
        let line = text.matches('\n').count() as u32;
        text.push_str(&format!("#print axioms {name}\n"));
        lines.push((name.clone(), line));
    }
    (text, lines)
}

/// Which `#print axioms` query a diagnostic answers, if any: only an information-severity
/// message that starts on a query's line. Anything else on that line (an error, e.g. a parse
/// error of an unfinished last declaration that Lean reports at the next token, which is the
/// appended `#print`) stays a file message, so the no-error check sees it.
fn axiom_query_of(d: &lsp_types::Diagnostic, queries: &[(String, u32)]) -> Option<usize> {
    if d.severity != Some(DiagnosticSeverity::INFORMATION) {
        return None;
    }
    queries.iter().position(|(_, l)| *l == d.range.start.line)
}

/// The `file://` URI of `ProverCheck.lean` in the Lake project `dir`. The directory is
/// canonicalised first (a relative `lean` would give `file://lean/...`: host `lean`, path
/// `/...`), then the URI is built by the `url` crate, which percent-escapes spaces and other
/// reserved characters.
pub(crate) fn file_uri(dir: &Path) -> Result<String, String> {
    let abs = dir.canonicalize().map_err(|e| {
        format!(
            "cannot resolve the Lean project directory {} ({e}): pass an existing Lake project with --lean-project",
            dir.display()
        )
    })?;
    url::Url::from_file_path(abs.join("ProverCheck.lean"))
        .map(|u| u.to_string())
        .map_err(|()| format!("cannot build a file URI for {}", abs.display()))
}

fn to_message(d: &lsp_types::Diagnostic) -> LeanMessage {
    let severity = match d.severity {
        Some(DiagnosticSeverity::WARNING) => Severity::Warning,
        Some(DiagnosticSeverity::INFORMATION) | Some(DiagnosticSeverity::HINT) => Severity::Info,
        _ => Severity::Error,
    };
    LeanMessage {
        severity,
        line: d.range.start.line as u64 + 1,
        column: d.range.start.character as u64,
        text: d.message.clone(),
    }
}

/// A request with a string id (ids carry the session's nonce, so a forged response cannot
/// name a request it never saw).
fn request_with_id(id: &str, method: &str, params: Value) -> RpcMessage {
    let mut m = RpcMessage::request(0, method, params);
    m.id = Some(Value::String(id.to_string()));
    m
}

/// What the driver waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The `initialize` response.
    Init,
    /// `waitForDiagnostics` on version 1 (the file as given).
    File,
    /// `waitForDiagnostics` on version 2 (the file plus the sentinel line).
    Sealed,
}

/// Whether the diagnostics of version 2 carry exactly the sentinel's report on its line (and
/// nothing else at or after that line).
fn check_lsp_sentinel(
    diagnostics: &[lsp_types::Diagnostic],
    sentinel_line: u32,
    nonce: u128,
) -> Result<(), String> {
    let nonce_text = nonce.to_string();
    let at_or_after: Vec<&lsp_types::Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.range.start.line >= sentinel_line)
        .collect();
    match at_or_after.as_slice() {
        [d] if d.range.start.line == sentinel_line
            && d.severity == Some(DiagnosticSeverity::INFORMATION)
            && d.message.contains(&nonce_text) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "channel anomaly: the sentinel line {} did not get exactly its report `{nonce_text} : Nat` (got {} diagnostics there); \
             the file may leave a comment or block open at its end",
            sentinel_line + 1,
            at_or_after.len()
        )),
    }
}

/// Run the LSP conversation on an open channel; returns Lean's output for the post-checks.
///
/// Sealing (a forged message printed by code inside Lean must not become the verdict):
/// request ids carry a fresh random nonce, and a response to an id we did not send (or a second
/// one) ends the session with an error; `publishDiagnostics` must name a document version we
/// have sent (Lean always sets it: `mkPublishDiagnosticsNotification` in Lean's
/// `Server/Utils.lean`, read, not run here). Once version 1 (the file) is elaborated, version 2
/// appends `#check (NONCE : Nat)` (a nonce that code in the file never saw); the verdict is
/// taken from the last diagnostics of version 2, which must report exactly `NONCE : Nat` on
/// that line.
pub(crate) async fn lsp_session<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin>(
    chan: &mut LspChannel<R, W>,
    uri: &str,
    text: &str,
    queries: &[(String, u32)],
) -> Result<LeanOutput, String> {
    let send = |m: RpcMessage| serde_json::to_string(&m).expect("serializable");
    let nonce: u128 = rand::random();
    let id_init = format!("prover-init-{nonce:x}");
    let id_wait_file = format!("prover-wait-1-{nonce:x}");
    let id_wait_sealed = format!("prover-wait-2-{nonce:x}");
    let mut sealed_text = text.to_string();
    if !sealed_text.ends_with('\n') {
        sealed_text.push('\n');
    }
    let sentinel_line = sealed_text.matches('\n').count() as u32;
    sealed_text.push_str(&format!("{}\n", super::worker::sentinel_command(nonce)));
    #[allow(deprecated)]
    let init = InitializeParams {
        process_id: Some(std::process::id()),
        capabilities: ClientCapabilities::default(),
        ..Default::default()
    };
    chan.send(&send(request_with_id(
        &id_init,
        "initialize",
        serde_json::to_value(init).unwrap(),
    )))
    .await
    .map_err(|e| e.to_string())?;
    let uri_t: Uri = uri.parse().map_err(|e| format!("bad uri {uri}: {e:?}"))?;
    let mut phase = Phase::Init;
    let mut sent_version = 0;
    let mut diagnostics: Vec<lsp_types::Diagnostic> = Vec::new();
    loop {
        let raw = chan.recv().await.map_err(|e| e.to_string())?;
        let m: RpcMessage =
            serde_json::from_str(&raw).map_err(|e| format!("bad LSP message ({e}): {raw}"))?;
        match (&m.id, &m.method) {
            (Some(id), None) => {
                if let Some(err) = &m.error {
                    return Err(format!("Lean server error: {err}"));
                }
                let expected = match phase {
                    Phase::Init => &id_init,
                    Phase::File => &id_wait_file,
                    Phase::Sealed => &id_wait_sealed,
                };
                if id.as_str() != Some(expected.as_str()) {
                    return Err(format!(
                        "channel anomaly: a response to a request not waited for (id {id}) while waiting for {phase:?}"
                    ));
                }
                match phase {
                    Phase::Init => {
                        chan.send(&send(RpcMessage::notification("initialized", json!({}))))
                            .await
                            .map_err(|e| e.to_string())?;
                        let open = DidOpenTextDocumentParams {
                            text_document: TextDocumentItem {
                                uri: uri_t.clone(),
                                language_id: "lean4".into(),
                                version: 1,
                                text: text.to_string(),
                            },
                        };
                        chan.send(&send(RpcMessage::notification(
                            "textDocument/didOpen",
                            serde_json::to_value(open).unwrap(),
                        )))
                        .await
                        .map_err(|e| e.to_string())?;
                        sent_version = 1;
                        chan.send(&send(request_with_id(
                            &id_wait_file,
                            "textDocument/waitForDiagnostics",
                            json!({"uri": uri, "version": 1}),
                        )))
                        .await
                        .map_err(|e| e.to_string())?;
                        phase = Phase::File;
                    }
                    Phase::File => {
                        chan.send(&send(RpcMessage::notification(
                            "textDocument/didChange",
                            json!({"textDocument": {"uri": uri, "version": 2},
                                   "contentChanges": [{"text": sealed_text}]}),
                        )))
                        .await
                        .map_err(|e| e.to_string())?;
                        sent_version = 2;
                        chan.send(&send(request_with_id(
                            &id_wait_sealed,
                            "textDocument/waitForDiagnostics",
                            json!({"uri": uri, "version": 2}),
                        )))
                        .await
                        .map_err(|e| e.to_string())?;
                        phase = Phase::Sealed;
                    }
                    Phase::Sealed => break,
                }
            }
            (Some(id), Some(_method)) => {
                // a request from the server (e.g. registerCapability): acknowledge it
                chan.send(&send(RpcMessage::response(id.clone(), Value::Null)))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            (None, Some(method)) if method == "textDocument/publishDiagnostics" => {
                let p: PublishDiagnosticsParams =
                    serde_json::from_value(m.params.unwrap_or(Value::Null))
                        .map_err(|e| format!("bad publishDiagnostics: {e}"))?;
                if p.uri == uri_t {
                    match p.version {
                        Some(v) if (1..=sent_version).contains(&v) => {
                            if v == 2 {
                                diagnostics = p.diagnostics;
                            }
                        }
                        other => {
                            return Err(format!(
                                "channel anomaly: diagnostics for document version {other:?}, but version {sent_version} is the latest sent"
                            ))
                        }
                    }
                }
            }
            (None, Some(method)) if method == FILE_PROGRESS => {
                if let Ok(p) = serde_json::from_value::<LeanFileProgressParams>(
                    m.params.unwrap_or(Value::Null),
                ) {
                    if p.text_document.uri == uri_t && p.processing.is_empty() {
                        tracing::debug!(
                            "Lean finished elaborating version {}",
                            p.text_document.version
                        );
                    }
                }
            }
            _ => {}
        }
    }
    check_lsp_sentinel(&diagnostics, sentinel_line, nonce)?;
    let _ = chan
        .send(&send(request_with_id(
            &format!("prover-shutdown-{nonce:x}"),
            "shutdown",
            Value::Null,
        )))
        .await;
    let _ = chan
        .send(&send(RpcMessage::notification("exit", Value::Null)))
        .await;
    let mut out = LeanOutput::default();
    for (name, _) in queries {
        out.axiom_messages.push((name.clone(), Vec::new()));
    }
    for d in diagnostics
        .iter()
        .filter(|d| d.range.start.line < sentinel_line)
    {
        match axiom_query_of(d, queries) {
            Some(k) => out.axiom_messages[k].1.push(to_message(d)),
            None => out.messages.push(to_message(d)),
        }
    }
    Ok(out)
}

/// Check a whole file (already planned by [`super::soundness::plan_file`]) with
/// `lean --server`, started by `command` (e.g. `lake env lean --server` in the Lake project).
pub async fn verify_file_lsp(
    command: &LeanCommand,
    file: &Assembled,
    policy: AxiomPolicy,
    timeout: Duration,
    memory_limit_bytes: Option<u64>,
    rss_limit_bytes: Option<u64>,
) -> Verdict {
    let started = Instant::now();
    let dir = command
        .cwd
        .clone()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let uri = match file_uri(&dir) {
        Ok(u) => u,
        Err(e) => return Verdict::error(e),
    };
    let limits = WorkerLimits {
        memory_limit_bytes,
        max_reply_bytes: 256 << 20,
        sandbox: SandboxConfig::from_env(),
    };
    let (mut child, _sandbox_dir) = match spawn_in_group(command, &limits) {
        Ok(c) => c,
        Err(e) => return Verdict::error(e.to_string()),
    };
    let pgid = child.id().unwrap_or(0) as i32;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    // Lean's file workers write panics and traces to stderr: drain it, or Lean blocks once
    // the pipe is full
    let stderr = match child.stderr.take() {
        Some(e) => StderrTail::drain(e),
        None => StderrTail::default(),
    };
    let mut chan = LspChannel::new(BufReader::new(stdout), stdin, 256 << 20);
    let (text, queries) = with_axiom_queries(file);
    let session = tokio::time::timeout(timeout, lsp_session(&mut chan, &uri, &text, &queries));
    let res = match rss_limit_bytes {
        None => Ok(session.await),
        Some(limit) => tokio::select! {
            r = session => Ok(r),
            m = memory::exceeds(pgid, limit, memory::POLL_EVERY) => Err(m),
        },
    };
    kill_group(pgid);
    let _ = child.start_kill();
    let note = || {
        let t = stderr.text();
        if t.is_empty() {
            String::new()
        } else {
            format!(
                " (stderr, {} bytes, ends: {})",
                stderr.total_bytes(),
                preview(&t)
            )
        }
    };
    let mut v = match res {
        Err(m) => Verdict::error(format!(
            "Lean server used {} of private memory over {} process(es), above the limit of {} (process group killed)",
            memory::gib(m.private_bytes),
            m.processes,
            memory::gib(rss_limit_bytes.unwrap_or(0))
        )),
        Ok(Err(_)) => Verdict::error(format!(
            "Lean server did not finish within {:.0} s{}",
            timeout.as_secs_f64(),
            note()
        )),
        Ok(Ok(Err(e))) => Verdict::error(format!("LSP session failed: {e}{}", note())),
        Ok(Ok(Ok(out))) => {
            let (status, theorems) = post_check(&out, &file.theorems, policy);
            Verdict {
                status,
                messages: out.messages,
                theorems,
                seconds: 0.0,
                cached: false,
            }
        }
    };
    v.seconds = started.elapsed().as_secs_f64();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::lean::soundness::plan_file;
    use crate::verify::lean::transport::memory_pair;
    use crate::verify::lean::verdict::Status;

    /// How the fake server misbehaves (as code inside Lean printing to stdout could make it).
    #[derive(Clone, Copy, PartialEq)]
    enum Fake {
        Honest,
        /// answers the first waitForDiagnostics at once with a guessed integer id
        ForgedWaitResponse,
        /// publishes clean diagnostics for version 2 before version 2 was sent
        FutureVersion,
        /// publishes diagnostics without a version
        NoVersion,
        /// reports another number on the sentinel line
        WrongSentinel,
    }

    async fn send_json<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin>(
        chan: &mut LspChannel<R, W>,
        m: RpcMessage,
    ) {
        chan.send(&serde_json::to_string(&m).unwrap())
            .await
            .unwrap()
    }

    /// Diagnostics the fake Lean gives `text`: a faked axiom report inside the file, the sorry
    /// warning if any, real-looking axiom reports on the `#print axioms` lines, and the
    /// `#check (N : Nat)` reports.
    fn diagnostics_for(text: &str, axioms: &str, fake: Fake) -> Vec<Value> {
        let mut diags = vec![
            json!({"range": {"start": {"line": 2, "character": 2}, "end": {"line": 2, "character": 9}},
            "severity": 3, "message": "'t' does not depend on any axioms"}),
        ];
        if text.contains("SORRYISH") {
            diags.push(json!({"range": {"start": {"line": 1, "character": 8}, "end": {"line": 1, "character": 9}},
                "severity": 2, "message": "declaration uses 'sorry'"}));
        }
        let mut unfinished = text.contains("UNFINISHED_DECL");
        for (i, l) in text.lines().enumerate() {
            let at = |msg: String| json!({"range": {"start": {"line": i, "character": 0}, "end": {"line": i, "character": 6}}, "severity": 3, "message": msg});
            if let Some(name) = l.strip_prefix("#print axioms ") {
                if std::mem::take(&mut unfinished) {
                    // Lean's parse error for an unfinished last declaration, at the next
                    // token: the appended `#print`
                    diags.push(json!({"range": {"start": {"line": i, "character": 0}, "end": {"line": i, "character": 6}},
                        "severity": 1, "message": "unexpected token '#print'; expected term"}));
                }
                diags.push(at(format!("'{name}' depends on axioms: [{axioms}]")));
            }
            if let Some(n) = l
                .strip_prefix("#check (")
                .and_then(|r| r.strip_suffix(" : Nat)"))
            {
                let n = if fake == Fake::WrongSentinel {
                    "12345"
                } else {
                    n
                };
                diags.push(at(format!("{n} : Nat")));
            }
        }
        diags
    }

    /// A fake `lean --server`: answers initialize, publishes diagnostics for each version it
    /// is given (didOpen, didChange with the full text), reports progress, answers
    /// waitForDiagnostics; misbehaves as `fake` says.
    async fn fake_server<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin>(
        mut chan: LspChannel<R, W>,
        axioms: &'static str,
        fake: Fake,
    ) {
        loop {
            let Ok(raw) = chan.recv().await else { return };
            let m: RpcMessage = serde_json::from_str(&raw).unwrap();
            match m.method.as_deref() {
                Some("initialize") => {
                    send_json(
                        &mut chan,
                        RpcMessage::response(m.id.unwrap(), json!({"capabilities": {}})),
                    )
                    .await;
                    // a server-to-client request the client must answer
                    send_json(
                        &mut chan,
                        RpcMessage::request(
                            99,
                            "client/registerCapability",
                            json!({"registrations": []}),
                        ),
                    )
                    .await;
                }
                Some(method @ ("textDocument/didOpen" | "textDocument/didChange")) => {
                    let p = m.params.unwrap();
                    let text = if method == "textDocument/didOpen" {
                        p["textDocument"]["text"].as_str().unwrap().to_string()
                    } else {
                        p["contentChanges"][0]["text"].as_str().unwrap().to_string()
                    };
                    let uri = p["textDocument"]["uri"].clone();
                    let version = p["textDocument"]["version"].as_i64().unwrap();
                    if version == 1 {
                        match fake {
                            Fake::ForgedWaitResponse => {
                                for id in [2, 3] {
                                    send_json(
                                        &mut chan,
                                        RpcMessage::response(json!(id), json!({})),
                                    )
                                    .await;
                                }
                            }
                            Fake::FutureVersion => {
                                send_json(
                                    &mut chan,
                                    RpcMessage::notification(
                                        "textDocument/publishDiagnostics",
                                        json!({"uri": uri, "version": 2, "diagnostics": []}),
                                    ),
                                )
                                .await;
                            }
                            _ => {}
                        }
                    }
                    let mut params = json!({"uri": uri, "version": version,
                        "diagnostics": diagnostics_for(&text, axioms, fake)});
                    if fake == Fake::NoVersion {
                        params.as_object_mut().unwrap().remove("version");
                    }
                    send_json(
                        &mut chan,
                        RpcMessage::notification("textDocument/publishDiagnostics", params),
                    )
                    .await;
                    send_json(
                        &mut chan,
                        RpcMessage::notification(
                            FILE_PROGRESS,
                            json!({"textDocument": {"uri": uri, "version": version}, "processing": []}),
                        ),
                    )
                    .await;
                }
                Some("textDocument/waitForDiagnostics") => {
                    send_json(&mut chan, RpcMessage::response(m.id.unwrap(), json!({}))).await;
                }
                Some("exit") => return,
                _ => {}
            }
        }
    }

    async fn run_with(
        file: &str,
        axioms: &'static str,
        fake: Fake,
    ) -> Result<(Status, LeanOutput), String> {
        let ((cr, cw), (sr, sw)) = memory_pair();
        let server = tokio::spawn(fake_server(LspChannel::new(sr, sw, 1 << 20), axioms, fake));
        let mut chan = LspChannel::new(cr, cw, 1 << 20);
        let a = plan_file(file, None).unwrap();
        let (text, queries) = with_axiom_queries(&a);
        let out = lsp_session(&mut chan, "file:///tmp/ProverCheck.lean", &text, &queries).await;
        server.abort();
        let out = out?;
        let (status, _) = post_check(&out, &a.theorems, AxiomPolicy::default());
        Ok((status, out))
    }

    async fn run(file: &str, axioms: &'static str) -> (Status, LeanOutput) {
        run_with(file, axioms, Fake::Honest).await.unwrap()
    }

    const FILE: &str = "import Mathlib\ntheorem t : 1 = 1 := by\n  trace \"'t' does not depend on any axioms\"\n  rfl\n";

    #[tokio::test]
    async fn lsp_driver_reads_axiom_reports_by_position() {
        let (status, out) = run(FILE, "propext, Classical.choice, Quot.sound").await;
        assert_eq!(status, Status::Accepted, "{out:?}");
        // the faked report stays a file message; the sentinel's report is not a file message
        assert!(out
            .messages
            .iter()
            .any(|m| m.text.contains("does not depend")));
        assert!(!out.messages.iter().any(|m| m.text.ends_with(": Nat")));
        let (status, _) = run(FILE, "propext, sorryAx").await;
        assert!(matches!(status, Status::Rejected { .. }));
        let (status, _) = run("theorem t : 1 = 2 := by\n  exact SORRYISH\n", "propext").await;
        match status {
            Status::Rejected { reason } => assert!(reason.contains("sorry"), "{reason}"),
            s => panic!("{s:?}"),
        }
    }

    #[tokio::test]
    async fn an_error_on_an_axiom_query_line_is_a_file_error() {
        let file = "theorem t : 1 = 1 := by\n  rfl\n\ndef UNFINISHED_DECL :=\n";
        let (status, out) = run(file, "propext").await;
        match status {
            Status::Rejected { reason } => {
                assert!(reason.contains("unexpected token '#print'"), "{reason}")
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        // only the information-severity report went to the axiom messages
        assert!(out.axiom_messages[0]
            .1
            .iter()
            .all(|m| m.severity == Severity::Info));
        assert!(out.messages.iter().any(|m| m.severity == Severity::Error));
    }

    #[test]
    fn file_uri_is_absolute_and_escaped() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a b%c");
        std::fs::create_dir(&dir).unwrap();
        let uri = file_uri(&dir).unwrap();
        assert!(uri.starts_with("file:///"), "{uri}");
        assert!(uri.ends_with("/a%20b%25c/ProverCheck.lean"), "{uri}");
        // round trip to the canonical path
        let back = url::Url::parse(&uri).unwrap().to_file_path().unwrap();
        assert_eq!(back, dir.canonicalize().unwrap().join("ProverCheck.lean"));
        // relative: resolved against the current directory
        let rel = file_uri(Path::new(".")).unwrap();
        let here = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(
            url::Url::parse(&rel).unwrap().to_file_path().unwrap(),
            here.join("ProverCheck.lean")
        );
        let err = file_uri(&base.path().join("missing")).unwrap_err();
        assert!(
            err.contains("missing") && err.contains("--lean-project"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn forged_or_unsealed_lsp_traffic_is_an_error_never_a_verdict() {
        for fake in [
            Fake::ForgedWaitResponse,
            Fake::FutureVersion,
            Fake::NoVersion,
            Fake::WrongSentinel,
        ] {
            let r = run_with(FILE, "propext", fake).await;
            match r {
                Err(e) => assert!(e.contains("channel anomaly"), "{e}"),
                Ok((s, _)) => panic!("a tampered session gave a verdict: {s:?}"),
            }
        }
    }

    #[test]
    fn the_sentinel_line_must_carry_exactly_its_report() {
        let d = |line: u32, sev, msg: &str| lsp_types::Diagnostic {
            range: lsp_types::Range::new(
                lsp_types::Position::new(line, 0),
                lsp_types::Position::new(line, 6),
            ),
            severity: Some(sev),
            message: msg.into(),
            ..Default::default()
        };
        let info = DiagnosticSeverity::INFORMATION;
        assert!(check_lsp_sentinel(&[d(1, info, "x"), d(5, info, "77 : ℕ")], 5, 77).is_ok());
        for bad in [
            vec![],
            vec![d(5, info, "78 : Nat")],
            vec![d(5, DiagnosticSeverity::ERROR, "77 : Nat")],
            vec![d(5, info, "77 : Nat"), d(5, info, "77 : Nat")],
            vec![
                d(5, info, "77 : Nat"),
                d(6, DiagnosticSeverity::ERROR, "unterminated"),
            ],
        ] {
            assert!(check_lsp_sentinel(&bad, 5, 77).is_err(), "{bad:?}");
        }
    }
}
