//! Command-line interface: argument parsing and printing only. Each subcommand lives in its
//! own file and calls into the library.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod eval;
pub mod generate;
pub mod lean_args;
mod lean_setup;
pub mod serve;
pub mod train;
pub mod verify;
pub mod verify_answers;
pub mod verify_lean;

/// prover: make language models better at math by RL with verifiable rewards.
#[derive(Debug, Parser)]
#[command(name = "prover", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More logging (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bar or progress lines (results, warnings and errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When stderr is not a terminal (a log file), at most one progress line per SECONDS (the
    /// last item's line and evaluation results always print; 0 = a line per item).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds,
          allow_negative_numbers = true, global = true)]
    pub progress_interval: std::time::Duration,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check answers (FILE.jsonl or --reference/--response) or Lean proofs (FILE.lean).
    Verify(verify::VerifyArgs),
    /// Sample completions of prompts from a policy model.
    Generate(generate::GenerateArgs),
    /// Evaluate a model: `eval math` (accuracy) or `eval minif2f` (pass@k with Lean).
    Eval(Box<eval::EvalArgs>),
    /// Train the policy with GRPO on verifiable rewards.
    Train(train::TrainArgs),
    /// Redraw a run's curves (curves.svg) from its metrics.jsonl.
    Plot(train::PlotArgs),
    // about and long help: the doc comment of `ServeArgs`
    Serve(serve::ServeArgs),
}

fn init_logging(verbose: u8, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        // `prover serve` logs one line per request by default
        0 if serving => "warn,prover::serve::access=info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=1e9).contains(&x) => {
            Ok(std::time::Duration::from_secs_f64(x))
        }
        _ => Err(format!("expected a number of seconds ≥ 0, got {s:?}")),
    }
}

/// Entry point of the binary. Exit codes: 0 success (or all accepted), 1 rejected / some input
/// failed, 2 could not run (bad usage, missing tool, I/O error).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, matches!(cli.command, Command::Serve(_)));
    crate::progress::set_quiet(cli.quiet);
    crate::progress::set_interval(cli.progress_interval);
    let result = match cli.command {
        Command::Verify(args) => verify::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(*args),
        Command::Plot(args) => train::plot(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
