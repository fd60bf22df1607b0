//! Rollout correction (verl's names): truncated importance sampling between the policy that
//! sampled (the sampler's reduced-precision copy, `logπ_rollout`) and the f32 training policy
//! (`logπ_train`, the log-probs the loss sees as `logπ_old`).
//!
//! Keys under `[loss]`:
//! - `rollout_is` (default "none"): "none" | "token" | "sequence".
//!   - token: `w_t = min(exp(clamp(logπ_train,t − logπ_rollout,t, −20, 20)), C)`
//!   - sequence: `w = min(exp(clamp(Σ_t (logπ_train,t − logπ_rollout,t), −20, 20)), C)`, the
//!     same `w` on every token of the response
//!   - none: `w = 1` (the token weights are still computed for the metrics below)
//! - `rollout_is_threshold` C (default 2.0, must be > 0): the truncation.
//!
//! `w` is detached and multiplies the per-token policy-gradient loss before aggregation
//! (`pg_t ← w_t · pg_t`, see [`crate::rl::loss`]).
//!
//! Metrics (every step, over the step's response tokens; sequences in sequence mode):
//! - `rollout_is_mean` = mean of `w` over the N weights (tokens, or sequences);
//! - `rollout_is_eff_sample_size` = `(Σ w)² / (N · Σ w²)` = `1 / mean((w / mean w)²)`, the
//!   normalized effective sample size in (0, 1] (1 = all weights equal);
//! - `rollout_mismatch` = token mean of `logπ_rollout − logπ_train` (≥ 0 in expectation: an
//!   estimate of KL(π_rollout ‖ π_train)).
//!
//! In "none" mode the metrics describe the token weights that "token" would apply.
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

/// How rollout importance weights are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutIs {
    /// No correction (weights 1).
    #[default]
    None,
    /// One weight per token.
    Token,
    /// One weight per response (sum of the token log-ratios).
    Sequence,
}

/// Log-ratio clamp before `exp`.
pub const LOG_RATIO_CLAMP: f64 = 20.0;

/// Sums from which the step's metrics are formed (micro-batches add up).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RolloutIsStats {
    /// `Σ w` over the weights (tokens or sequences).
    pub w_sum: f64,
    /// `Σ w²`.
    pub w_sq_sum: f64,
    /// Number of weights N.
    pub n: f64,
    /// `Σ (logπ_rollout − logπ_train)` over tokens.
    pub mismatch_sum: f64,
    /// Response tokens.
    pub tokens: f64,
}

impl RolloutIsStats {
    /// Adds another micro-batch's sums.
    pub fn add(&mut self, o: &RolloutIsStats) {
        self.w_sum += o.w_sum;
        self.w_sq_sum += o.w_sq_sum;
        self.n += o.n;
        self.mismatch_sum += o.mismatch_sum;
        self.tokens += o.tokens;
    }
    /// `rollout_is_mean`.
    pub fn mean(&self) -> f64 {
        if self.n == 0.0 {
            1.0
        } else {
            self.w_sum / self.n
        }
    }
    /// `rollout_is_eff_sample_size = (Σ w)² / (N · Σ w²)`.
    pub fn eff_sample_size(&self) -> f64 {
        if self.n == 0.0 || self.w_sq_sum == 0.0 {
            1.0
        } else {
            self.w_sum * self.w_sum / (self.n * self.w_sq_sum)
        }
    }
    /// `rollout_mismatch`: token mean of `logπ_rollout − logπ_train`.
    pub fn mismatch(&self) -> f64 {
        self.mismatch_sum / self.tokens.max(1.0)
    }
}

/// The weights of a batch: per row, one weight per response token (the row's length is the
/// length of its `train` row), and the metric sums.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutIsWeights {
    /// `w[i][t]`, detached (plain numbers).
    pub weights: Vec<Vec<f64>>,
    /// Metric sums.
    pub stats: RolloutIsStats,
}

fn clamped_weight(log_ratio: f64, threshold: f64) -> f64 {
    log_ratio
        .clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
        .exp()
        .min(threshold)
}

