//! Rollouts of one step: sample `group_size` completions per prompt in chunks, judge them
//! (verifier errors retried once unless the rewarder retries itself), shape the rewards, and
//! with dynamic sampling drop constant-reward groups and sample more.
use std::time::Instant;

use anyhow::{bail, Result};

use crate::data::Task;
use crate::rl::advantage::is_constant_group;
use crate::rl::metrics::StepMetrics;
use crate::rl::run_data::prompt_for;
use crate::rl::traits::{Policy, Prompt, Rewarder, Rollout, SamplingParams};
use crate::verify::Status;

use super::{Sample, Trainer};

/// Rows generated per chunk of a step (and per sampler batch).
pub(super) const GEN_ROWS: usize = 64;

/// Given a step's first verdicts `out`, every completion whose verdict is a verifier error (a
/// crashed or timed-out checker, not a rejection) is checked once more, and the second
/// verdict stands. `retries` counts the re-checks. A rewarder that retries on its own
/// ([`Rewarder::retries_errors_itself`], the Lean pool) is not asked again: its errors are
/// final, so the number of attempts per completion stays at two.
pub(super) fn retry_errors<R: Rewarder>(
    rewarder: &mut R,
    batch: &[(&Task, Vec<String>)],
    mut out: Vec<Vec<crate::rl::traits::RewardOutcome>>,
    retries: &mut usize,
) -> Result<Vec<Vec<crate::rl::traits::RewardOutcome>>> {
    if out.len() != batch.len() {
        bail!(
            "rewarder returned {} groups of outcomes for {} groups",
            out.len(),
            batch.len()
        );
    }
    if rewarder.retries_errors_itself() {
        return Ok(out);
    }
    // (group index, completion indices) of the errors, and the same completions to re-judge
    let mut slots: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut again: Vec<(&Task, Vec<String>)> = Vec::new();
    for (gi, outcomes) in out.iter().enumerate() {
        let errs: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|(ci, o)| matches!(o.verdict, Status::Error { .. }) && *ci < batch[gi].1.len())
            .map(|(ci, _)| ci)
            .collect();
        if !errs.is_empty() {
            again.push((
                batch[gi].0,
                errs.iter().map(|&ci| batch[gi].1[ci].clone()).collect(),
            ));
            slots.push((gi, errs));
        }
    }
    if again.is_empty() {
        return Ok(out);
    }
    let second = rewarder.judge_batch(&again)?;
    for ((gi, cis), outcomes) in slots.iter().zip(second) {
        for (&ci, o) in cis.iter().zip(outcomes) {
            *retries += 1;
            out[*gi][ci] = o;
        }
    }
    Ok(out)
}

