//! One Lean REPL process: start it (in its own process group, with an address-space cap),
//! import a header once and reuse its environment, run a check with a wall-clock deadline,
//! report its memory, and kill the whole group when it misbehaves.
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::BufReader;
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::memory::{group_memory, GroupMemory, WORKER_ENV};
use super::protocol::{
    preview, CommandResponse, ReplMessage, ReplRequest, ReplResponse, ReplSeverity,
};
use super::soundness::LeanOutput;
use super::stderr_tail::StderrTail;
use super::transport::{ReplChannel, TransportError};
use super::verdict::{LeanMessage, Severity};

/// How to start a Lean process: a program, its arguments and a working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeanCommand {
    /// Program (e.g. `lake`).
    pub program: String,
    /// Arguments (e.g. `["env", ".lake/packages/REPL/.lake/build/bin/repl"]`).
    pub args: Vec<String>,
    /// Working directory (the Lake project), if any.
    pub cwd: Option<PathBuf>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl LeanCommand {
    /// Split a command line the way a POSIX shell would (quotes and backslashes; no
    /// expansion), e.g. `ssh box 'cd proj && lake env repl'`.
    pub fn from_shell(line: &str) -> Result<Self, String> {
        let words = shell_split(line)?;
        let (program, args) = words
            .split_first()
            .ok_or_else(|| "empty command".to_string())?;
        Ok(LeanCommand {
            program: program.clone(),
            args: args.to_vec(),
            cwd: None,
            env: Vec::new(),
        })
    }
}

