//! The unit of work the policy is asked to solve: an informal problem with a reference answer,
//! or a formal Lean 4 theorem to prove.
use serde::{Deserialize, Serialize};

/// One problem. Informal tasks are graded by the answer checker, formal ones by the Lean pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Task {
    Informal(InformalTask),
    Formal(FormalTask),
}

/// A math word problem with its reference final answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InformalTask {
    /// Stable identifier (dataset id or `file:line`).
    pub id: String,
    pub problem: String,
    /// Reference answer, as LaTeX or plain text.
    pub answer: String,
}

/// A Lean 4 theorem in the miniF2F format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormalTask {
    /// Theorem name (also the id).
    pub name: String,
    /// Trusted header: imports, options, opens.
    pub header: String,
    /// The statement as stored, usually ending in `:= by sorry` or `:= by`.
    pub formal_statement: String,
    /// Optional informal statement / docstring shown to the model.
    #[serde(default)]
    pub informal: Option<String>,
    #[serde(default)]
    pub split: Option<String>,
}

impl Task {
    /// An informal task.
    pub fn informal(
        id: impl Into<String>,
        problem: impl Into<String>,
        answer: impl Into<String>,
    ) -> Task {
        Task::Informal(InformalTask {
            id: id.into(),
            problem: problem.into(),
            answer: answer.into(),
        })
    }

    /// Stable identifier (dataset id, `file:line`, a miniF2F name); keys per-task state such
    /// as the trainer's length-reward history.
    pub fn id(&self) -> &str {
        match self {
            Task::Informal(t) => &t.id,
            Task::Formal(t) => &t.name,
        }
    }

    /// The problem as stated: the informal problem text, or the formal statement as stored.
    pub fn statement(&self) -> &str {
        match self {
            Task::Informal(t) => &t.problem,
            Task::Formal(t) => &t.formal_statement,
        }
    }

    /// The reference answer of an informal task; formal tasks have none.
    pub fn answer(&self) -> Option<&str> {
        match self {
            Task::Informal(t) => Some(&t.answer),
            Task::Formal(_) => None,
        }
    }

    /// The theorem of a formal task.
    pub fn formal(&self) -> Option<&FormalTask> {
        match self {
            Task::Informal(_) => None,
            Task::Formal(t) => Some(t),
        }
    }
}

impl FormalTask {
    /// The statement without its placeholder proof: ends in `:= by` (what the model continues).
    pub fn statement_without_proof(&self) -> String {
        let s = self.formal_statement.trim_end();
        let s = s.strip_suffix("sorry").unwrap_or(s).trim_end();
        if s.ends_with(":= by") {
            s.to_string()
        } else if let Some(stripped) = s.strip_suffix(":=") {
            format!("{} := by", stripped.trim_end())
        } else {
            format!("{s} := by")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formal(stmt: &str) -> FormalTask {
        FormalTask {
            name: "t".into(),
            header: String::new(),
            formal_statement: stmt.into(),
            informal: None,
            split: None,
        }
    }

    #[test]
    fn statement_without_proof_drops_sorry() {
        assert_eq!(
            formal("theorem t : 1 = 1 := by sorry").statement_without_proof(),
            "theorem t : 1 = 1 := by"
        );
        assert_eq!(
            formal("theorem t : 1 = 1 := by\n").statement_without_proof(),
            "theorem t : 1 = 1 := by"
        );
        assert_eq!(
            formal("theorem t : 1 = 1 := sorry").statement_without_proof(),
            "theorem t : 1 = 1 := by"
        );
    }
}
