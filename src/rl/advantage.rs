//! Group-relative advantages (GRPO) and the dynamic-sampling group filter.
//!
//! For the `G` samples of one prompt with rewards `r_1..r_G`:
//! - `loss.norm_adv_by_std = true` (GRPO): `A_i = (r_i − mean_g) / (std_g + 1e-6)` with the
//!   unbiased standard deviation `std_g = sqrt(Σ (r − mean)² / (G − 1))`
//! - `loss.norm_adv_by_std = false` (Dr. GRPO): `A_i = r_i − mean_g`
//! - a singleton group uses `mean = 0`, `std = 1` (so `A = r / (1 + 1e-6)`; verl's convention)
//!
//! A group whose rewards are all equal gets `A = 0` everywhere and carries no policy gradient;
//! `sampling.dynamic_sampling` drops such groups and samples more (DAPO).

/// The epsilon added to the group std.
pub const ADV_EPS: f64 = 1e-6;

/// Mean and (unbiased) std of one group, as used for its advantages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupStats {
    /// Group mean (0 for a singleton).
    pub mean: f64,
    /// Unbiased std (1 for a singleton).
    pub std: f64,
}

/// Statistics of one group of rewards.
pub fn group_stats(rewards: &[f64]) -> GroupStats {
    let n = rewards.len();
    if n <= 1 {
        return GroupStats {
            mean: 0.0,
            std: 1.0,
        };
    }
    let mean = rewards.iter().sum::<f64>() / n as f64;
    let var = rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    GroupStats {
        mean,
        std: var.sqrt(),
    }
}

/// Advantages of samples with `rewards` and `group_ids` (samples of a group need not be
/// contiguous). Computed in f64.
pub fn group_advantages(rewards: &[f64], group_ids: &[usize], norm_by_std: bool) -> Vec<f64> {
    assert_eq!(rewards.len(), group_ids.len(), "one group id per reward");
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, &g) in group_ids.iter().enumerate() {
        groups.entry(g).or_default().push(i);
    }
    let mut out = vec![0.0; rewards.len()];
    for idx in groups.values() {
        let rs: Vec<f64> = idx.iter().map(|&i| rewards[i]).collect();
        let s = group_stats(&rs);
        for &i in idx {
            out[i] = if norm_by_std {
                (rewards[i] - s.mean) / (s.std + ADV_EPS)
            } else {
                rewards[i] - s.mean
            };
        }
    }
    out
}

/// True when every reward of the group is the same (zero std: no learning signal).
pub fn is_constant_group(rewards: &[f64]) -> bool {
    rewards.windows(2).all(|w| w[0] == w[1])
}
