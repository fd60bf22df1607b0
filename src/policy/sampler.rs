//! The batched sampler: drives any [`Decoder`] over prompts × samples and returns one
//! [`Sample`] per (prompt, sample).
//!
//! Rows are prompt-major (`p0s0, p0s1, …, p1s0, …`) and run in batches of at most
//! `max_rows` rows (0 = all rows in one batch). Every row has its own RNG, `StdRng` seeded with
//! a hash of `(seed, prompt index, sample index)`, so results do not depend on `max_rows` or on
//! the other rows of the batch (as long as the model's logits do not). How tokens are drawn and
//! what the two log-probabilities mean is documented in [`crate::policy::token_choice`].
//!
//! A row finishes on the first of: an EOS id (unless `ignore_eos`; the EOS token is kept in
//! `token_ids`), a stop string in the decoded text (all ids are kept; `text` is cut before the
//! stop string), `max_new_tokens` tokens, or prompt + generated tokens reaching
//! `max_context`. Finished rows are fed a filler token (their last token) until the whole batch
//! is done; their logits are ignored.
use candle_core::{DType, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use thiserror::Error;

use super::decoder::Decoder;
use super::stop::{find_stop, Detokenize, StopScanner};
use super::token_choice::{choose, Scratch, Truncation};

/// Errors of a sampling run. Nothing is half-returned: a failed run returns no samples.
#[derive(Debug, Error)]
pub enum SampleError {
    /// The settings are invalid.
    #[error("invalid sampling settings: {0}")]
    Params(String),
    /// A prompt cannot be generated from.
    #[error("prompt {index}: {msg}")]
    Prompt {
        /// Index of the prompt.
        index: usize,
        /// What is wrong and what to do.
        msg: String,
    },
    /// The model failed.
    #[error("model: {0}")]
    Model(String),
    /// The model returned logits of the wrong shape or with NaN.
    #[error("model output: {0}")]
    Logits(String),
    /// Detokenisation failed.
    #[error("detokenize: {0}")]
    Detokenize(String),
}

/// Settings of a sampling run.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Temperature; 0 = greedy.
    pub temperature: f32,
    /// Nucleus mass in (0, 1]; 1 = off.
    pub top_p: f32,
    /// Top-k; 0 = off.
    pub top_k: usize,
    /// RNG seed.
    pub seed: u64,
    /// Maximum number of generated tokens per sample.
    pub max_new_tokens: usize,
    /// Samples per prompt.
    pub samples: usize,
    /// Maximum rows per decoder batch (0 = all rows at once).
    pub max_rows: usize,
    /// Model context length: prompt + generated tokens never exceed it.
    pub max_context: usize,
    /// Token ids that end a sample.
    pub eos_ids: Vec<u32>,
    /// Ignore EOS ids (generate exactly `max_new_tokens` unless a stop string or the context
    /// ends the row).
    pub ignore_eos: bool,
    /// Strings that end a sample when they appear in the decoded text.
    pub stop_strings: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            seed: 0,
            max_new_tokens: 256,
            samples: 1,
            max_rows: 0,
            max_context: 2048,
            eos_ids: Vec::new(),
            ignore_eos: false,
            stop_strings: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// The per-draw settings.
    pub fn truncation(&self) -> Truncation {
        Truncation {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
        }
    }

    /// Checks ranges; the message names the setting and its allowed range.
    pub fn validate(&self) -> Result<(), SampleError> {
        let bad = |m: String| Err(SampleError::Params(m));
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return bad(format!(
                "temperature {} must be ≥ 0 (0 = greedy)",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p {} must be in (0, 1]", self.top_p));
        }
        if self.samples == 0 {
            return bad("samples must be ≥ 1".into());
        }
        if self.max_context == 0 {
            return bad("max_context must be ≥ 1".into());
        }
        Ok(())
    }
}

/// Why a sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// An EOS token was generated.
    Eos,
    /// A stop string appeared in the text.
    Stop,
    /// `max_new_tokens` were generated.
    Length,
    /// Prompt + generation reached `max_context`.
    Context,
}

