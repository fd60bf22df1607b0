//! `prover verify` back end for answers: a JSONL file of pairs, or one pair.
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::progress::Progress;
use crate::verify::answer::AnswerChecker;

#[derive(Serialize)]
struct OutLine<'a> {
    id: Value,
    correct: bool,
    extracted: Option<&'a str>,
    reason: &'a str,
}

/// Check every `{"id"?, "reference", "response"}` line of `path`, writing one
/// `{"id", "correct", "extracted", "reason"}` line per input line to `out` (`id` defaults to
/// the 1-based line number). Malformed lines are reported on stderr with file and line and
/// skipped. Prints a summary on stderr. Returns the exit code: 1 if any line was malformed,
/// else 0.
pub fn run_jsonl(path: &Path, checker: &AnswerChecker, out: &mut impl Write) -> Result<u8> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let start = Instant::now();
    let lines_total = count_lines(path)?;
    let mut progress = Progress::delayed(true, lines_total, 0, "lines");
    let (mut total, mut correct, mut malformed) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    let mut lineno = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("{}:{}: read error", path.display(), lineno + 1))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let Ok(line) = std::str::from_utf8(&buf) else {
            malformed += 1;
            eprintln!(
                "{}:{lineno}: not valid UTF-8; expected one JSON object per line",
                path.display()
            );
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let v = match parse_line(line) {
            Ok(v) => v,
            Err(why) => {
                malformed += 1;
                eprintln!(
                    "{}:{lineno}: {why}; expected a JSON object {{\"id\"?, \"reference\": string, \"response\": string}}",
                    path.display()
                );
                continue;
            }
        };
        let (reference, response) = (
            v["reference"].as_str().unwrap_or_default(),
            v["response"].as_str().unwrap_or_default(),
        );
        let verdict = checker.check(reference, response);
        total += 1;
        correct += verdict.correct as u64;
        let id = v.get("id").cloned().unwrap_or_else(|| Value::from(lineno));
        let o = OutLine {
            id,
            correct: verdict.correct,
            extracted: verdict.extracted.as_deref(),
            reason: &verdict.reason,
        };
        serde_json::to_writer(&mut *out, &o)?;
        out.write_all(b"\n")?;
        if lineno.is_multiple_of(64) || lineno as u64 == lines_total {
            let rate = total as f64 / start.elapsed().as_secs_f64().max(1e-9);
            progress.tick(lineno as u64, &format!("{correct} correct"), || {
                format!(
                    "verify {lineno}/{lines_total} lines  {correct} correct  {malformed} malformed  {rate:.0} pairs/s"
                )
            });
        }
    }
    progress.finish(false);
    out.flush()?;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "{correct} correct / {total} total / {malformed} malformed ({:.0} pairs/s)",
        total as f64 / secs
    );
    Ok(if malformed > 0 { 1 } else { 0 })
}

/// Lines of `path` (a last line without a newline counts), for the progress of [`run_jsonl`].
fn count_lines(path: &Path) -> Result<u64> {
    let mut r = BufReader::new(
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    );
    let (mut n, mut last) = (0u64, b'\n');
    loop {
        let buf = r
            .fill_buf()
            .with_context(|| format!("{}: read error", path.display()))?;
        if buf.is_empty() {
            break;
        }
        n += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[buf.len() - 1];
        let k = buf.len();
        r.consume(k);
    }
    Ok(n + (last != b'\n') as u64)
}

/// One input line as a JSON object with string `reference` and `response`, or what is wrong
/// with it (no file or line: the caller adds them): invalid JSON, a lone surrogate escape, a
/// missing field, a field that is not a string.
pub fn parse_line(line: &str) -> Result<Value, String> {
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return Err(match lone_surrogate(line) {
                Some((col, esc)) => format!(
                    "column {col}: `{esc}` is a lone UTF-16 surrogate, which is no character \
                     (a character above U+FFFF needs a surrogate pair such as \\ud83d\\ude00, \
                     or raw UTF-8); fix or remove it"
                ),
                None => format!("invalid JSON ({e})"),
            })
        }
    };
    string_field(&v, "reference")?;
    string_field(&v, "response")?;
    Ok(v)
}

/// The string field `name` of a JSON line, or what is wrong with it.
fn string_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    let found = match v.get(name) {
        Some(Value::String(s)) => return Ok(s),
        None if !v.is_object() => {
            return Err(format!("the line is a JSON {}, not an object", kind(v)))
        }
        None => return Err(format!("missing field `{name}`")),
        Some(x) => kind(x),
    };
    Err(format!("field `{name}` must be a string, found {found}"))
}

/// "a number", "an array", … for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The first `\uXXXX` escape of a JSON line that is a surrogate not part of a pair: (1-based
/// column in characters, the escape as written).
fn lone_surrogate(line: &str) -> Option<(usize, String)> {
    let b = line.as_bytes();
    let hex = |k: usize| -> Option<u32> {
        let h = line.get(k..k + 4)?;
        u32::from_str_radix(h, 16).ok()
    };
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        match b[i] {
            b'"' => in_str = !in_str,
            b'\\' if in_str => {
                if b.get(i + 1) == Some(&b'u') {
                    if let Some(u) = hex(i + 2) {
                        let col = line[..i].chars().count() + 1;
                        let esc = line[i..i + 6].to_string();
                        if (0xD800..0xDC00).contains(&u) {
                            let low = (b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u'))
                                .then(|| hex(i + 8))
                                .flatten();
                            if low.is_some_and(|l| (0xDC00..0xE000).contains(&l)) {
                                i += 12;
                                continue;
                            }
                            return Some((col, esc));
                        }
                        if (0xDC00..0xE000).contains(&u) {
                            return Some((col, esc));
                        }
                    }
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Check one pair with the default (strict, boxed-only) checker, printing a human line or a
/// JSON object on stdout. Exit code 0 when correct, 1 when not.
pub fn run_pair(reference: &str, response: &str, json: bool) -> Result<u8> {
    run_pair_with(
        &AnswerChecker::default(),
        reference,
        response,
        json,
        &mut std::io::stdout(),
    )
}

/// [`run_pair`] with an explicit checker and output.
pub fn run_pair_with(
    checker: &AnswerChecker,
    reference: &str,
    response: &str,
    json: bool,
    out: &mut impl Write,
) -> Result<u8> {
    let v = checker.check(reference, response);
    if json {
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{}: extracted {} — {}",
            if v.correct { "CORRECT" } else { "INCORRECT" },
            v.extracted
                .as_deref()
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "nothing".into()),
            v.reason
        )?;
    }
    Ok(if v.correct { 0 } else { 1 })
}
