//! Per-step metrics (`metrics.jsonl`) and logged samples (`samples.jsonl`) of a run.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::data::jsonl::read_jsonl;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StepMetrics {
    /// Step (1-based).
    pub step: u64,
    /// Mean reward of the samples used.
    pub reward_mean: f64,
    /// Std of those rewards.
    pub reward_std: f64,
    /// Share of judged samples the verifier accepted.
    pub accuracy: f64,
    /// Token-mean entropy of the updated batch.
    pub entropy: f64,
    /// Token-mean KL to the reference (0 when kl_coef = 0).
    pub kl: f64,
    /// Aggregated policy-gradient loss.
    pub pg_loss: f64,
    /// Total loss.
    pub loss: f64,
    /// Share of tokens where the ratio clip is active.
    pub clip_frac: f64,
    /// Share of tokens where the dual clip is active.
    pub clip_frac_lower: f64,
    /// Mean rollout-correction weight (see [`crate::rl::rollout_correction`]; 1 without
    /// sampler log-probs).
    #[serde(default)]
    pub rollout_is_mean: f64,
    /// Normalized effective sample size of the rollout weights, `(Σw)² / (N·Σw²)`.
    #[serde(default)]
    pub rollout_is_eff_sample_size: f64,
    /// Token mean of `logπ_rollout − logπ_train` (sampler vs training model).
    #[serde(default)]
    pub rollout_mismatch: f64,
    /// Global gradient norm before clipping (mean over the step's optimizer steps).
    pub grad_norm: f64,
    /// Learning rate (of the step's last optimizer step).
    pub lr: f64,
    /// Mean response length (tokens).
    pub response_len_mean: f64,
    /// Max response length.
    pub response_len_max: usize,
    /// Share of used responses cut at `max_new_tokens` without EOS.
    #[serde(default)]
    pub truncated_frac: f64,
    /// Share of groups with all-equal rewards.
    pub zero_std_frac: f64,
    /// Samples used for the update.
    pub samples: usize,
    /// Samples dropped for verifier errors (after one retry).
    pub verifier_errors: usize,
    /// Samples whose first verdict was a verifier error and that were checked again.
    #[serde(default)]
    pub verifier_retries: usize,
    /// Generated tokens per second of generation time.
    pub tokens_per_s: f64,
    /// Seconds generating.
    pub gen_s: f64,
    /// Seconds verifying.
    pub verify_s: f64,
    /// Seconds scoring + updating.
    pub update_s: f64,
    /// Memory of the step (`policy/device_memory.rs`): on the CPU the process's peak resident
    /// set during the step, on CUDA the device memory in use at its end; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peak_mem_bytes: Option<u64>,
    /// Held-out accuracy, on steps with an evaluation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eval_accuracy: Option<f64>,
}

impl StepMetrics {
    /// The metrics without wall-clock fields (for comparing runs).
    pub fn without_timings(&self) -> StepMetrics {
        StepMetrics {
            tokens_per_s: 0.0,
            gen_s: 0.0,
            verify_s: 0.0,
            update_s: 0.0,
            peak_mem_bytes: None,
            ..self.clone()
        }
    }
}

/// One logged sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleLog {
    /// Step.
    pub step: u64,
    /// Task id.
    pub task: String,
    /// Prompt text.
    pub prompt: String,
    /// Completion text.
    pub completion: String,
    /// Reward.
    pub reward: f64,
    /// Verifier accepted.
    pub correct: bool,
    /// Tokens.
    pub length: usize,
}

/// Appends to the run's `metrics.jsonl` and `samples.jsonl`.
pub struct MetricsWriter {
    metrics: File,
    samples: File,
    path: PathBuf,
}

/// Reads `metrics.jsonl`.
pub fn read_metrics(path: &Path) -> Result<Vec<StepMetrics>> {
    Ok(read_jsonl(path, "a metrics.jsonl step record")?
        .into_iter()
        .map(|(_, m)| m)
        .collect())
}

/// Keeps only the lines of a JSONL file whose `step` is ≤ `step` (used on resume).
fn truncate_after(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let mut kept = String::new();
    for line in text.lines() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => continue, // a torn last line from a crash
        };
        if v.get("step")
            .and_then(|s| s.as_u64())
            .is_some_and(|s| s <= step)
        {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    crate::rl::checkpoint::write_atomic(path, kept.as_bytes())
}

impl MetricsWriter {
    /// Opens the files in `run_dir`, first dropping lines after `resume_step` when resuming
    /// (or everything when starting fresh with `Some(0)`).
    pub fn open(run_dir: &Path, resume_step: Option<u64>) -> Result<Self> {
        let mp = run_dir.join("metrics.jsonl");
        let sp = run_dir.join("samples.jsonl");
        if let Some(s) = resume_step {
            truncate_after(&mp, s)?;
            truncate_after(&sp, s)?;
        }
        let open = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))
        };
        Ok(MetricsWriter {
            metrics: open(&mp)?,
            samples: open(&sp)?,
            path: mp,
        })
    }

    /// Path of `metrics.jsonl`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one step's metrics.
    pub fn write_step(&mut self, m: &StepMetrics) -> Result<()> {
        writeln!(self.metrics, "{}", serde_json::to_string(m)?)?;
        self.metrics.flush()?;
        Ok(())
    }

    /// Appends logged samples.
    pub fn write_samples(&mut self, s: &[SampleLog]) -> Result<()> {
        for x in s {
            writeln!(self.samples, "{}", serde_json::to_string(x)?)?;
        }
        self.samples.flush()?;
        Ok(())
    }
}
