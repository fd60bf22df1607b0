//! Per-token log-probabilities and entropies from logits, with differentiable candle ops.
//!
//! `candle_nn::ops::softmax_last_dim` / `log_softmax` record no backward pass, so these are
//! built from primitives (`exp`, `sum`, `log`, `gather`) that do.
//!
//! - temperature: `z = logits / τ` (the sampling temperature; τ = 1 leaves logits unchanged)
//! - `logsumexp(z) = m + log Σ_v exp(z_v − m)` with `m = max_v z_v` (detached: it cancels)
//! - `logπ(y_t) = z_{y_t} − logsumexp(z)`
//! - entropy `H = logsumexp(z) − Σ_v softmax(z)_v · z_v`
use candle_core::{DType, Result, Tensor, D};

/// Per-token log-probs and entropies.
#[derive(Debug, Clone)]
pub struct TokenStats {
    /// `logπ(y_t | y_<t)` `[B, T]`, differentiable.
    pub logp: Tensor,
    /// Entropy of the next-token distribution `[B, T]`, differentiable.
    pub entropy: Tensor,
}

/// Log-probs of `ids [B, T]` (u32) under `logits [B, T, V]` divided by `temperature`, and
/// the entropies of those distributions. Computes in f32.
pub fn token_logp_entropy(logits: &Tensor, ids: &Tensor, temperature: f64) -> Result<TokenStats> {
    let z = logits.to_dtype(DType::F32)?;
    let z = if (temperature - 1.0).abs() > 0.0 {
        (z / temperature)?
    } else {
        z
    };
    let m = z.max_keepdim(D::Minus1)?.detach();
    let shifted = z.broadcast_sub(&m)?;
    // Work with the shifted logits `z − m` (small magnitudes): `logsumexp(z) − Σ p·z` equals
    // `logsumexp(z − m) − Σ p·(z − m)`, and `logπ(y) = (z_y − m) − logsumexp(z − m)`.
    let lse_s = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?; // [B,T,1]
    let probs = shifted.broadcast_sub(&lse_s)?.exp()?;
    let lse_s = lse_s.squeeze(D::Minus1)?;
    let entropy = (&lse_s - (probs * &shifted)?.sum(D::Minus1)?)?;
    let idx = ids.to_dtype(DType::U32)?.unsqueeze(D::Minus1)?;
    let chosen = shifted
        .gather(&idx.contiguous()?, D::Minus1)?
        .squeeze(D::Minus1)?;
    let logp = (chosen - lse_s)?;
    Ok(TokenStats { logp, entropy })
}
