//! The GRPO training loop, generic over a [`Policy`] and a [`Rewarder`].
//!
//! One step: take `prompts_per_step` tasks (1-shot: one task repeated) → `group_size` samples
//! each → verdicts → shaped rewards (a verifier error drops that sample and is counted) →
//! (dynamic sampling: drop constant-reward groups and sample more, at most
//! `max_sampling_tries` rounds) → group advantages → for each of `ppo_epochs` passes and
//! `mini_batches` mini-batches: loss over micro-batches of `micro_batch` samples with
//! gradient accumulation (normalizers of the whole mini-batch) → AdamW step → metrics,
//! samples, plot, periodic evaluation and checkpoints.
//!
//! Every random draw of step `s` derives from `(train.seed, s)` and the data order from
//! `(train.seed, epoch)`, so a run resumed from a checkpoint continues exactly as the
//! uninterrupted run would. A non-finite loss stops the run before any update, naming the
//! step and the last good checkpoint.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::heldout::{run_eval_items, EvalItem, Graded, MathEvalSettings};
use crate::progress::Progress;
use crate::prompt::source::{Completion, CompletionSource};
use crate::rl::advantage::{group_advantages, is_constant_group};
use crate::rl::aggregate::AggNorm;
use crate::rl::checkpoint::{self, TrainState};
use crate::rl::config::RunConfig;
use crate::rl::loss::{grpo_loss, ClipCounts, LossInputs};
use crate::rl::metrics::{read_metrics, MetricsWriter, SampleLog, StepMetrics};
use crate::rl::optimizer::{AdamW, GradAccumulator};
use crate::rl::plot::plot_run;
use crate::rl::report::{
    best_eval, eval_line, eval_points, step_line, step_message, EvalPoint, EvalScore, RunReport,
};
use crate::rl::reward::{RewardShaper, ShapedReward};
use crate::rl::run_data::prompt_for;
use crate::rl::task::Task;
use crate::rl::torch_grad::scalar;
use crate::rl::traits::{Policy, Prompt, Rewarder, Rollout, SamplingParams, ScoreItem, Verdict};

/// Trains `policy` on `train` (evaluating on `eval`) into `out_dir`; with `resume`, continues
/// from the run directory's latest checkpoint. The usual entry point of `prover train`.
pub fn train<P: Policy, R: Rewarder>(
    cfg: RunConfig,
    policy: P,
    rewarder: R,
    train: Vec<Task>,
    eval: Vec<Task>,
    out_dir: &Path,
    resume: bool,
) -> Result<RunSummary> {
    let mut t = Trainer::new(cfg, policy, rewarder, train, eval, out_dir)?;
    if resume {
        t.resume()?;
    }
    t.run()
}

/// Rows generated per chunk of a step (and per sampler batch).
const GEN_ROWS: usize = 64;

/// `data.max_prompt_tokens` (verl's `data.max_prompt_length`): a training prompt over the limit
/// is refused; held-out prompts over it are dropped with a warning, as verl drops them.
fn enforce_prompt_limit<P: Policy>(
    cfg: &RunConfig,
    policy: &P,
    train: &[Task],
    eval: Vec<Task>,
) -> Result<Vec<Task>> {
    let limit = cfg.data.max_prompt_tokens;
    if limit == 0 {
        return Ok(eval);
    }
    let len =
        |t: &Task| -> Result<Option<usize>> { policy.prompt_tokens(&prompt_for(&cfg.data, t)?) };
    for t in train {
        if let Some(n) = len(t)? {
            if n > limit {
                bail!(
                    "training task {} has a {n}-token prompt, over data.max_prompt_tokens = \
                     {limit}; shorten it, remove it from {}, or raise the limit",
                    t.id,
                    cfg.data.train.display()
                );
            }
        }
    }
    let mut kept = Vec::with_capacity(eval.len());
    let mut dropped = Vec::new();
    for t in eval {
        match len(&t)? {
            Some(n) if n > limit => dropped.push(format!("{} ({n} tokens)", t.id)),
            _ => kept.push(t),
        }
    }
    if !dropped.is_empty() {
        eprintln!(
            "warning: {} held-out task(s) have prompts over data.max_prompt_tokens = {limit} and \
             are not evaluated (as verl drops them): {}",
            dropped.len(),
            dropped.join(", ")
        );
    }
    Ok(kept)
}

