//! `prover train` and `prover plot`.
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde::Deserialize;

use crate::rl::answer_reward::AnswerRewarder;
use crate::rl::config::{RewardKind, RunConfig};
use crate::rl::lean_reward::LeanRewarder;
use crate::rl::run_data;
use crate::rl::transformer_policy::TransformerPolicy;

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
    /// Device: cpu | cuda | cuda:N (overrides `[model] device`).
    #[arg(long)]
    pub device: Option<String>,
    /// Compute dtype: f32 | bf16 | f16 (overrides `[model] dtype`; bf16/f16 need a GPU).
    #[arg(long)]
    pub dtype: Option<String>,
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

/// The `[lean]` section of a run config (used when `reward.kind = "lean"`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LeanSection {
    /// Verifier processes (default: cores − 1).
    workers: Option<usize>,
    /// "repl" (the pool drives the leanprover-community REPL).
    backend: String,
    /// Seconds per proof check.
    timeout_s: f64,
    /// The Lake project with Mathlib and the REPL built (default `lean/`).
    project: Option<PathBuf>,
    /// Or a command that starts one REPL (e.g. over ssh, or the stand-in).
    repl_cmd: Option<String>,
    /// Accept proofs that use `native_decide` (Lean.ofReduceBool).
    allow_native_decide: bool,
}

impl Default for LeanSection {
    fn default() -> Self {
        LeanSection {
            workers: None,
            backend: "repl".into(),
            timeout_s: 60.0,
            project: None,
            repl_cmd: None,
            allow_native_decide: false,
        }
    }
}

fn lean_rewarder(cfg: &RunConfig, config_path: &std::path::Path) -> Result<LeanRewarder> {
    let sec: LeanSection = toml::Value::Table(cfg.lean.clone())
        .try_into()
        .map_err(|e| anyhow!("{}: [lean]: {e}", config_path.display()))?;
    if sec.backend != "repl" {
        bail!(
            "{}: [lean] backend = {:?}: the training pool drives the REPL; use \"repl\"",
            config_path.display(),
            sec.backend
        );
    }
    let vargs = super::verify::VerifyArgs::for_repl(
        sec.repl_cmd.clone(),
        sec.project.clone(),
        sec.timeout_s,
        sec.allow_native_decide,
    );
    let cmd = super::verify_lean::lean_command(&vargs)
        .map_err(|e| anyhow!("{}: [lean]: {e}", config_path.display()))?;
    let workers = sec
        .workers
        .unwrap_or_else(super::verify_lean::default_workers);
    let (rt, pool) =
        super::verify_lean::start_pool(cmd, workers, sec.timeout_s, sec.allow_native_decide)?;
    Ok(LeanRewarder::new(rt, pool, cfg.data.proof_style))
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
    if let Some(d) = &args.device {
        cfg.model.device = d.clone();
    }
    if let Some(d) = &args.dtype {
        cfg.model.dtype = d.clone();
    }
    if let Some(n) = args.max_steps {
        cfg.train.max_steps = n;
    }
    let in_config = || format!("in {}", config_path.display());
    cfg.model.check_supported().with_context(in_config)?;
    let train = run_data::train_tasks(&cfg.data).with_context(in_config)?;
    let eval = run_data::eval_tasks(&cfg.data).with_context(in_config)?;
    eprintln!("loading model {} …", cfg.model.spec);
    let mut policy = TransformerPolicy::load(
        &cfg.model.spec,
        cfg.model.chat_template,
        cfg.model.lora_rank,
        cfg.model.lora_alpha,
        cfg.loss.kl_coef != 0.0,
    )?;
    let (device, dtype) = crate::policy::device::open(&cfg.model.device, &cfg.model.dtype)
        .map_err(|e| anyhow::anyhow!("[model] {e}"))
        .with_context(in_config)?;
    policy.place(&device, dtype)?;
    let summary = if cfg.reward.kind == RewardKind::Lean {
        let rewarder = lean_rewarder(&cfg, &config_path)?;
        crate::rl::trainer::train(cfg, policy, rewarder, train, eval, &out, resume)?
    } else {
        let rewarder = AnswerRewarder::new(cfg.reward.lenient);
        crate::rl::trainer::train(cfg, policy, rewarder, train, eval, &out, resume)?
    };
    eprintln!("{}", summary.report);
    eprintln!(
        "files: metrics.jsonl, samples.jsonl, curves.svg, summary.json, eval/ in {}",
        out.display()
    );
    Ok(0)
}

pub fn plot(args: PlotArgs) -> Result<u8> {
    let path = crate::rl::plot::plot_run(&args.run_dir)?;
    println!("{}", path.display());
    Ok(0)
}
