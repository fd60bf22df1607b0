//! What a run tells its user: a line per step and per held-out evaluation while it runs (see
//! [`crate::progress`] for when they are printed), and the end-of-run summary, printed and
//! written atomically as `RUN/summary.json`.
//!
//! Summary rules: the held-out accuracy at the start is the first evaluation of the run's
//! `metrics.jsonl` (step 0 with `eval_before_train`), the end is the last one, the best is the
//! highest, the earliest step on ties (the initial model, step 0, wins a tie: training did not
//! beat it). The final training reward is the last step's reward mean, with the mean over the
//! last ≤ 10 steps beside it (one step's mean is noisy). The best checkpoint is
//! `checkpoints/step-N` of the best step when that folder exists; the trainer never prunes it.
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::progress::format_duration;
use crate::rl::checkpoint::checkpoint_dir;
use crate::rl::metrics::StepMetrics;

/// Steps averaged for the "recent" training reward.
const RECENT: usize = 10;

/// The outcome of one held-out evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalScore {
    /// Mean per-problem accuracy.
    pub accuracy: f64,
    /// Samples graded correct.
    pub correct: usize,
    /// Samples graded.
    pub total: usize,
}

/// `step 3/50  reward 0.412  acc 0.438  entropy 0.612  len 31.2  s gen/verify/update 20.1/0.1/12.3`
pub fn step_line(m: &StepMetrics, max_steps: u64) -> String {
    format!(
        "step {}/{max_steps}  reward {:.3}  acc {:.3}  entropy {:.3}  len {:.1}  \
         s gen/verify/update {:.1}/{:.1}/{:.1}",
        m.step,
        m.reward_mean,
        m.accuracy,
        m.entropy,
        m.response_len_mean,
        m.gen_s,
        m.verify_s,
        m.update_s
    )
}

/// The short message of the progress bar on a terminal.
pub fn step_message(m: &StepMetrics, last_eval: Option<f64>) -> String {
    let mut s = format!("reward {:.3} acc {:.3}", m.reward_mean, m.accuracy);
    if let Some(a) = last_eval {
        s.push_str(&format!(" eval {:.1}%", 100.0 * a));
    }
    s
}

/// `eval step 10: 27.0% (27/100)`
pub fn eval_line(step: u64, e: &EvalScore) -> String {
    format!(
        "eval step {step}: {:.1}% ({}/{})",
        100.0 * e.accuracy,
        e.correct,
        e.total
    )
}

/// A held-out accuracy at a step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    pub step: u64,
    pub accuracy: f64,
}

/// The end-of-run summary (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Completed steps.
    pub steps: u64,
    /// `train.max_steps`.
    pub max_steps: u64,
    /// The step this invocation resumed after (None: started from scratch).
    pub resumed_after: Option<u64>,
    /// Wall time of this invocation, seconds.
    pub wall_seconds: f64,
    /// Held-out evaluations in the run.
    pub evaluations: usize,
    /// The first, best and last held-out accuracy.
    pub eval_start: Option<EvalPoint>,
    pub eval_best: Option<EvalPoint>,
    pub eval_end: Option<EvalPoint>,
    /// The last step's reward mean and training accuracy.
    pub final_reward_mean: Option<f64>,
    pub final_accuracy: Option<f64>,
    /// Mean reward over the last `recent_steps` (≤ 10) steps.
    pub recent_reward_mean: Option<f64>,
    pub recent_steps: usize,
    /// `checkpoints/step-N` of the best evaluation, when it exists.
    pub best_checkpoint: Option<PathBuf>,
    /// The last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
}

