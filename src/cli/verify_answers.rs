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
        let parsed: Result<Value, _> = serde_json::from_str(line);
        let fields = parsed.as_ref().ok().and_then(|v| {
            let r = v.get("reference")?.as_str()?;
            let s = v.get("response")?.as_str()?;
            Some((v, r, s))
        });
        let Some((v, reference, response)) = fields else {
            malformed += 1;
            let why = match &parsed {
                Err(e) => format!("invalid JSON ({e})"),
                Ok(_) => "missing string field \"reference\" or \"response\"".to_string(),
            };
            eprintln!(
                "{}:{lineno}: {why}; expected a JSON object {{\"id\"?, \"reference\": string, \"response\": string}}",
                path.display()
            );
            continue;
        };
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
