//! What a run leaves for its reader: evaluation records that show what was graded (strict and
//! lenient), the end-of-run summary (`summary.json`), and the best checkpoint kept on disk.
use anyhow::Result;
use candle_core::{Tensor, Var};
use prover::data::Task;
use prover::rl::answer_reward::AnswerRewarder;
use prover::rl::checkpoint;
use prover::rl::config::RunConfig;
use prover::rl::metrics::read_metrics;
use prover::rl::report::{best_eval, eval_points, RunReport};
use prover::rl::toy::BigramPolicy;
use prover::rl::trainer::Trainer;
use prover::rl::traits::{
    Policy, Prompt, RewardOutcome, Rewarder, Rollout, SamplingParams, ScoreItem, ScoreOut,
};
use prover::verify::answer::{AnswerChecker, CheckerConfig};
use prover::verify::Status;
use serde_json::Value;

/// Answers the i-th prompt it is asked with `SCRIPT[i % len]` (training is not used).
struct Scripted {
    inner: BigramPolicy,
    calls: usize,
}

const SCRIPT: [&str; 7] = [
    "The answer is 20.",
    "so \\boxed{20}",
    "so \\boxed{21}",
    "I do not know.",
    "20 apples; the answer is \\boxed{20}",
    "The answer is 21, not \\boxed{20}.",
    "The final answer is $20$",
];

impl Policy for Scripted {
    fn generate(
        &mut self,
        prompts: &[Prompt],
        group_size: usize,
        _params: &SamplingParams,
        _seed: u64,
    ) -> Result<Vec<Vec<Rollout>>> {
        Ok(prompts
            .iter()
            .map(|_| {
                (0..group_size)
                    .map(|_| {
                        let text = SCRIPT[self.calls % SCRIPT.len()].to_string();
                        self.calls += 1;
                        Rollout {
                            prompt_ids: vec![1],
                            completion_ids: vec![2, 3],
                            text,
                            sampling_logp: None,
                            truncated: false,
                        }
                    })
                    .collect()
            })
            .collect())
    }
    fn score(&mut self, items: &[ScoreItem], temperature: f64) -> Result<ScoreOut> {
        self.inner.score(items, temperature)
    }
    fn trainable(&self) -> Vec<(String, Var)> {
        self.inner.trainable()
    }
    fn reference_logp(&mut self, items: &[ScoreItem], t: f64) -> Result<Option<Tensor>> {
        self.inner.reference_logp(items, t)
    }
}

fn answer_tasks(n: usize) -> Vec<Task> {
    (0..n)
        .map(|i| Task::informal(format!("q/{i}"), format!("How many apples? ({i})"), "20"))
        .collect()
}

fn eval_records(lenient: bool) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = RunConfig::from_toml(
        "[sampling]\ngroup_size = 2\nprompts_per_step = 1\nmax_new_tokens = 4\n",
        "test",
    )
    .unwrap();
    let policy = Scripted {
        inner: BigramPolicy::new(1).unwrap(),
        calls: 0,
    };
    let mut t = Trainer::new(
        cfg,
        policy,
        AnswerRewarder::new(lenient),
        answer_tasks(2),
        answer_tasks(SCRIPT.len()),
        dir.path(),
    )
    .unwrap();
    t.show_progress = false;
    let score = t.evaluate().unwrap();
    let text = std::fs::read_to_string(dir.path().join("eval/step-000000/results.jsonl")).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), SCRIPT.len());
    let correct = rows.iter().filter(|r| r["correct"][0] == true).count();
    assert_eq!((score.correct, score.total), (correct, SCRIPT.len()));
    rows
}

#[test]
fn eval_records_show_what_was_graded_strict_and_lenient() {
    for lenient in [false, true] {
        let checker = if lenient {
            AnswerChecker::new(CheckerConfig::lenient())
        } else {
            AnswerChecker::default()
        };
        for r in eval_records(lenient) {
            let response = r["responses"][0].as_str().unwrap();
            let v = checker.check("20", response);
            // the record holds exactly what the checker graded, and its verdict
            assert_eq!(
                r["extracted"][0].as_str(),
                v.extracted.as_deref(),
                "lenient={lenient}: {r}"
            );
            assert_eq!(r["correct"][0], v.correct, "lenient={lenient}: {r}");
            // whatever counted as correct shows the answer it counted
            if v.correct {
                assert!(r["extracted"][0].is_string(), "lenient={lenient}: {r}");
            }
        }
    }
    // the cases the issue is about: an unboxed answer counts leniently and shows as graded
    let lenient = eval_records(true);
    assert_eq!(lenient[0]["extracted"][0], "20", "{}", lenient[0]);
    assert_eq!(lenient[0]["correct"][0], true);
    let strict = eval_records(false);
    assert_eq!(strict[0]["extracted"][0], Value::Null, "{}", strict[0]);
    assert_eq!(strict[0]["correct"][0], false);
    // a wrong boxed answer is recorded as what was graded, not hidden
    assert_eq!(strict[2]["extracted"][0], "21");
    assert_eq!(strict[2]["correct"][0], false);
}