impl RunReport {
    /// The summary of the run in `run_dir` from its whole metrics history (`rows`, resumed
    /// parts included).
    pub fn new(
        run_dir: &Path,
        rows: &[StepMetrics],
        max_steps: u64,
        resumed_after: Option<u64>,
        wall_seconds: f64,
        last_checkpoint: Option<PathBuf>,
    ) -> Self {
        let evals = eval_points(rows);
        let eval_best = best_eval(&evals);
        let trained: Vec<&StepMetrics> = rows.iter().filter(|m| m.step > 0).collect();
        let last = trained.last();
        let recent = &trained[trained.len().saturating_sub(RECENT)..];
        let best_checkpoint = eval_best
            .filter(|b| b.step > 0)
            .map(|b| checkpoint_dir(run_dir, b.step))
            .filter(|d| d.join("weights.safetensors").exists());
        RunReport {
            run_dir: run_dir.to_path_buf(),
            steps: last.map_or(0, |m| m.step),
            max_steps,
            resumed_after,
            wall_seconds,
            evaluations: evals.len(),
            eval_start: evals.first().copied(),
            eval_best,
            eval_end: evals.last().copied(),
            final_reward_mean: last.map(|m| m.reward_mean),
            final_accuracy: last.map(|m| m.accuracy),
            recent_reward_mean: (!recent.is_empty())
                .then(|| recent.iter().map(|m| m.reward_mean).sum::<f64>() / recent.len() as f64),
            recent_steps: recent.len(),
            best_checkpoint,
            last_checkpoint,
        }
    }

