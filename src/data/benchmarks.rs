//! Readers for the public math benchmarks (`../shared/datasets/math/*.jsonl` layout) and the
//! miniF2F Lean 4 JSONL, turning each line into a [`Task`]. Each set stores its answer in a
//! different field (see the README's dataset table).
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::jsonl::read_jsonl;
use super::task::{FormalTask, InformalTask, Task};

/// The math benchmarks `prover eval math --bench` knows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MathBench {
    Math500,
    Aime24,
    Aime25,
    Amc23,
    Minerva,
    Olympiadbench,
    Gsm8k,
}

impl MathBench {
    /// File name inside the datasets folder.
    pub fn file_name(self) -> &'static str {
        match self {
            MathBench::Math500 => "math500.jsonl",
            MathBench::Aime24 => "aime24.jsonl",
            MathBench::Aime25 => "aime25.jsonl",
            MathBench::Amc23 => "amc23.jsonl",
            MathBench::Minerva => "minerva_math.jsonl",
            MathBench::Olympiadbench => "olympiadbench.jsonl",
            MathBench::Gsm8k => "gsm8k.jsonl",
        }
    }

    /// How the reference answer is stored in this set.
    pub fn answer_field(self) -> AnswerField {
        match self {
            MathBench::Math500 | MathBench::Aime24 | MathBench::Aime25 | MathBench::Amc23 => {
                AnswerField::Field("answer".into())
            }
            MathBench::Minerva => AnswerField::LastBoxedOf("solution".into()),
            MathBench::Olympiadbench => AnswerField::FirstOf("final_answer".into()),
            MathBench::Gsm8k => AnswerField::AfterHashes("answer".into()),
        }
    }

    /// Whether the 1-shot RLVR protocol samples this set (temperature 0.6, avg@8) rather than
    /// decoding greedily.
    pub fn sampled_by_default(self) -> bool {
        matches!(
            self,
            MathBench::Aime24 | MathBench::Aime25 | MathBench::Amc23
        )
    }

    /// Default location: `$PROVER_DATA_DIR/math/<file>` or `../shared/datasets/math/<file>`.
    pub fn default_path(self) -> PathBuf {
        datasets_dir().join("math").join(self.file_name())
    }
}

/// The folder holding the public datasets: `$PROVER_DATA_DIR`, else `../shared/datasets`.
pub fn datasets_dir() -> PathBuf {
    std::env::var_os("PROVER_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/datasets"))
}

/// Where a benchmark line keeps its reference answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerField {
    /// A string (or number) field.
    Field(String),
    /// The content of the last `\boxed{}` of a text field.
    LastBoxedOf(String),
    /// The first element of a list field.
    FirstOf(String),
    /// The text after `####` in a field (GSM8K).
    AfterHashes(String),
}

impl AnswerField {
    /// Parses `--answer-field` syntax: `NAME`, `boxed:NAME`, `first:NAME`, `hashes:NAME`.
    pub fn parse(spec: &str) -> AnswerField {
        if let Some(n) = spec.strip_prefix("boxed:") {
            AnswerField::LastBoxedOf(n.into())
        } else if let Some(n) = spec.strip_prefix("first:") {
            AnswerField::FirstOf(n.into())
        } else if let Some(n) = spec.strip_prefix("hashes:") {
            AnswerField::AfterHashes(n.into())
        } else {
            AnswerField::Field(spec.into())
        }
    }

    fn name(&self) -> &str {
        match self {
            AnswerField::Field(n)
            | AnswerField::LastBoxedOf(n)
            | AnswerField::FirstOf(n)
            | AnswerField::AfterHashes(n) => n,
        }
    }

    /// Extracts the reference answer from one record.
    pub fn extract(&self, rec: &Value) -> Result<String> {
        let v = rec
            .get(self.name())
            .ok_or_else(|| anyhow!("no field `{}`", self.name()))?;
        match self {
            AnswerField::Field(_) => scalar_to_string(v),
            AnswerField::FirstOf(_) => {
                let first = v
                    .as_array()
                    .and_then(|a| a.first())
                    .ok_or_else(|| anyhow!("field `{}` is not a non-empty list", self.name()))?;
                scalar_to_string(first)
            }
            AnswerField::LastBoxedOf(_) => {
                let text = v
                    .as_str()
                    .ok_or_else(|| anyhow!("field `{}` is not text", self.name()))?;
                crate::verify::answer::extract::last_boxed_group(text)
                    .ok_or_else(|| anyhow!("field `{}` has no \\boxed{{}}", self.name()))
            }
            AnswerField::AfterHashes(_) => {
                let text = v
                    .as_str()
                    .ok_or_else(|| anyhow!("field `{}` is not text", self.name()))?;
                let (_, after) = text
                    .rsplit_once("####")
                    .ok_or_else(|| anyhow!("field `{}` has no `####`", self.name()))?;
                Ok(after.trim().replace(',', ""))
            }
        }
    }
}

fn scalar_to_string(v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => bail!("expected a string or number, found {other}"),
    }
}

/// The problem text of a benchmark line: `problem`, else `question`, else `prompt`.
fn problem_text(rec: &Value) -> Option<String> {
    ["problem", "question", "prompt"]
        .iter()
        .find_map(|k| rec.get(*k).and_then(|v| v.as_str()).map(str::to_string))
}

/// Reads an informal benchmark file; a line without a problem or answer is an error naming it.
pub fn read_informal(path: &Path, answer: &AnswerField) -> Result<Vec<InformalTask>> {
    let rows = read_jsonl::<Value>(path, "a JSON object with a problem/question and an answer")?;
    let mut out = Vec::with_capacity(rows.len());
    for (line, rec) in rows {
        let problem = problem_text(&rec).ok_or_else(|| {
            anyhow!(
                "{}:{line}: no `problem`, `question` or `prompt` text field",
                path.display()
            )
        })?;
        let answer = answer
            .extract(&rec)
            .with_context(|| format!("{}:{line}: reading the reference answer", path.display()))?;
        let id = rec
            .get("id")
            .or_else(|| rec.get("unique_id"))
            .or_else(|| rec.get("idx"))
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_else(|| format!("{}:{line}", file_stem(path)));
        out.push(InformalTask {
            id,
            problem,
            answer,
        });
    }
    Ok(out)
}

/// Reads a miniF2F-style JSONL (`name, split, header, formal_statement`, optional
/// `informal_prefix`).
pub fn read_formal(path: &Path) -> Result<Vec<FormalTask>> {
    #[derive(serde::Deserialize)]
    struct Row {
        name: String,
        #[serde(default)]
        split: Option<String>,
        header: String,
        formal_statement: String,
        #[serde(default)]
        informal_prefix: Option<String>,
        #[serde(default)]
        informal: Option<String>,
    }
    let rows = read_jsonl::<Row>(
        path,
        "{\"name\", \"split\", \"header\", \"formal_statement\"}",
    )?;
    Ok(rows
        .into_iter()
        .map(|(_, r)| FormalTask {
            name: r.name,
            header: r.header,
            formal_statement: r.formal_statement,
            informal: r.informal.or(r.informal_prefix),
            split: r.split,
        })
        .collect())
}

/// Reads the tasks of a training/eval file, informal (`{problem, answer}`) or formal.
pub fn read_tasks(path: &Path, answer: &AnswerField) -> Result<Vec<Task>> {
    let first = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_default();
    if first.contains("\"formal_statement\"") {
        Ok(read_formal(path)?.into_iter().map(Task::Formal).collect())
    } else {
        Ok(read_informal(path, answer)?
            .into_iter()
            .map(Task::Informal)
            .collect())
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
