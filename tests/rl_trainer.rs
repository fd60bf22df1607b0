//! The trainer loop end to end with the tiny bigram policy: learning, exact resume, NaN stop.
mod common;

use anyhow::Result;
use common::max_abs_diff;
use prover::data::Task;
use prover::rl::checkpoint;
use prover::rl::config::RunConfig;
use prover::rl::metrics::read_metrics;
use prover::rl::toy::BigramPolicy;
use prover::rl::trainer::Trainer;
use prover::rl::traits::{Policy, RewardOutcome, Rewarder};
use prover::verify::Status;

/// Accepts a completion that contains token 7; a completion containing token 13 makes the
/// verifier fail (an `Error` verdict, not a rejection).
struct EmitSeven {
    error_on_13: bool,
}

impl Rewarder for EmitSeven {
    fn judge(&mut self, _task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        Ok(completions
            .iter()
            .map(|c| {
                let toks: Vec<&str> = c.split_whitespace().collect();
                let verdict = if self.error_on_13 && toks.contains(&"13") {
                    Status::error("checker crashed")
                } else if toks.contains(&"7") {
                    Status::Accepted
                } else {
                    Status::rejected("no 7")
                };
                RewardOutcome {
                    verdict,
                    well_formed: true,
                    graded: None,
                }
            })
            .collect())
    }
}

fn tasks(n: usize) -> Vec<Task> {
    (0..n)
        .map(|i| Task::informal(format!("toy/{i}"), format!("{}", 1 + i % 15), ""))
        .collect()
}

fn config(max_steps: u64) -> RunConfig {
    RunConfig::from_toml(
        &format!(
            r#"
[sampling]
group_size = 8
prompts_per_step = 4
temperature = 1.0
max_new_tokens = 4
[loss]
entropy_coef = 0.001
kl_coef = 0.001
[optim]
lr = 0.05
weight_decay = 0.0
grad_clip = 1.0
micro_batch = 8
[train]
max_steps = {max_steps}
seed = 3
save_every = 3
eval_every = 5
"#
        ),
        "test",
    )
    .unwrap()
}

fn trainer(
    cfg: RunConfig,
    dir: &std::path::Path,
    error_on_13: bool,
) -> Trainer<BigramPolicy, EmitSeven> {
    let mut t = Trainer::new(
        cfg,
        BigramPolicy::new(11).unwrap(),
        EmitSeven { error_on_13 },
        tasks(10),
        tasks(6),
        dir,
    )
    .unwrap();
    t.show_progress = false;
    t
}

