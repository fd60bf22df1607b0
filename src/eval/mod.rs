//! Evaluation: pass@k on miniF2F with the Lean pool, accuracy on the math benchmarks.
pub mod lean_checker;
pub mod math;
pub mod minif2f;
pub mod passk;
pub mod protocol;

// The prompt vocabulary lives below `eval` and `rl`; these paths stay for callers.
pub use crate::prompt::source;
pub use crate::prompt::style as prompts;
