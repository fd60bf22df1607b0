//! The GRPO / PPO-clip loss with entropy bonus and KL penalty.
//!
//! Per token `t` of response `i` (all config keys under `[loss]`):
//! - ratio `ρ = exp(clamp(logπ − logπ_old, −20, 20))`
//! - `pg = max(−A·ρ, −A·clip(ρ, 1 − clip_low, 1 + clip_high))`
//! - dual clip (`dual_clip = c`, default 3, verl's `clip_ratio_c`): for `A < 0`,
//!   `pg = min(pg, −A·c)`; disabled with `dual_clip = 0`
//! - entropy `H = logsumexp(z) − Σ softmax(z)·z` (see [`crate::policy::logprob`])
//! - KL to the frozen reference by `kl_estimator` (see [`crate::rl::kl`])
//! - rollout correction (`rollout_is`, `rollout_is_threshold`): `pg ← w·pg` with the detached
//!   truncated importance weight `w` of [`crate::rl::rollout_correction`] (1 when off)
//! - `loss = agg(pg) − entropy_coef · agg(H) + kl_coef · agg(KL)` with `agg` = `aggregation`
//!   (see [`crate::rl::aggregate`]); a positive `entropy_coef` raises entropy.
//!
//! Metrics: `clip_frac` = share of tokens where the clipped branch is active
//! (`−A·clip(ρ) > −A·ρ`), `clip_frac_lower` = share where the dual clip is active,
//! [`ClipCounts::ppo_kl`] = token mean of `logπ_old − logπ` (computed, not yet a
//! metrics.jsonl column).
use candle_core::{DType, Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::rl::aggregate::{aggregate, AggNorm, Aggregation};
use crate::rl::kl::{kl_per_token, KlEstimator};
use crate::rl::rollout_correction::RolloutIs;
use crate::rl::torch_grad::{clamp, scalar};

/// The `[loss]` section of the run config: coefficients and modes of the loss, and how
/// advantages are normalised. Unknown keys are errors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// `ε_low`: lower clip `1 − ε_low`.
    pub clip_low: f64,
    /// `ε_high`: upper clip `1 + ε_high` (DAPO clip-higher uses 0.28).
    pub clip_high: f64,
    /// Dual-clip constant `c` (> 1) for negative advantages; 0 disables.
    pub dual_clip: f64,
    /// Entropy bonus coefficient.
    pub entropy_coef: f64,
    /// KL penalty coefficient (0 disables the KL term and the reference pass).
    pub kl_coef: f64,
    /// KL estimator.
    pub kl_estimator: KlEstimator,
    /// Aggregation mode.
    pub aggregation: Aggregation,
    /// Divide advantages by the group std (false = Dr. GRPO; see [`crate::rl::advantage`]).
    pub norm_adv_by_std: bool,
    /// Rollout correction mode (verl's `rollout_is`; see [`crate::rl::rollout_correction`]).
    pub rollout_is: RolloutIs,
    /// Truncation C of the rollout weights (verl's `rollout_is_threshold`).
    pub rollout_is_threshold: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            clip_low: 0.2,
            clip_high: 0.2,
            dual_clip: 3.0,
            entropy_coef: 0.0,
            kl_coef: 0.0,
            kl_estimator: KlEstimator::K3,
            aggregation: Aggregation::TokenMean,
            norm_adv_by_std: true,
            rollout_is: RolloutIs::None,
            rollout_is_threshold: 2.0,
        }
    }
}

/// Inputs of one (micro-)batch (f32 or any float dtype; outputs are f32).
#[derive(Debug, Clone)]
pub struct LossInputs<'a> {
    /// Current log-probs `[B, T]` (differentiable).
    pub logp: &'a Tensor,
    /// Current entropies `[B, T]` (differentiable).
    pub entropy: &'a Tensor,
    /// Log-probs of the policy that sampled `[B, T]`; `None` = on-policy (`logp.detach()`).
    pub old_logp: Option<&'a Tensor>,
    /// Reference log-probs `[B, T]`; required when `kl_coef ≠ 0`.
    pub ref_logp: Option<&'a Tensor>,
    /// Rollout-correction weights `[B, T]` (detached; see [`crate::rl::rollout_correction`]);
    /// `None` = 1.
    pub rollout_is_weights: Option<&'a Tensor>,
    /// Per-sample advantages `[B]`.
    pub advantages: &'a Tensor,
    /// Response mask `[B, T]` (1 = response token).
    pub mask: &'a Tensor,
}

/// The loss and its parts.
#[derive(Debug, Clone)]
pub struct LossOutput {
    /// Scalar total loss (differentiable).
    pub total: Tensor,
    /// Aggregated policy-gradient loss (scalar tensor).
    pub pg: Tensor,
    /// Aggregated entropy (scalar tensor).
    pub entropy: Tensor,
    /// Aggregated KL (scalar tensor; zero when disabled).
    pub kl: Tensor,
    /// Per-token policy loss `[B, T]` (before masking).
    pub pg_per_token: Tensor,
    /// Per-token KL `[B, T]` (zeros when disabled).
    pub kl_per_token: Tensor,
    /// Per-token ratio `[B, T]`.
    pub ratio: Tensor,
    /// Masked token sums of the clip indicators and `logπ_old − logπ`, and the token count,
    /// so micro-batch metrics can be combined: (clipped, dual-clipped, ppo_kl sum, tokens).
    pub counts: ClipCounts,
}