#[test]
fn toy_policy_learns_to_emit_seven() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(config(40), dir.path(), true);
    let s = t.run().unwrap();
    assert_eq!(s.steps, 40);
    let first: f64 = s.metrics[..5].iter().map(|m| m.reward_mean).sum::<f64>() / 5.0;
    let last: f64 = s.metrics[35..].iter().map(|m| m.reward_mean).sum::<f64>() / 5.0;
    eprintln!("reward first 5 steps {first:.3}, last 5 steps {last:.3}");
    assert!(
        last > first + 0.3,
        "reward should rise: {first:.3} -> {last:.3}"
    );
    assert!(last > 0.6, "reward should approach 1: {last:.3}");
    // the toy stops at EOS (token 0) or after 4 tokens
    assert!(s
        .metrics
        .iter()
        .all(|m| m.truncated_frac > 0.0 && m.truncated_frac <= 1.0));
    assert!(s.metrics.iter().all(|m| m.response_len_max <= 4));
    // verifier errors were dropped and counted, not treated as rejections
    assert!(s.metrics.iter().any(|m| m.verifier_errors > 0));
    assert!(s
        .metrics
        .iter()
        .all(|m| m.samples + m.verifier_errors == 32));
    // eval accuracy every 5 steps; files exist
    assert_eq!(
        s.metrics
            .iter()
            .filter(|m| m.eval_accuracy.is_some())
            .count(),
        8
    );
    let on_disk = read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(on_disk.len(), 40);
    assert!(dir.path().join("curves.svg").exists());
    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("held-out accuracy"));
    let samples = std::fs::read_to_string(dir.path().join("samples.jsonl")).unwrap();
    // default: 8 samples per step, spread over the 4 groups
    assert_eq!(samples.lines().count(), 40 * 8);
    let step1: std::collections::BTreeSet<String> = samples
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["step"] == 1)
        .map(|v| v["task"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(step1.len(), 4, "{step1:?}");
    let latest = checkpoint::latest(dir.path()).unwrap().unwrap();
    assert!(latest.ends_with("step-00000040"));
    let saved = RunConfig::load(&dir.path().join("config.toml")).unwrap();
    assert_eq!(saved, config(40));
}

#[test]
fn resume_continues_exactly() {
    let full_dir = tempfile::tempdir().unwrap();
    trainer(config(8), full_dir.path(), false).run().unwrap();

    let dir = tempfile::tempdir().unwrap();
    // run 5 of 8 steps (checkpoint at 3), then "crash": metrics of steps 4-5 are on disk
    let mut cfg5 = config(5);
    cfg5.train.save_every = 3;
    {
        let mut t = trainer(cfg5, dir.path(), false);
        t.run().unwrap();
    }
    // the final save at step 5 exists; simulate a crash after step 5 lost it by pointing
    // latest back at step 3
    checkpoint::write_atomic(&dir.path().join("checkpoints/latest"), b"step-00000003\n").unwrap();
    let mut t = trainer(config(8), dir.path(), false);
    assert_eq!(t.resume().unwrap(), 3);
    let resumed = t.run().unwrap();
    assert_eq!(resumed.steps, 8);
    let a = read_metrics(&full_dir.path().join("metrics.jsonl")).unwrap();
    let b = read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(a.len(), 8);
    assert_eq!(
        b.len(),
        8,
        "lines after the checkpoint were replaced, not duplicated"
    );
    for (x, y) in a.iter().zip(&b) {
        let (x, y) = (x.without_timings(), y.without_timings());
        assert_eq!(x.step, y.step);
        for (name, p, q) in [
            ("reward", x.reward_mean, y.reward_mean),
            ("loss", x.loss, y.loss),
            ("entropy", x.entropy, y.entropy),
            ("kl", x.kl, y.kl),
            ("grad_norm", x.grad_norm, y.grad_norm),
            ("lr", x.lr, y.lr),
        ] {
            assert!(
                (p - q).abs() <= 1e-6 * (1.0 + p.abs()),
                "step {} {name}: {p} vs {q}",
                x.step
            );
        }
        assert_eq!(x.eval_accuracy, y.eval_accuracy);
    }
    // final weights equal
    let wa = checkpoint::load(&checkpoint::latest(full_dir.path()).unwrap().unwrap()).unwrap();
    let wb = checkpoint::load(&checkpoint::latest(dir.path()).unwrap().unwrap()).unwrap();
    let diff = max_abs_diff(&wa.weights["bigram.weight"], &wb.weights["bigram.weight"]);
    assert!(diff <= 1e-6, "weights differ by {diff}");
    assert_eq!(wa.state, wb.state);
}

#[test]
fn nan_loss_stops_with_last_checkpoint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(10);
    cfg.train.save_every = 2;
    cfg.loss.kl_coef = 0.0; // one score call per step
    let mut t = trainer(cfg, dir.path(), false);
    // micro_batch 8 of 32 samples: 4 score calls per step; call 16 is in step 5
    t.policy_mut().nan_on_score_call = Some(16);
    let err = t.run().unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("step 5"), "{msg}");
    assert!(msg.contains("non-finite loss"), "{msg}");
    assert!(
        msg.contains("step-00000004"),
        "names the last good checkpoint: {msg}"
    );
    let ck = checkpoint::load(&checkpoint::latest(dir.path()).unwrap().unwrap()).unwrap();
    assert_eq!(ck.state.step, 4);
    let w: Vec<f32> = ck.weights["bigram.weight"]
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(w.iter().all(|x| x.is_finite()));
    // the live weights were not touched by the NaN step either
    let live: Vec<f32> = t.policy().trainable()[0]
        .1
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(live.iter().all(|x| x.is_finite()));
    assert_eq!(
        read_metrics(&dir.path().join("metrics.jsonl"))
            .unwrap()
            .len(),
        4
    );
}

/// Accepts everything for prompt "1" (a constant-reward group), else needs token 7.
struct ConstantForOne;

impl Rewarder for ConstantForOne {
    fn judge(&mut self, task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        Ok(completions
            .iter()
            .map(|c| RewardOutcome {
                verdict: if task.statement() == "1" || c.split_whitespace().any(|t| t == "7") {
                    Status::Accepted
                } else {
                    Status::rejected(String::new())
                },
                well_formed: true,
                graded: None,
            })
            .collect())
    }
}

