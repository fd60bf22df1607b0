//! Line-numbered JSONL reading: every record remembers its file and 1-based line, and a line
//! that does not parse is an error naming both and what was expected.
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A JSONL line that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    #[error(
        "cannot open {path}: {source} (check the path; datasets are JSONL, one object per line)"
    )]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: cannot read line: {source}")]
    Read {
        path: PathBuf,
        line: usize,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message} (expected {expected})")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
        expected: &'static str,
    },
}

/// Reads every non-blank line of `path` as a `T`. Stops at the first bad line; the error
/// names the file, the line and `expected` (a short description of the record format).
pub fn read_jsonl<T: DeserializeOwned>(
    path: &Path,
    expected: &'static str,
) -> Result<Vec<(usize, T)>, JsonlError> {
    let file = File::open(path).map_err(|source| JsonlError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let lines = BufReader::new(file).lines().enumerate().map(|(i, line)| {
        line.map_err(|source| JsonlError::Read {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })
    });
    parse_numbered(lines, path, expected)
}

/// Parses JSONL `text` as [`read_jsonl`] reads a file; `origin` names the source in errors.
pub fn parse_jsonl_text<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    expected: &'static str,
) -> Result<Vec<(usize, T)>, JsonlError> {
    parse_numbered(
        text.lines().map(|l| Ok(l.to_string())),
        Path::new(origin),
        expected,
    )
}

/// The loop shared by [`read_jsonl`] and [`parse_jsonl_text`]: skips blank lines, numbers the
/// others from 1 and stops at the first that does not parse.
fn parse_numbered<T: DeserializeOwned>(
    lines: impl Iterator<Item = Result<String, JsonlError>>,
    path: &Path,
    expected: &'static str,
) -> Result<Vec<(usize, T)>, JsonlError> {
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value = parse_line(&line).map_err(|message| JsonlError::Parse {
            path: path.to_path_buf(),
            line: line_no,
            message,
            expected,
        })?;
        out.push((line_no, value));
    }
    Ok(out)
}

/// Parses one JSONL line, returning a one-line description of what went wrong.
pub fn parse_line<T: DeserializeOwned>(line: &str) -> Result<T, String> {
    serde_json::from_str(line).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(serde::Deserialize, Debug)]
    struct Rec {
        a: i32,
    }

    #[test]
    fn bad_line_is_named_with_its_number() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "{{\"a\": 1}}\n\n{{\"a\": 2}}\n{{\"b\": 3}}").unwrap();
        let err = read_jsonl::<Rec>(f.path(), "{\"a\": int}").unwrap_err();
        let text = err.to_string();
        assert!(text.contains(":4:"), "{text}");
        assert!(text.contains("missing field `a`"), "{text}");
        assert!(text.contains("expected {\"a\": int}"), "{text}");
    }

    #[test]
    fn good_lines_keep_their_numbers() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "{{\"a\": 1}}\n\n{{\"a\": 2}}").unwrap();
        let recs = read_jsonl::<Rec>(f.path(), "x").unwrap();
        assert_eq!(
            recs.iter().map(|(l, r)| (*l, r.a)).collect::<Vec<_>>(),
            vec![(1, 1), (3, 2)]
        );
    }

    #[test]
    fn missing_file_says_so() {
        let err = read_jsonl::<Rec>(Path::new("/nonexistent/x.jsonl"), "x").unwrap_err();
        assert!(err.to_string().contains("cannot open /nonexistent/x.jsonl"));
    }
}
