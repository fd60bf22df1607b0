//! The answer reward: the answer checker grades each completion against the task's reference
//! answer (strict: the last `\boxed{}` only; lenient: `reward.lenient = true`, also "the answer
//! is …", a final `$…$`, the last number). Accepted only when the checker says the answers are
//! equivalent; a completion with no extractable answer is malformed (format penalty). The
//! extracted answer goes with the verdict, so evaluation records show what was graded.
use anyhow::Result;

use crate::data::Task;
use crate::rl::traits::{RewardOutcome, Rewarder};
use crate::verify::answer::{AnswerChecker, CheckerConfig};
use crate::verify::Status;

/// Rewards answers through an [`AnswerChecker`].
#[derive(Debug, Clone)]
pub struct AnswerRewarder {
    checker: AnswerChecker,
}

impl AnswerRewarder {
    /// Strict (boxed only) or lenient grading with the checker's default rules.
    pub fn new(lenient: bool) -> Self {
        let checker = if lenient {
            AnswerChecker::new(CheckerConfig::lenient())
        } else {
            AnswerChecker::default()
        };
        AnswerRewarder { checker }
    }

    /// One completion's outcome. A task without a reference answer rejects everything.
    pub fn grade(&self, task: &Task, completion: &str) -> RewardOutcome {
        let Some(reference) = task.answer() else {
            return RewardOutcome {
                verdict: Status::rejected(format!("task {} has no reference answer", task.id())),
                well_formed: false,
                graded: None,
            };
        };
        let v = self.checker.check(reference, completion);
        RewardOutcome {
            well_formed: v.extracted.is_some(),
            verdict: v.status(),
            graded: v.extracted,
        }
    }
}

impl Rewarder for AnswerRewarder {
    fn judge(&mut self, task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        Ok(completions.iter().map(|c| self.grade(task, c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An informal task with `answer`, or (None) a formal task, which has no answer.
    fn task(answer: Option<&str>) -> Task {
        match answer {
            Some(a) => Task::informal("t", "q", a),
            None => Task::Formal(crate::data::FormalTask {
                name: "t".into(),
                header: String::new(),
                formal_statement: "theorem t : True := by sorry".into(),
                informal: None,
                split: None,
            }),
        }
    }

    #[test]
    fn strict_grades_the_box_and_lenient_the_sentence() {
        let strict = AnswerRewarder::new(false);
        let lenient = AnswerRewarder::new(true);
        let t = task(Some("20"));
        let o = strict.grade(&t, "The answer is 20.");
        assert!(matches!(o.verdict, Status::Rejected { .. }));
        assert_eq!((o.well_formed, o.graded), (false, None));
        let o = lenient.grade(&t, "The answer is 20.");
        assert_eq!(o.verdict, Status::Accepted);
        assert_eq!(o.graded.as_deref(), Some("20"));
        let o = strict.grade(&t, "so \\boxed{21}");
        assert!(matches!(o.verdict, Status::Rejected { .. }));
        assert_eq!(
            o.graded.as_deref(),
            Some("21"),
            "a wrong answer is recorded too"
        );
    }

    #[test]
    fn a_task_without_reference_accepts_nothing() {
        // an empty reference must not make an empty answer "equal"
        let r = AnswerRewarder::new(true);
        for c in ["", "\\boxed{}", "The answer is ."] {
            let o = r.grade(&task(None), c);
            assert!(matches!(o.verdict, Status::Rejected { .. }), "{c:?}");
        }
    }
}
