//! The TOML run configuration. Every section and key rejects unknown names
//! (`deny_unknown_fields`); a bad file is reported with its path, line and column.
//!
//! Sections and keys (defaults in parentheses; `tests/rl_config.rs` checks each stated default
//! against `RunConfig::default()` and that every key is listed here):
//! - `[model]` `spec` (default "models/smollm2-135m-instruct/"): HF dir, `.gguf` or `hf:ORG/NAME`;
//!   `dtype` (default "f32"): compute dtype "f32" | "bf16" | "f16" (master weights, AdamW state,
//!   log-softmax, entropy, loss, KL and advantages stay f32; on the CPU, "bf16" means bf16
//!   products in the training model's projections, f32-accumulated, on CPUs with AVX512-BF16,
//!   and decoding follows `[sampling] weights`); `device` (default "cpu"): "cpu" |
//!   "cuda" | "cuda:N"; a pair this build cannot serve (f16 on the CPU, bf16 on a CPU without
//!   AVX512-BF16; cuda without the `cuda` feature) stops `prover train` with a message saying
//!   what to do
//!   ([`ModelConfig::check_supported`], policy in `policy/device.rs`);
//!   `lora_rank` (default 0 = full fine-tuning), `lora_alpha` (default 16.0); `chat_template` (default true).
//! - `[data]` `train` (path), `kind` (default "answer"): "answer" (`{problem, answer}` JSONL) |
//!   "minif2f" (Lean statements); `eval` (held-out path, optional); `one_shot` (default false): repeat
//!   one example (`one_shot_index` (default 0)) to fill each batch; `max_eval` (default 0 = all);
//!   `example` (key of a JSON object of named examples, e.g. "pi1"); `split` / `eval_split`
//!   (for files with a `split` field, e.g. miniF2F "valid" / "test"); `prompt_style` (default
//!   "chat"): how a problem becomes the model input, the same styles as `prover eval math
//!   --prompt-style` (chat | raw | qwen25-math-cot | plain); `instruction` (default: the
//!   qwen25-math-cot "Please reason step by step, and put your final answer within \boxed{}."):
//!   the system message (chat, qwen25-math-cot) or last line (raw); "" sends none;
//!   `answer_field` (default "answer"): the reference field, as `prover eval math --answer-field`;
//!   `proof_style` (default "complete"): minif2f prompts, as `prover eval minif2f --prompt-style`;
//!   `max_prompt_tokens` (default 0 = no limit): verl's `data.max_prompt_length` — a training
//!   prompt with more tokens (after the chat template) is refused at start-up, a held-out one is
//!   dropped with a warning (as verl's RLHFDataset drops both).
//! - `[sampling]` `group_size` G (default 8); `prompts_per_step` (default 16); `temperature` (default 1.0);
//!   `top_p` (default 1.0); `max_new_tokens` (default 512); `dynamic_sampling` (default false): drop groups whose
//!   rewards are all equal and sample more, at most `max_sampling_tries` (default 4) rounds;
//!   `eval_temperature` (default 0.0 = greedy); `weights` (default "f32"): "f32" | "bf16" |
//!   "f16" | "q8_0" | "auto" (bf16 on a CPU with AVX512-BF16, else f32), the sampler decodes
//!   from a copy of the weights in that precision, refreshed after each optimizer step (see
//!   [`crate::policy::sampling_weights`]); the f32 model still computes the loss's log-probs —
//!   pair it with `[loss] rollout_is` (`configs/default-bf16.toml`).
//! - `[reward]` `kind` (default "answer"): "answer" | "lean" | "entropy-only" (reward 0 for every
//!   sample; only the entropy term trains; accuracy is still logged); shaping keys (each off
//!   by default, formulas in [`crate::rl::reward`]): `format_reward`, `format_penalty`,
//!   `overlong_buffer`, `overlong_penalty`, `length_reward_weight`; `lenient` (default false):
//!   grade answers leniently (`prover verify --lenient`: an answer outside `\boxed{}`, e.g.
//!   "The answer is 12" or the last number, counts) instead of strictly (last `\boxed{}` only).
//! - `[loss]` `clip_low` ε_low (default 0.2); `clip_high` ε_high (default 0.2); `dual_clip` c (default 3.0, 0 = off);
//!   `entropy_coef` (default 0.0); `kl_coef` (default 0.0); `kl_estimator` (default "k3"): k1|k2|k3;
//!   `aggregation` (default "token-mean"); `norm_adv_by_std` (default true) (false = Dr. GRPO);
//!   `rollout_is` (default "none"): "none" | "token" | "sequence", `rollout_is_threshold` C
//!   (default 2.0): rollout correction, formulas in [`crate::rl::rollout_correction`].
//!   Formulas in [`crate::rl::loss`].
//! - `[optim]` `lr` (default 1e-6); `betas` (default [0.9, 0.999]); `eps` (default 1e-8); `weight_decay` (default 0.01);
//!   `grad_clip` (default 1.0); `schedule` (default "constant"): constant|linear|cosine; `warmup_steps` (default 0);
//!   `min_lr_ratio` (default 0.0); `micro_batch` (default 8): samples per forward/backward (gradients
//!   accumulate over micro-batches).
//! - `[train]` `max_steps` (default 100); `seed` (default 0); `ppo_epochs` (default 1); `mini_batches` (default 1)
//!   (optimizer steps per epoch over the sampled batch); `eval_every` (default 0 = never);
//!   `save_every` (default 0 = only at the end); `samples_per_step_logged` (default 8); `plot_every` (default 1);
//!   `keep_checkpoints` (default 3) (0 = keep all; the checkpoint of the best held-out
//!   evaluation is kept besides); `eval_before_train` (default false): evaluate
//!   once before step 1 (a `step: 0` line in metrics.jsonl with only `eval_accuracy` meaningful).
//! - `[lean]` (read when `reward.kind = "lean"`; [`LeanConfig`]): `workers` (default: `min(cores − 1,
//!   RAM / 8 GiB)`, at least 1): local REPL processes; `backend` (default "repl"): the training
//!   pool drives the REPL, "lsp" is refused; `timeout_s` (default 60): wall-clock seconds per
//!   proof (header import, proof, axiom queries); `project` (default: `$PROVER_LEAN_PROJECT`, else
//!   `lean/`): the Lake project with Mathlib and the REPL built; `repl_cmd` (default: none): a
//!   command line that starts one REPL instead (over ssh, a container, the stand-in);
//!   `allow_native_decide` (default false): accept proofs whose axioms include native_decide's
//!   (`Lean.ofReduceBool`, `Lean.trustCompiler`); `servers` (default [] = a local pool):
//!   `prover serve` URLs such as `["http://a:8000", "http://b:8000"]`: proofs are checked there
//!   instead (jobs spread by in-flight count, moved to another server on a connection error,
//!   5xx or 429; the sound post-checks are re-applied here to what the server reports, see
//!   `crate::verify::lean::remote`; the key, if the servers want one, comes from
//!   `$PROVER_LEAN_SERVER_KEY`); `workers`, `project` and `repl_cmd` are then unused.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::policy::sampling_weights::SamplingWeights;
use crate::prompt::style::{MathPrompt, MathPromptStyle, ProofPromptStyle};
pub use crate::rl::loss::LossConfig;
use crate::rl::optimizer::AdamWParams;
use crate::rl::schedule::{Schedule, ScheduleKind};
use crate::verify::lean::launch::{LeanBackend, LeanSettings};

