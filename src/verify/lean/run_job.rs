//! Running one job on one pool worker: reuse or replace the worker's process (a different
//! header kills it), import the header, check the body, seal the channel, and turn what
//! happened into a verdict. A worker failure (crash, timeout, memory limit, protocol error)
//! is retried once on a fresh process; a forged frame on the channel is an error at once,
//! never retried. After a decided job the worker is recycled when it has run too many jobs
//! or holds too much memory.
use std::sync::Mutex;
use std::time::Instant;

use super::memory;
use super::pool::{Counters, PoolConfig};
use super::soundness::{post_check, Assembled, LeanOutput};
use super::verdict::{LeanMessage, Verdict};
use super::worker::{ReplWorker, WorkerError, WorkerLimits};

/// Lines of messages about the body, moved into the user's text (see
/// [`Assembled::body_line_offset`]); a message on the trusted statement gets line 0.
fn shift_lines(mut msgs: Vec<LeanMessage>, offset: i64) -> Vec<LeanMessage> {
    for m in &mut msgs {
        if m.line > 0 {
            m.line = (m.line as i64 + offset).max(0) as u64;
        }
    }
    msgs
}

/// Runs the assembled job `a` on the worker in `slot` (started or replaced as needed), with
/// one retry on worker failure; `trusted_header`: a header that does not elaborate is a
/// verifier error (the pool's own header), not a rejection (the user's file). Returns the
/// verdict and the seconds spent waiting on Lean. Counts spawns, restarts, timeouts, channel
/// anomalies and recycles in `counters`.
pub(super) async fn run_job(
    cfg: &PoolConfig,
    counters: &Mutex<Counters>,
    slot: &mut Option<ReplWorker>,
    a: &Assembled,
    trusted_header: bool,
) -> (Verdict, f64) {
    let limits = WorkerLimits {
        memory_limit_bytes: cfg.memory_limit_bytes,
        max_reply_bytes: cfg.max_reply_bytes,
        sandbox: cfg.sandbox.clone(),
    };
    let mut failures: Vec<String> = Vec::new();
    let mut lean_seconds = 0.0;
    for _attempt in 0..2 {
        let deadline = Instant::now() + cfg.timeout;
        if slot
            .as_ref()
            .is_some_and(|w| w.header() != Some(a.header.as_str()) && w.header().is_some())
        {
            if let Some(mut w) = slot.take() {
                w.kill();
            }
        }
        if slot.is_none() {
            match ReplWorker::spawn(&cfg.command, &limits) {
                Ok(w) => {
                    counters.lock().unwrap().m.spawned += 1;
                    *slot = Some(w);
                }
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            }
        }
        let w = slot.as_mut().expect("worker present");
        let pgid = w.pgid();
        let work = async {
            // every path ends with the sentinel: no verdict from an unsealed channel
            let env = match w.ensure_header(&a.header, deadline).await? {
                Ok(env) => env,
                Err(errors) => {
                    w.seal(None, deadline).await?;
                    return Ok(Outcome::HeaderErrors(errors));
                }
            };
            let outcome = match w.check(env, &a.body, &a.theorems, deadline).await? {
                Ok(out) => Outcome::Output(out),
                Err(msg) => Outcome::Refused(msg),
            };
            w.seal(env, deadline).await?;
            Ok::<Outcome, WorkerError>(outcome)
        };
        let outcome: Result<Outcome, WorkerError> = match cfg.rss_limit_bytes {
            None => work.await,
            Some(limit) => tokio::select! {
                o = work => o,
                m = memory::exceeds(pgid, limit, memory::POLL_EVERY) => {
                    Err(WorkerError::MemoryLimit { used: m, limit })
                }
            },
        };
        lean_seconds += w.last_lean_seconds;
        match outcome {
            Err(WorkerError::ChannelAnomaly(why)) => {
                // a forged frame: never a verdict, never retried (the same text would forge
                // again), the worker is gone
                {
                    let mut c = counters.lock().unwrap();
                    c.m.restarts += 1;
                    c.m.channel_anomalies += 1;
                }
                if let Some(mut w) = slot.take() {
                    w.kill();
                }
                tracing::warn!("Lean worker replaced after a channel anomaly: {why}");
                return (
                    Verdict::error(format!(
                        "the Lean channel carried a frame nobody asked for (forged output?): \
                         {why}; the worker was replaced"
                    )),
                    lean_seconds,
                );
            }
            Err(e) => {
                {
                    let mut c = counters.lock().unwrap();
                    c.m.restarts += 1;
                    if matches!(e, WorkerError::Timeout(_)) {
                        c.m.timeouts += 1;
                    }
                }
                failures.push(e.to_string());
                if let Some(mut w) = slot.take() {
                    w.kill();
                }
            }
            Ok(Outcome::HeaderErrors(header_errors)) => {
                if let Some(mut w) = slot.take() {
                    w.kill();
                }
                let first = header_errors
                    .first()
                    .map(|m| format!("line {}: {}", m.line, m.text))
                    .unwrap_or_default();
                let mut v = if trusted_header {
                    Verdict::error(format!("the trusted header does not elaborate: {first}"))
                } else {
                    Verdict::rejected(format!("the file's header does not elaborate: {first}"))
                };
                v.messages = header_errors;
                return (v, lean_seconds);
            }
            Ok(Outcome::Refused(repl_message)) => {
                let v = if repl_message.contains("Unknown environment") {
                    Verdict::error(format!("REPL lost the header environment: {repl_message}"))
                } else {
                    Verdict::rejected(format!("Lean could not run the proof: {repl_message}"))
                };
                maybe_recycle(cfg, counters, slot);
                return (v, lean_seconds);
            }
            Ok(Outcome::Output(mut out)) => {
                // reasons and messages quote lines of the user's text, not of the body
                out.messages = shift_lines(out.messages, a.body_line_offset);
                let (status, theorems) = post_check(&out, &a.theorems, cfg.axioms);
                let v = Verdict {
                    status,
                    messages: out.messages,
                    theorems,
                    seconds: 0.0,
                    cached: false,
                };
                maybe_recycle(cfg, counters, slot);
                return (v, lean_seconds);
            }
        }
    }
    (
        Verdict::error(format!(
            "the Lean worker failed twice: {}",
            failures.join("; then: ")
        )),
        lean_seconds,
    )
}

/// What one attempt of a job got from its worker.
enum Outcome {
    /// The header did not elaborate (its error messages).
    HeaderErrors(Vec<LeanMessage>),
    /// The REPL refused the command (its message).
    Refused(String),
    /// Lean ran the body: its messages and axiom answers, for the post-checks.
    Output(LeanOutput),
}

/// Kills the worker in `slot` when it has run `max_jobs_per_worker` jobs or its process group
/// holds more than `max_rss_bytes` of private memory (the next job starts a fresh one).
fn maybe_recycle(cfg: &PoolConfig, counters: &Mutex<Counters>, slot: &mut Option<ReplWorker>) {
    let Some(w) = slot.as_ref() else { return };
    let too_many = w.jobs_done >= cfg.max_jobs_per_worker;
    // the whole group (`lake env` runs the REPL as its child), private memory only: see memory
    let too_big = cfg
        .max_rss_bytes
        .is_some_and(|cap| w.memory().is_some_and(|m| m.private_bytes > cap));
    if too_many || too_big {
        if let Some(mut w) = slot.take() {
            w.kill();
        }
        counters.lock().unwrap().m.recycles += 1;
    }
}
