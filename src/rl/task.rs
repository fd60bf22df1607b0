//! A training / evaluation task as the trainer sees it.
use serde::{Deserialize, Serialize};

use crate::data::arithmetic::Problem;

/// One task: what the policy is prompted with and what the verifier checks against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Stable identifier (e.g. `arithmetic/train/17`, a miniF2F name); keys per-task state
    /// such as the length-reward history.
    pub id: String,
    /// The problem text given to the policy (the policy applies its own prompt template).
    pub prompt: String,
    /// Reference answer for informal tasks.
    pub answer: Option<String>,
    /// Anything else the verifier needs (e.g. Lean header and formal statement).
    #[serde(default)]
    pub meta: serde_json::Value,
}

/// Trainer tasks with ids `PREFIX/INDEX` from arithmetic problems.
pub fn to_tasks(problems: &[Problem], prefix: &str) -> Vec<Task> {
    problems
        .iter()
        .enumerate()
        .map(|(i, q)| Task {
            id: format!("{prefix}/{i}"),
            prompt: q.problem.clone(),
            answer: Some(q.answer.clone()),
            meta: serde_json::Value::Null,
        })
        .collect()
}
