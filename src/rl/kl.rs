//! KL penalty to the frozen reference policy, per token (Schulman's estimators).
//!
//! Config key `loss.kl_estimator`, with `d = logπ − logπ_ref`:
//! - `k1`: `d` (unbiased, high variance, can be negative)
//! - `k2`: `½ d²`
//! - `k3` (default; verl's `low_var_kl`): `x = clamp(logπ_ref − logπ, −20, 20)`,
//!   `k3 = clamp(eˣ − x − 1, −10, 10)` (non-negative, low variance)
use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::rl::torch_grad::clamp;

/// KL estimator (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KlEstimator {
    /// `logπ − logπ_ref`.
    K1,
    /// `½ (logπ − logπ_ref)²`.
    K2,
    /// `clamp(eˣ − x − 1, −10, 10)`, `x = clamp(logπ_ref − logπ, −20, 20)`.
    #[default]
    K3,
}

/// Per-token KL estimate `[B, T]` (differentiable w.r.t. `logp`).
pub fn kl_per_token(logp: &Tensor, ref_logp: &Tensor, est: KlEstimator) -> Result<Tensor> {
    match est {
        KlEstimator::K1 => logp - ref_logp,
        KlEstimator::K2 => (logp - ref_logp)?.sqr()? * 0.5,
        KlEstimator::K3 => {
            let x = clamp(&(ref_logp - logp)?, -20.0, 20.0)?;
            let k = ((x.exp()? - &x)? - 1.0)?;
            clamp(&k, -10.0, 10.0)
        }
    }
}
