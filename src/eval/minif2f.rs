//! `prover eval minif2f`: pass@k of a prover model on miniF2F, every proof checked by the Lean
//! pool through the sound assembly (trusted header + reference statement + the model's body).
//!
//! Generation and verification overlap: the model samples problem i+1 while verifier threads
//! check the proofs of problem i. Per-problem results are appended to `results.jsonl` as they
//! complete; a re-run with the same `--out` skips the problems already there.
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::passk::{mean_pass_at_k, report_ks};
use crate::data::FormalTask;
use crate::heldout::results::ResultsFile;
use crate::prompt::style::{extract_proof_body, ProofPromptStyle};
pub use crate::prompt::style::{proof_prompt, proof_prompt_with_header};
use crate::prompt::CompletionSource;
use crate::verify::Status;

/// The verdict on one proof attempt, as the evaluator records it: in `results.jsonl` as
/// `{"verdict": "accepted" | "rejected" | "error", "reason": "…", "seconds": …}` (an error is
/// the verifier failing, not counted as a proof).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "AttemptRecord", try_from = "AttemptRecord")]
pub struct AttemptVerdict {
    pub status: Status,
    pub seconds: f64,
}

impl AttemptVerdict {
    pub fn accepted(&self) -> bool {
        self.status.is_accepted()
    }
}

/// The line format of an [`AttemptVerdict`].
#[derive(Serialize, Deserialize)]
struct AttemptRecord {
    verdict: String,
    reason: String,
    seconds: f64,
}

impl From<AttemptVerdict> for AttemptRecord {
    fn from(v: AttemptVerdict) -> Self {
        AttemptRecord {
            verdict: v.status.label().into(),
            reason: v.status.reason().unwrap_or_default().into(),
            seconds: v.seconds,
        }
    }
}

impl TryFrom<AttemptRecord> for AttemptVerdict {
    type Error = String;
    fn try_from(r: AttemptRecord) -> Result<Self, String> {
        let status = Status::from_label(&r.verdict, r.reason).ok_or_else(|| {
            format!(
                "verdict {:?}: expected \"accepted\", \"rejected\" or \"error\"",
                r.verdict
            )
        })?;
        Ok(AttemptVerdict {
            status,
            seconds: r.seconds,
        })
    }
}

/// Checks one proof body against a formal task (blocking; called from several threads).
pub trait ProofChecker: Sync {
    fn check(&self, task: &FormalTask, body: &str) -> AttemptVerdict;
}

/// Settings of a miniF2F evaluation.
#[derive(Debug, Clone)]
pub struct ProofEvalSettings {
    pub style: ProofPromptStyle,
    /// The header shown to the model in `complete` / `cot` prompts (DeepSeek's); `None`: the
    /// task's own. Verification always uses the task's header.
    pub prompt_header: Option<String>,
    /// Samples per problem (n of pass@k).
    pub samples: usize,
    /// Threads submitting proofs to the checker concurrently (match the pool's workers).
    pub verify_threads: usize,
    pub out: Option<PathBuf>,
    pub progress: bool,
}

/// One problem's outcome, a line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofProblemResult {
    pub name: String,
    pub attempts: usize,
    pub accepted: usize,
    /// The first accepted proof body, if any.
    pub proof: Option<String>,
    pub verdicts: Vec<AttemptVerdict>,
    /// What each attempt was graded on: the proof body extracted from the completion (None:
    /// no proof found), in the order of `verdicts`.
    #[serde(default)]
    pub graded: Vec<Option<String>>,
    pub generation_seconds: f64,
    pub verification_seconds: f64,
}

/// The summary, also written as `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofEvalSummary {
    pub problems: usize,
    pub samples_per_problem: usize,
    /// `(k, pass@k)` for k in 1, 8, 32, … up to the number of samples.
    pub pass_at_k: Vec<(usize, f64)>,
    pub solved: usize,
    pub verifier_errors: usize,
    pub seconds: f64,
}

