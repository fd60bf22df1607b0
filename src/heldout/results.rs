//! The output folder of an evaluation, shared by `eval math` and `eval minif2f`:
//! `results.jsonl` (one line per finished problem, appended and flushed as it finishes, so a
//! re-run with the same folder resumes) and `summary.json` (written atomically at the end).
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// An evaluation's results file; without a folder everything stays in memory.
pub(crate) struct ResultsFile {
    dir: Option<PathBuf>,
    sink: Option<File>,
}

impl ResultsFile {
    /// Opens `dir/results.jsonl` for appending and returns the finished results of an earlier
    /// run whose id (`id_of`) is still `wanted`.
    pub(crate) fn open<T: DeserializeOwned>(
        dir: Option<&Path>,
        wanted: &HashSet<&str>,
        id_of: impl Fn(&T) -> &str,
    ) -> Result<(Self, Vec<T>)> {
        let Some(dir) = dir else {
            return Ok((
                ResultsFile {
                    dir: None,
                    sink: None,
                },
                Vec::new(),
            ));
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("results.jsonl");
        let mut done: Vec<T> = read_done(&path)?;
        done.retain(|r| wanted.contains(id_of(r)));
        let sink = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok((
            ResultsFile {
                dir: Some(dir.to_path_buf()),
                sink: Some(sink),
            },
            done,
        ))
    }

    /// Appends one finished problem.
    pub(crate) fn append<T: Serialize>(&mut self, r: &T) -> Result<()> {
        if let Some(f) = self.sink.as_mut() {
            writeln!(f, "{}", serde_json::to_string(r)?)?;
            f.flush()?;
        }
        Ok(())
    }

    /// Writes `summary.json`.
    pub(crate) fn summary<T: Serialize>(&self, s: &T) -> Result<()> {
        if let Some(dir) = &self.dir {
            crate::util::write_atomic(
                &dir.join("summary.json"),
                serde_json::to_string_pretty(s)?.as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// Reads the finished results of an earlier run (`results.jsonl`); a torn last line (a crash
/// mid-write) is dropped and that problem redone.
pub(crate) fn read_done<T: DeserializeOwned>(results: &Path) -> Result<Vec<T>> {
    if !results.exists() {
        return Ok(Vec::new());
    }
    let file = File::open(results).with_context(|| format!("cannot read {}", results.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(&line) {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!(
                "{}:{}: ignoring unreadable result ({e})",
                results.display(),
                i + 1
            ),
        }
    }
    Ok(out)
}
