//! LoRA adapters on a frozen base: for each targeted linear `W [out, in]`,
//! `y = x·Wᵀ + (alpha / rank) · x·Aᵀ·Bᵀ` with `A [rank, in]` ~ U(−1/√in, 1/√in) and
//! `B [out, rank]` = 0 at attachment (so the adapted model starts equal to the base).
//! Adapters are `Var`s in the model's [`ParamStore`] named `<linear>.lora_A.weight` /
//! `<linear>.lora_B.weight`; attaching freezes everything else.
use std::path::Path;

use candle_core::{Tensor, Var};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::model::Config;
use super::params::ParamStore;
use super::LoadError;

/// The linear layers an adapter may target.
pub const TARGETS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// LoRA hyper-parameters (written as `adapter_config.json`, PEFT key names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    /// Rank `r` of the update `B·A`.
    #[serde(rename = "r")]
    pub rank: usize,
    /// Scale numerator: the update is multiplied by `alpha / rank`.
    #[serde(rename = "lora_alpha")]
    pub alpha: f64,
    /// Short names of the targeted linears (see [`TARGETS`]), e.g. `["q_proj", "v_proj"]`.
    pub target_modules: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            rank: 16,
            alpha: 32.0,
            target_modules: TARGETS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

fn linear_prefix(layer: usize, target: &str) -> String {
    let group = match target {
        "gate_proj" | "up_proj" | "down_proj" => "mlp",
        _ => "self_attn",
    };
    format!("model.layers.{layer}.{group}.{target}")
}

/// Adds adapters to `params` for every layer of `cfg` and every target, freezes all base
/// parameters (only `*lora_*` stay trainable) and returns the number of adapter tensors.
pub fn attach(
    params: &mut ParamStore,
    cfg: &Config,
    lora: &LoraConfig,
    seed: u64,
) -> Result<usize, LoadError> {
    if lora.rank == 0 {
        return Err(LoadError::Format {
            path: "lora".into(),
            msg: "LoRA rank must be at least 1".into(),
        });
    }
    if let Some(bad) = lora
        .target_modules
        .iter()
        .find(|t| !TARGETS.contains(&t.as_str()))
    {
        return Err(LoadError::Format {
            path: "lora".into(),
            msg: format!("unknown LoRA target `{bad}`; expected one of {TARGETS:?}"),
        });
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut n = 0;
    for layer in 0..cfg.num_hidden_layers {
        for target in &lora.target_modules {
            let prefix = linear_prefix(layer, target);
            let base = params.get(&format!("{prefix}.weight")).ok_or_else(|| {
                LoadError::MissingTensor {
                    path: "parameters".into(),
                    name: format!("{prefix}.weight"),
                }
            })?;
            let (out, inn) = base.as_tensor().dims2()?;
            let dev = base.device().clone();
            let bound = 1.0 / (inn as f32).sqrt();
            let a: Vec<f32> = (0..lora.rank * inn)
                .map(|_| rng.gen_range(-bound..bound))
                .collect();
            let a = Var::from_tensor(&Tensor::from_vec(a, (lora.rank, inn), &dev)?)?;
            let b = Var::zeros((out, lora.rank), candle_core::DType::F32, &dev)?;
            params.insert(&format!("{prefix}.lora_A.weight"), a);
            params.insert(&format!("{prefix}.lora_B.weight"), b);
            n += 2;
        }
    }
    params.set_trainable(&["*lora_*"]);
    params.set_lora_scale(Some(lora.alpha / lora.rank as f64));
    Ok(n)
}

/// Writes `dir/adapter_model.safetensors` (adapter tensors only) and `dir/adapter_config.json`.
pub fn save_adapters(params: &ParamStore, lora: &LoraConfig, dir: &Path) -> Result<(), LoadError> {
    std::fs::create_dir_all(dir).map_err(|e| LoadError::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    params.save(&dir.join("adapter_model.safetensors"), &["*lora_*"])?;
    let cfg_path = dir.join("adapter_config.json");
    let text = serde_json::to_string_pretty(lora).expect("LoraConfig serializes");
    std::fs::write(&cfg_path, text).map_err(|e| LoadError::Io {
        path: cfg_path.display().to_string(),
        source: e,
    })
}

/// Reads `dir/adapter_config.json`, attaches adapters of that shape to `params` and loads
/// their values from `dir/adapter_model.safetensors`.
pub fn load_adapters(
    params: &mut ParamStore,
    cfg: &Config,
    dir: &Path,
) -> Result<LoraConfig, LoadError> {
    let cfg_path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| LoadError::Io {
        path: cfg_path.display().to_string(),
        source: e,
    })?;
    let lora: LoraConfig = serde_json::from_str(&text).map_err(|e| LoadError::Format {
        path: cfg_path.display().to_string(),
        msg: format!("expected {{\"r\", \"lora_alpha\", \"target_modules\"}}: {e}"),
    })?;
    attach(params, cfg, &lora, 0)?;
    params.load(&dir.join("adapter_model.safetensors"))?;
    Ok(lora)
}
