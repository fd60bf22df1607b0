//! The tasks a run trains and evaluates on, read from the files its `[data]` section names,
//! and the prompt each task is given.
//!
//! - `kind = "answer"`: a JSONL with a `problem` / `question` / `prompt` text and the answer
//!   field `answer_field` (default `answer`; the same specs as `prover eval math
//!   --answer-field`), or, with `example = "KEY"`, a JSON object of named examples
//!   `{KEY: {prompt, ground_truth}}` (the 1-shot RLVR `pi_examples.json`).
//! - `kind = "minif2f"`: a miniF2F-style JSONL (`name, split, header, formal_statement`),
//!   filtered by `split` (training) and `eval_split` (held-out), as [`Task::Formal`] (the
//!   Lean rewarder reads the theorem from it).
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::data::benchmarks::{read_formal, read_informal, AnswerField};
use crate::data::Task;
use crate::prompt::source::Prompt;
use crate::prompt::style::proof_prompt;
use crate::rl::config::{DataConfig, DataKind};

/// The training tasks of `data`.
pub fn train_tasks(data: &DataConfig) -> Result<Vec<Task>> {
    load(data, &data.train, data.split.as_deref(), true)
        .with_context(|| format!("reading data.train ({})", data.train.display()))
}

/// The held-out tasks of `data` (empty without `data.eval`).
pub fn eval_tasks(data: &DataConfig) -> Result<Vec<Task>> {
    match &data.eval {
        Some(p) => load(data, p, data.eval_split.as_deref(), false)
            .with_context(|| format!("reading data.eval ({})", p.display())),
        None => Ok(Vec::new()),
    }
}

/// The model input for `task`: a proof prompt in `proof_style` for formal tasks, else the
/// problem rendered by [`DataConfig::math_prompt`] (the same renderer as `prover eval math`).
pub fn prompt_for(data: &DataConfig, task: &Task) -> Prompt {
    match task {
        Task::Formal(f) => proof_prompt(data.proof_style, f),
        Task::Informal(t) => data.math_prompt().render(&t.problem),
    }
}

fn load(data: &DataConfig, path: &Path, split: Option<&str>, train: bool) -> Result<Vec<Task>> {
    let tasks = match data.kind {
        DataKind::Answer => {
            if train && data.example.is_some() {
                named_example(path, data.example.as_deref().unwrap_or_default())?
            } else {
                let field = AnswerField::parse(&data.answer_field);
                read_informal(path, &field)?
                    .into_iter()
                    .map(Task::Informal)
                    .collect()
            }
        }
        DataKind::Minif2f => {
            let mut rows = read_formal(path)?;
            if let Some(s) = split {
                rows.retain(|t| t.split.as_deref().is_none_or(|x| x == s));
            }
            rows.into_iter().map(Task::Formal).collect()
        }
    };
    if tasks.is_empty() {
        bail!(
            "no tasks in {}{}",
            path.display(),
            split.map(|s| format!(" (split {s})")).unwrap_or_default()
        );
    }
    Ok(tasks)
}

/// `{KEY: {prompt, ground_truth}}` → the one task named `key`.
fn named_example(path: &Path, key: &str) -> Result<Vec<Task>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let all: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}:{}: expected a JSON object of named examples: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let ex = all.get(key).ok_or_else(|| {
        let keys: Vec<&str> = all
            .as_object()
            .map(|o| o.keys().map(String::as_str).take(8).collect())
            .unwrap_or_default();
        anyhow!(
            "{}: no example {key:?} (data.example); it has {}",
            path.display(),
            keys.join(", ")
        )
    })?;
    let field = |names: &[&str]| {
        names.iter().find_map(|n| {
            ex.get(*n).map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
        })
    };
    let prompt = field(&["prompt", "problem", "question"])
        .ok_or_else(|| anyhow!("{}: example {key:?} has no prompt", path.display()))?;
    let answer = field(&["ground_truth", "answer"])
        .ok_or_else(|| anyhow!("{}: example {key:?} has no ground_truth", path.display()))?;
    Ok(vec![Task::informal(key, prompt, answer)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: DataKind, train: &Path) -> DataConfig {
        DataConfig {
            kind,
            train: train.to_path_buf(),
            eval: None,
            ..Default::default()
        }
    }

    #[test]
    fn named_examples_and_missing_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pi.json");
        std::fs::write(
            &p,
            r#"{"pi1": {"prompt": "What is 2+2?", "ground_truth": "4"}, "pi2": {"prompt": "x", "ground_truth": 12.8}}"#,
        )
        .unwrap();
        let mut c = cfg(DataKind::Answer, &p);
        c.example = Some("pi2".into());
        let t = train_tasks(&c).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].answer(), Some("12.8"));
        c.example = Some("pi9".into());
        let e = format!("{:#}", train_tasks(&c).unwrap_err());
        assert!(e.contains("no example \"pi9\"") && e.contains("pi1"), "{e}");
    }

    #[test]
    fn informal_jsonl_names_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, "{\"problem\": \"1+1\", \"answer\": \"2\"}\n{oops\n").unwrap();
        let e = format!("{:#}", train_tasks(&cfg(DataKind::Answer, &p)).unwrap_err());
        assert!(e.contains(":2"), "{e}");
        std::fs::write(&p, "{\"problem\": \"1+1\", \"answer\": \"2\"}\n").unwrap();
        let t = train_tasks(&cfg(DataKind::Answer, &p)).unwrap();
        assert_eq!(
            prompt_for(&cfg(DataKind::Answer, &p), &t[0]).user_text(),
            "1+1"
        );
    }

    #[test]
    fn formal_tasks_split_and_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.jsonl");
        std::fs::write(
            &p,
            concat!(
                r#"{"name": "a", "split": "valid", "header": "import Mathlib\n", "formal_statement": "theorem a : 1 = 1 := by sorry"}"#,
                "\n",
                r#"{"name": "b", "split": "test", "header": "import Mathlib\n", "formal_statement": "theorem b : 2 = 2 := by sorry"}"#,
                "\n"
            ),
        )
        .unwrap();
        let mut c = cfg(DataKind::Minif2f, &p);
        c.split = Some("test".into());
        let t = train_tasks(&c).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].id(), "b");
        assert_eq!(t[0].formal().unwrap().name, "b");
        let prompt = prompt_for(&c, &t[0]);
        assert!(prompt.user_text().contains("theorem b : 2 = 2 := by"));
        assert!(!prompt.user_text().contains("sorry"));
        c.split = Some("nope".into());
        assert!(format!("{:#}", train_tasks(&c).unwrap_err()).contains("split nope"));
    }
}