/// A whole run configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// `[model]`.
    pub model: ModelConfig,
    /// `[data]`.
    pub data: DataConfig,
    /// `[sampling]`.
    pub sampling: SamplingConfig,
    /// `[reward]`.
    pub reward: RewardConfig,
    /// `[loss]`.
    pub loss: LossConfig,
    /// `[optim]`.
    pub optim: OptimConfig,
    /// `[train]`.
    pub train: TrainConfig,
    /// `[lean]`: how proofs reach Lean (`reward.kind = "lean"`).
    pub lean: LeanConfig,
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Model spec: HF directory, `.gguf` file or `hf:ORG/NAME`.
    pub spec: String,
    /// Compute dtype: "f32" | "bf16" | "f16".
    pub dtype: String,
    /// "cpu" | "cuda" | "cuda:N".
    pub device: String,
    /// LoRA rank (0 = full fine-tuning).
    pub lora_rank: usize,
    /// LoRA alpha (scale = alpha / rank).
    pub lora_alpha: f64,
    /// Wrap prompts in the model's chat template.
    pub chat_template: bool,
}

impl ModelConfig {
    /// Refuses a `dtype` or `device` this build cannot honour, saying what to do, instead of
    /// silently training in f32 on the CPU (policy: `policy/device.rs`).
    pub fn check_supported(&self) -> Result<()> {
        let dev = crate::policy::device::parse_device(&self.device)
            .map_err(|e| anyhow::anyhow!("[model] {e}"))?;
        let dt = crate::policy::device::parse_dtype(&self.dtype)
            .map_err(|e| anyhow::anyhow!("[model] {e}"))?;
        crate::policy::device::check_servable(dev, dt).map_err(|e| anyhow::anyhow!("[model] {e}"))
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            spec: "models/smollm2-135m-instruct/".into(),
            dtype: "f32".into(),
            device: "cpu".into(),
            lora_rank: 0,
            lora_alpha: 16.0,
            chat_template: true,
        }
    }
}

