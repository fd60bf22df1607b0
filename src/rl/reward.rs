//! From verdicts to scalar rewards, with optional shaping terms (config keys in `[reward]`,
//! all off by default).
//!
//! - base: `r = 1` if accepted, `0` if rejected (`kind = "entropy-only"`: `r = 0` always)
//! - format: `r += format_reward` when the response is well-formed, `r += format_penalty`
//!   when it is not
//! - DAPO overlong penalty (`overlong_buffer = L_buf > 0`, `L_max = sampling.max_new_tokens`,
//!   factor `overlong_penalty`): when `len > L_max − L_buf`,
//!   `r += min(−(len − (L_max − L_buf)) / L_buf · overlong_penalty, 0)`
//! - HAPO-style length reward (`length_reward_weight = w > 0`): with `h` the shortest correct
//!   response length seen for this task in earlier steps (none yet: no term),
//!   `f = cos(min(π/2 · len / h, π))`; correct: `r += w·f`, incorrect: `r += w·min(f, 0)`.
//!   `h` is updated after each step with the step's correct lengths (and checkpointed).
use std::collections::BTreeMap;

use crate::rl::config::{RewardConfig, RewardKind};
use crate::rl::traits::RewardOutcome;
use crate::verify::Status;

/// A sample's reward and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ShapedReward {
    /// Total reward.
    pub reward: f64,
    /// Whether the verifier accepted.
    pub correct: bool,
    /// Format term.
    pub format: f64,
    /// Overlong term.
    pub overlong: f64,
    /// Length term.
    pub length: f64,
}

/// Turns outcomes into rewards; keeps the per-task history of the length reward.
#[derive(Debug, Clone)]
pub struct RewardShaper {
    cfg: RewardConfig,
    max_new_tokens: usize,
    /// Shortest correct response length per task id.
    pub history: BTreeMap<String, usize>,
}

impl RewardShaper {
    /// A shaper for `cfg` with `L_max = max_new_tokens`.
    pub fn new(cfg: RewardConfig, max_new_tokens: usize) -> Self {
        RewardShaper {
            cfg,
            max_new_tokens,
            history: BTreeMap::new(),
        }
    }

    /// The reward of one judged completion of `len` tokens (`None` for a verifier error).
    pub fn shape(
        &self,
        task_id: &str,
        outcome: &RewardOutcome,
        len: usize,
    ) -> Option<ShapedReward> {
        let correct = match &outcome.verdict {
            Status::Accepted => true,
            Status::Rejected { .. } => false,
            Status::Error { .. } => return None,
        };
        let c = &self.cfg;
        let base = match c.kind {
            RewardKind::EntropyOnly => 0.0,
            _ if correct => 1.0,
            _ => 0.0,
        };
        let format = if outcome.well_formed {
            c.format_reward
        } else {
            c.format_penalty
        };
        let overlong = overlong_penalty(
            len,
            self.max_new_tokens,
            c.overlong_buffer,
            c.overlong_penalty,
        );
        let length = if c.length_reward_weight > 0.0 {
            match self.history.get(task_id) {
                Some(&h) => c.length_reward_weight * length_reward(len, h, correct),
                None => 0.0,
            }
        } else {
            0.0
        };
        Some(ShapedReward {
            reward: base + format + overlong + length,
            correct,
            format,
            overlong,
            length,
        })
    }

    /// Records the correct lengths of a step (call after shaping the whole step).
    pub fn record(&mut self, task_id: &str, len: usize, correct: bool) {
        if correct && len > 0 {
            let e = self.history.entry(task_id.to_string()).or_insert(len);
            *e = (*e).min(len);
        }
    }
}

/// DAPO's soft overlong punishment: `min(−(len − (L_max − L_buf)) / L_buf · factor, 0)` when
/// `len > L_max − L_buf`, else 0 (and 0 when `L_buf = 0`).
pub fn overlong_penalty(len: usize, l_max: usize, l_buf: usize, factor: f64) -> f64 {
    if l_buf == 0 {
        return 0.0;
    }
    let start = l_max.saturating_sub(l_buf);
    if len <= start {
        return 0.0;
    }
    (-((len - start) as f64) / l_buf as f64 * factor).min(0.0)
}

/// HAPO-style length term: `f = cos(min(π/2 · len / h, π))`; correct → `f`, else `min(f, 0)`.
pub fn length_reward(len: usize, h: usize, correct: bool) -> f64 {
    let x = (std::f64::consts::FRAC_PI_2 * len as f64 / h.max(1) as f64).min(std::f64::consts::PI);
    let f = x.cos();
    if correct {
        f
    } else {
        f.min(0.0)
    }
}
