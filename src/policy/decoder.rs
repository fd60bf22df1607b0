//! The seam between the model and the sampler: a model that decodes a batch of rows
//! incrementally (with its own KV cache). The sampler (`sampler.rs`) drives any [`Decoder`];
//! the transformer implements it; tests implement it with tiny mock models.
use candle_core::{Result, Tensor};

/// A causal language model decoding a batch of rows in lockstep.
pub trait Decoder {
    /// Size of the vocabulary (last dimension of the returned logits).
    fn vocab_size(&self) -> usize;
    /// Starts a new batch (dropping any previous cache) from rows of prompt token ids of
    /// possibly different lengths (each non-empty). Returns f32 logits `[rows, vocab]` for the
    /// next token of each row.
    fn prefill(&mut self, prompts: &[Vec<u32>]) -> Result<Tensor>;
    /// Appends one token to every row (rows the sampler has finished get a filler token whose
    /// logits are ignored) and returns f32 logits `[rows, vocab]` for the following token.
    fn step(&mut self, tokens: &[u32]) -> Result<Tensor>;
}