/// Given a step's first verdicts `out`, every completion whose verdict is a verifier error (a
/// crashed or timed-out checker, not a rejection) is checked once more, and the second
/// verdict stands. `retries` counts the re-checks. A rewarder that retries on its own
/// ([`Rewarder::retries_errors_itself`], the Lean pool) is not asked again: its errors are
/// final, so the number of attempts per completion stays at two.
fn retry_errors<R: Rewarder>(
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
            .filter(|(ci, o)| matches!(o.verdict, Verdict::Error(_)) && *ci < batch[gi].1.len())
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

/// The policy as a completion source for the evaluation loop.
struct PolicySource<'a, P: Policy> {
    policy: &'a mut P,
    params: SamplingParams,
    seed: u64,
    calls: u64,
}

impl<P: Policy> CompletionSource for PolicySource<'_, P> {
    fn complete(&mut self, prompts: &[Prompt], n: usize) -> Result<Vec<Vec<Completion>>> {
        let seed = self.seed.wrapping_add(self.calls);
        self.calls += 1;
        let rolls = self.policy.generate(prompts, n, &self.params, seed)?;
        Ok(rolls
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|r| Completion {
                        tokens: r.completion_ids.len(),
                        text: r.text,
                    })
                    .collect()
            })
            .collect())
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Completed steps.
    pub steps: u64,
    /// Last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
    /// Metrics of the steps run by this call.
    pub metrics: Vec<StepMetrics>,
    /// The end-of-run summary (also in `RUN/summary.json`).
    pub report: RunReport,
}

/// A sample that enters the update.
struct Sample {
    group: usize,
    task: usize,
    rollout: Rollout,
    reward: ShapedReward,
    adv: f64,
    old: Option<Vec<f32>>,
    reference: Option<Vec<f32>>,
}

use crate::util::splitmix64 as splitmix;

const SALT_DATA: u64 = 0xDA7A;
const SALT_EVAL: u64 = 0xE7A1;

/// The trainer.
pub struct Trainer<P: Policy, R: Rewarder> {
    cfg: RunConfig,
    policy: P,
    rewarder: R,
    out_dir: PathBuf,
    train: Vec<Task>,
    eval: Vec<Task>,
    opt: AdamW,
    shaper: RewardShaper,
    step: u64,
    cursor: u64,
    last_checkpoint: Option<PathBuf>,
    /// The latest held-out accuracy and the best evaluation so far.
    last_eval: Option<f64>,
    best_eval: Option<EvalPoint>,
    /// Show progress on stderr: a bar on a terminal, else a line per step (see
    /// [`crate::progress`]).
    pub show_progress: bool,
}

impl<P: Policy, R: Rewarder> Trainer<P, R> {
    /// A trainer writing into `out_dir` (created; [`Trainer::run`] writes `config.toml` there).
    pub fn new(
        cfg: RunConfig,
        policy: P,
        rewarder: R,
        train: Vec<Task>,
        eval: Vec<Task>,
        out_dir: &Path,
    ) -> Result<Self> {
        cfg.validate()?;
        if train.is_empty() {
            bail!("no training tasks");
        }
        let eval = enforce_prompt_limit(&cfg, &policy, &train, eval)?;
        if cfg.data.one_shot && cfg.data.one_shot_index >= train.len() {
            bail!(
                "data.one_shot_index = {} but the training set has {} tasks",
                cfg.data.one_shot_index,
                train.len()
            );
        }
        std::fs::create_dir_all(out_dir)
            .with_context(|| format!("cannot create {}", out_dir.display()))?;
        let opt = AdamW::new(policy.trainable(), cfg.optim.adamw())?;
        let shaper = RewardShaper::new(cfg.reward.clone(), cfg.sampling.max_new_tokens);
        Ok(Trainer {
            cfg,
            policy,
            rewarder,
            out_dir: out_dir.to_path_buf(),
            train,
            eval,
            opt,
            shaper,
            step: 0,
            cursor: 0,
            last_checkpoint: None,
            last_eval: None,
            best_eval: None,
            show_progress: true,
        })
    }

