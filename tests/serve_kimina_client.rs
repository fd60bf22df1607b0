//! A real client no one here wrote: `kimina-client` 0.2.1 from PyPI, in a venv, against
//! `prover serve` backed by `repl-standin --sim`: `health()`, `check()` over 120 snippets in
//! the client's batches, the async client, `/verify` by raw HTTP, auth on and off (a wrong key
//! gets 401); every response parsed by the client's own models
//! (`scripts/kimina_client_check.py`). Needs python3 and PyPI: without them the test skips,
//! which fails under `PROVER_REQUIRE_FIXTURES=1` (CI).
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::serve::serve_standin;

const CLIENT: &str = "kimina-client==0.2.1";
/// kimina-client 0.2.1 imports pygments without declaring it.
const UNDECLARED: &str = "pygments";

/// A venv with kimina-client installed (made once, reused), or `None` after `skip`.
fn venv() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kimina-client-0.2.1-venv");
    let python = dir.join("bin/python");
    let has_client = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", "import pygments, importlib.metadata as m; assert m.version('kimina-client') == '0.2.1'"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_client(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        common::skip("python3 -m venv failed (is python3 with venv installed?)");
        return None;
    }
    let pip = Command::new(dir.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            CLIENT,
            UNDECLARED,
        ])
        .output();
    match pip {
        Ok(o) if o.status.success() && has_client(&python) => Some(python),
        Ok(o) => {
            common::skip(&format!(
                "pip install {CLIENT} failed (PyPI unreachable?): {}",
                String::from_utf8_lossy(&o.stderr)
            ));
            None
        }
        Err(e) => {
            common::skip(&format!("cannot run pip: {e}"));
            None
        }
    }
}

fn run_script(python: &PathBuf, url: &str, key: Option<&str>) {
    let mut cmd = Command::new(python);
    cmd.arg(common::root().join("scripts/kimina_client_check.py"))
        .arg(url);
    if let Some(k) = key {
        cmd.args(["--key", k]);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kimina-client script failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("kimina-client: all checks passed"),
        "{stdout}"
    );
}

#[test]
fn kimina_client_speaks_to_prover_serve() {
    let Some(python) = venv() else {
        return;
    };
    let open = serve_standin("", &["--workers", "2"], &[]);
    run_script(&python, &open.url, None);
    let log = open.log.lock().unwrap().clone();
    assert!(
        log.contains("status=200"),
        "structured request log lines: {log}"
    );
    drop(open);

    let key = "k-0123456789";
    let locked = serve_standin(
        "",
        &["--workers", "2", "--api-key-env", "PROVER_TEST_SERVE_KEY"],
        &[("PROVER_TEST_SERVE_KEY", key)],
    );
    run_script(&python, &locked.url, Some(key));
    let log = locked.log.lock().unwrap().clone();
    assert!(log.contains("status=401"), "{log}");
}
