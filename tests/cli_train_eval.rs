//! `prover train` and `prover eval` end to end through the binary, on the tiny random llama of
//! the shared fixtures (fast; the numbers are meaningless, the plumbing is not) and the
//! simulated REPL for the Lean paths.
mod common;

use std::path::Path;

use common::{prover, standin_sim, tiny_model};

const FORMAL: &str = concat!(
    r#"{"name": "t_one", "split": "valid", "header": "import Mathlib\n\n", "formal_statement": "theorem t_one (x : ℕ) : x + 0 = x := by sorry"}"#,
    "\n",
    r#"{"name": "t_two", "split": "valid", "header": "import Mathlib\n\n", "formal_statement": "theorem t_two : (2 : ℕ) + 2 = 4 := by sorry"}"#,
    "\n",
    r#"{"name": "t_three", "split": "test", "header": "import Mathlib\n\n", "formal_statement": "theorem t_three : (1 : ℕ) < 2 := by sorry"}"#,
    "\n"
);

fn run(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.output().expect("prover runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn eval_math_runs_resumes_and_names_bad_lines() {
    let Some(model) = tiny_model("tiny-llama") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "q.jsonl",
        "{\"id\": \"a\", \"problem\": \"1+1?\", \"answer\": \"2\"}\n{\"id\": \"b\", \"problem\": \"2+2?\", \"answer\": \"4\"}\n",
    );
    let out = dir.path().join("out");
    let args = |limit: &str| {
        let mut c = prover();
        c.args(["eval", "math", "--model"])
            .arg(&model)
            .args(["--data", &data, "--max-new-tokens", "4", "--limit", limit])
            .arg("--out")
            .arg(&out);
        c
    };
    let (ok, stdout, stderr) = run(&mut args("1"));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("problems   1"), "{stdout}");
    assert!(stdout.contains("accuracy"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["problems"], 1);
    // a second run with a larger limit only does the new problem
    let (ok, stdout, stderr) = run(&mut args("2"));
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("1 problems already done, 1 to go"),
        "{stderr}"
    );
    assert!(stdout.contains("problems   2"), "{stdout}");
    // stderr is not a terminal: a progress line per batch instead of a bar
    assert!(stderr.contains("eval 2/2 problems  acc "), "{stderr}");
    let lines = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);

    let bad = write(
        dir.path(),
        "bad.jsonl",
        "{\"problem\": \"1+1?\", \"answer\": \"2\"}\n{\"problem\": \"no answer\"}\n",
    );
    let (ok, _, stderr) = run(prover()
        .args(["eval", "math", "--model"])
        .arg(&model)
        .args(["--data", &bad]));
    assert!(!ok);
    assert!(stderr.contains("bad.jsonl:2"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn eval_minif2f_through_the_simulated_repl() {
    let Some(model) = tiny_model("tiny-llama") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "f.jsonl", FORMAL);
    let out = dir.path().join("out");
    let (ok, stdout, stderr) = run(prover()
        .args(["eval", "minif2f", "--model"])
        .arg(&model)
        .args([
            "--data",
            &data,
            "--split",
            "valid",
            "--samples",
            "2",
            "--max-new-tokens",
            "6",
            "--workers",
            "2",
            "--repl-cmd",
            &standin_sim(),
        ])
        .arg("--out")
        .arg(&out));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("problems   2 (valid split)"), "{stdout}");
    assert!(stdout.contains("pass@1"), "{stdout}");
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 2, "one line per problem");
    for l in rows.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["attempts"], 2, "{l}");
        assert_eq!(v["verdicts"].as_array().map(|a| a.len()), Some(2), "{l}");
        // what each attempt was graded on (the extracted body, or null)
        assert_eq!(v["graded"].as_array().map(|a| a.len()), Some(2), "{l}");
    }
}

fn train_config(dir: &Path, body: &str) -> String {
    write(dir, "run.toml", body)
}

