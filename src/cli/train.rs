//! `prover train` and `prover plot`.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::rl::config::{RewardKind, RunConfig};
use crate::rl::policy::{FnRewarder, RewardOutcome, Verdict};
use crate::rl::task::Task;
use crate::rl::transformer_policy::TransformerPolicy;
use crate::verify::answer::AnswerChecker;

/// Run GRPO: sample, verify, reward, update. Writes metrics.jsonl, samples.jsonl, curves.svg and
/// atomic checkpoints into --out.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Run config (TOML; every key is documented in src/rl/config.rs).
    #[arg(long, default_value = "configs/default.toml")]
    pub config: PathBuf,
    /// Override the config's model: an HF dir, a .gguf file or hf:ORG/NAME.
    #[arg(long)]
    pub model: Option<String>,
    /// Run directory.
    #[arg(long, default_value = "runs/default")]
    pub out: PathBuf,
    /// Override train.max_steps.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Continue the run in DIR from its latest checkpoint (same config, same results).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
}

/// Redraw the curves of a run directory (curves.svg from metrics.jsonl).
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The run directory.
    pub run_dir: PathBuf,
}

fn load_tasks(path: &std::path::Path, prefix: &str) -> Result<Vec<Task>> {
    let problems = crate::data::arithmetic::load_jsonl(path)?;
    Ok(crate::data::arithmetic::to_tasks(&problems, prefix))
}

pub fn run(args: TrainArgs) -> Result<u8> {
    let (config_path, out, resume) = match &args.resume {
        Some(dir) => (dir.join("config.toml"), dir.clone(), true),
        None => (args.config.clone(), args.out.clone(), false),
    };
    let mut cfg = RunConfig::load(&config_path)?;
    if let Some(m) = &args.model {
        cfg.model.spec = m.clone();
    }
    if let Some(n) = args.max_steps {
        cfg.train.max_steps = n;
    }
    if cfg.reward.kind == RewardKind::Lean {
        bail!(
            "{}: reward.kind = \"lean\" needs the Lean pool wired into the trainer, which this build \
             does not do yet; check proofs with `prover verify` / `prover eval minif2f`",
            config_path.display()
        );
    }
    let train = load_tasks(&cfg.data.train, "train")
        .with_context(|| format!("reading data.train of {}", config_path.display()))?;
    let eval = match &cfg.data.eval {
        Some(p) => load_tasks(p, "heldout")
            .with_context(|| format!("reading data.eval of {}", config_path.display()))?,
        None => Vec::new(),
    };
    eprintln!("loading model {} …", cfg.model.spec);
    let policy = TransformerPolicy::load(
        &cfg.model.spec,
        cfg.model.chat_template,
        cfg.model.lora_rank,
        cfg.model.lora_alpha,
        cfg.loss.kl_coef != 0.0,
    )?;
    let checker = AnswerChecker::default();
    let rewarder = FnRewarder(move |task: &Task, completion: &str| {
        let reference = task.answer.clone().unwrap_or_default();
        let v = checker.check(&reference, completion);
        RewardOutcome {
            well_formed: v.extracted.is_some(),
            verdict: if v.correct {
                Verdict::Accepted
            } else {
                Verdict::Rejected(v.reason)
            },
        }
    });
    let summary = crate::rl::trainer::train(cfg, policy, rewarder, train, eval, &out, resume)?;
    eprintln!(
        "done: {} steps; run directory {} (metrics.jsonl, curves.svg); last checkpoint {}",
        summary.steps,
        out.display(),
        summary
            .last_checkpoint
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "none".into())
    );
    Ok(0)
}

pub fn plot(args: PlotArgs) -> Result<u8> {
    let path = crate::rl::plot::plot_run(&args.run_dir)?;
    println!("{}", path.display());
    Ok(0)
}