    /// Completed steps.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The policy, mutably.
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// The run configuration.
    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    /// Loads the latest checkpoint of the run directory (weights, optimizer, RNG position,
    /// data cursor, reward history) so that [`Trainer::run`] continues from it. Returns the
    /// step it resumes after.
    pub fn resume(&mut self) -> Result<u64> {
        let dir = checkpoint::latest(&self.out_dir)?.with_context(|| {
            format!(
                "{}: no checkpoint to resume from (checkpoints/latest missing)",
                self.out_dir.display()
            )
        })?;
        let ck = checkpoint::load(&dir)?;
        if ck.state.seed != self.cfg.train.seed {
            bail!(
                "{}: checkpoint was written with seed {} but the config says {}",
                dir.display(),
                ck.state.seed,
                self.cfg.train.seed
            );
        }
        for (name, var) in self.policy.trainable() {
            let t = ck
                .weights
                .get(&name)
                .with_context(|| format!("{}: checkpoint lacks weight {name}", dir.display()))?;
            if t.dims() != var.dims() {
                bail!(
                    "{}: weight {name} has shape {:?}, model has {:?}",
                    dir.display(),
                    t.dims(),
                    var.dims()
                );
            }
            var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
        }
        self.policy.after_update()?;
        self.opt
            .load_state(&ck.optimizer, ck.state.optimizer_steps)?;
        self.step = ck.state.step;
        self.cursor = ck.state.data_cursor;
        self.shaper.history = ck.state.reward_history;
        self.last_checkpoint = Some(dir);
        Ok(self.step)
    }

    fn seed_for(&self, step: u64, salt: u64) -> u64 {
        splitmix(self.cfg.train.seed ^ splitmix(step ^ splitmix(salt)))
    }

