//! Starting Lean: where the Lake project is, which command starts one REPL (or `lean
//! --server`), whether it is installed (and what to do when it is not), and the pool start-up
//! shared by `prover verify`, `prover eval minif2f`, `prover train` and `prover serve`.
//!
//! [`LeanSettings`] is the one typed description of "how to reach Lean" that the CLI flags and
//! the run config's `[lean]` section both fill in.
use std::path::PathBuf;
use std::time::Duration;

use super::memory::WorkerChoice;
use super::pool::{LeanCommand, Pool, PoolConfig};
use super::remote::{RemoteConfig, RemotePool};
use super::verifier::LeanVerifier;

/// How to install Lean for prover (part of every "Lean is missing" message).
pub const INSTALL_HINT: &str = "\
Lean is not installed. To check Lean proofs prover needs the Lake project in lean/:
  curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh -s -- -y
  source ~/.elan/env
  cd lean && lake update && lake exe cache get && lake build repl
then run prover from the repository root (or pass --lean-project DIR / set PROVER_LEAN_PROJECT),
or point --repl-cmd at any command that starts a leanprover-community REPL (see lean/README.md).";

/// Which Lean driver checks proofs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeanBackend {
    /// The leanprover-community REPL (`lake env repl`), driven by the pool.
    #[default]
    Repl,
    /// `lake env lean --server` over LSP (one whole file at a time).
    Lsp,
}

/// How to reach Lean: the command (or the Lake project it is derived from), the pool's size
/// and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct LeanSettings {
    /// The driver.
    pub backend: LeanBackend,
    /// A command line that starts one REPL; overrides `project`.
    pub repl_cmd: Option<String>,
    /// The Lake project (default: `$PROVER_LEAN_PROJECT`, else `./lean`).
    pub project: Option<PathBuf>,
    /// Worker processes (default: [`WorkerChoice::for_this_machine`]).
    pub workers: Option<usize>,
    /// Wall-clock limit per job, seconds.
    pub timeout_s: f64,
    /// Accept proofs whose axioms include native_decide's.
    pub allow_native_decide: bool,
    /// Jobs queued or running at once before callers wait (default: the pool's).
    pub queue_capacity: Option<usize>,
    /// Remote `prover serve` URLs; when any is given, proofs are checked there instead of by
    /// a local pool (see [`super::remote`]).
    pub servers: Vec<String>,
    /// The remote servers' API key (sent as a bearer token).
    pub api_key: Option<String>,
}

impl LeanSettings {
    /// The REPL backend with a timeout and every other setting at its default.
    pub fn repl(timeout_s: f64) -> Self {
        LeanSettings {
            backend: LeanBackend::Repl,
            repl_cmd: None,
            project: None,
            workers: None,
            timeout_s,
            allow_native_decide: false,
            queue_capacity: None,
            servers: Vec::new(),
            api_key: None,
        }
    }

    /// The Lake project directory these settings point at.
    pub fn project_dir(&self) -> PathBuf {
        self.project
            .clone()
            .or_else(|| std::env::var_os("PROVER_LEAN_PROJECT").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("lean"))
    }

    /// The job timeout as a duration (at least 1 ms).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(if self.timeout_s.is_finite() {
            self.timeout_s.max(0.001)
        } else {
            1e9
        })
    }

    /// The worker count and, when it was not given, the machine-derived choice (for the caller
    /// to print: it says why that many).
    pub fn worker_count(&self) -> (usize, Option<WorkerChoice>) {
        match self.workers {
            Some(n) => (n.max(1), None),
            None => {
                let c = WorkerChoice::for_this_machine();
                (c.workers, Some(c))
            }
        }
    }
}

/// `program` resolved as the shell would: a path when it contains `/`, else the first match on
/// `$PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
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

/// The command that starts Lean for these settings, or a message saying what to install.
pub fn lean_command(s: &LeanSettings) -> Result<LeanCommand, String> {
    if let Some(cmd) = &s.repl_cmd {
        let c = LeanCommand::from_shell(cmd).map_err(|e| format!("--repl-cmd: {e}"))?;
        if which(&c.program).is_none() {
            return Err(format!("--repl-cmd: `{}` not found on PATH", c.program));
        }
        return Ok(c);
    }
    if which("lake").is_none() {
        return Err(format!("`lake` not found on PATH.\n{INSTALL_HINT}"));
    }
    let project = s.project_dir();
    if !project.join("lakefile.lean").is_file() && !project.join("lakefile.toml").is_file() {
        return Err(format!(
            "no Lake project at {} (no lakefile).\n{INSTALL_HINT}",
            project.display()
        ));
    }
    let args = match s.backend {
        LeanBackend::Lsp => vec!["env".into(), "lean".into(), "--server".into()],
        LeanBackend::Repl => {
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
        args,
        cwd: Some(project),
        env: Vec::new(),
    })
}

/// A multi-threaded tokio runtime for a pool (2 threads: the pool's work is waiting on Lean).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
}

/// The pool settings for `cmd` under `s` with `workers` processes.
pub fn pool_config(s: &LeanSettings, cmd: LeanCommand, workers: usize) -> PoolConfig {
    let mut cfg = PoolConfig::new(cmd);
    cfg.workers = workers.max(1);
    cfg.timeout = s.timeout();
    cfg.axioms.allow_native_decide = s.allow_native_decide;
    if let Some(q) = s.queue_capacity {
        cfg.queue_capacity = q.max(1);
    }
    cfg
}

/// Start a pool of `workers` REPLs started by `cmd`, inside a new runtime.
pub fn start_pool(
    s: &LeanSettings,
    cmd: LeanCommand,
    workers: usize,
) -> std::io::Result<(tokio::runtime::Runtime, Pool)> {
    let rt = runtime()?;
    let pool = {
        let _guard = rt.enter();
        Pool::new(pool_config(s, cmd, workers))
    };
    Ok((rt, pool))
}

/// The client of `s.servers`.
pub fn remote_pool(s: &LeanSettings) -> Result<RemotePool, String> {
    let mut cfg = RemoteConfig::new(s.servers.clone(), s.timeout());
    cfg.axioms.allow_native_decide = s.allow_native_decide;
    cfg.api_key = s.api_key.clone();
    RemotePool::new(cfg)
}

/// A runtime and the verifier `s` describes: remote servers when `s.servers` is not empty,
/// else a local pool of `workers` processes (`Err`: what to install or fix).
pub fn start_verifier(
    s: &LeanSettings,
    workers: usize,
) -> Result<(tokio::runtime::Runtime, LeanVerifier), String> {
    if !s.servers.is_empty() {
        let rt = runtime().map_err(|e| format!("cannot start the async runtime: {e}"))?;
        return Ok((rt, remote_pool(s)?.into()));
    }
    let cmd = lean_command(s)?;
    let (rt, pool) =
        start_pool(s, cmd, workers).map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok((rt, pool.into()))
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
        let readme = include_str!("../../../lean/README.md");
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

    #[test]
    fn a_missing_repl_command_says_so() {
        let mut s = LeanSettings::repl(1.0);
        s.repl_cmd = Some("/nonexistent/repl --x".into());
        let e = lean_command(&s).unwrap_err();
        assert!(e.contains("not found"), "{e}");
        s.repl_cmd = None;
        s.project = Some("/nonexistent/project".into());
        // either lake is missing or the project is: both messages carry the install hint
        assert!(lean_command(&s).unwrap_err().contains("lake build repl"));
    }
}
