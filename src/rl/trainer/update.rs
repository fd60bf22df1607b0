//! The update of one step: group advantages, `logπ_old` and reference log-probs when needed,
//! then for each PPO epoch and mini-batch the loss over micro-batches with accumulated
//! gradients and one AdamW step; the step's metrics and logged samples.
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};

use crate::policy::sampling_weights::SamplingWeights;
use crate::rl::advantage::group_advantages;
use crate::rl::aggregate::AggNorm;
use crate::rl::loss::{grpo_loss, ClipCounts, LossInputs};
use crate::rl::metrics::{SampleLog, StepMetrics};
use crate::rl::optimizer::GradAccumulator;
use crate::rl::rollout_correction::{batch_weights, RolloutIs, RolloutIsStats};
use crate::rl::torch_grad::scalar;
use crate::rl::traits::{Policy, Rewarder, Rollout, ScoreItem};

use super::{Sample, Trainer};

impl<P: Policy, R: Rewarder> Trainer<P, R> {
    /// Pads per-sample vectors to `[b, t]`.
    pub(super) fn pad(rows: &[&[f32]], t: usize) -> Result<Tensor> {
        let mut v = Vec::with_capacity(rows.len() * t);
        for r in rows {
            for k in 0..t {
                v.push(r.get(k).copied().unwrap_or(0.0));
            }
        }
        Ok(Tensor::from_vec(v, (rows.len(), t), &Device::Cpu)?)
    }

    /// Rollout-correction weights of a micro-batch against the training log-probs `train`
    /// (`logπ_old`), and their metric sums (`None` when the sampler recorded no log-probs).
    fn rollout_is(
        &self,
        micro: &[Sample],
        train: &Tensor,
    ) -> Result<(Option<Tensor>, Option<RolloutIsStats>)> {
        let l = &self.cfg.loss;
        let ro: Vec<Option<&[f32]>> = micro
            .iter()
            .map(|x| x.rollout.sampling_logp.as_deref())
            .collect();
        let lens: Vec<usize> = micro
            .iter()
            .map(|x| x.rollout.completion_ids.len())
            .collect();
        match batch_weights(train, &ro, &lens, l.rollout_is, l.rollout_is_threshold)? {
            Some((w, st)) => Ok(((l.rollout_is != RolloutIs::None).then_some(w), Some(st))),
            None if l.rollout_is != RolloutIs::None => bail!(
                "loss.rollout_is = {:?} needs the sampler's log-probs, but this policy's \
                 rollouts carry none; set loss.rollout_is = \"none\"",
                l.rollout_is
            ),
            None => Ok((None, None)),
        }
    }

    pub(super) fn rows_of(t: &Tensor, lens: &[usize]) -> Result<Vec<Vec<f32>>> {
        let m: Vec<Vec<f32>> = t.to_dtype(DType::F32)?.to_device(&Device::Cpu)?.to_vec2()?;
        Ok(m.into_iter()
            .zip(lens)
            .map(|(mut r, &n)| {
                r.truncate(n);
                r
            })
            .collect())
    }

