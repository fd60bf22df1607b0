//! Lean 4 verifier: decides, soundly, whether a Lean proof proves the stated theorem.
//!
//! Layers (each in its own file; only the pool, soundness and verdict types are public):
//! - [`batch`]: JSONL in, JSONL out, for the RL path (`prover verify FILE.jsonl --lean`).
//! - `transport`: framing over a child's stdio (REPL blank-line framing, LSP Content-Length).
//! - `protocol`: typed REPL requests/replies and the LSP messages we use.
//! - `worker`: owns one REPL process (process group, `RLIMIT_AS`, header env, kill).
//! - [`sandbox`]: what each Lean process may do (network, filesystem, rlimits), probed once.
//! - `lsp_worker`: drives `lean --server` for one whole file.
//! - [`launch`]: the command that starts Lean (or what to install), settings, pool start-up.
//! - [`memory`]: process-group memory, which limit applies where, default worker count.
//! - `stderr_tail`: drains a child's stderr into a bounded tail (a full pipe would block Lean).
//! - [`pool`]: the public pool: queue, backpressure, worker loop, metrics; `schedule` (which
//!   queued job a free worker takes), `run_job` (one job on one worker, retry once, verdict),
//!   `verdict_cache` (bounded FIFO of verdicts).
//! - `lexer` → `guard` → `assemble` / `file_plan` → `post_check`: the soundness ladder, one
//!   stage per file, re-exported through [`soundness`].
//! - [`verdict`]: what every job gets back.
//! - [`remote`]: the client of remote `prover serve` verifiers ([`wire`]: its JSON), and
//!   [`verifier`]: one handle over a local pool or remote servers.
mod assemble;
pub mod batch;
mod file_plan;
mod guard;
pub mod launch;
mod lexer;
mod lsp_worker;
pub mod memory;
mod native_axioms;
pub mod pool;
mod post_check;
mod protocol;
pub mod remote;
mod repl_probe;
mod run_job;
pub mod sandbox;
mod schedule;
pub mod soundness;
mod stderr_tail;
mod transport;
pub mod verdict;
mod verdict_cache;
pub mod verifier;
pub mod wire;
mod worker;

pub use lsp_worker::verify_file_lsp;
pub use pool::{Job, LeanCommand, Pool, PoolConfig, PoolMetrics};
pub use pool::{ProbeReply, ReplProbe};
pub use sandbox::{SandboxConfig, SandboxReport, SandboxSupport};
pub use soundness::{
    assemble, assemble_with, decide_from_repl_replies, guard_proof_body, guard_proof_body_with,
    guard_steps, plan_file, statement_without_sorry, Assembled, AxiomPolicy, GuardConfig,
};
pub use verdict::{LeanMessage, Severity, Status, TheoremReport, Verdict};
pub use verifier::LeanVerifier;
