//! `gemm` and `ureq` are listed in Cargo.toml only to switch on features of candle's and
//! hf-hub's own copies. That works only while the versions match: with two copies in the build,
//! the features land on a copy nobody calls. This test reads `cargo tree` and fails when either
//! crate appears in more than one version. It runs with the rest of `cargo test` (so in CI via
//! `scripts/test.sh`); it skips (fails under `PROVER_REQUIRE_FIXTURES=1`) when cargo cannot run.
mod common;

use std::collections::BTreeSet;
use std::process::Command;

/// The versions of `name` in the dependency graph, from `cargo tree` lines `NAME vX.Y.Z`.
fn versions(tree: &str, name: &str) -> BTreeSet<String> {
    tree.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(name)).then(|| it.next().unwrap_or("").to_string())
        })
        .collect()
}

#[test]
fn gemm_and_ureq_have_one_copy_each() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(common::root())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            common::skip(&format!(
                "`cargo tree` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            return;
        }
        Err(e) => {
            common::skip(&format!("cannot run cargo: {e}"));
            return;
        }
    };
    let tree = String::from_utf8_lossy(&out.stdout);
    for name in ["gemm", "ureq"] {
        let v = versions(&tree, name);
        assert_eq!(
            v.len(),
            1,
            "`cargo tree` shows {name} in versions {v:?}: the copy in Cargo.toml no longer \
             matches the one candle / hf-hub use, so its features switch nothing on. Align the \
             version in Cargo.toml with theirs."
        );
    }
}

#[test]
fn versions_reads_cargo_tree_lines() {
    let tree = "prover v0.1.0 (/x)\ngemm v0.19.0\ngemm v0.19.0 (*)\ngemm-common v0.19.0\nureq v2.12.1\nureq v3.0.0\n";
    assert_eq!(versions(tree, "gemm").len(), 1);
    assert_eq!(versions(tree, "ureq").len(), 2);
    assert!(versions(tree, "half").is_empty());
}
