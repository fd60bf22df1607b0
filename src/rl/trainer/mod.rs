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
//!
//! Files, one stage each: this one holds the loop ([`Trainer::run`], one step after the
//! other); [`order`] which tasks a step gets and the seeds of its random draws (and the
//! prompt-length limit applied at start-up); [`rollouts`] sampling, judging (with the retry of
//! verifier errors) and dynamic sampling; [`update`] advantages, the loss over micro-batches
//! and the optimizer steps; [`periodic_eval`] the held-out evaluation; [`resume`] checkpoints
//! saved and resumed.
mod order;
mod periodic_eval;
mod resume;
mod rollouts;
mod update;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::data::Task;
use crate::progress::Progress;
use crate::rl::checkpoint::{self};
use crate::rl::config::RunConfig;
use crate::rl::metrics::{read_metrics, MetricsWriter, StepMetrics};
use crate::rl::optimizer::AdamW;
use crate::rl::plot::plot_run;
use crate::rl::report::{
    best_eval, eval_line, eval_points, step_line, step_message, EvalPoint, RunReport,
};
use crate::rl::reward::{RewardShaper, ShapedReward};
use crate::rl::traits::{Policy, Rewarder, Rollout};

use order::enforce_prompt_limit;

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

    /// Trains to the end: with `resume`, first continues from the run directory's latest
    /// checkpoint ([`Trainer::resume`]), then [`Trainer::run`]. The usual entry point of
    /// `prover train`.
    pub fn train(mut self, resume: bool) -> Result<RunSummary> {
        if resume {
            self.resume()?;
        }
        self.run()
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
}