    /// Writes `RUN/summary.json` atomically; returns its path.
    pub fn write(&self) -> Result<PathBuf> {
        let p = self.run_dir.join("summary.json");
        crate::util::write_atomic(&p, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(p)
    }
}

/// The held-out evaluations of a metrics history (finite accuracies only).
pub fn eval_points(rows: &[StepMetrics]) -> Vec<EvalPoint> {
    rows.iter()
        .filter_map(|m| {
            m.eval_accuracy
                .filter(|a| a.is_finite())
                .map(|accuracy| EvalPoint {
                    step: m.step,
                    accuracy,
                })
        })
        .collect()
}

/// The highest accuracy, the earliest step on ties.
pub fn best_eval(evals: &[EvalPoint]) -> Option<EvalPoint> {
    evals.iter().copied().fold(None, |best, e| match best {
        Some(b) if b.accuracy >= e.accuracy => Some(b),
        _ => Some(e),
    })
}

fn pct(e: &EvalPoint) -> String {
    format!("{:.1}% (step {})", 100.0 * e.accuracy, e.step)
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resumed = match self.resumed_after {
            Some(s) => format!(" (resumed after step {s})"),
            None => String::new(),
        };
        writeln!(
            f,
            "done: {}/{} steps{resumed} in {}; run directory {}",
            self.steps,
            self.max_steps,
            format_duration(std::time::Duration::from_secs_f64(
                self.wall_seconds.max(0.0)
            )),
            self.run_dir.display()
        )?;
        match (&self.eval_start, &self.eval_best, &self.eval_end) {
            (Some(s), Some(b), Some(e)) => writeln!(
                f,
                "held-out accuracy: start {}, best {}, end {}",
                pct(s),
                pct(b),
                pct(e)
            )?,
            _ => writeln!(
                f,
                "held-out accuracy: not evaluated (set train.eval_every or eval_before_train)"
            )?,
        }
        if let (Some(r), Some(a)) = (self.final_reward_mean, self.final_accuracy) {
            write!(
                f,
                "final training reward: {r:.3} (step {}, accuracy {a:.3})",
                self.steps
            )?;
            match self.recent_reward_mean {
                Some(m) if self.recent_steps > 1 => {
                    writeln!(f, "; mean of the last {} steps {m:.3}", self.recent_steps)?
                }
                _ => writeln!(f)?,
            }
        }
        match (&self.eval_best, &self.best_checkpoint) {
            (_, Some(d)) => writeln!(f, "best checkpoint: {}", d.display())?,
            (Some(b), None) if b.step == 0 => writeln!(
                f,
                "best checkpoint: none; the initial model (step 0) scored best"
            )?,
            (Some(b), None) => writeln!(
                f,
                "best checkpoint: none; step {} was not saved (make train.save_every divide \
                 train.eval_every to keep one)",
                b.step
            )?,
            (None, None) => {}
        }
        write!(
            f,
            "last checkpoint: {}",
            self.last_checkpoint
                .as_ref()
                .map_or("none".into(), |p| p.display().to_string())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, reward: f64, eval: Option<f64>) -> StepMetrics {
        StepMetrics {
            step,
            reward_mean: reward,
            accuracy: reward,
            eval_accuracy: eval,
            ..Default::default()
        }
    }

    #[test]
    fn lines_have_every_field() {
        let m = StepMetrics {
            step: 3,
            reward_mean: 0.4125,
            accuracy: 0.4375,
            entropy: 0.612,
            response_len_mean: 31.25,
            gen_s: 20.14,
            verify_s: 0.06,
            update_s: 12.3,
            ..Default::default()
        };
        assert_eq!(
            step_line(&m, 50),
            "step 3/50  reward 0.412  acc 0.438  entropy 0.612  len 31.2  \
             s gen/verify/update 20.1/0.1/12.3"
        );
        let e = EvalScore {
            accuracy: 0.27,
            correct: 27,
            total: 100,
        };
        assert_eq!(eval_line(10, &e), "eval step 10: 27.0% (27/100)");
    }

    #[test]
    fn best_is_the_earliest_of_the_highest() {
        let p = |step, accuracy| EvalPoint { step, accuracy };
        assert_eq!(best_eval(&[]), None);
        let evals = [p(0, 0.3), p(10, 0.5), p(20, 0.5), p(30, 0.4)];
        assert_eq!(best_eval(&evals), Some(p(10, 0.5)));
        assert_eq!(best_eval(&[p(0, 0.5), p(10, 0.5)]), Some(p(0, 0.5)));
    }

    #[test]
    fn summary_of_a_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = vec![row(0, 0.0, Some(0.2))];
        for s in 1..=12 {
            let eval = match s {
                5 => Some(0.6),
                10 => Some(0.4),
                _ => None,
            };
            rows.push(row(s, s as f64 / 12.0, eval));
        }
        // step 10 has a checkpoint, step 5 (the best) has none
        let ck = checkpoint_dir(dir.path(), 10);
        std::fs::create_dir_all(&ck).unwrap();
        std::fs::write(ck.join("weights.safetensors"), b"x").unwrap();
        let r = RunReport::new(dir.path(), &rows, 12, None, 125.0, Some(ck.clone()));
        assert_eq!(r.steps, 12);
        assert_eq!(r.evaluations, 3);
        assert_eq!(r.eval_start.unwrap().step, 0);
        assert_eq!(r.eval_best.unwrap().step, 5);
        assert_eq!(r.eval_end.unwrap().step, 10);
        assert_eq!(r.final_reward_mean, Some(1.0));
        let recent = (3..=12).map(|s| s as f64 / 12.0).sum::<f64>() / 10.0;
        assert!((r.recent_reward_mean.unwrap() - recent).abs() < 1e-12);
        assert_eq!(r.best_checkpoint, None);
        let text = r.to_string();
        assert!(text.contains("done: 12/12 steps in 2m05s"), "{text}");
        assert!(
            text.contains(
                "held-out accuracy: start 20.0% (step 0), best 60.0% (step 5), end 40.0% (step 10)"
            ),
            "{text}"
        );
        assert!(
            text.contains("final training reward: 1.000 (step 12"),
            "{text}"
        );
        assert!(text.contains("step 5 was not saved"), "{text}");
        // the best step with a checkpoint is named
        rows[10].eval_accuracy = Some(0.9);
        let r = RunReport::new(dir.path(), &rows, 12, Some(4), 1.0, Some(ck.clone()));
        assert_eq!(r.best_checkpoint.as_deref(), Some(ck.as_path()));
        assert!(r
            .to_string()
            .contains(&format!("best checkpoint: {}", ck.display())));
        assert!(r.to_string().contains("resumed after step 4"));
        // written atomically, read back equal
        let p = r.write().unwrap();
        let back: RunReport = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn no_evaluation_and_no_steps_still_summarize() {
        let dir = tempfile::tempdir().unwrap();
        let r = RunReport::new(dir.path(), &[], 5, None, 0.0, None);
        let text = r.to_string();
        assert!(text.contains("done: 0/5 steps"), "{text}");
        assert!(text.contains("not evaluated"), "{text}");
        assert!(text.contains("last checkpoint: none"), "{text}");
        // a NaN evaluation is not a best
        let rows = [row(1, 0.5, Some(f64::NAN))];
        let r = RunReport::new(dir.path(), &rows, 5, None, 0.0, None);
        assert_eq!(r.eval_best, None);
    }
}
