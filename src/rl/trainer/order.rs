//! Which training tasks each step gets and in which order (a shuffle per epoch, or the one
//! example of 1-shot training), the seed of every random draw, and the prompt-length limit
//! checked at start-up.

use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::data::Task;
use crate::rl::config::RunConfig;
use crate::rl::run_data::prompt_for;
use crate::rl::traits::{Policy, Rewarder};

use super::Trainer;

use crate::util::splitmix64 as splitmix;

pub(super) const SALT_DATA: u64 = 0xDA7A;
pub(super) const SALT_EVAL: u64 = 0xE7A1;

/// `data.max_prompt_tokens` (verl's `data.max_prompt_length`): a training prompt over the limit
/// is refused; held-out prompts over it are dropped with a warning, as verl drops them.
pub(super) fn enforce_prompt_limit<P: Policy>(
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
        |t: &Task| -> Result<Option<usize>> { policy.prompt_tokens(&prompt_for(&cfg.data, t)) };
    for t in train {
        if let Some(n) = len(t)? {
            if n > limit {
                bail!(
                    "training task {} has a {n}-token prompt, over data.max_prompt_tokens = \
                     {limit}; shorten it, remove it from {}, or raise the limit",
                    t.id(),
                    cfg.data.train.display()
                );
            }
        }
    }
    let mut kept = Vec::with_capacity(eval.len());
    let mut dropped = Vec::new();
    for t in eval {
        match len(&t)? {
            Some(n) if n > limit => dropped.push(format!("{} ({n} tokens)", t.id())),
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

impl<P: Policy, R: Rewarder> Trainer<P, R> {
    pub(super) fn seed_for(&self, step: u64, salt: u64) -> u64 {
        splitmix(self.cfg.train.seed ^ splitmix(step ^ splitmix(salt)))
    }

    /// Indices of the next `n` training tasks.
    pub(super) fn next_tasks(&mut self, n: usize) -> Vec<usize> {
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
}

#[cfg(test)]
mod prompt_limit_tests {
    use super::*;
    use crate::rl::traits::{Prompt, Rollout, SamplingParams, ScoreItem};

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
        Task::informal(id, "x".repeat(len), "1")
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
        let ids: Vec<&str> = kept.iter().map(|t| t.id()).collect();
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
