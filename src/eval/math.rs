//! `prover eval math`: accuracy (avg@k) of a model on an informal benchmark, graded by the
//! answer checker. Resumable: per-problem results are appended to `results.jsonl` as they
//! finish, and a re-run with the same output folder skips the problems already there.
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::results::ResultsFile;
use crate::data::InformalTask;
use crate::progress::Progress;
use crate::prompt::style::MathPrompt;
use crate::prompt::{CompletionSource, Prompt};

/// The grade of one response against a reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Graded {
    pub correct: bool,
    pub extracted: Option<String>,
}

/// Settings of a math evaluation.
#[derive(Debug, Clone)]
pub struct MathEvalSettings {
    pub prompt: MathPrompt,
    /// Samples per problem (avg@k); 1 for greedy benchmarks.
    pub samples: usize,
    /// Problems per generation batch.
    pub batch_problems: usize,
    /// Folder for `results.jsonl` / `summary.json`; `None` keeps everything in memory.
    pub out: Option<PathBuf>,
    /// Show progress: a bar on a terminal, else one line per batch (see [`crate::progress`]).
    pub progress: bool,
}

/// One problem's outcome, a line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MathProblemResult {
    pub id: String,
    pub reference: String,
    pub responses: Vec<String>,
    pub extracted: Vec<Option<String>>,
    pub correct: Vec<bool>,
    /// Fraction of samples correct.
    pub accuracy: f64,
    pub tokens: usize,
    pub seconds: f64,
}

/// The summary of a run, also written as `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MathEvalSummary {
    pub problems: usize,
    pub samples_per_problem: usize,
    /// Mean over problems of the per-problem accuracy (avg@k).
    pub accuracy: f64,
    pub correct_samples: usize,
    pub total_samples: usize,
    pub generated_tokens: usize,
    pub seconds: f64,
    pub problems_per_minute: f64,
}

/// A problem ready for generation: its id, the rendered prompt and the reference answer.
#[derive(Debug, Clone)]
pub struct EvalItem {
    pub id: String,
    pub prompt: Prompt,
    pub reference: String,
}

/// Grades one item's responses (one [`Graded`] per response, in order).
pub type GradeFn<'a> = dyn FnMut(&EvalItem, &[String]) -> Result<Vec<Graded>> + 'a;

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

/// The evaluation loop over rendered items (`settings.prompt` is not used): generate
/// `settings.samples` per item in batches, grade, append to `results.jsonl`, summarize. The
/// trainer's periodic evaluation runs this too, grading with its rewarder.
pub fn run_eval_items(
    tasks: &[EvalItem],
    source: &mut dyn CompletionSource,
    grade: &mut GradeFn<'_>,
    settings: &MathEvalSettings,
) -> Result<(MathEvalSummary, Vec<MathProblemResult>)> {
    let start = Instant::now();
    let wanted: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    let (mut file, mut results) =
        ResultsFile::open(settings.out.as_deref(), &wanted, |r: &MathProblemResult| {
            r.id.as_str()
        })?;
    let done: HashSet<String> = results.iter().map(|r| r.id.clone()).collect();
    let todo: Vec<&EvalItem> = tasks.iter().filter(|t| !done.contains(&t.id)).collect();
    if !done.is_empty() {
        eprintln!(
            "resuming: {} problems already done, {} to go",
            done.len(),
            todo.len()
        );
    }
    let mut progress = Progress::new(
        settings.progress,
        tasks.len() as u64,
        done.len() as u64,
        "problems",
    );
    let samples = settings.samples.max(1);
    for chunk in todo.chunks(settings.batch_problems.max(1)) {
        let t0 = Instant::now();
        let prompts: Vec<Prompt> = chunk.iter().map(|t| t.prompt.clone()).collect();
        let outs = source.complete(&prompts, samples)?;
        let per_problem_secs = t0.elapsed().as_secs_f64() / chunk.len() as f64;
        if outs.len() != chunk.len() {
            anyhow::bail!(
                "the model returned {} groups for {} prompts",
                outs.len(),
                chunk.len()
            );
        }
        for (task, comps) in chunk.iter().zip(outs) {
            let texts: Vec<String> = comps.iter().map(|c| c.text.clone()).collect();
            let graded = grade(task, &texts)?;
            if graded.len() != texts.len() {
                anyhow::bail!(
                    "{}: {} grades for {} responses",
                    task.id,
                    graded.len(),
                    texts.len()
                );
            }
            let correct: Vec<bool> = graded.iter().map(|g| g.correct).collect();
            let n_ok = correct.iter().filter(|&&c| c).count();
            let r = MathProblemResult {
                id: task.id.clone(),
                reference: task.reference.clone(),
                accuracy: n_ok as f64 / correct.len().max(1) as f64,
                tokens: comps.iter().map(|c| c.tokens).sum(),
                responses: comps.into_iter().map(|c| c.text).collect(),
                extracted: graded.into_iter().map(|g| g.extracted).collect(),
                correct,
                seconds: per_problem_secs,
            };
            file.append(&r)?;
            results.push(r);
        }
        let acc = 100.0 * mean_acc(&results);
        progress.tick(results.len() as u64, &format!("acc {acc:.1}%"), || {
            batch_line(&results, tasks.len(), t0.elapsed().as_secs_f64())
        });
    }
    progress.finish(false);
    let secs = start.elapsed().as_secs_f64();
    let summary = MathEvalSummary {
        problems: results.len(),
        samples_per_problem: samples,
        accuracy: mean_acc(&results),
        correct_samples: results
            .iter()
            .map(|r| r.correct.iter().filter(|&&c| c).count())
            .sum(),
        total_samples: results.iter().map(|r| r.correct.len()).sum(),
        generated_tokens: results.iter().map(|r| r.tokens).sum(),
        seconds: secs,
        problems_per_minute: todo.len() as f64 / (secs / 60.0).max(1e-9),
    };
    file.summary(&summary)?;
    Ok((summary, results))
}

/// `eval 64/500 problems  acc 23.4% (15/64 samples)  batch 12.3 s`.
fn batch_line(results: &[MathProblemResult], total: usize, batch_secs: f64) -> String {
    let ok: usize = results
        .iter()
        .map(|r| r.correct.iter().filter(|&&c| c).count())
        .sum();
    let n: usize = results.iter().map(|r| r.correct.len()).sum();
    format!(
        "eval {}/{total} problems  acc {:.1}% ({ok}/{n} samples)  batch {batch_secs:.1} s",
        results.len(),
        100.0 * mean_acc(results),
    )
}

fn mean_acc(results: &[MathProblemResult]) -> f64 {
    if results.is_empty() {
        0.0
    } else {
        results.iter().map(|r| r.accuracy).sum::<f64>() / results.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::source::Completion;

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
