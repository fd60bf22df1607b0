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
    preview, CommandResponse, LeanOutput, ReplMessage, ReplRequest, ReplResponse, ReplSeverity,
};
use super::sandbox::{self, ChildPlan, SandboxConfig, SandboxDir};
use super::stderr_tail::StderrTail;
use super::transport::{ReplChannel, TransportError};
use super::verdict::LeanMessage;

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
    pub sandbox: SandboxConfig,
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
    /// The channel carried frames the worker did not ask for (see [`ReplWorker::seal`]).
    #[error("the REPL channel is not in step: {0}")]
    ChannelAnomaly(String),
}

/// Spawn `cmd` with piped stdio in a new session (so `kill(-pid)` reaches everything it
/// starts), inside the sandbox of [`super::sandbox`] (`RLIMIT_AS` = `memory_limit_bytes`, a
/// private `TMPDIR`, no network, read-only filesystem where the kernel allows), with
/// `MALLOC_ARENA_MAX=2` (unless `cmd.env` sets it). The returned [`SandboxDir`] is the
/// worker's temp dir: keep it as long as the process.
pub(crate) fn spawn_in_group(
    cmd: &LeanCommand,
    limits: &WorkerLimits,
) -> Result<(Child, SandboxDir), WorkerError> {
    let spawn_err = |source| WorkerError::Spawn {
        program: cmd.program.clone(),
        source,
    };
    let (dir, plan) =
        sandbox::prepare(&limits.sandbox, limits.memory_limit_bytes).map_err(spawn_err)?;
    let mut c = tokio::process::Command::new(&cmd.program);
    c.args(&cmd.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    // worker defaults (`MALLOC_ARENA_MAX=2`, see `memory`; the sandbox's TMPDIR); the
    // command's own env overrides
    for (k, v) in WORKER_ENV {
        c.env(k, v);
    }
    for (k, v) in ChildPlan::env(&dir) {
        c.env(k, v);
    }
    for (k, v) in &cmd.env {
        c.env(k, v);
    }
    // SAFETY: only async-signal-safe libc calls between fork and exec (`apply_in_child`
    // allocates nothing; everything it uses was prepared above).
    unsafe {
        c.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            plan.apply_in_child()
        });
    }
    let child = c.spawn().map_err(spawn_err)?;
    Ok((child, dir))
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
    /// The private temp dir (removed when the worker is dropped).
    _sandbox_dir: SandboxDir,
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
        let (mut child, sandbox_dir) = spawn_in_group(cmd, limits)?;
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
            _sandbox_dir: sandbox_dir,
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
                    .map(ReplMessage::to_message)
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
        let mut axiom_replies = Vec::with_capacity(theorems.len());
        for name in theorems {
            let req = ReplRequest::command(format!("#print axioms {name}"), Some(r.env));
            axiom_replies.push((name.clone(), self.request(&req, deadline).await?));
        }
        let out = LeanOutput::from_replies(&r, axiom_replies).map_err(WorkerError::Protocol)?;
        self.jobs_done += 1;
        Ok(Ok(out))
    }
}

/// The sentinel that closes every job: `#check (NONCE : Nat)`, whose reply is exactly one
/// info message `NONCE : Nat` (`NONCE : ℕ` where Mathlib's notation is in scope) at 1:0–1:6;
/// the check requires one info message naming the nonce.
/// That reply shape is read from the REPL's recorded transcripts (`def_eval`, `dup_msg` in
/// `../shared/fixtures/repl/`), not run here.
pub(crate) fn sentinel_command(nonce: u128) -> String {
    format!("#check ({nonce} : Nat)")
}

/// Whether `reply` is exactly the sentinel's reply for `nonce` (else: what is wrong).
pub(crate) fn check_sentinel_reply(reply: &str, nonce: u128) -> Result<(), String> {
    let r = match ReplResponse::parse(reply) {
        Ok(ReplResponse::Command(r)) => r,
        Ok(other) => return Err(format!("expected the sentinel's reply, got {other:?}")),
        Err(e) => return Err(format!("expected the sentinel's reply, got: {e}")),
    };
    // exactly one info message that names the nonce (normally `NONCE : Nat`; the type's
    // spelling depends on the header's notation and pp options, the nonce cannot be guessed)
    let nonce_text = nonce.to_string();
    match r.messages.as_slice() {
        [m] if m.severity == ReplSeverity::Info
            && m.data.contains(&nonce_text)
            && r.sorries.is_empty() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "expected the sentinel's reply `{nonce_text} : Nat`, got another frame: {}",
            preview(reply)
        )),
    }
}

impl ReplWorker {
    /// Seal the job just run: send a sentinel carrying a fresh random nonce and require that
    /// the very next frame is its reply. Replies are matched to requests by position, so a
    /// frame printed by code inside Lean (a forged reply) shifts every later reply by one and
    /// the sentinel's reply does not come next; code cannot forge that reply without the
    /// nonce, which it never saw. On any mismatch the process is killed and
    /// [`WorkerError::ChannelAnomaly`] returned: the job gets no verdict.
    ///
    /// Not covered: code that keeps running inside the REPL after its command ends and reads
    /// the REPL's stdin (it would see the nonce); the guard and the sandbox are the defence
    /// there.
    pub async fn seal(&mut self, env: Option<u64>, deadline: Instant) -> Result<(), WorkerError> {
        let nonce: u128 = rand::random();
        let req = ReplRequest::command(sentinel_command(nonce), env);
        let reply = self.request_raw(&req.to_line(), deadline).await?;
        check_sentinel_reply(&reply, nonce).map_err(|why| {
            self.kill();
            WorkerError::ChannelAnomaly(why)
        })
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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_sentinel_reply_passes() {
        let n: u128 = 340282366920938463463374607431768211455;
        let ok = format!("{{\"messages\":\n [{{\"severity\": \"info\",\n   \"pos\": {{\"line\": 1, \"column\": 0}},\n   \"endPos\": {{\"line\": 1, \"column\": 6}},\n   \"data\": \"{n} : Nat\"}}],\n \"env\": 7}}\n");
        assert_eq!(check_sentinel_reply(&ok, n), Ok(()));
        let mathlib = ok.replace(": Nat", ": ℕ");
        assert_eq!(check_sentinel_reply(&mathlib, n), Ok(()));
        // another nonce, a forged clean reply, two messages, an error, garbage, a refusal
        let other = ok.replace(&n.to_string(), "12345");
        let twice = ok.replace("}],", &format!("}}, {{\"severity\": \"info\", \"pos\": {{\"line\": 1, \"column\": 0}}, \"data\": \"{n} : Nat\"}}],"));
        let as_error = ok.replace("\"info\"", "\"error\"");
        for bad in [
            other.as_str(),
            "{\"env\": 7}",
            twice.as_str(),
            as_error.as_str(),
            "not json",
            "{\"message\": \"Unknown environment.\"}",
        ] {
            assert!(check_sentinel_reply(bad, n).is_err(), "accepted: {bad}");
        }
    }

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
