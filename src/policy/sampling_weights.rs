//! Which weights the sampler decodes from (`[sampling] weights`, `--sampling-weights`):
//! - "f32": the training weights themselves (the [`crate::policy::model::Transformer`]);
//! - "bf16" | "f16": a copy of every projection matrix rounded to bf16 / f16 (bf16 runs our
//!   AVX512-BF16 kernel, [`crate::policy::bf16_matmul`]; without that instruction set it falls
//!   back to a slow reference loop);
//! - "auto": "bf16" on a CPU with AVX512-BF16, else "f32" (also "f32" on a GPU);
//! - "q8_0": a copy in GGML's q8_0 blocks (32 weights share one f16 scale `d = max|w|/127`,
//!   `w ≈ d·round(w/d)`), multiplied by candle's quantized CPU kernels;
//! - "gguf": a `.gguf` model's matrices as the file stores them (e.g. q4_1), never dequantized
//!   (`generate` and `eval` only: training needs f32 weights to update).
//!
//! The copy is made from the current f32 weights and refreshed after each optimizer step (see
//! [`SamplerCache`]); the training model still computes the log-probs that enter the loss, and
//! rollout correction (`rl/rollout_correction.rs`, in the layer above) corrects for the difference.
use std::path::Path;

use candle_core::quantized::GgmlDType;
use serde::{Deserialize, Serialize};

use super::model::Config;
use super::params::ParamStore;
use super::quantized_decoder::QuantizedTransformer;

/// The precision of the sampler's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SamplingWeights {
    /// The f32 training weights.
    #[default]
    #[serde(rename = "f32")]
    F32,
    /// bf16 copies of the matrices.
    #[serde(rename = "bf16")]
    Bf16,
    /// f16 copies of the matrices.
    #[serde(rename = "f16")]
    F16,
    /// q8_0 copies of the matrices.
    #[serde(rename = "q8_0")]
    Q8_0,
    /// A GGUF file's own (quantized) matrices.
    #[serde(rename = "gguf")]
    Gguf,
    /// bf16 where this CPU has the kernel, else f32 ([`SamplingWeights::resolve`]).
    #[serde(rename = "auto")]
    Auto,
}

impl SamplingWeights {
    /// The name as written in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SamplingWeights::F32 => "f32",
            SamplingWeights::Bf16 => "bf16",
            SamplingWeights::F16 => "f16",
            SamplingWeights::Q8_0 => "q8_0",
            SamplingWeights::Gguf => "gguf",
            SamplingWeights::Auto => "auto",
        }
    }

    /// What the sampler uses on `device`: `auto` becomes bf16 on a CPU with AVX512-BF16 and f32
    /// elsewhere; every other value stays.
    pub fn resolve(self, device: &candle_core::Device) -> SamplingWeights {
        match self {
            SamplingWeights::Auto
                if device.is_cpu() && super::bf16_matmul::Bf16Matrix::kernel_available() =>
            {
                SamplingWeights::Bf16
            }
            SamplingWeights::Auto => SamplingWeights::F32,
            w => w,
        }
    }

    /// The GGML storage type of the copies (`None` for f32 and gguf).
    pub fn ggml(self) -> Option<GgmlDType> {
        match self {
            SamplingWeights::Bf16 => Some(GgmlDType::BF16),
            SamplingWeights::F16 => Some(GgmlDType::F16),
            SamplingWeights::Q8_0 => Some(GgmlDType::Q8_0),
            SamplingWeights::F32 | SamplingWeights::Gguf | SamplingWeights::Auto => None,
        }
    }
}

impl std::str::FromStr for SamplingWeights {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "f32" => SamplingWeights::F32,
            "bf16" => SamplingWeights::Bf16,
            "f16" => SamplingWeights::F16,
            "q8_0" => SamplingWeights::Q8_0,
            "gguf" => SamplingWeights::Gguf,
            "auto" => SamplingWeights::Auto,
            _ => {
                return Err(format!(
                    "unknown sampling weights {s:?}: expected f32, bf16, f16, q8_0, gguf or auto"
                ))
            }
        })
    }
}

