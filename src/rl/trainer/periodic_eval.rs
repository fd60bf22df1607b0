//! The periodic held-out evaluation of the policy during training.
use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use crate::data::Task;
use crate::heldout::{run_eval_items, EvalItem, Graded, MathEvalSettings};
use crate::rl::completion_source::PolicySource;
use crate::rl::report::{best_eval, EvalPoint, EvalScore};
use crate::rl::run_data::prompt_for;
use crate::rl::traits::{Policy, Rewarder, SamplingParams};
use crate::verify::Status;

use super::order::SALT_EVAL;
use super::Trainer;

impl<P: Policy, R: Rewarder> Trainer<P, R> {
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
            .map(|t| EvalItem {
                id: t.id().to_string(),
                prompt: prompt_for(&self.cfg.data, t),
                reference: t.answer().unwrap_or_default().to_string(),
            })
            .collect();
        let by_id: HashMap<&str, &Task> = self.eval[..n].iter().map(|t| (t.id(), t)).collect();
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
        let params = SamplingParams {
            temperature: self.cfg.sampling.eval_temperature,
            top_p: self.cfg.sampling.top_p,
            max_new_tokens: self.cfg.sampling.max_new_tokens,
            stop_strings: Vec::new(),
        };
        let mut source = PolicySource::new(&mut self.policy, params, seed);
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
                    if let Status::Error { reason: e } = &o.verdict {
                        tracing::warn!("eval {}: verifier error (counted wrong): {e}", item.id);
                    }
                    Graded {
                        correct: matches!(o.verdict, Status::Accepted),
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
}