/// One generated sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Index of the prompt.
    pub prompt_index: usize,
    /// Index of the sample for this prompt (0..samples).
    pub sample_index: usize,
    /// Generated token ids (EOS and stop-string tokens included).
    pub token_ids: Vec<u32>,
    /// Decoded text without special tokens, cut before the stop string.
    pub text: String,
    /// Per token: log-probability under the sampled distribution (0 for greedy).
    pub logprobs: Vec<f32>,
    /// Per token: log-softmax of the raw logits.
    pub policy_logprobs: Vec<f32>,
    /// Per token: log-softmax of the logits divided by the temperature, untruncated (the raw
    /// one when greedy): the RL loss's `logπ_rollout` (see [`crate::policy::token_choice`]).
    pub tempered_logprobs: Vec<f32>,
    /// Why generation ended.
    pub finish: FinishReason,
    /// The stop string that ended it (for `FinishReason::Stop`).
    pub stop_string: Option<String>,
}

/// The RNG seed of row (prompt, sample) for a run seed.
pub fn row_seed(seed: u64, prompt_index: usize, sample_index: usize) -> u64 {
    use crate::util::splitmix64 as mix;
    mix(mix(mix(seed) ^ prompt_index as u64) ^ (sample_index as u64).rotate_left(32))
}

struct Row {
    prompt_index: usize,
    sample_index: usize,
    prompt_len: usize,
    rng: StdRng,
    ids: Vec<u32>,
    logprobs: Vec<f32>,
    policy_logprobs: Vec<f32>,
    tempered_logprobs: Vec<f32>,
    finish: Option<FinishReason>,
    stop: Option<usize>,
    scanner: StopScanner,
}

fn logits_rows(t: &Tensor, rows: usize, vocab: usize) -> Result<Vec<f32>, SampleError> {
    let dims = t.dims();
    if dims != [rows, vocab] {
        return Err(SampleError::Logits(format!(
            "expected logits of shape [{rows}, {vocab}], got {dims:?}"
        )));
    }
    t.to_dtype(DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| SampleError::Logits(e.to_string()))
}

/// Generates `params.samples` samples for every prompt. Returns them ordered by
/// (prompt index, sample index).
pub fn generate(
    decoder: &mut dyn Decoder,
    detok: &dyn Detokenize,
    prompts: &[Vec<u32>],
    params: &SamplingParams,
) -> Result<Vec<Sample>, SampleError> {
    params.validate()?;
    let vocab = decoder.vocab_size();
    for (index, p) in prompts.iter().enumerate() {
        if p.is_empty() {
            return Err(SampleError::Prompt {
                index,
                msg: "empty prompt (no tokens)".into(),
            });
        }
        if p.len() >= params.max_context {
            return Err(SampleError::Prompt {
                index,
                msg: format!(
                    "{} tokens do not fit the model context of {} tokens (room is needed for at \
                     least one generated token); shorten the prompt",
                    p.len(),
                    params.max_context
                ),
            });
        }
        if let Some(&bad) = p.iter().find(|&&t| t as usize >= vocab) {
            return Err(SampleError::Prompt {
                index,
                msg: format!(
                    "token id {bad} is outside the model vocabulary of {vocab}; the tokenizer \
                     does not belong to this model"
                ),
            });
        }
    }
    let all: Vec<(usize, usize)> = (0..prompts.len())
        .flat_map(|p| (0..params.samples).map(move |s| (p, s)))
        .collect();
    let chunk = if params.max_rows == 0 {
        all.len().max(1)
    } else {
        params.max_rows
    };
    let mut out = Vec::with_capacity(all.len());
    for rows in all.chunks(chunk) {
        out.extend(run_batch(decoder, detok, prompts, rows, params, vocab)?);
    }
    Ok(out)
}