/// Computes the weights for rows of `train` and `rollout` log-probs (row `i` of both must have
/// the same length). Errors name the row whose lengths differ, or a bad threshold.
pub fn rollout_is_weights(
    train: &[&[f32]],
    rollout: &[&[f32]],
    mode: RolloutIs,
    threshold: f64,
) -> Result<RolloutIsWeights, String> {
    if threshold.is_nan() || threshold <= 0.0 {
        return Err(format!(
            "rollout_is_threshold = {threshold}: expected a number > 0 (verl's default is 2.0)"
        ));
    }
    if train.len() != rollout.len() {
        return Err(format!(
            "rollout correction: {} training rows but {} rollout rows",
            train.len(),
            rollout.len()
        ));
    }
    let mut st = RolloutIsStats::default();
    let mut weights = Vec::with_capacity(train.len());
    for (i, (tr, ro)) in train.iter().zip(rollout).enumerate() {
        if tr.len() != ro.len() {
            return Err(format!(
                "rollout correction: row {i} has {} training log-probs but {} from the sampler",
                tr.len(),
                ro.len()
            ));
        }
        let lr: Vec<f64> = tr
            .iter()
            .zip(ro.iter())
            .map(|(&a, &b)| a as f64 - b as f64)
            .collect();
        st.mismatch_sum -= lr.iter().sum::<f64>();
        st.tokens += lr.len() as f64;
        let w: Vec<f64> = match mode {
            RolloutIs::Sequence => {
                if lr.is_empty() {
                    vec![]
                } else {
                    let w = clamped_weight(lr.iter().sum(), threshold);
                    st.w_sum += w;
                    st.w_sq_sum += w * w;
                    st.n += 1.0;
                    vec![w; lr.len()]
                }
            }
            RolloutIs::Token | RolloutIs::None => {
                let w: Vec<f64> = lr.iter().map(|&x| clamped_weight(x, threshold)).collect();
                st.w_sum += w.iter().sum::<f64>();
                st.w_sq_sum += w.iter().map(|x| x * x).sum::<f64>();
                st.n += w.len() as f64;
                if mode == RolloutIs::None {
                    vec![1.0; lr.len()]
                } else {
                    w
                }
            }
        };
        weights.push(w);
    }
    Ok(RolloutIsWeights { weights, stats: st })
}

/// The trainer's hook: weights `[B, T]` (padded with 1) for a micro-batch whose training
/// log-probs are `train [B, T]` (response `i` has `lens[i]` tokens) and whose sampler
/// log-probs are `rollout[i]`. `None` when some row has no (or a wrongly sized) sampler row.
pub fn batch_weights(
    train: &Tensor,
    rollout: &[Option<&[f32]>],
    lens: &[usize],
    mode: RolloutIs,
    threshold: f64,
) -> candle_core::Result<Option<(Tensor, RolloutIsStats)>> {
    let t = train.dim(1)?;
    let rows: Vec<Vec<f32>> = train
        .detach()
        .to_dtype(DType::F32)?
        .to_device(&Device::Cpu)?
        .to_vec2()?;
    let mut tr = Vec::with_capacity(lens.len());
    let mut ro = Vec::with_capacity(lens.len());
    for ((row, &n), r) in rows.iter().zip(lens).zip(rollout) {
        match r {
            Some(r) if r.len() == n && n <= row.len() => {
                tr.push(&row[..n]);
                ro.push(*r);
            }
            _ => return Ok(None),
        }
    }
    let w = rollout_is_weights(&tr, &ro, mode, threshold).map_err(candle_core::Error::Msg)?;
    let mut flat = Vec::with_capacity(lens.len() * t);
    for row in &w.weights {
        flat.extend(row.iter().map(|&x| x as f32));
        flat.extend(std::iter::repeat_n(1.0f32, t - row.len()));
    }
    let wt = Tensor::from_vec(flat, (lens.len(), t), &Device::Cpu)?.to_device(train.device())?;
    Ok(Some((wt, w.stats)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_log_probs_give_unit_weights_and_full_ess() {
        let a = [-1.0f32, -2.0, -0.5];
        for mode in [RolloutIs::Token, RolloutIs::Sequence] {
            let w = rollout_is_weights(&[&a], &[&a], mode, 2.0).unwrap();
            assert!(w.weights[0].iter().all(|&x| x == 1.0));
            assert_eq!(w.stats.eff_sample_size(), 1.0);
            assert_eq!(w.stats.mismatch(), 0.0);
        }
    }

    #[test]
    fn weights_are_truncated_and_none_applies_none() {
        let tr = [0.0f32, -3.0];
        let ro = [-5.0f32, -3.0];
        let w = rollout_is_weights(&[&tr], &[&ro], RolloutIs::Token, 2.0).unwrap();
        assert_eq!(w.weights[0], vec![2.0, 1.0]);
        let n = rollout_is_weights(&[&tr], &[&ro], RolloutIs::None, 2.0).unwrap();
        assert_eq!(n.weights[0], vec![1.0, 1.0]);
        assert_eq!(n.stats, w.stats);
        assert!((w.stats.mismatch() - (-2.5)).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        let a = [0.0f32];
        let b = [0.0f32, 1.0];
        assert!(rollout_is_weights(&[&a], &[&b], RolloutIs::Token, 2.0).is_err());
        assert!(rollout_is_weights(&[&a], &[&a], RolloutIs::Token, 0.0).is_err());
        assert!(rollout_is_weights(&[&a], &[], RolloutIs::Token, 2.0).is_err());
    }
}
