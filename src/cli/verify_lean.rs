//! `prover verify FILE.lean [--against REF.lean] [--backend repl|lsp] [--repl-cmd CMD]
//! [--timeout S] [--allow-native-decide] [--json]`: check a whole Lean file.
//! Exit codes: 0 every theorem accepted, 1 rejected, 2 could not check.
//!
//! `prover verify FILE.jsonl --lean [same pool options] [--workers N]`: a batch for the RL path
//! (format and exit codes in [`crate::verify::lean::batch`]); records go to stdout in input
//! order, malformed lines are also reported on stderr with their file and line.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::verify::{Backend, VerifyArgs};
use crate::verify::lean::memory::WorkerChoice;
use crate::verify::lean::{
    batch, plan_file, verify_file_lsp, AxiomPolicy, Job, LeanCommand, Pool, PoolConfig, Status,
    Verdict,
};

/// How to install Lean for prover (printed when `lake` or the REPL is missing).
pub const INSTALL_HINT: &str = "\
Lean is not installed. To check Lean proofs prover needs the Lake project in lean/:
  curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh -s -- -y
  source ~/.elan/env
  cd lean && lake update && lake exe cache get && lake build repl
then run prover from the repository root (or pass --lean-project DIR / set PROVER_LEAN_PROJECT),
or point --repl-cmd at any command that starts a leanprover-community REPL (see lean/README.md).";

fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

fn project_dir(args: &VerifyArgs) -> PathBuf {
    args.lean_project
        .clone()
        .or_else(|| std::env::var_os("PROVER_LEAN_PROJECT").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("lean"))
}

/// The command that starts Lean for this backend, or a message saying what to install.
pub(crate) fn lean_command(args: &VerifyArgs) -> std::result::Result<LeanCommand, String> {
    if let Some(cmd) = &args.repl_cmd {
        let c = LeanCommand::from_shell(cmd).map_err(|e| format!("--repl-cmd: {e}"))?;
        if which(&c.program).is_none() {
            return Err(format!("--repl-cmd: `{}` not found on PATH", c.program));
        }
        return Ok(c);
    }
    if which("lake").is_none() {
        return Err(format!("`lake` not found on PATH.\n{INSTALL_HINT}"));
    }
    let project = project_dir(args);
    if !project.join("lakefile.lean").is_file() && !project.join("lakefile.toml").is_file() {
        return Err(format!(
            "no Lake project at {} (no lakefile).\n{INSTALL_HINT}",
            project.display()
        ));
    }
    let args_v = match args.backend {
        Backend::Lsp => vec!["env".into(), "lean".into(), "--server".into()],
        Backend::Repl => {
            let repl = project.join(".lake/packages/REPL/.lake/build/bin/repl");
            if !repl.is_file() {
                return Err(format!(
                    "the REPL is not built ({} is missing): run `lake build repl` in {}.\n{INSTALL_HINT}",
                    repl.display(),
                    project.display()
                ));
            }
            vec![
                "env".into(),
                repl.canonicalize().unwrap_or(repl).display().to_string(),
            ]
        }
    };
    Ok(LeanCommand {
        program: "lake".into(),
        args: args_v,
        cwd: Some(project),
        env: Vec::new(),
    })
}

/// A tokio runtime and a verifier pool of `workers` REPLs started by `cmd` (shared by
/// `prover eval minif2f` and `prover train` with `reward.kind = "lean"`).
pub(crate) fn start_pool(
    cmd: LeanCommand,
    workers: usize,
    timeout_s: f64,
    allow_native_decide: bool,
) -> Result<(tokio::runtime::Runtime, crate::verify::lean::Pool)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()?;
    let pool = {
        let _guard = rt.enter();
        let mut cfg = crate::verify::lean::PoolConfig::new(cmd);
        cfg.workers = workers.max(1);
        cfg.timeout = Duration::from_secs_f64(timeout_s.max(0.001));
        cfg.axioms.allow_native_decide = allow_native_decide;
        crate::verify::lean::Pool::new(cfg)
    };
    Ok((rt, pool))
}