/// Training: accepts completions that contain token 7 (the toy learns to emit it). Held-out
/// tasks (`eval/…`): accepts everything in the second evaluation only (step 2 of a run that
/// evaluates at 0, 2, 4, …), so the best evaluation is neither the first nor the last.
struct BestAtSecondEval {
    rounds: usize,
}

impl Rewarder for BestAtSecondEval {
    fn judge(&mut self, task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        let held_out = task.id().starts_with("eval/");
        if task.id() == "eval/0" {
            self.rounds += 1;
        }
        Ok(completions
            .iter()
            .map(|c| {
                let seven = match held_out {
                    true => self.rounds == 2,
                    false => c.split_whitespace().any(|t| t == "7"),
                };
                RewardOutcome {
                    verdict: if seven {
                        Status::Accepted
                    } else {
                        Status::rejected("no 7")
                    },
                    well_formed: true,
                    graded: seven.then(|| "7".to_string()),
                }
            })
            .collect())
    }
}

fn toy_tasks(kind: &str, n: usize) -> Vec<Task> {
    (0..n)
        .map(|i| Task::informal(format!("{kind}/{i}"), format!("{}", 1 + i % 15), ""))
        .collect()
}

#[test]
fn summary_names_start_best_end_and_keeps_the_best_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = RunConfig::from_toml(
        r#"
[sampling]
group_size = 8
prompts_per_step = 4
temperature = 1.0
max_new_tokens = 4
eval_temperature = 1.0
[optim]
lr = 0.05
weight_decay = 0.0
micro_batch = 32
[train]
max_steps = 12
seed = 5
save_every = 2
eval_every = 2
eval_before_train = true
keep_checkpoints = 1
"#,
        "test",
    )
    .unwrap();
    let mut t = Trainer::new(
        cfg,
        BigramPolicy::new(11).unwrap(),
        BestAtSecondEval { rounds: 0 },
        toy_tasks("toy", 10),
        toy_tasks("eval", 15),
        dir.path(),
    )
    .unwrap();
    t.show_progress = false;
    let s = t.run().unwrap();
    let r = &s.report;
    let rows = read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    let evals = eval_points(&rows);
    assert_eq!(evals.len(), 7, "steps 0, 2, …, 12");
    assert_eq!(r.eval_start, evals.first().copied());
    assert_eq!(r.eval_end, evals.last().copied());
    let best = best_eval(&evals).unwrap();
    assert_eq!(best.step, 2, "{evals:?}");
    assert_eq!(r.eval_best, Some(best));
    assert!(evals.iter().all(|e| e.accuracy <= best.accuracy));
    assert_eq!(r.final_reward_mean, Some(rows.last().unwrap().reward_mean));
    assert_eq!(r.steps, 12);
    assert!(r.wall_seconds > 0.0);
    // keep_checkpoints = 1 keeps the latest, and the best step's checkpoint besides
    let d = r.best_checkpoint.as_ref().expect("the best step was saved");
    assert!(d.join("weights.safetensors").exists(), "{}", d.display());
    assert_eq!(d, &checkpoint::checkpoint_dir(dir.path(), 2));
    assert_eq!(checkpoint::load(d).unwrap().state.step, 2);
    let saved: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("step-"))
        .collect();
    eprintln!("evaluations {evals:?}; best {best:?}; checkpoints on disk {saved:?}");
    let mut saved = saved;
    saved.sort();
    assert_eq!(saved, ["step-00000002", "step-00000012"]);
    // summary.json holds the same report
    let back: RunReport =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(&back, r);
    let text = r.to_string();
    assert!(
        text.contains(
            "held-out accuracy: start 0.0% (step 0), best 100.0% (step 2), end 0.0% (step 12)"
        ),
        "{text}"
    );
    assert!(
        text.contains("best checkpoint: ") && text.contains("step-00000002"),
        "{text}"
    );
    assert!(text.contains("final training reward"), "{text}");
}

#[test]
fn prune_keeps_the_protected_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let w = Tensor::new(&[1f32, 2.0], &candle_core::Device::Cpu).unwrap();
    for s in 1..=5u64 {
        let state = checkpoint::TrainState {
            step: s,
            optimizer_steps: s,
            data_cursor: s,
            seed: 0,
            reward_history: Default::default(),
        };
        checkpoint::save(dir.path(), &[("w".into(), w.clone())], &[], &state).unwrap();
        checkpoint::prune_keeping(dir.path(), 2, Some(2)).unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("step-"))
        .collect();
    names.sort();
    assert_eq!(names, ["step-00000002", "step-00000004", "step-00000005"]);
}
