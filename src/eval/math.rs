//! `prover eval math`: accuracy (avg@k) of a model on an informal benchmark, graded by the
//! answer checker. Resumable: per-problem results are appended to `results.jsonl` as they
//! finish, and a re-run with the same output folder skips the problems already there. The loop
//! itself is [`crate::heldout`], which the trainer's held-out evaluation shares.
use anyhow::Result;

use crate::data::InformalTask;
use crate::prompt::CompletionSource;

pub use crate::heldout::{
    run_eval_items, EvalItem, GradeFn, Graded, MathEvalSettings, MathEvalSummary, MathProblemResult,
};

/// Runs the evaluation. `grade(reference, response)` is the answer checker; prompts are
/// rendered with `settings.prompt`.
pub fn run_math_eval(
    tasks: &[InformalTask],
    source: &mut dyn CompletionSource,
    grade: &dyn Fn(&str, &str) -> Graded,
    settings: &MathEvalSettings,
) -> Result<(MathEvalSummary, Vec<MathProblemResult>)> {
    let items: Vec<EvalItem> = tasks
        .iter()
        .map(|t| EvalItem {
            id: t.id.clone(),
            prompt: settings.prompt.render(&t.problem),
            reference: t.answer.clone(),
        })
        .collect();
    run_eval_items(
        &items,
        source,
        &mut |item, responses| {
            Ok(responses
                .iter()
                .map(|r| grade(&item.reference, r))
                .collect())
        },
        settings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::source::Completion;
    use crate::prompt::style::MathPrompt;
    use crate::prompt::Prompt;

    /// Answers "\boxed{<n>}" where n cycles through a script.
    struct Scripted {
        answers: Vec<&'static str>,
        calls: usize,
    }

    impl CompletionSource for Scripted {
        fn complete(&mut self, prompts: &[Prompt], n: usize) -> Result<Vec<Vec<Completion>>> {
            Ok(prompts
                .iter()
                .map(|_| {
                    (0..n)
                        .map(|_| {
                            let a = self.answers[self.calls % self.answers.len()];
                            self.calls += 1;
                            Completion {
                                text: format!("so \\boxed{{{a}}}"),
                                tokens: 3,
                            }
                        })
                        .collect()
                })
                .collect())
        }
    }

    fn grade(reference: &str, response: &str) -> Graded {
        let extracted = crate::verify::answer::extract::last_boxed_group(response);
        Graded {
            correct: extracted.as_deref() == Some(reference),
            extracted,
        }
    }

    fn tasks(n: usize) -> Vec<InformalTask> {
        (0..n)
            .map(|i| InformalTask {
                id: format!("p{i}"),
                problem: format!("q{i}"),
                answer: "1".into(),
            })
            .collect()
    }

    #[test]
    fn avg_at_k_and_resume() {
        let dir = tempfile::tempdir().unwrap();
        let settings = MathEvalSettings {
            prompt: MathPrompt::new(crate::prompt::style::MathPromptStyle::Qwen25MathCot),
            samples: 2,
            batch_problems: 2,
            out: Some(dir.path().to_path_buf()),
            progress: false,
        };
        let mut src = Scripted {
            answers: vec!["1", "2"],
            calls: 0,
        };
        let (s, _) = run_math_eval(&tasks(3), &mut src, &grade, &settings).unwrap();
        assert_eq!(s.problems, 3);
        assert_eq!(s.total_samples, 6);
        assert_eq!(s.correct_samples, 3);
        assert!((s.accuracy - 0.5).abs() < 1e-12);
        // Re-run with two more problems: only those are generated.
        let mut src2 = Scripted {
            answers: vec!["1"],
            calls: 0,
        };
        let (s2, _) = run_math_eval(&tasks(5), &mut src2, &grade, &settings).unwrap();
        assert_eq!(
            src2.calls, 4,
            "only the 2 new problems x 2 samples are generated"
        );
        assert_eq!(s2.problems, 5);
        assert_eq!(s2.correct_samples, 3 + 4);
        assert!(dir.path().join("summary.json").exists());
    }
}
