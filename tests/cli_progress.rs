//! Progress of `prover verify` on a JSONL file when stderr is not a terminal: plain lines only
//! when the run is long enough to need them, none with `--quiet`, and stdout untouched.
mod common;

use common::prover;

fn pairs(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "{{\"id\": {i}, \"reference\": \"{i}\", \"response\": \"so \\\\boxed{{{}}}\"}}\n",
            if i % 3 == 0 { i + 1 } else { i }
        ));
    }
    let p = dir.join("pairs.jsonl");
    std::fs::write(&p, text).unwrap();
    p
}

fn verify(file: &std::path::Path, flags: &[&str]) -> (String, String) {
    let out = prover()
        .args(flags)
        .arg("verify")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn verify_prints_progress_lines_only_when_asked_or_slow() {
    let dir = tempfile::tempdir().unwrap();
    let file = pairs(dir.path(), 300);
    // interval 0: a line every 64 pairs and at the end
    let (stdout, stderr) = verify(&file, &["--progress-interval", "0"]);
    assert_eq!(
        stdout.lines().count(),
        300,
        "one verdict per pair on stdout"
    );
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("verify "))
        .collect();
    let heads: Vec<&str> = progress
        .iter()
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    assert_eq!(
        heads,
        [
            "verify 64/300 lines",
            "verify 128/300 lines",
            "verify 192/300 lines",
            "verify 256/300 lines",
            "verify 300/300 lines"
        ],
        "{stderr}"
    );
    assert!(
        progress[4].contains("  200 correct  0 malformed  "),
        "{stderr}"
    );
    assert!(
        stderr.contains("200 correct / 300 total / 0 malformed"),
        "{stderr}"
    );
    // the default interval: a run this short prints no progress line, only the summary
    let (_, stderr) = verify(&file, &[]);
    assert!(!stderr.contains("verify "), "{stderr}");
    assert!(stderr.contains("200 correct / 300 total"), "{stderr}");
    // --quiet silences progress, not the result
    let (stdout, stderr) = verify(&file, &["--quiet", "--progress-interval", "0"]);
    assert!(!stderr.contains("verify "), "{stderr}");
    assert!(stderr.contains("200 correct / 300 total"), "{stderr}");
    assert_eq!(stdout.lines().count(), 300);
}

#[test]
fn a_bad_progress_interval_is_a_clear_usage_error() {
    for bad in ["-1", "NaN", "inf", "soon"] {
        let out = prover()
            .args([
                "--progress-interval",
                bad,
                "verify",
                "--reference",
                "1",
                "--response",
                "1",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--progress-interval"), "{bad}: {err}");
        assert!(err.contains("seconds"), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{bad}: {err}");
    }
}
