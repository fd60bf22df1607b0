//! prover — reinforcement learning with verifiable rewards for mathematics.
//!
//! Layers (see README "Architecture"):
//! - [`policy`]: the trainable transformer, weights loading, tokenizer, sampler, scorer.
//! - [`verify`]: the answer checker (pure functions) and the Lean 4 verifier pool.
//! - [`rl`]: rewards, advantages, losses, optimizer, trainer loop, checkpoints.
//! - [`eval`]: benchmarks and pass@k.
//! - [`data`]: task formats and dataset readers.
//! - [`prompt`]: prompts, prompt styles and the completion-source trait, shared by `rl` and
//!   `eval`.
//! - [`heldout`]: the evaluation loop (batches, grading, resumable results) shared by
//!   `eval math` and the trainer's held-out evaluation.
//! - [`serve`]: `prover serve`, the verifier pool behind HTTP (Kimina-compatible + sound).
//! - [`cli`]: argument parsing and printing only.
//! - [`progress`], [`util`]: small helpers every layer may use (progress on stderr, atomic
//!   writes).
pub mod cli;
pub mod data;
pub mod eval;
pub mod heldout;
pub mod policy;
pub mod progress;
pub mod prompt;
pub mod rl;
pub mod serve;
pub mod util;
pub mod verify;
