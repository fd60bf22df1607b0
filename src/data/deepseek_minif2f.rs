//! DeepSeek-Prover-V1.5's miniF2F file (`minif2f/deepseek-prover-v1.5-minif2f-lean4.9.jsonl`):
//! the header and informal prefix its prompts show, looked up by theorem name.
//!
//! Only the prompt text comes from this file. Its statements target Lean 4.9 and about 183 of
//! them differ from the v4.24.0 set, so statements and the verification header always come
//! from the canonical file.
//!
//! Names are matched exactly, then case-insensitively when exactly one row matches that way
//! (`numbertheory_notEquiv2i2jasqbsqdiv8` is spelled `…notequiv…` there).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::jsonl::read_jsonl;
use super::FormalTask;

/// One row's prompt parts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct DeepSeekRow {
    pub name: String,
    /// `import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen … Rat\n\n`.
    pub header: String,
    /// `/-- informal statement … -/\n`, possibly empty.
    #[serde(default)]
    pub informal_prefix: String,
}

/// The rows of the file, by name.
#[derive(Debug, Clone, Default)]
pub struct DeepSeekMinif2f {
    exact: HashMap<String, DeepSeekRow>,
    /// lowercased name → names with that spelling
    folded: HashMap<String, Vec<String>>,
}

/// The default location, under the datasets folder.
pub fn default_path(datasets: &Path) -> PathBuf {
    datasets.join("minif2f/deepseek-prover-v1.5-minif2f-lean4.9.jsonl")
}

impl DeepSeekMinif2f {
    /// Reads the file (fields `name`, `header`, `informal_prefix`).
    pub fn read(path: &Path) -> Result<Self> {
        let rows = read_jsonl::<DeepSeekRow>(path, "{\"name\", \"header\", \"informal_prefix\"}")?;
        let mut out = DeepSeekMinif2f::default();
        for (line, r) in rows {
            if out.exact.contains_key(&r.name) {
                bail!(
                    "{}:{line}: theorem {} appears twice; a name must identify one row",
                    path.display(),
                    r.name
                );
            }
            out.folded
                .entry(r.name.to_lowercase())
                .or_default()
                .push(r.name.clone());
            out.exact.insert(r.name.clone(), r);
        }
        Ok(out)
    }

    /// Rows in the file.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    /// Whether the file had no rows.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// The row for `name`: exact, else the only row whose name differs by case.
    pub fn get(&self, name: &str) -> Option<&DeepSeekRow> {
        if let Some(r) = self.exact.get(name) {
            return Some(r);
        }
        match self.folded.get(&name.to_lowercase()).map(Vec::as_slice) {
            Some([only]) => self.exact.get(only),
            _ => None,
        }
    }

    /// Sets each task's informal statement to its DeepSeek informal prefix (verbatim). Returns
    /// the names without a row; their prompts have no informal part.
    pub fn attach_informal(&self, tasks: &mut [FormalTask]) -> Vec<String> {
        let mut missing = Vec::new();
        for t in tasks.iter_mut() {
            match self.get(&t.name) {
                Some(r) => {
                    t.informal = (!r.informal_prefix.is_empty()).then(|| r.informal_prefix.clone())
                }
                None => missing.push(t.name.clone()),
            }
        }
        missing
    }

    /// The header its prompts show, when every row has the same one.
    pub fn common_header(&self) -> Option<String> {
        let mut it = self.exact.values().map(|r| r.header.as_str());
        let first = it.next()?;
        it.all(|h| h == first).then(|| first.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly_then_by_case_when_unique() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ds.jsonl");
        std::fs::write(
            &p,
            "{\"name\":\"a_notequiv\",\"header\":\"H\",\"informal_prefix\":\"/-- A -/\\n\"}\n\
             {\"name\":\"B\",\"header\":\"H\",\"informal_prefix\":\"\"}\n\
             {\"name\":\"b\",\"header\":\"H\",\"informal_prefix\":\"/-- b -/\\n\"}\n",
        )
        .unwrap();
        let ds = DeepSeekMinif2f::read(&p).unwrap();
        assert_eq!(ds.get("a_notEquiv").unwrap().name, "a_notequiv");
        assert_eq!(ds.get("b").unwrap().informal_prefix, "/-- b -/\n");
        assert!(ds.get("B_").is_none());
        // two rows fold to "b": a third spelling matches neither
        assert!(DeepSeekMinif2f::get(&ds, "B").is_some());
        let mut only_case = ds.clone();
        only_case.exact.remove("B");
        assert!(
            only_case.get("B").is_none(),
            "ambiguous fold must not match"
        );
        assert_eq!(ds.common_header().as_deref(), Some("H"));
    }

    #[test]
    fn duplicate_names_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ds.jsonl");
        std::fs::write(
            &p,
            "{\"name\":\"x\",\"header\":\"H\"}\n{\"name\":\"x\",\"header\":\"H\"}\n",
        )
        .unwrap();
        let e = DeepSeekMinif2f::read(&p).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("appears twice"), "{e}");
    }
}