/// Runs the evaluation.
pub fn run_minif2f_eval(
    tasks: &[FormalTask],
    source: &mut dyn CompletionSource,
    checker: &dyn ProofChecker,
    settings: &ProofEvalSettings,
) -> Result<(ProofEvalSummary, Vec<ProofProblemResult>)> {
    let start = Instant::now();
    let wanted: HashSet<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let (mut file, mut results) = ResultsFile::open(
        settings.out.as_deref(),
        &wanted,
        |r: &ProofProblemResult| r.name.as_str(),
    )?;
    let done: HashSet<String> = results.iter().map(|r| r.name.clone()).collect();
    let todo: Vec<&FormalTask> = tasks.iter().filter(|t| !done.contains(&t.name)).collect();
    let mut progress = crate::progress::Progress::new(
        settings.progress,
        tasks.len() as u64,
        done.len() as u64,
        "problems",
    );
    let samples = settings.samples.max(1);

    // Work items: (problem index in `todo`, attempt index, body or None when nothing was extracted).
    type Job = (usize, usize, Option<String>);
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<(usize, usize, Option<String>, AttemptVerdict)>();
    let mut gen_secs = vec![0.0f64; todo.len()];
    let mut gen_error = None;

    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..settings.verify_threads.max(1) {
            let res_tx = res_tx.clone();
            let job_rx = &job_rx;
            let todo = &todo;
            scope.spawn(move || loop {
                let job = { job_rx.lock().map(|rx| rx.recv()) };
                let Ok(Ok((p, a, body))) = job else { break };
                let verdict = match &body {
                    Some(b) => checker.check(todo[p], b),
                    None => AttemptVerdict {
                        status: Status::rejected("no proof found in the completion"),
                        seconds: 0.0,
                    },
                };
                if res_tx.send((p, a, body, verdict)).is_err() {
                    break;
                }
            });
        }
        drop(res_tx);
        // Generate on this thread while the verifier threads work.
        for (p, task) in todo.iter().enumerate() {
            let t0 = Instant::now();
            let prompt =
                proof_prompt_with_header(settings.style, task, settings.prompt_header.as_deref());
            let comps = match source.complete(&[prompt], samples) {
                Ok(mut c) => c.pop().unwrap_or_default(),
                Err(e) => {
                    gen_error = Some(e);
                    break;
                }
            };
            gen_secs[p] = t0.elapsed().as_secs_f64();
            for (a, c) in comps.iter().enumerate() {
                let body = extract_proof_body(&c.text, task, settings.style);
                let _ = job_tx.send((p, a, body));
            }
        }
        drop(job_tx);
        // Collect: a problem is complete when all its attempts are back.
        let mut pending: HashMap<usize, Vec<(usize, Option<String>, AttemptVerdict)>> =
            HashMap::new();
        for (p, a, body, v) in res_rx.iter() {
            let entry = pending.entry(p).or_default();
            entry.push((a, body, v));
            if entry.len() == samples {
                let mut attempts = pending.remove(&p).unwrap_or_default();
                attempts.sort_by_key(|x| x.0);
                let accepted = attempts.iter().filter(|x| x.2.accepted()).count();
                let r = ProofProblemResult {
                    name: todo[p].name.clone(),
                    attempts: attempts.len(),
                    accepted,
                    proof: attempts
                        .iter()
                        .find(|x| x.2.accepted())
                        .and_then(|x| x.1.clone()),
                    verification_seconds: attempts.iter().map(|x| x.2.seconds).sum(),
                    graded: attempts.iter().map(|x| x.1.clone()).collect(),
                    verdicts: attempts.into_iter().map(|x| x.2).collect(),
                    generation_seconds: gen_secs[p],
                };
                file.append(&r)?;
                results.push(r);
                let solved = results.iter().filter(|r| r.accepted > 0).count();
                let n = results.len();
                progress.tick(n as u64, &format!("solved {solved}/{n}"), || {
                    format!("eval {n}/{} problems  solved {solved}/{n}", tasks.len())
                });
            }
        }
        Ok(())
    })?;
    if let Some(e) = gen_error {
        return Err(e.context("generation failed (finished problems are saved; re-run to resume)"));
    }
    progress.finish(false);
    let counts: Vec<(usize, usize)> = results.iter().map(|r| (r.attempts, r.accepted)).collect();
    let summary = ProofEvalSummary {
        problems: results.len(),
        samples_per_problem: samples,
        pass_at_k: report_ks(samples)
            .into_iter()
            .map(|k| (k, mean_pass_at_k(&counts, k).0))
            .collect(),
        solved: results.iter().filter(|r| r.accepted > 0).count(),
        verifier_errors: results
            .iter()
            .flat_map(|r| &r.verdicts)
            .filter(|v| v.status.is_error())
            .count(),
        seconds: start.elapsed().as_secs_f64(),
    };
    file.summary(&summary)?;
    Ok((summary, results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::{Completion, Prompt};

    struct Fixed(Vec<&'static str>);
    impl CompletionSource for Fixed {
        fn complete(&mut self, prompts: &[Prompt], n: usize) -> Result<Vec<Vec<Completion>>> {
            Ok(prompts
                .iter()
                .map(|_| {
                    (0..n)
                        .map(|i| Completion {
                            text: self.0[i % self.0.len()].into(),
                            tokens: 1,
                        })
                        .collect()
                })
                .collect())
        }
    }

    /// Accepts exactly the body "  rfl" for theorems whose name starts with "easy".
    struct Judge;
    impl ProofChecker for Judge {
        fn check(&self, task: &FormalTask, body: &str) -> AttemptVerdict {
            let ok = task.name.starts_with("easy") && body == "  rfl";
            AttemptVerdict {
                status: if ok {
                    Status::Accepted
                } else {
                    Status::rejected("")
                },
                seconds: 0.0,
            }
        }
    }

    fn task(name: &str) -> FormalTask {
        FormalTask {
            name: name.into(),
            header: "import Mathlib\n".into(),
            formal_statement: format!("theorem {name} : 1 = 1 := by sorry"),
            informal: None,
            split: Some("valid".into()),
        }
    }

    #[test]
    fn pass_at_k_over_overlapped_generation_and_checking() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = vec![task("easy1"), task("hard1"), task("easy2")];
        let settings = ProofEvalSettings {
            style: ProofPromptStyle::Complete,
            prompt_header: None,
            samples: 4,
            verify_threads: 3,
            out: Some(dir.path().to_path_buf()),
            progress: false,
        };
        // 1 of 4 attempts is the right body; one has no body at all.
        let mut src = Fixed(vec!["  rfl\n```", "  simp\n```", "```", "  norm_num"]);
        let (s, results) = run_minif2f_eval(&tasks, &mut src, &Judge, &settings).unwrap();
        assert_eq!(s.problems, 3);
        assert_eq!(s.solved, 2);
        assert_eq!(
            results.iter().map(|r| r.attempts).sum::<usize>(),
            12,
            "every attempt has one verdict"
        );
        let p1 = s.pass_at_k.iter().find(|(k, _)| *k == 1).unwrap().1;
        assert!((p1 - (0.25 * 2.0 / 3.0)).abs() < 1e-9, "{p1}");
        let p4 = s.pass_at_k.iter().find(|(k, _)| *k == 4).unwrap().1;
        assert!((p4 - 2.0 / 3.0).abs() < 1e-9);
        let easy = results.iter().find(|r| r.name == "easy1").unwrap();
        assert_eq!(easy.proof.as_deref(), Some("  rfl"));
        assert!(easy.verdicts.iter().any(|v| v
            .status
            .reason()
            .is_some_and(|r| r.contains("no proof found"))));
        // Resume: nothing left to do, the source is not called.
        struct Never;
        impl CompletionSource for Never {
            fn complete(&mut self, _: &[Prompt], _: usize) -> Result<Vec<Vec<Completion>>> {
                anyhow::bail!("must not be called")
            }
        }
        let (s2, _) = run_minif2f_eval(&tasks, &mut Never, &Judge, &settings).unwrap();
        assert_eq!(s2.solved, 2);
    }
}