#[test]
fn dynamic_sampling_drops_constant_groups() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(6);
    cfg.sampling.dynamic_sampling = true;
    cfg.sampling.max_sampling_tries = 8;
    cfg.train.samples_per_step_logged = 100;
    cfg.train.eval_every = 0;
    let mut t = Trainer::new(
        cfg,
        BigramPolicy::new(5).unwrap(),
        ConstantForOne,
        tasks(3),
        vec![],
        dir.path(),
    )
    .unwrap();
    t.show_progress = false;
    let s = t.run().unwrap();
    assert!(s.metrics.iter().any(|m| m.zero_std_frac > 0.0));
    let logged = std::fs::read_to_string(dir.path().join("samples.jsonl")).unwrap();
    assert!(!logged.is_empty());
    for line in logged.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_ne!(v["prompt"], "1", "a constant-reward group was kept: {line}");
    }
}

#[test]
fn several_updates_per_batch_use_sampling_logprobs() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(6);
    cfg.train.ppo_epochs = 2;
    cfg.train.mini_batches = 2;
    cfg.optim.micro_batch = 4;
    cfg.optim.lr = 0.2;
    cfg.optim.schedule = prover::rl::schedule::ScheduleKind::Cosine;
    cfg.optim.warmup_steps = 2;
    let mut t = trainer(cfg, dir.path(), false);
    let s = t.run().unwrap();
    // later updates of a batch are off-policy: the ratio clip becomes active somewhere
    assert!(
        s.metrics.iter().any(|m| m.clip_frac > 0.0),
        "{:?}",
        s.metrics.iter().map(|m| m.clip_frac).collect::<Vec<_>>()
    );
    // 4 optimizer steps per training step: warmup covers the first two optimizer steps only
    assert!(s.metrics[0].lr > 0.19 && s.metrics[5].lr < s.metrics[1].lr);
}

#[test]
fn one_shot_repeats_one_task() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(2);
    cfg.data.one_shot = true;
    cfg.data.one_shot_index = 4;
    cfg.train.samples_per_step_logged = 100;
    cfg.train.eval_before_train = true;
    let mut t = trainer(cfg, dir.path(), false);
    t.run().unwrap();
    let m = read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(m.iter().map(|x| x.step).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(m[0].eval_accuracy.is_some() && m[1].eval_accuracy.is_none());
    let logged = std::fs::read_to_string(dir.path().join("samples.jsonl")).unwrap();
    assert_eq!(logged.lines().count(), 2 * 32);
    assert!(logged.lines().all(|l| l.contains("\"task\":\"toy/4\"")));
    // an out-of-range index is a clear error
    let mut bad = config(2);
    bad.data.one_shot = true;
    bad.data.one_shot_index = 99;
    let err = Trainer::new(
        bad,
        BigramPolicy::new(1).unwrap(),
        EmitSeven { error_on_13: false },
        tasks(10),
        vec![],
        dir.path(),
    )
    .err()
    .unwrap();
    assert!(format!("{err}").contains("one_shot_index"));
}

#[test]
fn resume_without_checkpoint_is_a_clear_error_and_old_checkpoints_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(config(4), dir.path(), false);
    let msg = format!("{:#}", t.resume().unwrap_err());
    assert!(msg.contains("no checkpoint"), "{msg}");
    let mut cfg = config(8);
    cfg.train.save_every = 1;
    cfg.train.keep_checkpoints = 2;
    let s = Trainer::new(
        cfg,
        BigramPolicy::new(2).unwrap(),
        EmitSeven { error_on_13: false },
        tasks(4),
        vec![],
        dir.path(),
    )
    .unwrap()
    .train(false)
    .unwrap();
    assert_eq!(s.steps, 8);
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["latest", "step-00000007", "step-00000008"]);
    // resuming a finished run does nothing more
    let again = Trainer::new(
        config(8),
        BigramPolicy::new(2).unwrap(),
        EmitSeven { error_on_13: false },
        tasks(4),
        vec![],
        dir.path(),
    )
    .unwrap()
    .train(true)
    .unwrap();
    assert_eq!(again.steps, 8);
    assert!(again.metrics.is_empty());
}

#[test]
fn fresh_run_refuses_a_directory_with_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    trainer(config(2), dir.path(), false).run().unwrap();
    let msg = format!(
        "{:#}",
        trainer(config(2), dir.path(), false).run().unwrap_err()
    );
    assert!(msg.contains("already holds a run"), "{msg}");
}

