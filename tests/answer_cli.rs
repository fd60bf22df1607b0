//! The JSONL and single-pair back ends of `prover verify` for answers.
use std::io::Write;

use prover::cli::verify_answers::{run_jsonl, run_pair_with};
use prover::verify::answer::AnswerChecker;
use serde_json::Value;

#[test]
fn jsonl_checks_lines_and_reports_malformed_ones() {
    let mut f = tempfile::NamedTempFile::new().expect("tempfile");
    writeln!(
        f,
        r#"{{"id": "a", "reference": "5", "response": "so \\boxed{{5}}"}}"#
    )
    .unwrap();
    writeln!(
        f,
        r#"{{"reference": "\\frac{{1}}{{2}}", "response": "\\boxed{{0.6}}"}}"#
    )
    .unwrap();
    writeln!(f, "not json").unwrap();
    writeln!(f, r#"{{"reference": "1"}}"#).unwrap();
    writeln!(
        f,
        r#"{{"reference": "x=2", "response": "\\boxed{{2}}", "id": 7}}"#
    )
    .unwrap();
    let mut out = Vec::new();
    let code = run_jsonl(f.path(), &AnswerChecker::default(), &mut out).expect("run");
    assert_eq!(code, 1, "malformed lines give exit code 1");
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["correct"], true);
    assert_eq!(lines[0]["extracted"], "5");
    assert_eq!(lines[1]["id"], 2, "id defaults to the line number");
    assert_eq!(lines[1]["correct"], false);
    assert_eq!(lines[2]["id"], 7);
    assert_eq!(
        lines[2]["id"], 7,
        "line numbers keep counting past malformed lines"
    );
    assert_eq!(lines[2]["correct"], true);
}

#[test]
fn jsonl_all_good_exits_zero() {
    let mut f = tempfile::NamedTempFile::new().expect("tempfile");
    writeln!(f, r#"{{"reference": "3", "response": "\\boxed{{4}}"}}"#).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        run_jsonl(f.path(), &AnswerChecker::default(), &mut out).unwrap(),
        0
    );
    assert!(run_jsonl(
        std::path::Path::new("/nonexistent/x.jsonl"),
        &AnswerChecker::default(),
        &mut out
    )
    .is_err());
}

#[test]
fn pair_exit_codes_and_output() {
    let c = AnswerChecker::default();
    let mut out = Vec::new();
    assert_eq!(
        run_pair_with(&c, "\\frac{1}{2}", "\\boxed{0.5}", false, &mut out).unwrap(),
        0
    );
    assert!(String::from_utf8_lossy(&out).starts_with("CORRECT"));
    let mut out = Vec::new();
    assert_eq!(
        run_pair_with(&c, "2", "\\boxed{3}", true, &mut out).unwrap(),
        1
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["correct"], false);
    assert_eq!(v["extracted"], "3");
}

#[test]
fn malformed_line_messages_name_the_problem() {
    use prover::cli::verify_answers::parse_line;
    let e = parse_line(r#"{"reference": 3, "response": "\\boxed{3}"}"#).unwrap_err();
    assert!(
        e.contains("field `reference` must be a string, found a number"),
        "{e}"
    );
    let e = parse_line(r#"{"reference": "3", "response": null}"#).unwrap_err();
    assert!(
        e.contains("field `response` must be a string, found null"),
        "{e}"
    );
    let e = parse_line(r#"{"response": "x"}"#).unwrap_err();
    assert!(e.contains("missing field `reference`"), "{e}");
    let e = parse_line(r#"["reference", "response"]"#).unwrap_err();
    assert!(e.contains("not an object"), "{e}");
    // a lone surrogate, high or low, followed by text or at the end of the string
    for (line, esc) in [
        (r#"{"reference": "1", "response": "\ud800 x"}"#, "\\ud800"),
        (r#"{"reference": "1", "response": "ab\uDBFF"}"#, "\\uDBFF"),
        (r#"{"reference": "\udc00", "response": "x"}"#, "\\udc00"),
        (
            r#"{"reference": "1", "response": "\ud800\u0041"}"#,
            "\\ud800",
        ),
    ] {
        let e = parse_line(line).unwrap_err();
        assert!(
            e.contains("lone UTF-16 surrogate") && e.contains(esc),
            "{line}: {e}"
        );
        assert!(!e.contains("hex escape"), "{e}");
    }
    // a proper pair and an escaped backslash before `u` are fine
    assert!(parse_line(r#"{"reference": "1", "response": "\ud83d\ude00 \\ud800"}"#).is_ok());
}