/// Default worker count: `min(cores − 1, RAM / 8 GiB)`, at least 1 (each worker imports
/// Mathlib); the choice is printed to stderr.
pub(crate) fn default_workers() -> usize {
    let choice = WorkerChoice::for_this_machine();
    eprintln!("{choice} (set the worker count to override)");
    choice.workers
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Check `args.file` (a `.lean` file). Returns the exit code.
pub fn run(args: &VerifyArgs) -> Result<u8> {
    let file = args
        .file
        .as_ref()
        .context("give a .lean file to check: prover verify FILE.lean")?;
    let text = read(file)?;
    let reference = args.against.as_deref().map(read).transpose()?;
    let policy = AxiomPolicy {
        allow_native_decide: args.allow_native_decide,
    };
    let timeout = Duration::from_secs_f64(args.timeout.max(0.001));
    let verdict = match plan_file(&text, reference.as_deref()) {
        Err(reason) => Verdict::rejected(reason),
        Ok(plan) => match lean_command(args) {
            Err(why) => Verdict::error(why),
            Ok(cmd) => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                rt.block_on(async {
                    match args.backend {
                        Backend::Lsp => {
                            // no RLIMIT_AS (it can fail `import Mathlib`); the server's
                            // process group is killed above 12 GiB of private memory
                            verify_file_lsp(&cmd, &plan, policy, timeout, None, Some(12 << 30))
                                .await
                        }
                        Backend::Repl => {
                            let mut cfg = PoolConfig::new(cmd);
                            cfg.workers = 1;
                            cfg.timeout = timeout;
                            cfg.cache_capacity = 0;
                            cfg.axioms = policy;
                            let pool = Pool::new(cfg);
                            pool.verify(Job::File {
                                text: text.clone(),
                                reference: reference.clone(),
                            })
                            .await
                        }
                    }
                })
            }
        },
    };
    print_verdict(file, &verdict, args.json);
    Ok(match verdict.status {
        Status::Accepted => 0,
        Status::Rejected { .. } => 1,
        Status::Error { .. } => 2,
    })
}

/// Check `args.file` (a `.jsonl` batch of Lean jobs). Returns the exit code.
pub fn run_batch(args: &VerifyArgs) -> Result<u8> {
    use std::io::Write;
    let file = args
        .file
        .as_ref()
        .context("give a .jsonl file to check: prover verify FILE.jsonl --lean")?;
    if args.backend == Backend::Lsp {
        anyhow::bail!(
            "--lean batches run on the REPL pool; --backend lsp checks one FILE.lean at a time"
        );
    }
    let text = read(file)?;
    let entries = batch::parse_batch(&text, file);
    let stdout = std::io::stdout();
    let emit = |rec: serde_json::Value| {
        let mut out = stdout.lock();
        let _ = writeln!(out, "{rec}");
        let _ = out.flush();
    };
    let malformed = |why: &str| eprintln!("{why}");
    let summary = match lean_command(args) {
        Err(why) => {
            eprintln!("{why}");
            batch::fail_all(entries, &why, emit, malformed)
        }
        Ok(cmd) => {
            let workers = args.workers.unwrap_or_else(default_workers);
            let (rt, pool) = start_pool(cmd, workers, args.timeout, args.allow_native_decide)?;
            rt.block_on(batch::run_batch(&pool, entries, emit, malformed))
        }
    };
    eprintln!(
        "{}: {} accepted, {} rejected, {} errors, {} malformed lines",
        file.display(),
        summary.accepted,
        summary.rejected,
        summary.errors,
        summary.malformed
    );
    Ok(summary.exit_code())
}

/// The `--json` object for a verdict.
pub fn verdict_json(file: &Path, v: &Verdict) -> serde_json::Value {
    json!({
        "file": file.display().to_string(),
        "verdict": v.status.label(),
        "theorems": v.theorems.iter().map(|t| json!({"name": t.name, "axioms": t.axioms, "ok": t.ok})).collect::<Vec<_>>(),
        "messages": v.messages.iter().map(|m| json!({"severity": m.severity, "line": m.line, "column": m.column, "text": m.text})).collect::<Vec<_>>(),
        "reason": v.status.reason(),
        "seconds": v.seconds,
    })
}

fn print_verdict(file: &Path, v: &Verdict, as_json: bool) {
    if as_json {
        println!("{}", verdict_json(file, v));
        return;
    }
    println!(
        "{}: {} ({:.2} s)",
        file.display(),
        v.status.label(),
        v.seconds
    );
    if let Some(r) = v.status.reason() {
        println!("  reason: {r}");
    }
    for t in &v.theorems {
        println!(
            "  {} {}  axioms: [{}]",
            if t.ok { "✓" } else { "✗" },
            t.name,
            t.axioms.join(", ")
        );
    }
    for m in &v.messages {
        let sev = match m.severity {
            crate::verify::lean::Severity::Error => "error",
            crate::verify::lean::Severity::Warning => "warning",
            crate::verify::lean::Severity::Info => "info",
        };
        println!(
            "  {}:{}:{}: {sev}: {}",
            file.display(),
            m.line,
            m.column,
            m.text
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commands of a shell snippet: comments dropped, `&&` chains split, blank lines and
    /// prose (lines that are not indented commands) skipped by the caller.
    fn commands<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
        lines
            .map(|l| l.split(" #").next().unwrap_or("").trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .flat_map(|l| l.split("&&").map(|c| c.trim().to_string()))
            .collect()
    }

    #[test]
    fn install_hint_runs_the_same_commands_as_the_lean_readme() {
        let readme = include_str!("../../lean/README.md");
        let block = readme
            .split("## Install")
            .nth(1)
            .and_then(|s| s.split("```sh").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("lean/README.md has an Install section with a ```sh block");
        let hint = commands(
            INSTALL_HINT
                .lines()
                .filter(|l| l.starts_with("  "))
                .map(str::trim),
        );
        let readme_cmds = commands(block.lines());
        assert_eq!(hint, readme_cmds);
        assert!(hint.iter().any(|c| c == "lake update"), "{hint:?}");
    }
}
