//! A tiny trainable policy for tests and demos: a bigram model over a 16-token vocabulary
//! (`logits(next | prev) = W[prev]`, `W` a trainable `[16, 16]` f32 matrix) with its own
//! sampler. Token 0 is EOS. Prompts and completions are written as space-separated token
//! numbers ("3 5 9"). The reference policy is the initial `W`. Generation ignores
//! [`SamplingParams::stop_strings`]: a completion ends at EOS or `max_new_tokens` only.
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};

use crate::policy::logprob::token_logp_entropy;
use crate::rl::traits::{Policy, Prompt, Rollout, SamplingParams, ScoreItem, ScoreOut};

/// Vocabulary size of the toy model.
pub const VOCAB: usize = 16;
/// End-of-sequence token.
pub const EOS: u32 = 0;

/// The bigram policy.
pub struct BigramPolicy {
    w: Var,
    w_ref: Tensor,
    score_calls: usize,
    /// Test hook: the score call with this 0-based index returns NaN log-probs.
    pub nan_on_score_call: Option<usize>,
    /// Whether rollouts carry their sampling log-probs (default true).
    pub record_sampling_logp: bool,
}

impl BigramPolicy {
    /// A random policy (logits ~ N(0, 0.5²) from `seed`).
    pub fn new(seed: u64) -> Result<Self> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let vals: Vec<f32> = (0..VOCAB * VOCAB)
            .map(|_| {
                // Box–Muller
                let u1: f32 = rng.gen_range(1e-7..1.0);
                let u2: f32 = rng.gen();
                0.5 * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
            })
            .collect();
        let w = Tensor::from_vec(vals, (VOCAB, VOCAB), &Device::Cpu)?;
        Ok(BigramPolicy {
            w_ref: w.clone(),
            w: Var::from_tensor(&w)?,
            score_calls: 0,
            nan_on_score_call: None,
            record_sampling_logp: true,
        })
    }

    fn parse(text: &str) -> Result<Vec<u32>> {
        text.split_whitespace()
            .map(|t| {
                let v: u32 = t
                    .parse()
                    .with_context(|| format!("toy prompt token {t:?} is not a number"))?;
                if v as usize >= VOCAB {
                    bail!("toy token {v} out of range");
                }
                Ok(v)
            })
            .collect()
    }

    fn logits(w: &Tensor, items: &[ScoreItem]) -> Result<(Tensor, Tensor, Tensor)> {
        let t = items
            .iter()
            .map(|i| i.completion_ids.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let (mut prev, mut ids, mut mask) = (Vec::new(), Vec::new(), Vec::new());
        for it in items {
            let mut p = *it.prompt_ids.last().unwrap_or(&EOS);
            for k in 0..t {
                if let Some(&y) = it.completion_ids.get(k) {
                    prev.push(p);
                    ids.push(y);
                    mask.push(1f32);
                    p = y;
                } else {
                    prev.push(EOS);
                    ids.push(EOS);
                    mask.push(0f32);
                }
            }
        }
        let b = items.len();
        let prev = Tensor::from_vec(prev, b * t, &Device::Cpu)?;
        let logits = w.index_select(&prev, 0)?.reshape((b, t, VOCAB))?;
        let ids = Tensor::from_vec(ids, (b, t), &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, (b, t), &Device::Cpu)?;
        Ok((logits, ids, mask))
    }
}

impl Policy for BigramPolicy {
    fn generate(
        &mut self,
        prompts: &[Prompt],
        group_size: usize,
        params: &SamplingParams,
        seed: u64,
    ) -> Result<Vec<Vec<Rollout>>> {
        let w: Vec<Vec<f32>> = self.w.as_tensor().to_dtype(DType::F32)?.to_vec2()?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut out = Vec::new();
        for p in prompts {
            let prompt_ids = Self::parse(p.user_text())?;
            let mut group = Vec::new();
            for _ in 0..group_size {
                let mut prev = *prompt_ids.last().unwrap_or(&EOS) as usize;
                let (mut ids, mut lps) = (Vec::new(), Vec::new());
                let mut truncated = true;
                for _ in 0..params.max_new_tokens {
                    let row = &w[prev];
                    let tau = if params.temperature > 0.0 {
                        params.temperature
                    } else {
                        1.0
                    };
                    let z: Vec<f64> = row.iter().map(|&x| x as f64 / tau).collect();
                    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let lse = m + z.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
                    let y = if params.temperature == 0.0 {
                        (0..VOCAB).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap()
                    } else {
                        let u: f64 = rng.gen();
                        let mut acc = 0.0;
                        let mut pick = VOCAB - 1;
                        for (v, zv) in z.iter().enumerate() {
                            acc += (zv - lse).exp();
                            if u < acc {
                                pick = v;
                                break;
                            }
                        }
                        pick
                    };
                    ids.push(y as u32);
                    lps.push((z[y] - lse) as f32);
                    prev = y;
                    if y as u32 == EOS {
                        truncated = false;
                        break;
                    }
                }
                let text = ids
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                group.push(Rollout {
                    prompt_ids: prompt_ids.clone(),
                    completion_ids: ids,
                    text,
                    sampling_logp: self.record_sampling_logp.then_some(lps),
                    truncated,
                });
            }
            out.push(group);
        }
        Ok(out)
    }

    fn score(&mut self, items: &[ScoreItem], temperature: f64) -> Result<ScoreOut> {
        let call = self.score_calls;
        self.score_calls += 1;
        let (logits, ids, mask) = Self::logits(self.w.as_tensor(), items)?;
        let logits = if self.nan_on_score_call == Some(call) {
            (logits * f64::NAN)?
        } else {
            logits
        };
        let s = token_logp_entropy(&logits, &ids, temperature)?;
        Ok(ScoreOut {
            logp: s.logp,
            entropy: s.entropy,
            mask,
        })
    }

    fn reference_logp(&mut self, items: &[ScoreItem], temperature: f64) -> Result<Option<Tensor>> {
        let (logits, ids, _) = Self::logits(&self.w_ref, items)?;
        Ok(Some(
            token_logp_entropy(&logits, &ids, temperature)?
                .logp
                .detach(),
        ))
    }

    fn trainable(&self) -> Vec<(String, Var)> {
        vec![("bigram.weight".to_string(), self.w.clone())]
    }
}
