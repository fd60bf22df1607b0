//! The LSP driver (`verify_file_lsp`) against `lsp-standin`, a stand-in `lean --server` process:
//! stderr floods do not block it, the document URI is absolute and escaped (relative project
//! directories, spaces), an error on an appended `#print axioms` line rejects, and a server
//! whose child process grows is killed.
mod common;
use std::path::Path;
use std::time::Duration;

use prover::verify::lean::{plan_file, verify_file_lsp, AxiomPolicy, LeanCommand, Status, Verdict};

const FILE: &str = "import Mathlib\n\ntheorem t (x : ℕ) : x + 0 = x := by\n  simp\n";

fn standin(args: &[&str], cwd: &Path) -> LeanCommand {
    common::lsp_standin(args, cwd)
}

async fn check(cmd: &LeanCommand, text: &str, rss_limit: Option<u64>) -> Verdict {
    let plan = plan_file(text, None).expect("the test file passes the guard");
    verify_file_lsp(
        cmd,
        &plan,
        AxiomPolicy::default(),
        Duration::from_secs(30),
        None,
        rss_limit,
    )
    .await
}

/// The URI `lsp-standin --echo-uri` reported for the document it was sent.
fn echoed_uri(v: &Verdict) -> String {
    let prefix = "lsp-standin: document URI ";
    v.messages
        .iter()
        .find_map(|m| m.text.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no echoed URI in {:?}", v.messages))
        .to_string()
}

fn reason(v: &Verdict) -> &str {
    v.status.reason().unwrap_or("")
}

#[tokio::test]
async fn a_server_flooding_stderr_does_not_block_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    // 4 MiB before every reply: 64 times a pipe's capacity
    let v = check(
        &standin(&["--stderr-flood-mb", "4"], dir.path()),
        FILE,
        None,
    )
    .await;
    assert_eq!(v.status, Status::Accepted, "{v:?}");
    assert_eq!(
        v.theorems[0].axioms,
        ["propext", "Classical.choice", "Quot.sound"]
    );
}

#[tokio::test]
async fn the_document_uri_is_absolute_and_escaped() {
    let base = tempfile::tempdir().unwrap();
    let project = base.path().join("my lean project #1");
    std::fs::create_dir(&project).unwrap();
    let v = check(&standin(&["--echo-uri"], &project), FILE, None).await;
    assert_eq!(v.status, Status::Accepted, "{v:?}");
    let uri = echoed_uri(&v);
    assert!(uri.starts_with("file:///"), "{uri}");
    assert!(
        uri.ends_with("/my%20lean%20project%20%231/ProverCheck.lean"),
        "{uri}"
    );
    assert!(!uri.contains(' '));

    // a relative directory (the default project is `lean`) resolves against the current
    // directory: here `.`, whose URI must be the canonical absolute path
    let v = check(&standin(&["--echo-uri"], Path::new(".")), FILE, None).await;
    assert_eq!(v.status, Status::Accepted, "{v:?}");
    let uri = echoed_uri(&v);
    let here = url::Url::from_file_path(std::env::current_dir().unwrap().canonicalize().unwrap())
        .unwrap()
        .to_string();
    assert_eq!(uri, format!("{here}/ProverCheck.lean"));

    // a project directory that does not exist is a verifier error naming it, before any spawn
    let v = check(&standin(&[], &base.path().join("no such dir")), FILE, None).await;
    assert!(v.is_error(), "{v:?}");
    assert!(reason(&v).contains("no such dir") && reason(&v).contains("--lean-project"));
}

#[tokio::test]
async fn an_error_on_an_appended_print_axioms_line_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = standin(&[], dir.path());
    // the stand-in reports a parse error at the first appended `#print axioms` line, as Lean
    // does for an unfinished last declaration; the theorem's axiom report is still fine
    let text =
        "import Mathlib\n\ntheorem t (x : ℕ) : x + 0 = x := by\n  simp\n\ndef SIM_UNFINISHED :=\n";
    let v = check(&cmd, text, None).await;
    assert!(matches!(v.status, Status::Rejected { .. }), "{v:?}");
    assert!(reason(&v).contains("unexpected token '#print'"), "{v:?}");
    // the axiom report itself was still read (information severity), and the error is kept
    // among the file's messages
    assert!(v.theorems[0].ok, "{v:?}");
    assert!(v
        .messages
        .iter()
        .any(|m| m.text.contains("unexpected token")));
    // control: without it, accepted
    assert!(check(&cmd, FILE, None).await.is_accepted());
    // an error inside the proof: rejected
    let v = check(&cmd, "theorem u : True := by\n  SIM_ERROR\n", None).await;
    assert!(matches!(v.status, Status::Rejected { .. }), "{v:?}");
}

#[tokio::test]
async fn a_server_whose_child_grows_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    // the server starts a child holding 256 MiB (as `lean --server` starts file workers) and
    // never finishes: the process group's memory, summed, trips the 64 MiB limit
    let cmd = standin(&["--grow-mb", "256"], dir.path());
    let v = check(&cmd, FILE, Some(64 << 20)).await;
    assert!(v.is_error(), "{v:?}");
    assert!(reason(&v).contains("private memory"), "{v:?}");
    assert!(reason(&v).contains("2 process(es)"), "{v:?}");
}
