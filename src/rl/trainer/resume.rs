//! Checkpoints: saved every `train.save_every` steps and at the end (the newest
//! `keep_checkpoints` and the best evaluation's kept), and resumed from.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::Tensor;

use crate::rl::checkpoint::{self, TrainState};
use crate::rl::traits::{Policy, Rewarder};

use super::Trainer;

impl<P: Policy, R: Rewarder> Trainer<P, R> {
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

    pub(super) fn save_checkpoint(&mut self) -> Result<PathBuf> {
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
}