/// `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Training file (JSONL).
    pub train: PathBuf,
    /// What the training and held-out files hold.
    pub kind: DataKind,
    /// Held-out file for periodic evaluation.
    pub eval: Option<PathBuf>,
    /// Repeat one training example to fill every batch (1-shot RLVR).
    pub one_shot: bool,
    /// Which example (0-based line) one-shot training repeats.
    pub one_shot_index: usize,
    /// Evaluate on at most this many held-out tasks (0 = all).
    pub max_eval: usize,
    /// For a JSON object of named examples (e.g. `pi_examples.json`): the key to train on.
    pub example: Option<String>,
    /// For files with a `split` field (miniF2F): the split to train on.
    pub split: Option<String>,
    /// For files with a `split` field: the split to evaluate on.
    pub eval_split: Option<String>,
    /// How a problem becomes the model input (same styles as `prover eval math`).
    pub prompt_style: MathPromptStyle,
    /// Replaces the qwen25-math-cot instruction; "" = none.
    pub instruction: Option<String>,
    /// kind "minif2f": "complete" (DeepSeek-Prover) or "chat" (same as `prover eval minif2f`).
    pub proof_style: ProofPromptStyle,
    /// kind "answer": the reference field of JSONL lines (NAME, boxed:NAME, first:NAME,
    /// hashes:NAME; same as `prover eval math --answer-field`).
    pub answer_field: String,
    /// Most prompt tokens (0 = no limit); see the module docs.
    pub max_prompt_tokens: usize,
}

impl DataConfig {
    /// The prompt renderer shared with `prover eval math`.
    pub fn math_prompt(&self) -> MathPrompt {
        MathPrompt {
            style: self.prompt_style,
            instruction: self.instruction.clone(),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            train: "datasets/arithmetic/train.jsonl".into(),
            kind: DataKind::Answer,
            eval: Some("datasets/arithmetic/heldout.jsonl".into()),
            one_shot: false,
            one_shot_index: 0,
            max_eval: 0,
            example: None,
            split: None,
            eval_split: None,
            prompt_style: MathPromptStyle::Chat,
            instruction: None,
            proof_style: ProofPromptStyle::Complete,
            answer_field: "answer".into(),
            max_prompt_tokens: 0,
        }
    }
}

/// `data.kind`: what the data files hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    /// `{problem, answer}` JSONL, graded by the answer checker.
    #[default]
    Answer,
    /// Lean statements in the miniF2F format, checked by the Lean pool.
    Minif2f,
}

/// `[sampling]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Samples per prompt G.
    pub group_size: usize,
    /// Prompts per step (batch = prompts × G).
    pub prompts_per_step: usize,
    /// Sampling temperature (log-probs use logits / temperature).
    pub temperature: f64,
    /// Nucleus sampling threshold.
    pub top_p: f64,
    /// Max response tokens (also `T` of `seq-mean-token-sum-norm` and `L_max` of the
    /// overlong penalty).
    pub max_new_tokens: usize,
    /// Drop constant-reward groups and sample more (DAPO).
    pub dynamic_sampling: bool,
    /// Max sampling rounds per step with dynamic sampling.
    pub max_sampling_tries: usize,
    /// Temperature of evaluation sampling (0 = greedy).
    pub eval_temperature: f64,
    /// Precision of the sampler's copy of the weights.
    pub weights: SamplingWeights,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            group_size: 8,
            prompts_per_step: 16,
            temperature: 1.0,
            top_p: 1.0,
            max_new_tokens: 512,
            dynamic_sampling: false,
            max_sampling_tries: 4,
            eval_temperature: 0.0,
            weights: SamplingWeights::F32,
        }
    }
}

