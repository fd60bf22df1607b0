//! Learning-rate schedules (config keys `optim.schedule`, `optim.warmup_steps`,
//! `optim.min_lr_ratio`).
//!
//! With base rate `η`, warmup `W`, total steps `N`, floor `η_min = min_lr_ratio · η` and the
//! 0-based optimizer step `s`:
//! - warmup (all schedules, when `W > 0`): `η · (s + 1) / W` for `s < W`
//! - `constant`: `η`
//! - `linear`: `η_min + (η − η_min) · (1 − p)` with `p = (s − W) / max(N − W, 1)` clipped to `[0, 1]`
//! - `cosine`: `η_min + (η − η_min) · ½ (1 + cos(π p))`
use serde::{Deserialize, Serialize};

/// Schedule shape after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Constant after warmup.
    #[default]
    Constant,
    /// Linear decay to the floor.
    Linear,
    /// Cosine decay to the floor.
    Cosine,
}

/// A learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Shape after warmup.
    pub kind: ScheduleKind,
    /// Base learning rate `η`.
    pub lr: f64,
    /// Linear warmup steps `W`.
    pub warmup_steps: u64,
    /// Total optimizer steps `N`.
    pub total_steps: u64,
    /// Floor as a fraction of `η`.
    pub min_lr_ratio: f64,
}

impl Schedule {
    /// The learning rate at 0-based optimizer step `s`.
    pub fn lr_at(&self, s: u64) -> f64 {
        if s < self.warmup_steps {
            return self.lr * (s + 1) as f64 / self.warmup_steps as f64;
        }
        let min = self.lr * self.min_lr_ratio;
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let p = ((s - self.warmup_steps) as f64 / span).clamp(0.0, 1.0);
        match self.kind {
            ScheduleKind::Constant => self.lr,
            ScheduleKind::Linear => min + (self.lr - min) * (1.0 - p),
            ScheduleKind::Cosine => {
                min + (self.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        }
    }
}
