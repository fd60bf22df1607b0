//! The evaluation loop over rendered problems, shared by `prover eval math` and the trainer's
//! held-out evaluation (so `rl` needs nothing of `eval`): generate `samples` per problem in
//! batches from a [`CompletionSource`], grade each response, append one line per finished
//! problem to `results.jsonl` (resumable, [`results`]) and summarize (avg@k).
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::progress::Progress;
use crate::prompt::style::MathPrompt;
use crate::prompt::{CompletionSource, Prompt};
use results::ResultsFile;

pub(crate) mod results;

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
