//! The flags that say how to reach Lean, shared by `prover verify` (`.lean` files, `--lean`
//! batches) and `prover eval minif2f`.
use std::path::PathBuf;

use clap::Args;

use crate::verify::lean::launch::{LeanBackend, LeanSettings};

/// Where and how Lean runs: a local REPL pool or remote `prover serve` instances.
#[derive(Debug, Clone, Args)]
pub struct LeanArgs {
    /// Lean: command that starts the REPL (default: `lake env <repl>` in the Lake project).
    #[arg(long, value_name = "CMD")]
    pub repl_cmd: Option<String>,
    /// Lean: the Lake project (default: ./lean or $PROVER_LEAN_PROJECT).
    #[arg(long, value_name = "DIR")]
    pub lean_project: Option<PathBuf>,
    /// Lean: check on this `prover serve` instead of a local pool (repeat for several; jobs go
    /// to the one with the fewest in flight and move on failure; the post-checks are re-applied
    /// here). The key, if the servers want one, comes from $PROVER_LEAN_SERVER_KEY.
    #[arg(long = "lean-server", value_name = "URL")]
    pub lean_servers: Vec<String>,
    /// Lean: worker processes of the local pool (default: cores − 1).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Lean: wall-clock limit per proof or file, seconds.
    #[arg(long, default_value_t = 300.0)]
    pub timeout: f64,
    /// Lean: allow `Lean.ofReduceBool`/`Lean.trustCompiler` (native_decide) in axiom reports.
    #[arg(long)]
    pub allow_native_decide: bool,
}

impl LeanArgs {
    /// The Lean settings these flags describe, with `backend` driving a local check.
    pub fn settings(&self, backend: LeanBackend) -> LeanSettings {
        LeanSettings {
            backend,
            repl_cmd: self.repl_cmd.clone(),
            project: self.lean_project.clone(),
            workers: self.workers,
            allow_native_decide: self.allow_native_decide,
            servers: self.lean_servers.clone(),
            api_key: super::lean_setup::server_key(),
            ..LeanSettings::repl(self.timeout)
        }
    }
}