/// `[reward]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RewardConfig {
    /// Reward kind.
    pub kind: RewardKind,
    /// Added when the response is well-formed (an answer / proof could be extracted).
    pub format_reward: f64,
    /// Added when it is not (usually ≤ 0).
    pub format_penalty: f64,
    /// DAPO overlong buffer `L_buf` in tokens (0 = off).
    pub overlong_buffer: usize,
    /// DAPO overlong penalty factor.
    pub overlong_penalty: f64,
    /// Weight of the HAPO-style length reward (0 = off).
    pub length_reward_weight: f64,
    /// Lenient answer grading (answers outside `\boxed{}` count).
    pub lenient: bool,
}

/// Reward kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RewardKind {
    /// Exact answer checking.
    #[default]
    Answer,
    /// Lean proof checking.
    Lean,
    /// No reward: entropy minimization/maximization only.
    EntropyOnly,
}

/// `[optim]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Base learning rate.
    pub lr: f64,
    /// (β₁, β₂).
    pub betas: [f64; 2],
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Max global grad norm (0 = off).
    pub grad_clip: f64,
    /// Schedule shape.
    pub schedule: ScheduleKind,
    /// Linear warmup steps.
    pub warmup_steps: u64,
    /// LR floor as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Samples per forward/backward pass.
    pub micro_batch: usize,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 1e-6,
            betas: [0.9, 0.999],
            eps: 1e-8,
            weight_decay: 0.01,
            grad_clip: 1.0,
            schedule: ScheduleKind::Constant,
            warmup_steps: 0,
            min_lr_ratio: 0.0,
            micro_batch: 8,
        }
    }
}

impl OptimConfig {
    /// AdamW hyper-parameters.
    pub fn adamw(&self) -> AdamWParams {
        AdamWParams {
            beta1: self.betas[0],
            beta2: self.betas[1],
            eps: self.eps,
            weight_decay: self.weight_decay,
            grad_clip: self.grad_clip,
        }
    }
    /// The schedule over `total_steps` optimizer steps.
    pub fn schedule(&self, total_steps: u64) -> Schedule {
        Schedule {
            kind: self.schedule,
            lr: self.lr,
            warmup_steps: self.warmup_steps,
            total_steps,
            min_lr_ratio: self.min_lr_ratio,
        }
    }
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Training steps (one step = one sampled batch).
    pub max_steps: u64,
    /// Seed of everything random (sampling, data order).
    pub seed: u64,
    /// Passes over each sampled batch.
    pub ppo_epochs: usize,
    /// Optimizer steps per pass.
    pub mini_batches: usize,
    /// Evaluate every this many steps (0 = never).
    pub eval_every: u64,
    /// Checkpoint every this many steps (0 = only at the end).
    pub save_every: u64,
    /// Samples written to samples.jsonl each step (spread over the groups).
    pub samples_per_step_logged: usize,
    /// Redraw the SVG plot every this many steps (0 = only at the end).
    pub plot_every: u64,
    /// Keep only the newest this many checkpoints, and the best evaluation's (0 = keep all).
    pub keep_checkpoints: usize,
    /// Evaluate once before the first step (logged as step 0).
    pub eval_before_train: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            max_steps: 100,
            seed: 0,
            ppo_epochs: 1,
            mini_batches: 1,
            eval_every: 0,
            save_every: 0,
            samples_per_step_logged: 8,
            plot_every: 1,
            keep_checkpoints: 3,
            eval_before_train: false,
        }
    }
}