    /// Indices of the next `n` training tasks.
    fn next_tasks(&mut self, n: usize) -> Vec<usize> {
        let len = self.train.len() as u64;
        let mut out = Vec::with_capacity(n);
        let mut perm: Option<(u64, Vec<usize>)> = None;
        for _ in 0..n {
            let k = self.cursor;
            self.cursor += 1;
            if self.cfg.data.one_shot {
                out.push(self.cfg.data.one_shot_index);
                continue;
            }
            let epoch = k / len;
            if perm.as_ref().map(|p| p.0) != Some(epoch) {
                let mut idx: Vec<usize> = (0..self.train.len()).collect();
                let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed_for(epoch, SALT_DATA));
                idx.shuffle(&mut rng);
                perm = Some((epoch, idx));
            }
            out.push(perm.as_ref().unwrap().1[(k % len) as usize]);
        }
        out
    }

    fn save_checkpoint(&mut self) -> Result<PathBuf> {
        let weights: Vec<(String, Tensor)> = self
            .policy
            .trainable()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        let (opt_state, opt_steps) = self.opt.state();
        let state = TrainState {
            step: self.step,
            optimizer_steps: opt_steps,
            data_cursor: self.cursor,
            seed: self.cfg.train.seed,
            reward_history: self.shaper.history.clone(),
        };
        let dir = checkpoint::save(&self.out_dir, &weights, &opt_state, &state)?;
        self.last_checkpoint = Some(dir.clone());
        checkpoint::prune_keeping(
            &self.out_dir,
            self.cfg.train.keep_checkpoints,
            self.best_eval.map(|b| b.step),
        )?;
        Ok(dir)
    }

    /// Runs until `train.max_steps`, writing metrics, samples, the plot and checkpoints.
    /// Refuses to start from scratch in a directory that already holds checkpoints.
    pub fn run(&mut self) -> Result<RunSummary> {
        let max = self.cfg.train.max_steps;
        if self.last_checkpoint.is_none() {
            if let Some(d) = checkpoint::latest(&self.out_dir)? {
                bail!(
                    "{} already holds a run (latest checkpoint {}); resume it or choose another \
                     output directory",
                    self.out_dir.display(),
                    d.display()
                );
            }
        }
        checkpoint::write_atomic(
            &self.out_dir.join("config.toml"),
            self.cfg.to_toml()?.as_bytes(),
        )?;
        let mut writer = MetricsWriter::open(&self.out_dir, Some(self.step))?;
        let started = Instant::now();
        let resumed_after = self.last_checkpoint.is_some().then_some(self.step);
        // the best evaluation so far (a resumed run's included): its checkpoint is never pruned
        let earlier = read_metrics(writer.path()).unwrap_or_else(|e| {
            tracing::warn!(
                "earlier evaluations unknown (the best checkpoint may be pruned): {e:#}"
            );
            Vec::new()
        });
        self.best_eval = best_eval(&eval_points(&earlier));
        let mut progress = Progress::new(self.show_progress, max, self.step, "steps");
        let mut history = Vec::new();
        if self.step == 0 && self.cfg.train.eval_before_train && !self.eval.is_empty() {
            let e = self.evaluate().context("evaluation before training")?;
            progress.event(&eval_line(0, &e));
            let m = StepMetrics {
                step: 0,
                eval_accuracy: Some(e.accuracy),
                ..Default::default()
            };
            writer.write_step(&m)?;
            history.push(m);
            // the ETA is a rate of training steps
            progress.restart_clock();
        }
        while self.step < max {
            let step = self.step + 1;
            match self.one_step(step, &mut writer, &mut progress) {
                Ok(m) => history.push(m),
                Err(e) => {
                    progress.abandon();
                    let last = match &self.last_checkpoint {
                        Some(d) => d.display().to_string(),
                        None => "none".to_string(),
                    };
                    return Err(e.context(format!(
                        "training stopped at step {step}; last good checkpoint: {last}"
                    )));
                }
            }
        }
        progress.finish(true);
        if let Err(e) = plot_run(&self.out_dir) {
            tracing::warn!("plot failed: {e:#}");
        }
        // the whole history (a resumed run's earlier steps too); this call's if unreadable
        let rows = read_metrics(writer.path()).unwrap_or_else(|e| {
            tracing::warn!("summary from this session's steps only: {e:#}");
            history.clone()
        });
        let report = RunReport::new(
            &self.out_dir,
            &rows,
            max,
            resumed_after,
            started.elapsed().as_secs_f64(),
            self.last_checkpoint.clone(),
        );
        // the run is done and saved: a summary that cannot be written is only a warning
        if let Err(e) = report.write() {
            tracing::warn!("cannot write summary.json: {e:#}");
        }
        Ok(RunSummary {
            steps: self.step,
            last_checkpoint: self.last_checkpoint.clone(),
            metrics: history,
            report,
        })
    }

    /// Step `step`: train, report, evaluate, log, plot, checkpoint.
    fn one_step(
        &mut self,
        step: u64,
        writer: &mut MetricsWriter,
        progress: &mut Progress,
    ) -> Result<StepMetrics> {
        let (mut m, logs) = self.train_step(step)?;
        self.step = step;
        let max = self.cfg.train.max_steps;
        progress.tick(step, &step_message(&m, self.last_eval), || {
            step_line(&m, max)
        });
        if self.cfg.train.eval_every > 0
            && step.is_multiple_of(self.cfg.train.eval_every)
            && !self.eval.is_empty()
        {
            let e = self.evaluate().context("evaluation")?;
            progress.event(&eval_line(step, &e));
            m.eval_accuracy = Some(e.accuracy);
        }
        writer.write_samples(&logs)?;
        writer.write_step(&m)?;
        let p = self.cfg.train.plot_every;
        if p > 0 && step.is_multiple_of(p) {
            if let Err(e) = plot_run(&self.out_dir) {
                tracing::warn!("plot failed: {e:#}");
            }
        }
        let s = self.cfg.train.save_every;
        if (s > 0 && step.is_multiple_of(s)) || step == self.cfg.train.max_steps {
            self.save_checkpoint()?;
        }
        Ok(m)
    }

    /// Held-out accuracy: one sample per task at `sampling.eval_temperature`, prompted like
    /// training, through the same loop as `prover eval math` ([`run_eval_items`]) and graded
    /// by the rewarder (a verifier error counts as wrong). Per-problem results, with what the
    /// rewarder graded in each response, go to `eval/step-NNNNNN/results.jsonl` in the run
    /// directory.
    pub fn evaluate(&mut self) -> Result<EvalScore> {
        let n = match self.cfg.data.max_eval {
            0 => self.eval.len(),
            k => k.min(self.eval.len()),
        };
        if n == 0 {
            bail!("no held-out tasks to evaluate on");
        }
        let items: Vec<EvalItem> = self.eval[..n]
            .iter()
            .map(|t| {
                Ok(EvalItem {
                    id: t.id.clone(),
                    prompt: prompt_for(&self.cfg.data, t)?,
                    reference: t.answer.clone().unwrap_or_default(),
                })
            })
            .collect::<Result<_>>()?;
        let by_id: HashMap<&str, &Task> =
            self.eval[..n].iter().map(|t| (t.id.as_str(), t)).collect();
        let dir = self
            .out_dir
            .join("eval")
            .join(format!("step-{:06}", self.step));
        // never mix in results of an earlier run that used this directory
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        let seed = self.seed_for(self.step, SALT_EVAL);
        let mut source = PolicySource {
            policy: &mut self.policy,
            params: SamplingParams {
                temperature: self.cfg.sampling.eval_temperature,
                top_p: self.cfg.sampling.top_p,
                max_new_tokens: self.cfg.sampling.max_new_tokens,
            },
            seed,
            calls: 0,
        };
        let rewarder = &mut self.rewarder;
        let mut grade = |item: &EvalItem, responses: &[String]| -> Result<Vec<Graded>> {
            let task = by_id
                .get(item.id.as_str())
                .with_context(|| format!("unknown eval item {}", item.id))?;
            let outcomes = rewarder
                .judge(task, responses)
                .with_context(|| format!("judging {}", item.id))?;
            Ok(outcomes
                .into_iter()
                .map(|o| {
                    if let Verdict::Error(e) = &o.verdict {
                        tracing::warn!("eval {}: verifier error (counted wrong): {e}", item.id);
                    }
                    Graded {
                        correct: matches!(o.verdict, Verdict::Accepted),
                        extracted: o.graded,
                    }
                })
                .collect())
        };
        let settings = MathEvalSettings {
            prompt: self.cfg.data.math_prompt(),
            samples: 1,
            batch_problems: 64,
            out: Some(dir),
            progress: false,
        };
        let (summary, _) = run_eval_items(&items, &mut source, &mut grade, &settings)?;
        let score = EvalScore {
            accuracy: summary.accuracy,
            correct: summary.correct_samples,
            total: summary.total_samples,
        };
        self.last_eval = Some(score.accuracy);
        let here = EvalPoint {
            step: self.step,
            accuracy: score.accuracy,
        };
        let seen: Vec<EvalPoint> = self.best_eval.into_iter().chain([here]).collect();
        self.best_eval = best_eval(&seen);
        Ok(score)
    }

    /// Samples, judges and keeps groups for one step.
    fn collect(&mut self, step: u64, m: &mut StepMetrics) -> Result<Vec<Sample>> {
        let s = self.cfg.sampling.clone();
        let params = SamplingParams {
            temperature: s.temperature,
            top_p: s.top_p,
            max_new_tokens: s.max_new_tokens,
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
                .collect::<Result<_>>()?;
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
                    match self.shaper.shape(&task.id, &o, r.completion_ids.len()) {
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
                            if let Verdict::Error(e) = &o.verdict {
                                tracing::warn!(
                                    "step {step} task {}: verifier error, sample dropped: {e}",
                                    task.id
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
                let id = self.train[x.task].id.clone();
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

    /// Pads per-sample vectors to `[b, t]`.
    fn pad(rows: &[&[f32]], t: usize) -> Result<Tensor> {
        let mut v = Vec::with_capacity(rows.len() * t);
        for r in rows {
            for k in 0..t {
                v.push(r.get(k).copied().unwrap_or(0.0));
            }
        }
        Ok(Tensor::from_vec(v, (rows.len(), t), &Device::Cpu)?)
    }

    fn rows_of(t: &Tensor, lens: &[usize]) -> Result<Vec<Vec<f32>>> {
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
    fn train_step(&mut self, step: u64) -> Result<(StepMetrics, Vec<SampleLog>)> {
        let mut m = StepMetrics {
            step,
            ..Default::default()
        };
        let mut samples = self.collect(step, &mut m)?;
        if samples.is_empty() {
            bail!("step {step}: every sample was dropped (verifier errors)");
        }
        // advantages
        let rewards: Vec<f64> = samples.iter().map(|x| x.reward.reward).collect();
        let gids: Vec<usize> = samples.iter().map(|x| x.group).collect();
        let adv = group_advantages(&rewards, &gids, self.cfg.loss.norm_adv_by_std);
        for (x, a) in samples.iter_mut().zip(adv) {
            x.adv = a;
        }
        let n = rewards.len() as f64;
        m.samples = samples.len();
        m.reward_mean = rewards.iter().sum::<f64>() / n;
        m.reward_std = (rewards
            .iter()
            .map(|r| (r - m.reward_mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let lens: Vec<usize> = samples
            .iter()
            .map(|x| x.rollout.completion_ids.len())
            .collect();
        m.response_len_mean = lens.iter().sum::<usize>() as f64 / n;
        m.response_len_max = lens.iter().copied().max().unwrap_or(0);
        m.truncated_frac = samples.iter().filter(|x| x.rollout.truncated).count() as f64 / n;
        let logs = self.sample_logs(step, &samples);

        let t0 = Instant::now();
        let temp = self.cfg.sampling.temperature;
        let mb = self.cfg.optim.micro_batch;
        let updates = self.cfg.train.ppo_epochs * self.cfg.train.mini_batches;
        let lp = self.cfg.loss.params();
        // logπ_old: the sampler's log-probs, or a scoring pass, when the batch is reused
        if updates > 1 {
            for x in samples.iter_mut() {
                let len = x.rollout.completion_ids.len();
                x.old = x.rollout.sampling_logp.clone().filter(|v| v.len() == len);
            }
            let missing: Vec<usize> = (0..samples.len())
                .filter(|&i| samples[i].old.is_none())
                .collect();
            for chunk in missing.chunks(mb) {
                let items: Vec<ScoreItem> =
                    chunk.iter().map(|&i| item(&samples[i].rollout)).collect();
                let out = self.policy.score(&items, temp)?;
                let l: Vec<usize> = chunk.iter().map(|&i| lens[i]).collect();
                for (&i, r) in chunk.iter().zip(Self::rows_of(&out.logp.detach(), &l)?) {
                    samples[i].old = Some(r);
                }
            }
        }
        if lp.kl_coef != 0.0 {
            let idx: Vec<usize> = (0..samples.len()).collect();
            for chunk in idx.chunks(mb) {
                let items: Vec<ScoreItem> =
                    chunk.iter().map(|&i| item(&samples[i].rollout)).collect();
                let r = self
                    .policy
                    .reference_logp(&items, temp)?
                    .context("loss.kl_coef ≠ 0 but the policy keeps no reference model")?;
                let l: Vec<usize> = chunk.iter().map(|&i| lens[i]).collect();
                for (&i, row) in chunk.iter().zip(Self::rows_of(&r, &l)?) {
                    samples[i].reference = Some(row);
                }
            }
        }

        let params = self.opt.params().to_vec();
        let sched = self
            .cfg
            .optim
            .schedule(self.cfg.train.max_steps * updates as u64);
        let t_len = self.cfg.sampling.max_new_tokens;
        let per_mini = samples.len().div_ceil(self.cfg.train.mini_batches);
        let (mut loss_sum, mut pg_sum, mut gn_sum) = (0f64, 0f64, 0f64);
        let (mut ent_tok, mut kl_tok) = (0f64, 0f64);
        let mut counts = ClipCounts::default();
        let mut n_updates = 0usize;
        for _epoch in 0..self.cfg.train.ppo_epochs {
            for mini in samples.chunks(per_mini) {
                let mlens: Vec<usize> = mini
                    .iter()
                    .map(|x| x.rollout.completion_ids.len())
                    .collect();
                let norm = AggNorm::from_lengths(&mlens, t_len);
                let mut acc = GradAccumulator::new();
                for micro in mini.chunks(mb) {
                    let items: Vec<ScoreItem> = micro.iter().map(|x| item(&x.rollout)).collect();
                    let out = self.policy.score(&items, temp)?;
                    let t = out.logp.dim(1)?;
                    let padded = |rows: fn(&Sample) -> Option<&[f32]>| -> Result<Tensor> {
                        let rows: Vec<&[f32]> =
                            micro.iter().map(|x| rows(x).unwrap_or(&[])).collect();
                        Self::pad(&rows, t)
                    };
                    let old = match updates > 1 {
                        true => Some(padded(|x| x.old.as_deref())?),
                        false => None,
                    };
                    let reference = match lp.kl_coef != 0.0 {
                        true => Some(padded(|x| x.reference.as_deref())?),
                        false => None,
                    };
                    let adv = Tensor::from_vec(
                        micro.iter().map(|x| x.adv as f32).collect::<Vec<_>>(),
                        micro.len(),
                        &Device::Cpu,
                    )?
                    .to_device(out.logp.device())?;
                    let dev = out.logp.device().clone();
                    let old = old.map(|o| o.to_device(&dev)).transpose()?;
                    let reference = reference.map(|o| o.to_device(&dev)).transpose()?;
                    let inp = LossInputs {
                        logp: &out.logp,
                        entropy: &out.entropy,
                        old_logp: old.as_ref(),
                        ref_logp: reference.as_ref(),
                        advantages: &adv,
                        mask: &out.mask,
                    };
                    let lo = grpo_loss(&inp, &lp, &norm)?;
                    let total = scalar(&lo.total)?;
                    if !total.is_finite() {
                        bail!("non-finite loss ({total}) at step {step}; no update applied");
                    }
                    let grads = lo.total.backward()?;
                    acc.add(&params, &grads)?;
                    loss_sum += total;
                    pg_sum += scalar(&lo.pg)?;
                    let mask = out.mask.to_dtype(DType::F32)?;
                    ent_tok += scalar(&(out.entropy.detach().to_dtype(DType::F32)? * &mask)?)?;
                    kl_tok += scalar(&(lo.kl_per_token.detach() * &mask)?)?;
                    counts.add(&lo.counts);
                }
                let lr = sched.lr_at(self.opt.steps());
                let st = self
                    .opt
                    .step(&acc, lr)
                    .with_context(|| format!("optimizer step at step {step}"))?;
                self.policy.after_update()?;
                gn_sum += st.grad_norm;
                m.lr = lr;
                n_updates += 1;
            }
        }
        let nu = n_updates.max(1) as f64;
        m.loss = loss_sum / nu;
        m.pg_loss = pg_sum / nu;
        m.grad_norm = gn_sum / nu;
        m.entropy = ent_tok / counts.tokens.max(1.0);
        m.kl = kl_tok / counts.tokens.max(1.0);
        m.clip_frac = counts.clip_frac();
        m.clip_frac_lower = counts.clip_frac_lower();
        m.update_s = t0.elapsed().as_secs_f64();
        m.peak_mem_bytes = crate::policy::device_memory::take_step_peak();
        Ok((m, logs))
    }

    fn sample_logs(&self, step: u64, samples: &[Sample]) -> Vec<SampleLog> {
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
                task: self.train[x.task].id.clone(),
                prompt: self.train[x.task].prompt.clone(),
                completion: x.rollout.text.clone(),
                reward: x.reward.reward,
                correct: x.reward.correct,
                length: x.rollout.completion_ids.len(),
            })
            .collect()
    }
}

fn item(r: &Rollout) -> ScoreItem<'_> {
    ScoreItem {
        prompt_ids: &r.prompt_ids,
        completion_ids: &r.completion_ids,
    }
}

#[cfg(test)]
mod prompt_limit_tests {
    use super::*;

    /// Counts a prompt's tokens as its characters; never asked to generate.
    struct CharPolicy;
    impl Policy for CharPolicy {
        fn generate(
            &mut self,
            _: &[Prompt],
            _: usize,
            _: &SamplingParams,
            _: u64,
        ) -> Result<Vec<Vec<Rollout>>> {
            bail!("not used")
        }
        fn score(&mut self, _: &[ScoreItem], _: f64) -> Result<crate::rl::traits::ScoreOut> {
            bail!("not used")
        }
        fn trainable(&self) -> Vec<(String, candle_core::Var)> {
            Vec::new()
        }
        fn prompt_tokens(&self, prompt: &Prompt) -> Result<Option<usize>> {
            Ok(Some(prompt.user_text().chars().count()))
        }
    }

    fn task(id: &str, len: usize) -> Task {
        Task {
            id: id.into(),
            prompt: "x".repeat(len),
            answer: Some("1".into()),
            meta: serde_json::Value::Null,
        }
    }

    fn cfg(limit: usize) -> RunConfig {
        let mut c = RunConfig::default();
        c.data.prompt_style = crate::prompt::style::MathPromptStyle::Plain;
        c.data.max_prompt_tokens = limit;
        c
    }

    #[test]
    fn long_eval_prompts_are_dropped_long_training_prompts_refused() {
        let eval = vec![task("short", 10), task("edge", 20), task("long", 21)];
        let kept =
            enforce_prompt_limit(&cfg(20), &CharPolicy, &[task("t", 20)], eval.clone()).unwrap();
        let ids: Vec<&str> = kept.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["short", "edge"]);
        let e = enforce_prompt_limit(&cfg(20), &CharPolicy, &[task("t", 21)], eval.clone())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("training task t")
                && e.contains("21-token")
                && e.contains("max_prompt_tokens = 20"),
            "{e}"
        );
        // 0 = no limit
        assert_eq!(
            enforce_prompt_limit(&cfg(0), &CharPolicy, &[task("t", 99)], eval)
                .unwrap()
                .len(),
            3
        );
    }
}
