//! `prover verify`: answers (JSONL or one pair) and Lean files.
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A `.jsonl` file of {"id"?, "reference", "response"} lines, or a `.lean` file.
    pub file: Option<PathBuf>,
    /// Reference answer (with --response: check one pair).
    #[arg(long, requires = "response")]
    pub reference: Option<String>,
    /// Model response (with --reference).
    #[arg(long, requires = "reference")]
    pub response: Option<String>,
}

/// Returns the process exit code.
pub fn run(args: VerifyArgs) -> Result<u8> {
    let _ = args;
    bail!("nothing to verify yet")
}
