//! Choosing one token from one row of logits: greedy, temperature, top-k, top-p.
//!
//! With logits `z` (raw model output for one row) and temperature `T > 0`:
//! 1. scale: `s_i = z_i / T`;
//! 2. top-k (`k > 0`): keep the `k` largest `s_i` (ties: lower id first);
//! 3. top-p (`p < 1`): over the kept tokens sorted by `s` descending, with
//!    `q_i = exp(s_i) / Σ_kept exp(s_j)`, keep the smallest prefix whose cumulative `q` is ≥ p
//!    (always at least one token);
//! 4. sample from `π_i = exp(s_i) / Σ_final exp(s_j)` over the final set.
//!
//! This is the order of transformers' `TemperatureLogitsWarper → TopK → TopP` and of vLLM.
//! Each [`TokenChoice`] carries two log-probabilities of the chosen token `x`:
//! * `logprob = log π_x`, the exact log-probability under the distribution that was sampled
//!   (temperature-scaled, truncated by top-k/top-p and renormalised). For greedy (`T = 0`) the
//!   sampler is a point mass and `logprob = 0`.
//! * `policy_logprob = z_x − logsumexp(z)`, the log-softmax of the raw logits (T = 1, no
//!   truncation): the model's own log-probability, what a scorer recomputes by teacher forcing.
//! * `tempered_logprob = z_x/T − logsumexp(z/T)`, the log-softmax at the sampling temperature
//!   without truncation (the raw one when greedy): what the trainer's scorer computes at that
//!   temperature, so the RL loss's `logπ_rollout` / `logπ_old`.
//!
//! Neither top-k nor top-p sorts the whole vocabulary: top-k is a linear-time selection, top-p
//! selects and sorts growing prefixes (64, 256, 1024, ... tokens) until they hold mass `p`.
use rand::Rng;

/// Settings of one draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truncation {
    /// Temperature `T`; 0 means greedy (argmax, lowest id on ties).
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens; 0 = no limit.
    pub top_k: usize,
    /// Nucleus mass `p` in (0, 1]; 1 = no limit.
    pub top_p: f32,
}

impl Default for Truncation {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        }
    }
}

/// The chosen token and its log-probabilities (see the module docs for the exact definitions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenChoice {
    /// The token id.
    pub token: u32,
    /// `log π_x` under the sampled (scaled, truncated, renormalised) distribution.
    pub logprob: f32,
    /// `log_softmax(z)_x` of the raw logits.
    pub policy_logprob: f32,
    /// `log_softmax(z/T)_x`, untruncated (`policy_logprob` when greedy).
    pub tempered_logprob: f32,
}

/// Reusable buffers (one per thread / sampler) so a draw allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    idx: Vec<u32>,
    vals: Vec<f32>,
    /// `w_i = exp(z_i / T − max(z) / T)`.
    w: Vec<f32>,
}

/// Index and value of the largest logit (lowest index on ties). Errors on NaN or when every
/// logit is −∞.
pub fn argmax(logits: &[f32]) -> Result<(usize, f32), String> {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, &z) in logits.iter().enumerate() {
        if z.is_nan() {
            return Err(format!("the model produced a NaN logit (token id {i})"));
        }
        if z > best.1 {
            best = (i, z);
        }
    }
    if logits.is_empty() || best.1 == f32::NEG_INFINITY {
        return Err("the model produced no finite logit (empty row or all −inf)".into());
    }
    if best.1 == f32::INFINITY {
        return Err(format!(
            "the model produced a +inf logit (token id {})",
            best.0
        ));
    }
    Ok(best)
}

/// `logsumexp(z)` in f64, given `max = max(z)`.
fn logsumexp_with_max(logits: &[f32], max: f32) -> f64 {
    let sum: f64 = logits.iter().map(|&z| f64::from((z - max).exp())).sum();
    f64::from(max) + sum.ln()
}

/// `log_softmax(z)_token` of a row of raw logits.
pub fn log_softmax_at(logits: &[f32], token: usize) -> Result<f32, String> {
    let (_, max) = argmax(logits)?;
    Ok((f64::from(logits[token]) - logsumexp_with_max(logits, max)) as f32)
}

/// Orders ids by logit descending (the order of `z / T` for any `T > 0`), then id ascending.
fn by_logit_desc(z: &[f32]) -> impl Fn(&u32, &u32) -> std::cmp::Ordering + '_ {
    move |&a, &b| z[b as usize].total_cmp(&z[a as usize]).then(a.cmp(&b))
}

/// Fills `scratch.w` with the unnormalised weights `exp(z_i/T − m)` (`m = max(z)/T`) and returns
/// `Σ w`.
fn weights(logits: &[f32], temp: f32, max_z: f32, scratch: &mut Scratch) -> f64 {
    let m = max_z / temp;
    scratch.w.clear();
    scratch
        .w
        .extend(logits.iter().map(|&z| (z / temp - m).exp()));
    scratch.w.iter().map(|&w| f64::from(w)).sum()
}

/// Puts the `c` best ids under the order (logit descending, id ascending) into `idx`
/// (unordered), for `0 < c < V`: a linear-time selection of the `c`-th largest logit `θ` on a
/// contiguous copy, then one scan taking every id above `θ` and the lowest ids equal to `θ`.
fn top_c(z: &[f32], c: usize, vals: &mut Vec<f32>, idx: &mut Vec<u32>) {
    vals.clear();
    vals.extend_from_slice(z);
    let (_, theta, _) = vals.select_nth_unstable_by(c - 1, |a, b| b.total_cmp(a));
    let theta = *theta;
    idx.clear();
    let above = z.iter().filter(|x| x.total_cmp(&theta).is_gt()).count();
    let mut ties = c - above;
    for (i, x) in z.iter().enumerate() {
        match x.total_cmp(&theta) {
            std::cmp::Ordering::Greater => idx.push(i as u32),
            std::cmp::Ordering::Equal if ties > 0 => {
                ties -= 1;
                idx.push(i as u32);
            }
            _ => {}
        }
    }
}