#[test]
fn old_logprobs_from_a_scoring_pass_match_the_samplers() {
    let run = |record: bool| {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(4);
        cfg.train.ppo_epochs = 2;
        cfg.train.eval_every = 0;
        let mut t = trainer(cfg, dir.path(), false);
        t.policy_mut().record_sampling_logp = record;
        t.run().unwrap().metrics
    };
    let (a, b) = (run(true), run(false));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.reward_mean, y.reward_mean);
        assert!((x.loss - y.loss).abs() < 1e-4, "{} vs {}", x.loss, y.loss);
        assert!((x.clip_frac - y.clip_frac).abs() < 1e-9);
    }
}

/// A verifier that fails the first time it sees each completion text and judges it (token 7 =
/// accepted) when asked again: a transient fault.
struct FlakyOnce {
    seen: std::collections::HashSet<String>,
}

impl Rewarder for FlakyOnce {
    fn judge(&mut self, _task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        Ok(completions
            .iter()
            .map(|c| RewardOutcome {
                verdict: if self.seen.insert(c.clone()) {
                    Status::error("checker crashed")
                } else if c.split_whitespace().any(|t| t == "7") {
                    Status::Accepted
                } else {
                    Status::rejected("no 7")
                },
                well_formed: true,
                graded: None,
            })
            .collect())
    }
}

#[test]
fn verifier_errors_are_retried_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(3);
    cfg.train.eval_every = 0;
    let mut t = Trainer::new(
        cfg,
        BigramPolicy::new(11).unwrap(),
        FlakyOnce {
            seen: Default::default(),
        },
        tasks(10),
        vec![],
        dir.path(),
    )
    .unwrap();
    t.show_progress = false;
    let s = t.run().unwrap();
    // every distinct completion failed once and was re-checked; none was dropped
    assert!(
        s.metrics.iter().all(|m| m.verifier_retries > 0),
        "{:?}",
        s.metrics
    );
    assert!(s.metrics.iter().all(|m| m.verifier_errors == 0));
    assert!(s.metrics.iter().all(|m| m.samples == 32));
}

/// A verifier that retries on its own (like the Lean pool): its errors (here: every completion
/// of odd length) are final, so the trainer must not judge them again (that would double the
/// attempts of a hanging proof).
struct RetriesItself;

impl Rewarder for RetriesItself {
    fn judge(&mut self, _task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        Ok(completions
            .iter()
            .map(|c| RewardOutcome {
                verdict: if c.len() % 2 == 1 {
                    Status::error("timed out, then timed out again")
                } else if c.split_whitespace().any(|t| t == "7") {
                    Status::Accepted
                } else {
                    Status::rejected("no 7")
                },
                well_formed: true,
                graded: None,
            })
            .collect())
    }

    fn retries_errors_itself(&self) -> bool {
        true
    }
}

#[test]
fn errors_of_a_self_retrying_verifier_are_not_judged_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(3);
    cfg.train.eval_every = 0;
    let mut t = Trainer::new(
        cfg,
        BigramPolicy::new(11).unwrap(),
        RetriesItself,
        tasks(10),
        vec![],
        dir.path(),
    )
    .unwrap();
    t.show_progress = false;
    let s = t.run().unwrap();
    assert!(
        s.metrics.iter().all(|m| m.verifier_retries == 0),
        "{:?}",
        s.metrics
    );
    assert!(
        s.metrics.iter().map(|m| m.verifier_errors).sum::<usize>() > 0,
        "{:?}",
        s.metrics
    );
}

#[test]
fn periodic_eval_writes_per_problem_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(config(5), dir.path(), false);
    let s = t.run().unwrap();
    let acc = s
        .metrics
        .last()
        .unwrap()
        .eval_accuracy
        .expect("eval at step 5");
    let text = std::fs::read_to_string(dir.path().join("eval/step-000005/results.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 6, "one line per held-out task");
    let correct = rows.iter().filter(|r| r["correct"][0] == true).count();
    assert!((acc - correct as f64 / 6.0).abs() < 1e-12);
    for r in &rows {
        let resp = r["responses"][0].as_str().unwrap();
        assert_eq!(
            r["correct"][0] == true,
            resp.split_whitespace().any(|t| t == "7"),
            "{r}"
        );
    }
}