#[test]
fn train_with_the_lean_reward_through_the_simulated_repl() {
    let Some(model) = tiny_model("tiny-llama") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "f.jsonl", FORMAL);
    let cfg = train_config(
        dir.path(),
        &format!(
            r#"
[model]
spec = "{model}"
[data]
kind = "minif2f"
train = "{data}"
split = "valid"
eval = "{data}"
eval_split = "test"
[sampling]
group_size = 2
prompts_per_step = 2
max_new_tokens = 6
[reward]
kind = "lean"
[optim]
lr = 1e-4
micro_batch = 4
[train]
max_steps = 2
eval_every = 2
[lean]
workers = 2
timeout_s = 10
repl_cmd = "{standin}"
"#,
            model = model.display(),
            standin = standin_sim()
        ),
    );
    let out = dir.path().join("run");
    let (ok, _, stderr) = run(prover()
        .args(["train", "--config", &cfg, "--out"])
        .arg(&out));
    assert!(ok, "{stderr}");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{metrics}");
    // 2 prompts x 2 samples judged each step: every sample got a verdict (none dropped)
    for r in &rows {
        assert_eq!(r["samples"], 4, "{r}");
        assert_eq!(r["verifier_errors"], 0, "{r}");
    }
    assert!(rows[1]["eval_accuracy"].is_number(), "{metrics}");
    assert!(out.join("eval/step-000002/results.jsonl").exists());
    assert!(out.join("curves.svg").exists());

    // the trained weights evaluate through --weights; a wrong path is a clear error
    let q = write(
        dir.path(),
        "q.jsonl",
        "{\"problem\": \"1+1?\", \"answer\": \"2\"}\n",
    );
    let ckpt = out.join("checkpoints/step-00000002");
    let (ok, stdout, stderr) = run(prover()
        .args(["eval", "math", "--model"])
        .arg(&model)
        .args(["--data", &q, "--max-new-tokens", "3", "--weights"])
        .arg(&ckpt));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("trained tensors"), "{stderr}");
    assert!(stdout.contains("problems   1"), "{stdout}");
    let (ok, _, stderr) = run(prover()
        .args(["eval", "math", "--model"])
        .arg(&model)
        .args(["--data", &q, "--weights"])
        .arg(dir.path().join("nope")));
    assert!(!ok);
    assert!(
        stderr.contains("nope") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// Runs `prover train` on a config that must be refused; returns its stderr.
fn refused(dir: &Path, name: &str, toml: &str) -> String {
    let cfg = write(dir, &format!("{name}.toml"), toml);
    let (ok, _, stderr) = run(prover()
        .args(["train", "--config", &cfg, "--out"])
        .arg(dir.join(name)));
    assert!(!ok, "{name} was accepted");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn train_config_mismatches_are_clear_errors() {
    let Some(model) = tiny_model("tiny-llama") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let q = write(
        dir.path(),
        "q.jsonl",
        "{\"problem\": \"1+1\", \"answer\": \"2\"}\n",
    );
    let f = write(dir.path(), "f.jsonl", FORMAL);
    let m = model.display();
    let lean = "[reward]\nkind = \"lean\"\n[lean]\nworkers = 1\n";
    // (name, [data] body, extra sections, what stderr must name)
    let cases = [
        (
            "answer_data_lean_reward",
            format!("train = \"{q}\""),
            lean,
            vec!["answer_data_lean_reward.toml", "minif2f"],
        ),
        (
            "informal_lines_as_formal",
            format!("kind = \"minif2f\"\ntrain = \"{q}\""),
            lean,
            vec!["q.jsonl:1"],
        ),
        (
            "unknown_lean_key",
            format!("kind = \"minif2f\"\ntrain = \"{f}\"\neval = \"{f}\""),
            "[reward]\nkind = \"lean\"\n[lean]\nworkers = 1\nbogus = 3\n",
            vec!["[lean]", "bogus"],
        ),
    ];
    for (name, data, extra, wants) in cases {
        let stderr = refused(
            dir.path(),
            name,
            &format!("[model]\nspec = \"{m}\"\n[data]\n{data}\n{extra}"),
        );
        for w in wants {
            assert!(stderr.contains(w), "{name}: expected {w:?} in {stderr}");
        }
    }
}

/// A short answer run on the tiny model with stderr going to a file, as under nohup or Slurm.
fn train_logged(dir: &Path, name: &str, extra_args: &[&str]) -> (std::path::PathBuf, String) {
    let (ok, out, text) = train_with(dir, name, extra_args, &[], "");
    assert!(ok, "{text}");
    (out, text)
}

/// Runs the small training of [`train_logged`] with `extra_args` before and `train_args` after
/// the subcommand, and `extra_toml` appended to its config; (success, run dir, stderr).
fn train_with(
    dir: &Path,
    name: &str,
    extra_args: &[&str],
    train_args: &[&str],
    extra_toml: &str,
) -> (bool, std::path::PathBuf, String) {
    let model = tiny_model("tiny-llama").unwrap();
    let q = write(
        dir,
        "q.jsonl",
        concat!(
            "{\"id\": \"a\", \"problem\": \"1+1?\", \"answer\": \"2\"}\n",
            "{\"id\": \"b\", \"problem\": \"2+2?\", \"answer\": \"4\"}\n",
            "{\"id\": \"c\", \"problem\": \"3+3?\", \"answer\": \"6\"}\n"
        ),
    );
    let cfg = write(
        dir,
        &format!("{name}.toml"),
        &format!(
            r#"
[model]
spec = "{model}"
[data]
train = "{q}"
eval = "{q}"
[sampling]
group_size = 2
prompts_per_step = 2
max_new_tokens = 6
[reward]
lenient = true
[optim]
lr = 1e-4
micro_batch = 4
[train]
max_steps = 3
eval_every = 2
eval_before_train = true
save_every = 2
{extra_toml}"#,
            model = model.display()
        ),
    );
    let out = dir.join(name);
    let log = dir.join(format!("{name}.log"));
    let status = prover()
        .args(extra_args)
        .args(["train", "--config", &cfg, "--out"])
        .arg(&out)
        .args(train_args)
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    (status.success(), out, text)
}

/// `--dtype bf16` on the CPU: bf16 projection products where the CPU has AVX512-BF16 (the run
/// trains, and its losses differ from the f32 run's by rounding only); refused elsewhere.
#[test]
fn train_with_bf16_projections_on_the_cpu() {
    if tiny_model("tiny-llama").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // an entropy term, so that the first step has a gradient whatever the rewards
    let ent = "[loss]\nentropy_coef = 0.01\n";
    let (ok, out, log) = train_with(dir.path(), "bf16", &["-q"], &["--dtype", "bf16"], ent);
    if !prover::policy::bf16_linear::available() {
        assert!(!ok && log.contains("AVX512-BF16"), "{log}");
        return;
    }
    assert!(ok, "{log}");
    let (_, out32, log32) = train_with(dir.path(), "f32", &["-q"], &[], ent);
    let grad_norms = |run: &Path| -> Vec<f64> {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["step"].as_u64().unwrap() > 0)
            .map(|v| v["grad_norm"].as_f64().unwrap())
            .collect()
    };
    let (b, f) = (grad_norms(&out), grad_norms(&out32));
    assert_eq!(b.len(), 3, "{log}");
    assert_eq!(f.len(), 3, "{log32}");
    // the first step samples the same completions (same weights, f32 sampling): its gradient
    // differs by bf16 rounding only
    assert!(b[0].is_finite() && b[0] > 0.0, "{b:?}");
    assert!(
        (b[0] - f[0]).abs() <= 0.05 * f[0] && b[0] != f[0],
        "grad norm of step 1: bf16 {} vs f32 {}",
        b[0],
        f[0]
    );
}

#[test]
fn train_logs_progress_lines_and_a_summary_to_a_file() {
    if tiny_model("tiny-llama").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (out, log) = train_logged(dir.path(), "run", &["--progress-interval", "0"]);
    // one line per step, with every field
    let steps: Vec<&str> = log.lines().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(steps.len(), 3, "{log}");
    for (i, l) in steps.iter().enumerate() {
        assert!(l.starts_with(&format!("step {}/3  reward ", i + 1)), "{l}");
        for field in [
            "  acc ",
            "  entropy ",
            "  len ",
            "  s gen/verify/update ",
            "  elapsed ",
        ] {
            assert!(l.contains(field), "{field:?} missing in {l}");
        }
        assert_eq!(
            l.contains("  eta "),
            i < 2,
            "an ETA until the last step: {l}"
        );
    }
    // one line per evaluation: before training and at step 2
    let evals: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("eval step "))
        .collect();
    assert_eq!(evals.len(), 2, "{log}");
    for (l, step) in evals.iter().zip([0, 2]) {
        let rest = l
            .strip_prefix(&format!("eval step {step}: "))
            .unwrap_or_else(|| panic!("{l}"));
        let (pct, counts) = rest.split_once("% (").unwrap_or_else(|| panic!("{l}"));
        assert!(pct.parse::<f64>().is_ok(), "{l}");
        assert!(counts.ends_with("/3)"), "3 held-out problems: {l}");
    }
    // no terminal control characters in a log file
    assert!(!log.contains('\r') && !log.contains('\u{1b}'), "{log:?}");
    // the end-of-run summary
    for want in [
        "done: 3/3 steps in ",
        "held-out accuracy: start ",
        "(step 0), best ",
        "final training reward: ",
        "last checkpoint: ",
    ] {
        assert!(log.contains(want), "{want:?} missing in {log}");
    }
    assert!(log.contains("best checkpoint: "), "{log}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["steps"], 3);
    assert_eq!(summary["evaluations"], 2);
    assert_eq!(summary["eval_start"]["step"], 0);
    assert_eq!(summary["eval_end"]["step"], 2);
    assert!(summary["final_reward_mean"].is_number());
    // the held-out records show what lenient grading graded
    let checker = prover::verify::answer::AnswerChecker::new(
        prover::verify::answer::CheckerConfig::lenient(),
    );
    let rows = std::fs::read_to_string(out.join("eval/step-000002/results.jsonl")).unwrap();
    for l in rows.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let reference = v["reference"].as_str().unwrap();
        let response = v["responses"][0].as_str().unwrap();
        let want = checker.check(reference, response);
        assert_eq!(v["extracted"][0].as_str(), want.extracted.as_deref(), "{l}");
        assert_eq!(v["correct"][0], want.correct, "{l}");
    }

    // --quiet: no progress or evaluation lines, the summary still
    let (_, quiet) = train_logged(dir.path(), "quiet", &["--quiet"]);
    assert!(
        !quiet
            .lines()
            .any(|l| l.starts_with("step ") || l.starts_with("eval step ")),
        "{quiet}"
    );
    assert!(quiet.contains("done: 3/3 steps"), "{quiet}");
    // the default interval (10 s) still prints the first and the last step
    let (_, default) = train_logged(dir.path(), "default", &[]);
    let firsts: Vec<&str> = default
        .lines()
        .filter(|l| l.starts_with("step "))
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    assert!(
        firsts.first() == Some(&"step 1/3") && firsts.last() == Some(&"step 3/3"),
        "{default}"
    );
}
