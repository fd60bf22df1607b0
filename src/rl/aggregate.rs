//! Loss aggregation: how a per-token matrix `M [B, T]` and a response mask become a scalar.
//!
//! Config key `loss.aggregation` (verl's `loss_agg_mode`):
//! - `token-mean`: `Σ_{i,t} M·mask / Σ_{i,t} mask` (DAPO; every token weighs the same)
//! - `seq-mean-token-mean`: `mean_{i: |o_i|>0} ( Σ_t M·mask / (Σ_t mask + 1e-8) )` (original GRPO)
//! - `seq-mean-token-sum`: `mean_{i: |o_i|>0} Σ_t M·mask`
//! - `seq-mean-token-sum-norm`: `mean_{i: |o_i|>0} Σ_t M·mask / T` with `T` a constant length
//!   (Dr. GRPO; current verl divides by the number of non-empty rows too — older verl did not)
//!
//! With gradient accumulation the batch is split into micro-batches; the normalizers
//! ([`AggNorm`]: token count, non-empty row count, `T`) come from the whole mini-batch so that
//! the micro-batch losses add up exactly to the full-batch loss.
//!
//! verl 0.2 (the copy in One-Shot-RLVR, `dp_actor.py`) aggregates differently, and no mode
//! here reproduces it: it takes a token mean *per micro-batch* (`masked_mean`), micro-batches
//! packed up to `ppo_max_token_len_per_gpu` tokens, weights each by `len(micro) /
//! ppo_mini_batch_size`, and averages over GPUs. That equals `token-mean` only when every
//! micro-batch has the same mean response length; otherwise tokens in micro-batches of short
//! responses weigh more.
use candle_core::{Result, Tensor, D};
use serde::{Deserialize, Serialize};

/// Loss aggregation mode (see the module docs for formulas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// `Σ M·mask / Σ mask`.
    #[default]
    TokenMean,
    /// Mean over non-empty rows of each row's token mean.
    SeqMeanTokenMean,
    /// Mean over non-empty rows of each row's token sum.
    SeqMeanTokenSum,
    /// Mean over non-empty rows of each row's token sum, divided by a constant `T`.
    SeqMeanTokenSumNorm,
}

impl Aggregation {
    /// The mode's name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::TokenMean => "token-mean",
            Aggregation::SeqMeanTokenMean => "seq-mean-token-mean",
            Aggregation::SeqMeanTokenSum => "seq-mean-token-sum",
            Aggregation::SeqMeanTokenSumNorm => "seq-mean-token-sum-norm",
        }
    }
}

/// Global normalizers of one optimizer mini-batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggNorm {
    /// Total response tokens `Σ mask` (at least 1).
    pub tokens: f64,
    /// Number of non-empty responses (at least 1).
    pub rows: f64,
    /// The constant length `T` of `seq-mean-token-sum-norm`.
    pub t_len: f64,
}

impl AggNorm {
    /// Normalizers of a batch given by its response lengths; `t_len` is the constant `T`.
    pub fn from_lengths(lengths: &[usize], t_len: usize) -> Self {
        let tokens: usize = lengths.iter().sum();
        let rows = lengths.iter().filter(|&&n| n > 0).count();
        AggNorm {
            tokens: tokens.max(1) as f64,
            rows: rows.max(1) as f64,
            t_len: t_len.max(1) as f64,
        }
    }

    /// Normalizers of a batch given by its mask `[B, T]` (0/1, f32); `T` = mask width.
    pub fn from_mask(mask: &Tensor) -> Result<Self> {
        let rows: Vec<f32> = mask.sum(D::Minus1)?.to_vec1()?;
        let lengths: Vec<usize> = rows.iter().map(|&x| x.round() as usize).collect();
        Ok(Self::from_lengths(&lengths, mask.dim(D::Minus1)?))
    }
}

/// Aggregates `m [B, T]` under `mask [B, T]` into a scalar (differentiable w.r.t. `m`).
pub fn aggregate(m: &Tensor, mask: &Tensor, mode: Aggregation, norm: &AggNorm) -> Result<Tensor> {
    let masked = (m * mask)?;
    match mode {
        Aggregation::TokenMean => masked.sum_all()? / norm.tokens,
        Aggregation::SeqMeanTokenMean => {
            let row_sum = masked.sum(D::Minus1)?;
            let row_cnt = (mask.sum(D::Minus1)? + 1e-8)?;
            // empty rows have row_sum 0 and contribute 0
            (row_sum / row_cnt)?.sum_all()? / norm.rows
        }
        Aggregation::SeqMeanTokenSum => masked.sum_all()? / norm.rows,
        Aggregation::SeqMeanTokenSumNorm => masked.sum_all()? / (norm.rows * norm.t_len),
    }
}
