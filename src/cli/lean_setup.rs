//! Printing around Lean start-up for the commands that run a verifier pool (`verify --lean`,
//! `eval minif2f`, `train`, `serve`): the library resolves and starts; this file says on
//! stderr how many workers were chosen and why.
use crate::verify::lean::launch::{self, LeanSettings};
use crate::verify::lean::LeanVerifier;

/// The worker count of `s`, printing the machine-derived choice when none was given.
fn workers_noted(s: &LeanSettings) -> usize {
    let (n, choice) = s.worker_count();
    if let Some(c) = choice {
        eprintln!("{c} (set the worker count to override)");
    }
    n
}

/// The environment variable holding the remote servers' API key (`--lean-server`,
/// `[lean] servers`).
pub(crate) const SERVER_KEY_ENV: &str = "PROVER_LEAN_SERVER_KEY";

/// The key in [`SERVER_KEY_ENV`], if set and not empty.
pub(crate) fn server_key() -> Option<String> {
    std::env::var(SERVER_KEY_ENV).ok().filter(|k| !k.is_empty())
}

/// A runtime and the verifier `s` describes (remote servers, or a local pool with the worker
/// choice printed); `Err(message)` when Lean is missing.
pub(crate) fn start_verifier(
    s: &LeanSettings,
) -> std::result::Result<(tokio::runtime::Runtime, LeanVerifier), String> {
    let workers = if s.servers.is_empty() {
        workers_noted(s)
    } else {
        eprintln!(
            "checking proofs on {} (fewest in flight first)",
            s.servers.join(", ")
        );
        0
    };
    launch::start_verifier(s, workers)
}
