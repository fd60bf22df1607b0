//! `prover verify FILE.lean [--against REF.lean] [--backend repl|lsp] [--repl-cmd CMD]
//! [--timeout S] [--allow-native-decide] [--json]`: check a whole Lean file.
//! Exit codes: 0 every theorem accepted, 1 rejected, 2 could not check.
//!
//! `prover verify FILE.jsonl --lean [same pool options] [--workers N]`: a batch for the RL path
//! (format and exit codes in [`crate::verify::lean::batch`]); records go to stdout in input
//! order, malformed lines are also reported on stderr with their file and line.
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use crate::verify::lean::launch::{lean_command, LeanBackend, LeanSettings};
use crate::verify::lean::{
    batch, plan_file, verify_file_lsp, AxiomPolicy, Job, Pool, PoolConfig, Status, Verdict,
};

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// What `prover verify` asks of Lean: the file, the reference, how to reach Lean, the output
/// format (filled in by `cli::verify` from its flags).
#[derive(Debug, Clone)]
pub struct LeanCheck {
    /// FILE.lean or FILE.jsonl.
    pub file: Option<std::path::PathBuf>,
    /// `--against REF.lean`.
    pub against: Option<std::path::PathBuf>,
    /// How to reach Lean.
    pub settings: LeanSettings,
    /// `--json`.
    pub json: bool,
}

/// Check `args.file` (a `.lean` file). Returns the exit code.
pub fn run(args: &LeanCheck) -> Result<u8> {
    let file = args
        .file
        .as_ref()
        .context("give a .lean file to check: prover verify FILE.lean")?;
    let text = read(file)?;
    let reference = args.against.as_deref().map(read).transpose()?;
    let policy = AxiomPolicy {
        allow_native_decide: args.settings.allow_native_decide,
    };
    let settings = args.settings.clone();
    let timeout = settings.timeout();
    let backend = settings.backend;
    let verdict = match plan_file(&text, reference.as_deref()) {
        Err(reason) => Verdict::rejected(reason),
        Ok(_) if !settings.servers.is_empty() && backend == LeanBackend::Repl => {
            match super::lean_setup::start_verifier(&settings) {
                Err(why) => Verdict::error(why),
                Ok((rt, remote)) => rt.block_on(remote.verify(Job::File {
                    text: text.clone(),
                    reference: reference.clone(),
                })),
            }
        }
        Ok(plan) => match lean_command(&settings) {
            Err(why) => Verdict::error(why),
            Ok(cmd) => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                rt.block_on(async {
                    match backend {
                        LeanBackend::Lsp => {
                            // no RLIMIT_AS (it can fail `import Mathlib`); the server's
                            // process group is killed above 12 GiB of private memory
                            verify_file_lsp(&cmd, &plan, policy, timeout, None, Some(12 << 30))
                                .await
                        }
                        LeanBackend::Repl => {
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
pub fn run_batch(args: &LeanCheck) -> Result<u8> {
    use std::io::Write;
    let file = args
        .file
        .as_ref()
        .context("give a .jsonl file to check: prover verify FILE.jsonl --lean")?;
    if args.settings.backend == LeanBackend::Lsp {
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
    let settings = args.settings.clone();
    let summary = match super::lean_setup::start_verifier(&settings) {
        Err(why) => {
            eprintln!("{why}");
            batch::fail_all(entries, &why, emit, malformed)
        }
        Ok((rt, verifier)) => rt.block_on(batch::run_batch(&verifier, entries, emit, malformed)),
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