fn run_batch(
    decoder: &mut dyn Decoder,
    detok: &dyn Detokenize,
    prompts: &[Vec<u32>],
    pairs: &[(usize, usize)],
    params: &SamplingParams,
    vocab: usize,
) -> Result<Vec<Sample>, SampleError> {
    let mut rows: Vec<Row> = pairs
        .iter()
        .map(|&(p, s)| Row {
            prompt_index: p,
            sample_index: s,
            prompt_len: prompts[p].len(),
            rng: StdRng::seed_from_u64(row_seed(params.seed, p, s)),
            ids: Vec::new(),
            logprobs: Vec::new(),
            policy_logprobs: Vec::new(),
            tempered_logprobs: Vec::new(),
            finish: if params.max_new_tokens == 0 {
                Some(FinishReason::Length)
            } else {
                None
            },
            stop: None,
            scanner: StopScanner::new(),
        })
        .collect();
    if params.max_new_tokens > 0 {
        let trunc = params.truncation();
        let mut scratch = Scratch::default();
        let batch: Vec<Vec<u32>> = pairs.iter().map(|&(p, _)| prompts[p].clone()).collect();
        let mut logits = decoder
            .prefill(&batch)
            .map_err(|e| SampleError::Model(format!("prefill: {e}")))?;
        loop {
            let flat = logits_rows(&logits, rows.len(), vocab)?;
            for (r, row) in rows.iter_mut().enumerate() {
                if row.finish.is_some() {
                    continue;
                }
                let z = &flat[r * vocab..(r + 1) * vocab];
                let c = choose(z, &trunc, &mut row.rng, &mut scratch).map_err(|e| {
                    SampleError::Logits(format!(
                        "row (prompt {}, sample {}), token {}: {e}",
                        row.prompt_index,
                        row.sample_index,
                        row.ids.len()
                    ))
                })?;
                row.ids.push(c.token);
                row.logprobs.push(c.logprob);
                row.policy_logprobs.push(c.policy_logprob);
                row.tempered_logprobs.push(c.tempered_logprob);
                if !params.ignore_eos && params.eos_ids.contains(&c.token) {
                    row.finish = Some(FinishReason::Eos);
                    continue;
                }
                if !params.stop_strings.is_empty() {
                    let hit = row
                        .scanner
                        .update(&row.ids, detok, &params.stop_strings)
                        .map_err(SampleError::Detokenize)?;
                    if let Some((_, k)) = hit {
                        row.finish = Some(FinishReason::Stop);
                        row.stop = Some(k);
                        continue;
                    }
                }
                if row.ids.len() >= params.max_new_tokens {
                    row.finish = Some(FinishReason::Length);
                } else if row.prompt_len + row.ids.len() >= params.max_context {
                    row.finish = Some(FinishReason::Context);
                }
            }
            if rows.iter().all(|r| r.finish.is_some()) {
                break;
            }
            let next: Vec<u32> = rows
                .iter()
                .map(|r| r.ids.last().copied().unwrap_or(0))
                .collect();
            logits = decoder
                .step(&next)
                .map_err(|e| SampleError::Model(format!("step: {e}")))?;
        }
    }
    rows.into_iter()
        .map(|row| {
            let mut text = detok
                .detokenize(&row.ids)
                .map_err(SampleError::Detokenize)?;
            let stop_string = row.stop.map(|k| params.stop_strings[k].clone());
            if row.stop.is_some() {
                if let Some((pos, _)) = find_stop(&text, &params.stop_strings, 0) {
                    text.truncate(pos);
                }
            }
            Ok(Sample {
                prompt_index: row.prompt_index,
                sample_index: row.sample_index,
                token_ids: row.ids,
                text,
                logprobs: row.logprobs,
                policy_logprobs: row.policy_logprobs,
                tempered_logprobs: row.tempered_logprobs,
                finish: row.finish.unwrap_or(FinishReason::Length),
                stop_string,
            })
        })
        .collect()
}