/// Masked token counts for the clip metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClipCounts {
    /// Tokens where the `clip(ρ)` branch is active.
    pub clipped: f64,
    /// Tokens where the dual clip is active (`A < 0`).
    pub dual_clipped: f64,
    /// `Σ (logπ_old − logπ)` over response tokens.
    pub neg_log_ratio_sum: f64,
    /// Response tokens.
    pub tokens: f64,
}

impl ClipCounts {
    /// Adds another micro-batch's counts.
    pub fn add(&mut self, o: &ClipCounts) {
        self.clipped += o.clipped;
        self.dual_clipped += o.dual_clipped;
        self.neg_log_ratio_sum += o.neg_log_ratio_sum;
        self.tokens += o.tokens;
    }
    /// Share of tokens where the ratio clip is active.
    pub fn clip_frac(&self) -> f64 {
        self.clipped / self.tokens.max(1.0)
    }
    /// Share of tokens where the dual clip is active.
    pub fn clip_frac_lower(&self) -> f64 {
        self.dual_clipped / self.tokens.max(1.0)
    }
    /// Token mean of `logπ_old − logπ`.
    pub fn ppo_kl(&self) -> f64 {
        self.neg_log_ratio_sum / self.tokens.max(1.0)
    }
}

/// Computes the loss. `norm` gives the aggregation normalizers of the whole mini-batch (use
/// [`AggNorm::from_mask`] for a single batch).
pub fn grpo_loss(inp: &LossInputs, p: &LossConfig, norm: &AggNorm) -> Result<LossOutput> {
    // The [B, T] arithmetic runs in f64 (cheap next to the logits) so that cancellations such
    // as `eˣ − x − 1` for small `x` lose nothing; gradients flow back through the casts.
    let logp = inp.logp.to_dtype(DType::F64)?;
    let entropy = inp.entropy.to_dtype(DType::F64)?;
    let mask = inp.mask.to_dtype(DType::F64)?.detach();
    let old = match inp.old_logp {
        Some(o) => o.to_dtype(DType::F64)?.detach(),
        None => logp.detach(),
    };
    let adv_tok = inp
        .advantages
        .to_dtype(DType::F64)?
        .unsqueeze(1)?
        .broadcast_mul(&mask)?
        .detach();
    let neg_adv = adv_tok.neg()?;

    let log_ratio = clamp(&(&logp - &old)?, -20.0, 20.0)?;
    let ratio = log_ratio.exp()?;
    let l1 = (&neg_adv * &ratio)?;
    let l2 = (&neg_adv * clamp(&ratio, 1.0 - p.clip_low, 1.0 + p.clip_high)?)?;
    let c1 = l1.maximum(&l2)?;
    let (pg_tok, dual_active) = if p.dual_clip > 0.0 {
        let l3 = (&neg_adv * p.dual_clip)?;
        let c2 = l3.minimum(&c1)?;
        let neg = adv_tok.lt(0.0)?;
        let pg = neg.where_cond(&c2, &c1)?;
        let active = (c1.gt(&l3)?.to_dtype(DType::F64)? * neg.to_dtype(DType::F64)?)?;
        (pg, Some(active))
    } else {
        (c1.clone(), None)
    };
    let pg_tok = match inp.rollout_is_weights {
        Some(w) => (pg_tok * w.to_dtype(DType::F64)?.detach())?,
        None => pg_tok,
    };

    let pg = aggregate(&pg_tok, &mask, p.aggregation, norm)?;
    let ent = aggregate(&entropy, &mask, p.aggregation, norm)?;
    let (kl_tok, kl) = if p.kl_coef != 0.0 {
        let r = inp.ref_logp.ok_or_else(|| {
            candle_core::Error::Msg("kl_coef != 0 needs reference log-probs".into())
        })?;
        let k = kl_per_token(&logp, &r.to_dtype(DType::F64)?.detach(), p.kl_estimator)?;
        let a = aggregate(&k, &mask, p.aggregation, norm)?;
        (k, a)
    } else {
        (logp.zeros_like()?, Tensor::new(0f64, logp.device())?)
    };
    let total = ((&pg - (&ent * p.entropy_coef)?)? + (&kl * p.kl_coef)?)?;

    let clipped = scalar(&(l2.gt(&l1)?.to_dtype(DType::F64)? * &mask)?)?;
    let dual_clipped = match &dual_active {
        Some(a) => scalar(&(a * &mask)?)?,
        None => 0.0,
    };
    let neg_log_ratio_sum = -scalar(&(log_ratio.detach() * &mask)?)?;
    let tokens = scalar(&mask)?;
    let f32 = |x: Tensor| x.to_dtype(DType::F32);
    Ok(LossOutput {
        total: f32(total)?,
        pg: f32(pg)?,
        entropy: f32(ent)?,
        kl: f32(kl)?,
        pg_per_token: f32(pg_tok)?,
        kl_per_token: f32(kl_tok)?,
        ratio: f32(ratio)?,
        counts: ClipCounts {
            clipped,
            dual_clipped,
            neg_log_ratio_sum,
            tokens,
        },
    })
}
