//! Evaluation: pass@k on miniF2F with the Lean pool, accuracy on the math benchmarks.
pub mod math;
pub mod minif2f;
pub mod passk;
pub mod prompts;
pub mod protocol;
mod results;
pub mod source;
