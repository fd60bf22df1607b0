//! `prover verify FILE.lean` through `cli::verify_lean::run`, with the simulated REPL as
//! `--repl-cmd`: exit codes 0 / 1 / 2 and the `--json` shape; and the `prover verify
//! FILE.jsonl --lean` batch through the binary: records in input order, malformed lines named
//! by file and line, exit codes.
use std::path::PathBuf;

use prover::cli::lean_args::LeanArgs;
use prover::cli::verify::{Backend, VerifyArgs};
use prover::cli::verify_lean::{run, verdict_json};
use prover::verify::lean::Verdict;

fn args(file: PathBuf, against: Option<PathBuf>, repl_cmd: &str) -> VerifyArgs {
    VerifyArgs {
        file: Some(file),
        lean: false,
        reference: None,
        response: None,
        against,
        backend: Backend::Repl,
        lean_args: LeanArgs {
            repl_cmd: Some(repl_cmd.to_string()),
            lean_project: None,
            lean_servers: Vec::new(),
            workers: None,
            timeout: 20.0,
            allow_native_decide: false,
        },
        lenient: false,
        json: true,
    }
}

fn check(
    file: PathBuf,
    against: Option<PathBuf>,
    repl_cmd: &str,
) -> prover::cli::verify_lean::LeanCheck {
    args(file, against, repl_cmd).lean_check()
}

const REF: &str = "import Mathlib\n\nopen Real\n\ntheorem t (x : ℕ) : x + 0 = x := by sorry\n";

#[test]
fn exit_codes_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let standin = format!("'{}' --sim", env!("CARGO_BIN_EXE_repl-standin"));
    let reference = dir.path().join("ref.lean");
    std::fs::write(&reference, REF).unwrap();
    let good = dir.path().join("good.lean");
    std::fs::write(&good, REF.replace(":= by sorry", ":= by\n  simp")).unwrap();
    let swapped = dir.path().join("swapped.lean");
    std::fs::write(
        &swapped,
        REF.replace("x + 0 = x := by sorry", "True := by\n  trivial"),
    )
    .unwrap();
    let failing = dir.path().join("failing.lean");
    std::fs::write(
        &failing,
        REF.replace(":= by sorry", ":= by\n  exact SIM_ERROR"),
    )
    .unwrap();

    assert_eq!(
        run(&check(good.clone(), Some(reference.clone()), &standin)).unwrap(),
        0
    );
    assert_eq!(run(&check(good.clone(), None, &standin)).unwrap(), 0);
    assert_eq!(
        run(&check(swapped, Some(reference.clone()), &standin)).unwrap(),
        1
    );
    assert_eq!(run(&check(failing, None, &standin)).unwrap(), 1);
    assert_eq!(
        run(&check(good.clone(), None, "/nonexistent/repl --x")).unwrap(),
        2
    );
    let mut lsp_missing = args(good, None, "/nonexistent/lean --server");
    lsp_missing.backend = Backend::Lsp;
    assert_eq!(run(&lsp_missing.lean_check()).unwrap(), 2);
}

#[test]
fn json_has_the_documented_fields() {
    let v = Verdict::rejected("statement differs");
    let j = verdict_json(std::path::Path::new("a.lean"), &v);
    for k in [
        "file", "verdict", "theorems", "messages", "reason", "seconds",
    ] {
        assert!(j.get(k).is_some(), "missing {k}: {j}");
    }
    assert_eq!(j["verdict"], "rejected");
    assert_eq!(j["reason"], "statement differs");
}

fn jsonl_line(id: serde_json::Value, kind: &str, text: &str) -> String {
    let mut v = serde_json::json!({
        "id": id,
        "header": "import Mathlib\nopen Real\n",
        "formal_statement": "theorem t (x : ℕ) : x + 0 = x := by sorry",
    });
    v[kind] = serde_json::json!(text);
    v.to_string()
}

