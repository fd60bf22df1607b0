//! The policy: trainable transformer, weights loading, tokenizer + chat template, sampler,
//! scorer. Knows nothing of rewards.
pub mod decoder;