/// POSIX-shell-like word splitting (single quotes, double quotes, backslash escapes).
pub fn shell_split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("unterminated single quote in command".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x)
                            }
                            None => return Err("unterminated double quote in command".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("unterminated double quote in command".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Limits applied to one worker process.
#[derive(Debug, Clone)]
pub(crate) struct WorkerLimits {
    pub memory_limit_bytes: Option<u64>,
    pub max_reply_bytes: usize,
}

/// Why a worker could not answer (the process is unusable afterwards).
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    #[error("could not start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("Lean did not answer within {0:.1} s (process group killed)")]
    Timeout(f64),
    #[error("{0}{1}")]
    Transport(TransportError, String),
    #[error("{0}")]
    Protocol(String),
    #[error("Lean used {} of private memory over {} process(es), above the limit of {} (process group killed)", super::memory::gib(used.private_bytes), used.processes, super::memory::gib(*limit))]
    MemoryLimit { used: GroupMemory, limit: u64 },
}

/// Spawn `cmd` with piped stdio in a new session (so `kill(-pid)` reaches everything it
/// starts), with `RLIMIT_AS` set to `memory_limit_bytes` and `MALLOC_ARENA_MAX=2` (unless
/// `cmd.env` sets it).
pub(crate) fn spawn_in_group(
    cmd: &LeanCommand,
    memory_limit_bytes: Option<u64>,
) -> Result<Child, WorkerError> {
    let mut c = tokio::process::Command::new(&cmd.program);
    c.args(&cmd.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    // worker defaults (`MALLOC_ARENA_MAX=2`, see `memory`); the command's own env overrides
    for (k, v) in WORKER_ENV {
        c.env(k, v);
    }
    for (k, v) in &cmd.env {
        c.env(k, v);
    }
    let mem = memory_limit_bytes;
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(bytes) = mem {
                let lim = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    c.spawn().map_err(|source| WorkerError::Spawn {
        program: cmd.program.clone(),
        source,
    })
}

/// Kill process group `pgid` (no-op for 0).
pub(crate) fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: plain syscall; a stale group id at worst gets ESRCH.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// One running REPL.
pub(crate) struct ReplWorker {
    child: Child,
    pgid: i32,
    chan: ReplChannel<BufReader<ChildStdout>, ChildStdin>,
    stderr_tail: StderrTail,
    /// The header this process imported and the environment id it produced.
    header: Option<(String, Option<u64>)>,
    /// Checks run since start.
    pub jobs_done: u64,
    /// Seconds spent waiting on Lean in the last `check` (for overhead metrics).
    pub last_lean_seconds: f64,
}

impl ReplWorker {
    /// Start the process in its own session / process group, with `RLIMIT_AS` set.
    pub fn spawn(cmd: &LeanCommand, limits: &WorkerLimits) -> Result<Self, WorkerError> {
        let mut child = spawn_in_group(cmd, limits.memory_limit_bytes)?;
        let pid = child.id().unwrap_or(0) as i32;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_tail = match child.stderr.take() {
            Some(err) => StderrTail::drain(err),
            None => StderrTail::default(),
        };
        Ok(ReplWorker {
            child,
            pgid: pid,
            chan: ReplChannel::new(
                BufReader::with_capacity(1 << 16, stdout),
                stdin,
                limits.max_reply_bytes,
            ),
            stderr_tail,
            header: None,
            jobs_done: 0,
            last_lean_seconds: 0.0,
        })
    }

    /// The header whose environment this worker holds.
    pub fn header(&self) -> Option<&str> {
        self.header.as_ref().map(|(h, _)| h.as_str())
    }

    /// Memory of the worker's whole process group (`lake`, the REPL it runs, anything they
    /// start), summed over `/proc`; see `memory`.
    pub fn memory(&self) -> Option<GroupMemory> {
        group_memory(self.pgid)
    }

    /// The process group id (0 once killed).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// Kill the whole process group (Lean, `lake`, anything they started).
    pub fn kill(&mut self) {
        kill_group(self.pgid);
        // tokio reaps the killed child (kill_on_drop) once it is dropped
        let _ = self.child.start_kill();
        self.pgid = 0;
    }

    fn stderr_note(&self) -> String {
        let t = self.stderr_tail.text();
        if t.is_empty() {
            String::new()
        } else {
            format!(" (stderr: {})", preview(&t))
        }
    }

    /// Send one request and read its reply, within `deadline`.
    pub async fn request(
        &mut self,
        req: &ReplRequest,
        deadline: Instant,
    ) -> Result<ReplResponse, WorkerError> {
        let text = self.request_raw(&req.to_line(), deadline).await?;
        ReplResponse::parse(&text).map_err(WorkerError::Protocol)
    }

    /// Send one request line and read the raw reply text, within `deadline`.
    pub async fn request_raw(
        &mut self,
        line: &str,
        deadline: Instant,
    ) -> Result<String, WorkerError> {
        let started = Instant::now();
        let budget = deadline.saturating_duration_since(started);
        let io = async {
            self.chan.send(line).await?;
            self.chan.recv().await
        };
        let res = tokio::time::timeout(budget, io).await;
        self.last_lean_seconds += started.elapsed().as_secs_f64();
        match res {
            Err(_) => {
                self.kill();
                Err(WorkerError::Timeout(budget.as_secs_f64()))
            }
            Ok(Err(e)) => {
                // give stderr a moment to arrive for the report
                tokio::time::sleep(Duration::from_millis(20)).await;
                let note = self.stderr_note();
                self.kill();
                Err(WorkerError::Transport(e, note))
            }
            Ok(Ok(t)) => Ok(t),
        }
    }

    /// Make sure this process holds `header`'s environment; returns its env id (`None` for
    /// an empty header) or the header's own Lean errors.
    pub async fn ensure_header(
        &mut self,
        header: &str,
        deadline: Instant,
    ) -> Result<Result<Option<u64>, Vec<LeanMessage>>, WorkerError> {
        if let Some((h, env)) = &self.header {
            if h == header {
                return Ok(Ok(*env));
            }
            return Err(WorkerError::Protocol(
                "worker already holds another header".into(),
            ));
        }
        if header.trim().is_empty() {
            self.header = Some((header.to_string(), None));
            return Ok(Ok(None));
        }
        match self
            .request(&ReplRequest::command(header, None), deadline)
            .await?
        {
            ReplResponse::Command(r) => {
                let errors: Vec<LeanMessage> = r
                    .messages
                    .iter()
                    .filter(|m| m.severity == ReplSeverity::Error)
                    .map(to_message)
                    .collect();
                if !errors.is_empty() {
                    return Ok(Err(errors));
                }
                self.header = Some((header.to_string(), Some(r.env)));
                Ok(Ok(Some(r.env)))
            }
            other => Err(WorkerError::Protocol(format!(
                "unexpected reply to the header: {other:?}"
            ))),
        }
    }

    /// Run `body` on top of the header env, then `#print axioms` for each theorem in the
    /// resulting env. `Ok(Err(text))` is a REPL-level refusal of the body (`{"message"}`).
    pub async fn check(
        &mut self,
        header_env: Option<u64>,
        body: &str,
        theorems: &[String],
        deadline: Instant,
    ) -> Result<Result<LeanOutput, String>, WorkerError> {
        self.last_lean_seconds = 0.0;
        let reply = self
            .request(&ReplRequest::command(body, header_env), deadline)
            .await?;
        let r: CommandResponse = match reply {
            ReplResponse::Command(r) => r,
            ReplResponse::Error(e) => return Ok(Err(e.message)),
            other => {
                return Err(WorkerError::Protocol(format!(
                    "unexpected reply to a command: {other:?}"
                )))
            }
        };
        let mut out = LeanOutput {
            messages: r.messages.iter().map(to_message).collect(),
            sorries: r.sorries.len(),
            axiom_messages: Vec::new(),
        };
        for name in theorems {
            let req = ReplRequest::command(format!("#print axioms {name}"), Some(r.env));
            let msgs = match self.request(&req, deadline).await? {
                ReplResponse::Command(a) => a.messages.iter().map(to_message).collect(),
                ReplResponse::Error(e) => vec![LeanMessage {
                    severity: Severity::Error,
                    line: 0,
                    column: 0,
                    text: e.message,
                }],
                other => {
                    return Err(WorkerError::Protocol(format!(
                        "unexpected reply to #print axioms: {other:?}"
                    )))
                }
            };
            out.axiom_messages.push((name.clone(), msgs));
        }
        self.jobs_done += 1;
        Ok(Ok(out))
    }
}

impl Drop for ReplWorker {
    fn drop(&mut self) {
        if self.pgid > 0 {
            self.kill();
        }
    }
}

/// Convert a REPL message to the public form.
pub(crate) fn to_message(m: &ReplMessage) -> LeanMessage {
    LeanMessage {
        severity: match m.severity {
            ReplSeverity::Error => Severity::Error,
            ReplSeverity::Warning => Severity::Warning,
            ReplSeverity::Info => Severity::Info,
        },
        line: m.pos.line,
        column: m.pos.column,
        text: m.data.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_split_handles_quotes() {
        assert_eq!(
            shell_split(r#"ssh box 'cd p && lake env repl' "a b\"c" d\ e"#).unwrap(),
            ["ssh", "box", "cd p && lake env repl", "a b\"c", "d e"]
        );
        assert!(shell_split("a 'b").is_err());
        assert_eq!(shell_split("  ").unwrap(), Vec::<String>::new());
    }
}
