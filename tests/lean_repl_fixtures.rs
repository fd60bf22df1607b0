//! The recorded REPL test-suite (../shared/fixtures/repl) replayed through the REPL driver and
//! the stand-in process: every request goes through the typed protocol, every recorded reply
//! must parse into it (and serialize back to the same JSON), and the replies must come back
//! byte-exactly as recorded.
mod common;

use std::path::PathBuf;
use std::time::Duration;

use prover::verify::lean::pool::{LeanCommand, ReplProbe};

fn fixtures() -> Option<PathBuf> {
    common::shared("fixtures/repl")
}

fn standin(args: &[&str]) -> LeanCommand {
    common::repl_standin(args)
}

/// Split an `.in` file into queries the way the REPL's `getLines` does.
fn queries(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push_str(line);
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .filter(|q| !q.starts_with('#') && !q.starts_with("--"))
        .collect()
}

#[tokio::test]
async fn every_recorded_transcript_replays_byte_exactly_through_the_typed_driver() {
    let Some(root) = fixtures() else { return };
    let mut checked = 0;
    let mut replies_checked = 0;
    let mut kinds = std::collections::BTreeMap::new();
    for dir in [root.clone(), root.join("Mathlib/test")] {
        let mut ins: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "in"))
            .collect();
        ins.sort();
        for inp in ins {
            let expected_path = inp.with_extension("expected.out");
            let Ok(expected) = std::fs::read_to_string(&expected_path) else {
                // pickle_scoped_notation*.in and Mathlib/test/H20231214.in have no recording
                eprintln!("no recorded reply for {}: not replayed", inp.display());
                continue;
            };
            let text = std::fs::read_to_string(&inp).unwrap();
            let dir_s = dir.to_str().unwrap();
            let mut probe =
                ReplProbe::start(&standin(&["--replay", dir_s]), Duration::from_secs(20)).unwrap();
            let mut got = String::new();
            for q in queries(&text) {
                let r = probe
                    .request(&q)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", inp.display()));
                assert!(
                    r.round_trips,
                    "{}: reply does not round-trip: {}",
                    inp.display(),
                    r.raw
                );
                *kinds.entry(r.kind).or_insert(0) += 1;
                got.push_str(&r.raw);
                got.push('\n');
                replies_checked += 1;
            }
            assert_eq!(
                got,
                expected,
                "{}: replies differ from the recording",
                inp.display()
            );
            checked += 1;
        }
    }
    eprintln!("replayed {checked} transcripts, {replies_checked} replies: {kinds:?}");
    assert!(checked >= 70, "only {checked} transcripts replayed");
    assert!(kinds.get("command").copied().unwrap_or(0) > 50);
    assert!(kinds.get("proof_step").copied().unwrap_or(0) > 30);
    assert!(kinds.get("error").copied().unwrap_or(0) >= 5);
}

#[tokio::test]
async fn malformed_json_makes_the_repl_exit_and_the_driver_reports_it() {
    let Some(root) = fixtures() else { return };
    let mut probe = ReplProbe::start(
        &standin(&["--replay", root.to_str().unwrap()]),
        Duration::from_secs(10),
    )
    .unwrap();
    let ok = probe.request(r#"{"cmd": "def f := 37"}"#).await.unwrap();
    assert_eq!(ok.kind, "command");
    let err = probe
        .request_raw_line(r#"{"cmd": "def f :="#)
        .await
        .unwrap_err();
    assert!(err.contains("closed its output"), "{err}");
    assert!(
        err.contains("Could not parse JSON"),
        "stderr should be reported: {err}"
    );
}

#[tokio::test]
async fn a_raw_newline_inside_the_json_is_deleted_like_the_repl_does() {
    let Some(root) = fixtures() else { return };
    let mut probe = ReplProbe::start(
        &standin(&["--replay", root.to_str().unwrap()]),
        Duration::from_secs(10),
    )
    .unwrap();
    // invalid_line_break.in: the raw newline disappears, so Lean sees `bysorry`
    let r = probe
        .request("{\"cmd\": \"theorem foo : 1 = 1 := by\nsorry\"}")
        .await
        .unwrap();
    assert!(r.raw.contains("Unknown identifier `bysorry`"), "{}", r.raw);
}
