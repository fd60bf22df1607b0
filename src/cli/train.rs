//! `prover train` and `prover plot`.
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::Args;

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
    /// Compute dtype: f32 | bf16 | f16 (overrides `[model] dtype`). f16 needs a GPU; bf16 on
    /// the CPU (AVX512-BF16) computes the projections of the training model in bf16.
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

fn lean_rewarder(cfg: &RunConfig, config_path: &std::path::Path) -> Result<LeanRewarder> {
    let settings = cfg
        .lean
        .settings()
        .map_err(|e| anyhow!("{}: [lean]: {e}", config_path.display()))?;
    let settings = crate::verify::lean::launch::LeanSettings {
        api_key: super::lean_setup::server_key(),
        ..settings
    };
    let (rt, pool) = super::lean_setup::start_verifier(&settings)
        .map_err(|e| anyhow!("{}: [lean]: {e}", config_path.display()))?;
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
    policy
        .set_sampling_weights(cfg.sampling.weights)
        .with_context(in_config)?;
    let (device, dtype) = crate::policy::device::open(&cfg.model.device, &cfg.model.dtype)
        .map_err(|e| anyhow::anyhow!("[model] {e}"))
        .with_context(in_config)?;
    policy.place(&device, dtype)?;
    let summary = if cfg.reward.kind == RewardKind::Lean {
        let rewarder = lean_rewarder(&cfg, &config_path)?;
        crate::rl::trainer::Trainer::new(cfg, policy, rewarder, train, eval, &out)?.train(resume)?
    } else {
        let rewarder = AnswerRewarder::new(cfg.reward.lenient);
        crate::rl::trainer::Trainer::new(cfg, policy, rewarder, train, eval, &out)?.train(resume)?
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