impl RunConfig {
    /// Parses TOML text; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let cfg: RunConfig = toml::from_str(text).map_err(|e| {
            // name the section the error is in (the message shows only the line)
            let section = e
                .span()
                .and_then(|sp| text.get(..sp.start))
                .and_then(|before| {
                    before
                        .lines()
                        .rev()
                        .map(str::trim)
                        .find(|l| l.starts_with('[') && l.ends_with(']'))
                })
                .map(|h| format!(" (in {h})"))
                .unwrap_or_default();
            anyhow::anyhow!("{origin}: invalid run config{section}: {e}")
        })?;
        cfg.validate()
            .with_context(|| format!("{origin}: invalid run config"))?;
        Ok(cfg)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The config as TOML (written into the run directory).
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Checks value ranges.
    pub fn validate(&self) -> Result<()> {
        let s = &self.sampling;
        anyhow::ensure!(s.group_size >= 1, "sampling.group_size must be ≥ 1");
        anyhow::ensure!(
            s.prompts_per_step >= 1,
            "sampling.prompts_per_step must be ≥ 1"
        );
        anyhow::ensure!(s.temperature > 0.0, "sampling.temperature must be > 0");
        anyhow::ensure!(
            s.top_p > 0.0 && s.top_p <= 1.0,
            "sampling.top_p must be in (0, 1]"
        );
        anyhow::ensure!(s.max_new_tokens >= 1, "sampling.max_new_tokens must be ≥ 1");
        anyhow::ensure!(
            s.max_sampling_tries >= 1,
            "sampling.max_sampling_tries must be ≥ 1"
        );
        anyhow::ensure!(
            s.weights != SamplingWeights::Gguf,
            "sampling.weights = \"gguf\" cannot follow training updates; use \"f32\", \"bf16\", \"f16\" or \"q8_0\""
        );
        let l = &self.loss;
        anyhow::ensure!(
            l.clip_low >= 0.0 && l.clip_low < 1.0,
            "loss.clip_low must be in [0, 1)"
        );
        anyhow::ensure!(l.clip_high >= 0.0, "loss.clip_high must be ≥ 0");
        anyhow::ensure!(
            l.dual_clip == 0.0 || l.dual_clip > 1.0,
            "loss.dual_clip must be 0 (off) or > 1"
        );
        anyhow::ensure!(
            l.rollout_is_threshold > 0.0,
            "loss.rollout_is_threshold must be > 0 (default 2.0)"
        );
        let o = &self.optim;
        anyhow::ensure!(o.lr >= 0.0, "optim.lr must be ≥ 0");
        anyhow::ensure!(o.micro_batch >= 1, "optim.micro_batch must be ≥ 1");
        anyhow::ensure!(
            (0.0..1.0).contains(&o.betas[0]) && (0.0..1.0).contains(&o.betas[1]),
            "optim.betas must be in [0, 1)"
        );
        let t = &self.train;
        anyhow::ensure!(t.ppo_epochs >= 1, "train.ppo_epochs must be ≥ 1");
        anyhow::ensure!(t.mini_batches >= 1, "train.mini_batches must be ≥ 1");
        let r = &self.reward;
        anyhow::ensure!(
            !(r.kind == RewardKind::EntropyOnly && s.dynamic_sampling),
            "reward.kind = \"entropy-only\" gives every group the same reward; \
             sampling.dynamic_sampling would drop them all"
        );
        anyhow::ensure!(
            (r.kind == RewardKind::Lean) == (self.data.kind == DataKind::Minif2f),
            "reward.kind = \"lean\" goes with data.kind = \"minif2f\" (formal statements), \
             the other reward kinds with data.kind = \"answer\""
        );
        anyhow::ensure!(
            r.overlong_buffer < s.max_new_tokens || r.overlong_buffer == 0,
            "reward.overlong_buffer must be smaller than sampling.max_new_tokens"
        );
        Ok(())
    }
}

/// `[lean]`: the Lean verifier for `reward.kind = "lean"` (keys in the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeanConfig {
    /// Local REPL processes (default: the machine's [`crate::verify::lean::memory::WorkerChoice`]).
    pub workers: Option<usize>,
    /// The driver; training needs "repl".
    pub backend: LeanBackend,
    /// Seconds per proof.
    pub timeout_s: f64,
    /// The Lake project with Mathlib and the REPL built.
    pub project: Option<PathBuf>,
    /// Or a command that starts one REPL.
    pub repl_cmd: Option<String>,
    /// Accept proofs that use `native_decide`.
    pub allow_native_decide: bool,
    /// Remote `prover serve` verifiers; empty = a local pool.
    pub servers: Vec<String>,
}

impl Default for LeanConfig {
    fn default() -> Self {
        LeanConfig {
            workers: None,
            backend: LeanBackend::Repl,
            timeout_s: 60.0,
            project: None,
            repl_cmd: None,
            allow_native_decide: false,
            servers: Vec::new(),
        }
    }
}

impl LeanConfig {
    /// The local pool settings, or why this section cannot drive training.
    pub fn settings(&self) -> std::result::Result<LeanSettings, String> {
        if self.backend != LeanBackend::Repl {
            return Err(format!(
                "backend = {:?}: the training pool drives the REPL; use \"repl\"",
                self.backend
            ));
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return Err(format!(
                "timeout_s = {}: expected a positive number of seconds",
                self.timeout_s
            ));
        }
        Ok(LeanSettings {
            backend: self.backend,
            repl_cmd: self.repl_cmd.clone(),
            project: self.project.clone(),
            workers: self.workers,
            timeout_s: self.timeout_s,
            allow_native_decide: self.allow_native_decide,
            queue_capacity: None,
            servers: self.servers.clone(),
            api_key: None,
        })
    }
}
