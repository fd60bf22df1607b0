//! placeholder
use super::pool::LeanCommand;
use super::soundness::{Assembled, AxiomPolicy};
use super::verdict::Verdict;
/// placeholder
pub async fn verify_file_lsp(_cmd: &LeanCommand, _a: &Assembled, _p: AxiomPolicy, _t: std::time::Duration) -> Verdict { Verdict::error("todo") }