/// Runs `prover verify FILE --lean` with the simulated REPL; (exit code, stdout records, stderr).
fn run_batch_cli(file: &std::path::Path) -> (i32, Vec<serde_json::Value>, String) {
    let standin = format!("'{}' --sim", env!("CARGO_BIN_EXE_repl-standin"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prover"))
        .args(["verify", file.to_str().unwrap(), "--lean", "--workers", "2"])
        .args(["--timeout", "20", "--repl-cmd", &standin])
        .output()
        .unwrap();
    let records = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        records,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_jsonl_batch_gets_one_record_per_line_in_order() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.jsonl");
    let code_ok = "import Mathlib\nopen Real\ntheorem t (x : ℕ) : x + 0 = x := by\n  simp\n";
    let code_swapped = "import Mathlib\nopen Real\ntheorem t : True := by\n  trivial\n";
    let lines = [
        jsonl_line(json!("ok"), "proof", "simp"),
        jsonl_line(json!(2), "proof", "exact SIM_ERROR"),
        r#"{"id": 3, "formal_statement": "theorem t : True := by sorry"}"#.to_string(),
        String::new(),
        "this is not json".to_string(),
        jsonl_line(json!("code-ok"), "code", code_ok),
        jsonl_line(json!("code-swapped"), "code", code_swapped),
        jsonl_line(json!("sorry"), "proof", "sorry"),
        jsonl_line(json!("crash"), "proof", "exact SIM_CRASH"),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (code, records, stderr) = run_batch_cli(&file);
    let got: Vec<(serde_json::Value, String)> = records
        .iter()
        .map(|r| (r["id"].clone(), r["verdict"].as_str().unwrap().to_string()))
        .collect();
    let want = [
        (json!("ok"), "accepted"),
        (json!(2), "rejected"),
        (json!(3), "error"),
        (json!(null), "error"),
        (json!("code-ok"), "accepted"),
        (json!("code-swapped"), "rejected"),
        (json!("sorry"), "rejected"),
        (json!("crash"), "error"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(i, v)| (i.clone(), v.to_string()))
            .collect::<Vec<_>>(),
        "{stderr}"
    );
    assert_eq!(code, 2, "{stderr}");
    for r in &records {
        for k in ["id", "verdict", "reason", "axioms", "seconds"] {
            assert!(r.get(k).is_some(), "missing {k}: {r}");
        }
    }
    assert_eq!(
        records[0]["axioms"],
        json!(["propext", "Classical.choice", "Quot.sound"])
    );
    assert!(records[0]["reason"].is_null());
    let jobs = file.display().to_string();
    let malformed = records[2]["reason"].as_str().unwrap();
    assert!(malformed.starts_with(&format!("{jobs}:3:")), "{malformed}");
    assert!(malformed.contains("neither"), "{malformed}");
    let not_json = records[3]["reason"].as_str().unwrap();
    assert!(
        not_json.starts_with(&format!("{jobs}:5: not JSON")),
        "{not_json}"
    );
    assert!(stderr.contains(&format!("{jobs}:3:")), "{stderr}");

    // all accepted: 0; some rejected, no error: 1
    std::fs::write(&file, jsonl_line(json!(1), "proof", "simp")).unwrap();
    assert_eq!(run_batch_cli(&file).0, 0);
    std::fs::write(
        &file,
        [
            jsonl_line(json!(1), "proof", "simp"),
            jsonl_line(json!(2), "proof", "exact SIM_ERROR"),
        ]
        .join("\n"),
    )
    .unwrap();
    assert_eq!(run_batch_cli(&file).0, 1);
}

#[test]
fn a_batch_without_lean_reports_every_line_as_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.jsonl");
    std::fs::write(
        &file,
        [
            jsonl_line(serde_json::json!(1), "proof", "simp"),
            jsonl_line(serde_json::json!(2), "proof", "simp"),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prover"))
        .args(["verify", file.to_str().unwrap(), "--lean"])
        .args(["--repl-cmd", "/nonexistent/repl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text
        .lines()
        .all(|l| l.contains("\"error\"") && l.contains("not found")));
}