impl<P: Policy, R: Rewarder> Trainer<P, R> {
    /// Samples, judges and keeps groups for one step.
    pub(super) fn collect(&mut self, step: u64, m: &mut StepMetrics) -> Result<Vec<Sample>> {
        let s = self.cfg.sampling.clone();
        let params = SamplingParams {
            temperature: s.temperature,
            top_p: s.top_p,
            max_new_tokens: s.max_new_tokens,
            stop_strings: Vec::new(),
        };
        let tries = if s.dynamic_sampling {
            s.max_sampling_tries
        } else {
            1
        };
        let mut kept: Vec<Vec<Sample>> = Vec::new();
        let mut dropped: Vec<Vec<Sample>> = Vec::new();
        let (mut groups_seen, mut constant) = (0usize, 0usize);
        let (mut judged, mut correct, mut gen_tokens) = (0usize, 0usize, 0usize);
        for attempt in 0..tries {
            let need = s.prompts_per_step - kept.len();
            let idxs = self.next_tasks(need);
            let prompts: Vec<Prompt> = idxs
                .iter()
                .map(|&i| prompt_for(&self.cfg.data, &self.train[i]))
                .collect();
            // Generate in chunks of at most GEN_ROWS rows; each chunk's groups go to the
            // verifier as soon as they exist (a background verifier, e.g. the Lean pool, then
            // checks them while the next chunk generates).
            let per_chunk = (GEN_ROWS / s.group_size.max(1)).max(1);
            let mut rolls: Vec<Vec<Rollout>> = Vec::with_capacity(idxs.len());
            // (task, completion texts) per group, in order: what the verifier judges
            let mut batch: Vec<(&Task, Vec<String>)> = Vec::with_capacity(idxs.len());
            let mut pending = Vec::new();
            for (ci, chunk) in prompts.chunks(per_chunk).enumerate() {
                let t0 = Instant::now();
                let seed = self
                    .seed_for(step, attempt as u64 + 1)
                    .wrapping_add(ci as u64 * 0x9E37);
                let got = self.policy.generate(chunk, s.group_size, &params, seed)?;
                m.gen_s += t0.elapsed().as_secs_f64();
                if got.len() != chunk.len() {
                    bail!(
                        "policy returned {} groups for {} prompts",
                        got.len(),
                        chunk.len()
                    );
                }
                let first = batch.len();
                batch.extend(
                    idxs[first..first + got.len()]
                        .iter()
                        .zip(&got)
                        .map(|(&ti, g)| {
                            (&self.train[ti], g.iter().map(|r| r.text.clone()).collect())
                        }),
                );
                let t1 = Instant::now();
                pending.push(self.rewarder.submit(&batch[first..])?);
                m.verify_s += t1.elapsed().as_secs_f64();
                rolls.extend(got);
            }
            let t1 = Instant::now();
            let mut first_pass = Vec::with_capacity(rolls.len());
            for p in pending {
                first_pass.extend(p.wait()?);
            }
            let mut round = Vec::new();
            let judged_groups = retry_errors(
                &mut self.rewarder,
                &batch,
                first_pass,
                &mut m.verifier_retries,
            )?;
            drop(batch);
            for ((&ti, group), outcomes) in idxs.iter().zip(rolls).zip(judged_groups) {
                gen_tokens += group.iter().map(|r| r.completion_ids.len()).sum::<usize>();
                let task = &self.train[ti];
                if outcomes.len() != group.len() {
                    bail!(
                        "rewarder returned {} outcomes for {} completions",
                        outcomes.len(),
                        group.len()
                    );
                }
                let mut samples = Vec::new();
                for (r, o) in group.into_iter().zip(outcomes) {
                    match self.shaper.shape(task.id(), &o, r.completion_ids.len()) {
                        Some(sr) => {
                            judged += 1;
                            correct += sr.correct as usize;
                            samples.push(Sample {
                                group: 0,
                                task: ti,
                                rollout: r,
                                reward: sr,
                                adv: 0.0,
                                old: None,
                                reference: None,
                            });
                        }
                        None => {
                            m.verifier_errors += 1;
                            if let Status::Error { reason: e } = &o.verdict {
                                tracing::warn!(
                                    "step {step} task {}: verifier error, sample dropped: {e}",
                                    task.id()
                                );
                            }
                        }
                    }
                }
                round.push(samples);
            }
            m.verify_s += t1.elapsed().as_secs_f64();
            for g in round {
                if g.is_empty() {
                    continue;
                }
                groups_seen += 1;
                let rewards: Vec<f64> = g.iter().map(|x| x.reward.reward).collect();
                let is_const = is_constant_group(&rewards);
                constant += is_const as usize;
                if s.dynamic_sampling && is_const {
                    dropped.push(g);
                } else {
                    kept.push(g);
                }
            }
            if kept.len() >= s.prompts_per_step {
                break;
            }
        }
        if kept.is_empty() {
            // nothing informative after all tries: train on what was sampled (the entropy
            // and KL terms still apply)
            kept = dropped;
        }
        kept.truncate(s.prompts_per_step);
        // record the length-reward history after the whole step was shaped
        for g in &kept {
            for x in g {
                let id = self.train[x.task].id().to_string();
                self.shaper
                    .record(&id, x.rollout.completion_ids.len(), x.reward.correct);
            }
        }
        m.accuracy = correct as f64 / judged.max(1) as f64;
        m.zero_std_frac = constant as f64 / groups_seen.max(1) as f64;
        m.tokens_per_s = gen_tokens as f64 / m.gen_s.max(1e-9);
        let mut flat = Vec::new();
        for (gi, g) in kept.into_iter().enumerate() {
            for mut x in g {
                x.group = gi;
                flat.push(x);
            }
        }
        Ok(flat)
    }
}