/// Steps 2–3 on the weights in `scratch.w` (whose sum is `total`): leaves the kept ids in
/// `scratch.idx[..n]` and returns `n`. Without truncation `scratch.idx` is left empty and
/// `n = V` (all ids are kept).
fn truncate(logits: &[f32], t: &Truncation, total: f64, scratch: &mut Scratch) -> usize {
    let v = logits.len();
    scratch.idx.clear();
    let top_k = t.top_k > 0 && t.top_k < v;
    if !top_k && t.top_p >= 1.0 {
        return v;
    }
    let cmp = by_logit_desc(logits);
    let w = &scratch.w;
    if t.top_p >= 1.0 {
        top_c(logits, t.top_k, &mut scratch.vals, &mut scratch.idx);
        return t.top_k;
    }
    // Candidates: the top-k set, or the whole vocabulary.
    let n = if top_k { t.top_k } else { v };
    let mass: f64 = if top_k {
        top_c(logits, n, &mut scratch.vals, &mut scratch.idx);
        scratch.idx.iter().map(|&i| f64::from(w[i as usize])).sum()
    } else {
        total
    };
    let target = f64::from(t.top_p) * mass;
    // Grow a sorted prefix of the candidates (64, 256, ...) until it holds mass ≥ target.
    let mut c = n.min(64);
    loop {
        if top_k {
            if c < n {
                scratch.idx.select_nth_unstable_by(c - 1, &cmp);
            }
        } else if c < n {
            top_c(logits, c, &mut scratch.vals, &mut scratch.idx);
        } else {
            scratch.idx.clear();
            scratch.idx.extend(0..v as u32);
        }
        let prefix = &mut scratch.idx[..c];
        prefix.sort_unstable_by(&cmp);
        let mut cum = 0.0f64;
        for (j, &i) in prefix.iter().enumerate() {
            cum += f64::from(w[i as usize]);
            if cum >= target {
                return j + 1;
            }
        }
        if c == n {
            return n; // rounding: the whole candidate set
        }
        c = (c * 4).min(n);
    }
}

/// The exact distribution a draw samples from: `(token, π)` over the kept tokens (for greedy,
/// the argmax with probability 1). Allocates; meant for tests and diagnostics.
pub fn sampling_distribution(logits: &[f32], t: &Truncation) -> Result<Vec<(u32, f64)>, String> {
    let (best, max_z) = argmax(logits)?;
    if t.temperature == 0.0 {
        return Ok(vec![(best as u32, 1.0)]);
    }
    let mut scratch = Scratch::default();
    let total = weights(logits, t.temperature, max_z, &mut scratch);
    let n = truncate(logits, t, total, &mut scratch);
    let kept: Vec<u32> = if scratch.idx.is_empty() {
        (0..logits.len() as u32).collect()
    } else {
        scratch.idx[..n].to_vec()
    };
    let z: f64 = kept.iter().map(|&i| f64::from(scratch.w[i as usize])).sum();
    Ok(kept
        .iter()
        .map(|&i| (i, f64::from(scratch.w[i as usize]) / z))
        .collect())
}

/// Draws one token from a row of raw logits.
pub fn choose<R: Rng + ?Sized>(
    logits: &[f32],
    t: &Truncation,
    rng: &mut R,
    scratch: &mut Scratch,
) -> Result<TokenChoice, String> {
    let (best, max_z) = argmax(logits)?;
    if t.temperature == 0.0 {
        let lse = logsumexp_with_max(logits, max_z);
        let policy_logprob = (f64::from(logits[best]) - lse) as f32;
        return Ok(TokenChoice {
            token: best as u32,
            logprob: 0.0,
            policy_logprob,
            tempered_logprob: policy_logprob,
        });
    }
    let temp = t.temperature;
    let total = weights(logits, temp, max_z, scratch);
    // At T = 1 the weights are exp(z − max z): reuse their sum for logsumexp(z).
    let lse = if temp == 1.0 {
        f64::from(max_z) + total.ln()
    } else {
        logsumexp_with_max(logits, max_z)
    };
    let policy = |x: usize| (f64::from(logits[x]) - lse) as f32;
    let n = truncate(logits, t, total, scratch);
    let w = &scratch.w;
    let kept_mass: f64 = if scratch.idx.is_empty() {
        total
    } else {
        scratch.idx[..n]
            .iter()
            .map(|&i| f64::from(w[i as usize]))
            .sum()
    };
    let u = rng.gen::<f64>() * kept_mass;
    let mut cum = 0.0;
    let mut pick = best;
    let mut visit = |i: usize| {
        let wi = f64::from(w[i]);
        if wi > 0.0 {
            pick = i;
            cum += wi;
        }
        cum > u
    };
    if scratch.idx.is_empty() {
        for i in 0..logits.len() {
            if visit(i) {
                break;
            }
        }
    } else {
        for &i in &scratch.idx[..n] {
            if visit(i as usize) {
                break;
            }
        }
    }
    // log π_x = (z_x/T − m) − ln Σ_kept w, computed from the logit, not from the rounded weight.
    let scaled = f64::from(logits[pick] / temp - max_z / temp);
    let logprob = (scaled - kept_mass.ln()) as f32;
    Ok(TokenChoice {
        token: pick as u32,
        logprob,
        policy_logprob: policy(pick),
        // `total` = Σ_all exp((z − max z)/T): the untruncated normaliser
        tempered_logprob: (scaled - total.ln()) as f32,
    })
}