/// The sampler's reduced-precision model, built on first use and dropped by
/// [`SamplerCache::invalidate`] (after each optimizer step).
#[derive(Debug, Default)]
pub struct SamplerCache {
    model: Option<QuantizedTransformer>,
}

impl SamplerCache {
    /// The model for `weights` (`None` for f32, or auto resolved to f32 on the parameters'
    /// device: decode with the training model). `gguf` is the
    /// model file when it is a `.gguf` (required by `SamplingWeights::Gguf`).
    pub fn get(
        &mut self,
        weights: SamplingWeights,
        cfg: &Config,
        params: &ParamStore,
        gguf: Option<&Path>,
    ) -> candle_core::Result<Option<QuantizedTransformer>> {
        let device = params
            .iter()
            .next()
            .map_or(candle_core::Device::Cpu, |(_, v)| v.device().clone());
        let weights = weights.resolve(&device);
        if weights == SamplingWeights::F32 {
            return Ok(None);
        }
        if self.model.is_none() {
            self.model = Some(match (weights.ggml(), gguf) {
                (Some(dt), _) => QuantizedTransformer::from_params(cfg, params, dt)?,
                (None, Some(path)) => QuantizedTransformer::from_gguf(cfg, path)?,
                (None, None) => candle_core::bail!(
                    "sampling weights \"gguf\" need a .gguf model; use f32, bf16, f16 or q8_0"
                ),
            });
        }
        Ok(self.model.clone())
    }

    /// Drops the copy (the f32 weights changed).
    pub fn invalidate(&mut self) {
        self.model = None;
    }
}

/// A decoder over the model file `weights_path` (an HF directory or a `.gguf`) with `weights`:
/// f32 computes in `dtype` through the training [`super::model::Transformer`]; the others
/// decode from reduced-precision matrices on the CPU (and need `dtype` f32 for the rest). The
/// f32 weights move to `device` (opened by [`super::device::open`], which checks `dtype`).
pub fn load_decoder(
    weights_path: &Path,
    weights: SamplingWeights,
    dtype: candle_core::DType,
    device: &candle_core::Device,
) -> anyhow::Result<Box<dyn super::decoder::Decoder>> {
    use super::transformer_decoder::PolicyDecoder;
    use anyhow::Context;
    let weights = weights.resolve(device);
    if !device.is_cpu() && weights != SamplingWeights::F32 {
        anyhow::bail!(
            "sampling weights {} run on the CPU only; on a GPU use f32 weights and dtype bf16",
            weights.name()
        );
    }
    if weights != SamplingWeights::F32 && dtype != candle_core::DType::F32 {
        anyhow::bail!(
            "sampling weights {:?} compute the rest in f32; drop --dtype or use \
             --sampling-weights f32",
            weights.name()
        );
    }
    let is_gguf = weights_path.extension().and_then(|e| e.to_str()) == Some("gguf");
    if weights == SamplingWeights::Gguf && !is_gguf {
        anyhow::bail!(
            "{}: sampling weights \"gguf\" need a .gguf model file; use f32, bf16, f16 or q8_0",
            weights_path.display()
        );
    }
    let (cfg, mut params) = super::weights::load_params(weights_path)
        .with_context(|| format!("loading the model weights of {}", weights_path.display()))?;
    params.to_device(device)?;
    let mut cache = SamplerCache::default();
    Ok(
        match cache.get(weights, &cfg, &params, is_gguf.then_some(weights_path))? {
            Some(q) => Box::new(PolicyDecoder::new(q)),
            None => Box::new(PolicyDecoder::new(
                super::model::Transformer::new_inference(&cfg, &params, dtype)?,
            )),
        },
    )
}