    /// One training step (1-based `step`).
    pub(super) fn train_step(&mut self, step: u64) -> Result<(StepMetrics, Vec<SampleLog>)> {
        let mut metrics = StepMetrics {
            step,
            ..Default::default()
        };
        let mut samples = self.collect(step, &mut metrics)?;
        if samples.is_empty() {
            bail!("step {step}: every sample was dropped (verifier errors)");
        }
        // advantages
        let rewards: Vec<f64> = samples.iter().map(|x| x.reward.reward).collect();
        let group_ids: Vec<usize> = samples.iter().map(|x| x.group).collect();
        let advantages = group_advantages(&rewards, &group_ids, self.cfg.loss.norm_adv_by_std);
        for (x, a) in samples.iter_mut().zip(advantages) {
            x.adv = a;
        }
        let n_samples = rewards.len() as f64;
        metrics.samples = samples.len();
        metrics.reward_mean = rewards.iter().sum::<f64>() / n_samples;
        metrics.reward_std = (rewards
            .iter()
            .map(|reward| (reward - metrics.reward_mean).powi(2))
            .sum::<f64>()
            / n_samples)
            .sqrt();
        let lens: Vec<usize> = samples
            .iter()
            .map(|x| x.rollout.completion_ids.len())
            .collect();
        metrics.response_len_mean = lens.iter().sum::<usize>() as f64 / n_samples;
        metrics.response_len_max = lens.iter().copied().max().unwrap_or(0);
        metrics.truncated_frac =
            samples.iter().filter(|x| x.rollout.truncated).count() as f64 / n_samples;
        let logs = self.sample_logs(step, &samples);

        let started = Instant::now();
        let temperature = self.cfg.sampling.temperature;
        let micro_batch = self.cfg.optim.micro_batch;
        let updates = self.cfg.train.ppo_epochs * self.cfg.train.mini_batches;
        let loss_cfg = self.cfg.loss;
        // logπ_old: the sampler's log-probs, or a scoring pass, when the batch is reused
        if updates > 1 {
            for x in samples.iter_mut() {
                let len = x.rollout.completion_ids.len();
                // with rollout correction or a reduced-precision sampler, logπ_old is the
                // training model's (scored below)
                let f32_sampler = self.cfg.sampling.weights == SamplingWeights::F32;
                x.old = match loss_cfg.rollout_is {
                    RolloutIs::None if f32_sampler => {
                        x.rollout.sampling_logp.clone().filter(|v| v.len() == len)
                    }
                    _ => None,
                };
            }
            let missing: Vec<usize> = (0..samples.len())
                .filter(|&i| samples[i].old.is_none())
                .collect();
            for chunk in missing.chunks(micro_batch) {
                let items: Vec<ScoreItem> =
                    chunk.iter().map(|&i| item(&samples[i].rollout)).collect();
                let out = self.policy.score(&items, temperature)?;
                let chunk_lens: Vec<usize> = chunk.iter().map(|&i| lens[i]).collect();
                for (&i, old_row) in chunk
                    .iter()
                    .zip(Self::rows_of(&out.logp.detach(), &chunk_lens)?)
                {
                    samples[i].old = Some(old_row);
                }
            }
        }
        if loss_cfg.kl_coef != 0.0 {
            let idx: Vec<usize> = (0..samples.len()).collect();
            for chunk in idx.chunks(micro_batch) {
                let items: Vec<ScoreItem> =
                    chunk.iter().map(|&i| item(&samples[i].rollout)).collect();
                let ref_rows = self
                    .policy
                    .reference_logp(&items, temperature)?
                    .context("loss.kl_coef ≠ 0 but the policy keeps no reference model")?;
                let chunk_lens: Vec<usize> = chunk.iter().map(|&i| lens[i]).collect();
                for (&i, row) in chunk.iter().zip(Self::rows_of(&ref_rows, &chunk_lens)?) {
                    samples[i].reference = Some(row);
                }
            }
        }

        let params = self.opt.params().to_vec();
        let schedule = self
            .cfg
            .optim
            .schedule(self.cfg.train.max_steps * updates as u64);
        let t_len = self.cfg.sampling.max_new_tokens;
        let per_mini_batch = samples.len().div_ceil(self.cfg.train.mini_batches);
        let (mut loss_sum, mut pg_loss_sum, mut grad_norm_sum) = (0f64, 0f64, 0f64);
        let (mut entropy_sum, mut kl_sum) = (0f64, 0f64);
        let mut counts = ClipCounts::default();
        let mut is_stats: Option<RolloutIsStats> = Some(RolloutIsStats::default());
        let mut n_updates = 0usize;
        for _epoch in 0..self.cfg.train.ppo_epochs {
            for mini in samples.chunks(per_mini_batch) {
                let mini_lens: Vec<usize> = mini
                    .iter()
                    .map(|x| x.rollout.completion_ids.len())
                    .collect();
                let norm = AggNorm::from_lengths(&mini_lens, t_len);
                let mut grads_acc = GradAccumulator::new();
                for micro in mini.chunks(micro_batch) {
                    let items: Vec<ScoreItem> = micro.iter().map(|x| item(&x.rollout)).collect();
                    let out = self.policy.score(&items, temperature)?;
                    let width = out.logp.dim(1)?;
                    let padded = |rows: fn(&Sample) -> Option<&[f32]>| -> Result<Tensor> {
                        let rows: Vec<&[f32]> =
                            micro.iter().map(|x| rows(x).unwrap_or(&[])).collect();
                        Self::pad(&rows, width)
                    };
                    let old = match updates > 1 {
                        true => Some(padded(|x| x.old.as_deref())?),
                        false => None,
                    };
                    let reference = match loss_cfg.kl_coef != 0.0 {
                        true => Some(padded(|x| x.reference.as_deref())?),
                        false => None,
                    };
                    let advantages = Tensor::from_vec(
                        micro.iter().map(|x| x.adv as f32).collect::<Vec<_>>(),
                        micro.len(),
                        &Device::Cpu,
                    )?
                    .to_device(out.logp.device())?;
                    let dev = out.logp.device().clone();
                    let old = old.map(|o| o.to_device(&dev)).transpose()?;
                    let reference = reference.map(|o| o.to_device(&dev)).transpose()?;
                    let (is_w, is_st) =
                        self.rollout_is(micro, old.as_ref().unwrap_or(&out.logp))?;
                    match (&mut is_stats, is_st) {
                        (Some(a), Some(b)) => a.add(&b),
                        _ => is_stats = None,
                    }
                    let inp = LossInputs {
                        logp: &out.logp,
                        entropy: &out.entropy,
                        old_logp: old.as_ref(),
                        ref_logp: reference.as_ref(),
                        rollout_is_weights: is_w.as_ref(),
                        advantages: &advantages,
                        mask: &out.mask,
                    };
                    let loss_out = grpo_loss(&inp, &loss_cfg, &norm)?;
                    let total = scalar(&loss_out.total)?;
                    if !total.is_finite() {
                        bail!("non-finite loss ({total}) at step {step}; no update applied");
                    }
                    let loss = &loss_out.total;
                    let grads = crate::util::on_rayon_worker(|| loss.backward())?;
                    grads_acc.add(&params, &grads)?;
                    loss_sum += total;
                    pg_loss_sum += scalar(&loss_out.pg)?;
                    let mask = out.mask.to_dtype(DType::F32)?;
                    entropy_sum += scalar(&(out.entropy.detach().to_dtype(DType::F32)? * &mask)?)?;
                    kl_sum += scalar(&(loss_out.kl_per_token.detach() * &mask)?)?;
                    counts.add(&loss_out.counts);
                }
                let lr = schedule.lr_at(self.opt.steps());
                let opt_step = self
                    .opt
                    .step(&grads_acc, lr)
                    .with_context(|| format!("optimizer step at step {step}"))?;
                self.policy.after_update()?;
                grad_norm_sum += opt_step.grad_norm;
                metrics.lr = lr;
                n_updates += 1;
            }
        }
        let n_done = n_updates.max(1) as f64;
        metrics.loss = loss_sum / n_done;
        metrics.pg_loss = pg_loss_sum / n_done;
        metrics.grad_norm = grad_norm_sum / n_done;
        metrics.entropy = entropy_sum / counts.tokens.max(1.0);
        metrics.kl = kl_sum / counts.tokens.max(1.0);
        metrics.clip_frac = counts.clip_frac();
        metrics.clip_frac_lower = counts.clip_frac_lower();
        let is_stats = is_stats.unwrap_or_default();
        metrics.rollout_is_mean = is_stats.mean();
        metrics.rollout_is_eff_sample_size = is_stats.eff_sample_size();
        metrics.rollout_mismatch = is_stats.mismatch();
        metrics.update_s = started.elapsed().as_secs_f64();
        metrics.peak_mem_bytes = crate::policy::device_memory::take_step_peak();
        Ok((metrics, logs))
    }

    pub(super) fn sample_logs(&self, step: u64, samples: &[Sample]) -> Vec<SampleLog> {
        // the first sample of each group, then the second of each, … up to k samples
        let k = self.cfg.train.samples_per_step_logged;
        let mut rank = std::collections::HashMap::<usize, usize>::new();
        let mut order: Vec<(usize, usize, usize)> = samples
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let r = rank.entry(x.group).or_insert(0);
                *r += 1;
                (*r, x.group, i)
            })
            .collect();
        order.sort();
        let mut chosen: Vec<usize> = order.into_iter().take(k).map(|(_, _, i)| i).collect();
        chosen.sort();
        chosen
            .into_iter()
            .map(|i| &samples[i])
            .map(|x| SampleLog {
                step,
                task: self.train[x.task].id().to_string(),
                prompt: self.train[x.task].statement().to_string(),
                completion: x.rollout.text.clone(),
                reward: x.reward.reward,
                correct: x.reward.correct,
                length: x.rollout.completion_ids.len(),
            })
            .collect()
    }
}

pub(super) fn item(r: &Rollout) -> ScoreItem<'_> {
    ScoreItem {
        prompt_ids: &r.prompt_ids,
        completion_ids: &r.completion_ids,
    }
}
