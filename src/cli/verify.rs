//! `prover verify`: answers (JSONL or one pair) and Lean files.
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use super::lean_args::LeanArgs;
use crate::verify::answer::{AnswerChecker, CheckerConfig};
use crate::verify::lean::launch::{LeanBackend, LeanSettings};

/// Which Lean driver checks a `.lean` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// leanprover-community REPL (`lake env repl`), one JSON command per file.
    Repl,
    /// `lake env lean --server` over LSP.
    Lsp,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A `.jsonl` file of {"id"?, "reference", "response"} lines (or, with --lean, of
    /// {"id", "formal_statement", "header"?, "proof" | "code"} lines), or a `.lean` file.
    pub file: Option<PathBuf>,
    /// FILE.jsonl holds Lean jobs, not answers: check each on the REPL pool and print one
    /// {"id", "verdict", "reason", "axioms", "seconds"} line per input line, in input order.
    #[arg(long)]
    pub lean: bool,
    /// Reference answer (with --response: check one pair).
    #[arg(long, requires = "response")]
    pub reference: Option<String>,
    /// Model response (with --reference).
    #[arg(long, requires = "reference")]
    pub response: Option<String>,
    /// Lean: reference file whose theorems FILE must prove with identical statements. Without
    /// it, prover checks only that every theorem in FILE is proved without sorry or foreign
    /// axioms, NOT what it states (commands that change a statement's meaning, such as
    /// variable/include/instance/attribute/notation, are refused).
    #[arg(long, value_name = "REF.lean")]
    pub against: Option<PathBuf>,
    /// Lean: driver to use.
    #[arg(long, value_enum, default_value_t = Backend::Repl)]
    pub backend: Backend,
    #[command(flatten)]
    pub lean_args: LeanArgs,
    /// Answers: also accept answers outside \\boxed{} ("the answer is …", a final $…$, a bold
    /// **…**, a bare number). The default (strict) grades only the last \\boxed{}, as in RL.
    #[arg(long)]
    pub lenient: bool,
    /// Print machine-readable JSON instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

impl VerifyArgs {
    /// What the Lean side of `prover verify` needs from these flags.
    pub fn lean_check(&self) -> super::verify_lean::LeanCheck {
        super::verify_lean::LeanCheck {
            file: self.file.clone(),
            against: self.against.clone(),
            settings: self.settings(),
            json: self.json,
        }
    }

    /// The Lean settings these flags describe.
    pub fn settings(&self) -> LeanSettings {
        self.lean_args.settings(match self.backend {
            Backend::Repl => LeanBackend::Repl,
            Backend::Lsp => LeanBackend::Lsp,
        })
    }
}

/// Returns the process exit code.
pub fn run(args: VerifyArgs) -> Result<u8> {
    if let (Some(reference), Some(response)) = (&args.reference, &args.response) {
        let checker = checker(args.lenient);
        let mut out = std::io::stdout().lock();
        return super::verify_answers::run_pair_with(
            &checker, reference, response, args.json, &mut out,
        );
    }
    let Some(file) = &args.file else {
        bail!("nothing to verify: give a FILE (.jsonl answers or .lean proofs) or --reference R --response S");
    };
    match file.extension().and_then(|e| e.to_str()) {
        Some("lean") => super::verify_lean::run(&args.lean_check()),
        Some("jsonl") if args.lean => super::verify_lean::run_batch(&args.lean_check()),
        _ if args.lean => bail!(
            "{}: --lean checks a .jsonl batch (lines {{\"id\", \"formal_statement\", \"header\"?, \"proof\" | \"code\"}}); for one Lean file give FILE.lean",
            file.display()
        ),
        Some("jsonl") | Some("json") => {
            let checker = checker(args.lenient);
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            super::verify_answers::run_jsonl(file, &checker, &mut out)
        }
        _ => bail!(
            "{}: unknown file type; expected FILE.jsonl (lines {{\"id\"?, \"reference\", \"response\"}}) or FILE.lean",
            file.display()
        ),
    }
}

fn checker(lenient: bool) -> AnswerChecker {
    if lenient {
        AnswerChecker::new(CheckerConfig::lenient())
    } else {
        AnswerChecker::default()
    }
}
