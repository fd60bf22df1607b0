//! Printing around Lean start-up for the commands that run a verifier pool (`verify --lean`,
//! `eval minif2f`, `train`, `serve`): the library resolves and starts; this file says on
//! stderr how many workers were chosen and why.
use anyhow::{Context, Result};

use crate::verify::lean::launch::{self, LeanSettings};
use crate::verify::lean::{LeanCommand, Pool};

/// The worker count of `s`, printing the machine-derived choice when none was given.
pub(crate) fn workers_noted(s: &LeanSettings) -> usize {
    let (n, choice) = s.worker_count();
    if let Some(c) = choice {
        eprintln!("{c} (set the worker count to override)");
    }
    n
}

/// A runtime and a local pool of REPLs started by `cmd`.
pub(crate) fn start_pool(
    s: &LeanSettings,
    cmd: LeanCommand,
) -> Result<(tokio::runtime::Runtime, Pool)> {
    let workers = workers_noted(s);
    launch::start_pool(s, cmd, workers).context("cannot start the async runtime")
}
