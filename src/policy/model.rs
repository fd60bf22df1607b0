//! The trainable decoder-only transformer for the llama and qwen2 families (one file, like
//! candle's model files): [`Config`] read from an HF `config.json` (or GGUF metadata), and the
//! layers [`RmsNorm`], [`Rotary`], [`Linear`], [`Attention`] (GQA), [`Mlp`] (SwiGLU),
//! [`DecoderLayer`] and [`Transformer`].
//!
//! Every operation is a differentiable candle primitive (matmul, exp, sum, narrow/cat, ...):
//! candle's fused `softmax_last_dim`, `rms_norm` and `rope` kernels record no backward pass, so
//! they are never used here. Formulas:
//! - RMSNorm: `y = x · (mean(x²) + eps)^(-1/2) · w`
//! - rotary (non-interleaved, "rotate_half"): with `x = [x1, x2]` split in halves and
//!   `θ_i = pos · theta^(-2i/d)`: `y = [x1·cos θ − x2·sin θ, x2·cos θ + x1·sin θ]`
//! - attention: `softmax(q·kᵀ/√d + bias)·v` with `softmax(s) = exp(s − max s)/Σ exp(s − max s)`
//!   (the max is a detached constant shift, exact for the gradient)
//! - MLP: `down(silu(gate(x)) · up(x))`
use std::path::Path;

use candle_core::{DType, Device, Module, Result, Tensor, D};
use serde_json::Value;

use super::decode_attention::DecodeAttentionOp;
use super::kv_cache::KvCache;
use super::ops::{fused_ok, MaskedSoftmaxOp, RmsNormOp, RotaryOp, SwiGluOp};
use super::params::ParamStore;
use super::LoadError;
use std::sync::Arc;

/// The architecture family of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Llama / SmolLM / Mistral-style: no attention biases.
    Llama,
    /// Qwen2 / Qwen2.5: bias on the q, k and v projections.
    Qwen2,
}

/// Model hyper-parameters, read from an HF `config.json` ([`Config::from_hf_json`]) or from
/// GGUF metadata (`weights::load_gguf`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Architecture family (`model_type` / `architectures`).
    pub family: Family,
    /// Vocabulary size `V` (rows of the embedding matrix).
    pub vocab_size: usize,
    /// Model width `H`.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (GQA); equals `num_attention_heads` for plain MHA.
    pub num_key_value_heads: usize,
    /// Per-head width `d` (default `hidden_size / num_attention_heads`).
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// Rotary base `theta` (`rope_theta`, or `rope_parameters.rope_theta` in transformers 5).
    pub rope_theta: f64,
    /// Context length: positions must stay below it.
    pub max_position_embeddings: usize,
    /// Whether the output projection reuses the token embedding matrix.
    pub tie_word_embeddings: bool,
    /// Bias on q/k/v projections (true for qwen2, `attention_bias` for llama).
    pub attention_bias: bool,
    /// BOS token id, when the config names one.
    pub bos_token_id: Option<u32>,
    /// EOS token ids (the config may give one id or a list).
    pub eos_token_ids: Vec<u32>,
}

fn get_usize(v: &Value, key: &str) -> std::result::Result<Option<usize>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| format!("`{key}` must be a non-negative integer, got {x}")),
    }
}

fn get_f64(v: &Value, key: &str) -> std::result::Result<Option<f64>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be a number, got {x}")),
    }
}

fn ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_u64().map(|x| x as u32))
            .collect(),
        _ => vec![],
    }
}

impl Config {
    /// Parses an HF `config.json` text. Reads both the transformers-4 top-level `rope_theta` and
    /// the transformers-5 `rope_parameters.rope_theta`; accepts `sliding_window: null`. Only the
    /// default rope type is supported. `origin` names the file in error messages.
    pub fn from_hf_json(text: &str, origin: &str) -> std::result::Result<Config, LoadError> {
        let err = |msg: String| LoadError::Config {
            path: origin.to_string(),
            msg,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let model_type = v.get("model_type").and_then(|x| x.as_str()).unwrap_or("");
        let archs: Vec<String> = v
            .get("architectures")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let family = match model_type {
            "llama" | "mistral" => Family::Llama,
            "qwen2" => Family::Qwen2,
            _ if archs
                .iter()
                .any(|a| a == "LlamaForCausalLM" || a == "MistralForCausalLM") =>
            {
                Family::Llama
            }
            _ if archs.iter().any(|a| a == "Qwen2ForCausalLM") => Family::Qwen2,
            _ => {
                return Err(LoadError::UnknownArchitecture {
                    path: origin.to_string(),
                    found: format!("model_type={model_type:?}, architectures={archs:?}"),
                })
            }
        };
        let req = |key: &str| -> std::result::Result<usize, LoadError> {
            get_usize(&v, key)
                .map_err(err)?
                .ok_or_else(|| err(format!("missing required key `{key}`")))
        };
        let hidden_size = req("hidden_size")?;
        let num_attention_heads = req("num_attention_heads")?;
        if num_attention_heads == 0 || hidden_size == 0 {
            return Err(err("hidden_size and num_attention_heads must be > 0".into()));
        }
        let num_key_value_heads = get_usize(&v, "num_key_value_heads")
            .map_err(err)?
            .unwrap_or(num_attention_heads);
        if num_key_value_heads == 0 || num_attention_heads % num_key_value_heads != 0 {
            return Err(err(format!(
                "num_attention_heads ({num_attention_heads}) must be a multiple of num_key_value_heads ({num_key_value_heads})"
            )));
        }
        let head_dim = get_usize(&v, "head_dim")
            .map_err(err)?
            .unwrap_or(hidden_size / num_attention_heads);
        if head_dim % 2 != 0 {
            return Err(err(format!("head_dim must be even, got {head_dim}")));
        }
        let rope_params = v.get("rope_parameters").or_else(|| v.get("rope_scaling"));
        if let Some(rp) = rope_params.filter(|x| !x.is_null()) {
            let ty = rp
                .get("rope_type")
                .or_else(|| rp.get("type"))
                .and_then(|x| x.as_str())
                .unwrap_or("default");
            if ty != "default" {
                return Err(err(format!(
                    "rope type {ty:?} is not supported (only \"default\")"
                )));
            }
        }
        let rope_theta = match get_f64(&v, "rope_theta").map_err(err)? {
            Some(t) => t,
            None => match v.get("rope_parameters") {
                Some(rp) => get_f64(rp, "rope_theta").map_err(err)?.unwrap_or(10000.0),
                None => 10000.0,
            },
        };
        let attention_bias = match family {
            Family::Qwen2 => true,
            Family::Llama => v
                .get("attention_bias")
                .and_then(|x| x.as_bool())
                .unwrap_or(false),
        };
        Ok(Config {
            family,
            vocab_size: req("vocab_size")?,
            hidden_size,
            intermediate_size: req("intermediate_size")?,
            num_hidden_layers: req("num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: get_f64(&v, "rms_norm_eps").map_err(err)?.unwrap_or(1e-6),
            rope_theta,
            max_position_embeddings: get_usize(&v, "max_position_embeddings")
                .map_err(err)?
                .unwrap_or(2048),
            tie_word_embeddings: v
                .get("tie_word_embeddings")
                .and_then(|x| x.as_bool())
                .unwrap_or(false),
            attention_bias,
            bos_token_id: ids(v.get("bos_token_id")).first().copied(),
            eos_token_ids: ids(v.get("eos_token_id")),
        })
    }

    /// A tiny configuration (vocab 64, width 16, 2 layers, 4 query / 2 kv heads, context 64,
    /// untied output matrix) for tests and examples; pair it with `weights::random_params`.
    pub fn tiny(family: Family) -> Config {
        Config {
            family,
            vocab_size: 64,
            hidden_size: 16,
            intermediate_size: 24,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            head_dim: 4,
            rms_norm_eps: 1e-6,
            rope_theta: 10000.0,
            max_position_embeddings: 64,
            tie_word_embeddings: false,
            attention_bias: family == Family::Qwen2,
            bos_token_id: Some(1),
            eos_token_ids: vec![2],
        }
    }

    /// Reads and parses `path` (an HF `config.json`).
    pub fn from_hf_file(path: &Path) -> std::result::Result<Config, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Self::from_hf_json(&text, &path.display().to_string())
    }

    /// Names and shapes of every base parameter (HF naming), in a stable order.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let h = self.hidden_size;
        let d = self.head_dim;
        let q = self.num_attention_heads * d;
        let kv = self.num_key_value_heads * d;
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            vec![self.vocab_size, h],
        )];
        for i in 0..self.num_hidden_layers {
            let p = format!("model.layers.{i}");
            out.push((format!("{p}.input_layernorm.weight"), vec![h]));
            out.push((format!("{p}.self_attn.q_proj.weight"), vec![q, h]));
            out.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
            out.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
            if self.attention_bias {
                out.push((format!("{p}.self_attn.q_proj.bias"), vec![q]));
                out.push((format!("{p}.self_attn.k_proj.bias"), vec![kv]));
                out.push((format!("{p}.self_attn.v_proj.bias"), vec![kv]));
            }
            out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
            out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
            let m = self.intermediate_size;
            out.push((format!("{p}.mlp.gate_proj.weight"), vec![m, h]));
            out.push((format!("{p}.mlp.up_proj.weight"), vec![m, h]));
            out.push((format!("{p}.mlp.down_proj.weight"), vec![h, m]));
        }
        out.push(("model.norm.weight".to_string(), vec![h]));
        if !self.tie_word_embeddings {
            out.push(("lm_head.weight".to_string(), vec![self.vocab_size, h]));
        }
        out
    }
}

/// Fetches parameter `name` as a compute tensor: tracked (gradients flow to the `Var`) when the
/// parameter is trainable and `track` is set, detached otherwise; cast to `dtype`.
fn param(params: &ParamStore, name: &str, dtype: DType, track: bool) -> Result<Tensor> {
    let var = params
        .get(name)
        .ok_or_else(|| candle_core::Error::Msg(format!("missing parameter `{name}`")))?;
    let t = if track && params.is_trainable(name) {
        var.as_tensor().clone()
    } else {
        var.as_tensor().detach()
    };
    if t.dtype() == dtype {
        Ok(t)
    } else {
        t.to_dtype(dtype)
    }
}

/// A linear map `y = x·Wᵀ (+ b) (+ s·x·Aᵀ·Bᵀ)` (the last term when a LoRA adapter is present).
#[derive(Debug, Clone)]
pub struct Linear {
    w: Tensor,
    /// `Wᵀ` as a contiguous copy (inference models: gemm is ~2x faster on it for few rows).
    wt: Option<Tensor>,
    b: Option<Tensor>,
    lora: Option<(Tensor, Tensor, f64)>,
    /// Products in bf16 ([`crate::policy::bf16_linear`]); set by
    /// [`Transformer::new_bf16_projections`].
    bf16: bool,
}

impl Linear {
    fn load(
        params: &ParamStore,
        prefix: &str,
        bias: bool,
        dtype: DType,
        track: bool,
    ) -> Result<Self> {
        let w = param(params, &format!("{prefix}.weight"), dtype, track)?;
        let b = if bias {
            Some(param(params, &format!("{prefix}.bias"), dtype, track)?)
        } else {
            None
        };
        let a_name = format!("{prefix}.lora_A.weight");
        let lora = match (params.get(&a_name), params.lora_scale()) {
            (Some(_), Some(scale)) => Some((
                param(params, &a_name, dtype, track)?,
                param(params, &format!("{prefix}.lora_B.weight"), dtype, track)?,
                scale,
            )),
            _ => None,
        };
        let wt = if track {
            None
        } else {
            Some(w.t()?.contiguous()?)
        };
        Ok(Self {
            w,
            wt,
            b,
            lora,
            bf16: false,
        })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let inner = *dims.last().unwrap_or(&0);
        let rows = x.elem_count() / inner.max(1);
        let x2 = x.reshape((rows, inner))?;
        let mut y = match &self.wt {
            Some(wt) => x2.matmul(wt)?,
            None if self.bf16 && fused_ok(&x2) && fused_ok(&self.w) => {
                super::bf16_linear::bf16_linear(&x2, &self.w)?
            }
            None => x2.matmul(&self.w.t()?)?,
        };
        if let Some(b) = &self.b {
            y = y.broadcast_add(b)?;
        }
        if let Some((a, b, s)) = &self.lora {
            let d = x2.matmul(&a.t()?)?.matmul(&b.t()?)?;
            y = (y + d.affine(*s, 0.0)?)?;
        }
        let mut out = dims;
        *out.last_mut().unwrap() = y.dim(1)?;
        y.reshape(out)
    }
}

/// RMSNorm over the last dimension: `x · (mean(x²) + eps)^(-1/2) · w`, computed in f32.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    w: Tensor,
    eps: f64,
}

impl RmsNorm {
    /// Normalises `x`; `fused` selects the f32 CPU kernel when applicable.
    pub fn forward(&self, x: &Tensor, fused: bool) -> Result<Tensor> {
        if fused && fused_ok(x) && fused_ok(&self.w) {
            return x
                .contiguous()?
                .apply_op2(&self.w, RmsNormOp { eps: self.eps });
        }
        let dt = x.dtype();
        let xf = x.to_dtype(DType::F32)?;
        let ms = xf.sqr()?.mean_keepdim(D::Minus1)?;
        let inv = ms.affine(1.0, self.eps)?.sqrt()?.recip()?;
        xf.broadcast_mul(&inv)?.to_dtype(dt)?.broadcast_mul(&self.w)
    }
}

/// Rotary position embedding (non-interleaved halves, HF `rotate_half` convention).
#[derive(Debug, Clone)]
pub struct Rotary {
    inv_freq: Tensor,
}

impl Rotary {
    /// Inverse frequencies `θ_i = rope_theta^(-2i/d)` of `cfg` on `dev`.
    pub fn new(cfg: &Config, dev: &Device) -> Result<Self> {
        let d = cfg.head_dim;
        let inv: Vec<f32> = (0..d / 2)
            .map(|i| 1.0 / (cfg.rope_theta as f32).powf((2 * i) as f32 / d as f32))
            .collect();
        Ok(Self {
            inv_freq: Tensor::from_vec(inv, (1, d / 2), dev)?,
        })
    }

    /// `cos`, `sin` tables `[B, 1, T, d/2]` for positions `[B, T]` (u32/i64).
    pub fn tables(&self, positions: &Tensor, dtype: DType) -> Result<(Tensor, Tensor)> {
        let (b, t) = positions.dims2()?;
        let p = positions
            .to_dtype(DType::F32)?
            .reshape((b * t, 1))?
            .broadcast_mul(&self.inv_freq)?;
        let half = self.inv_freq.dim(1)?;
        let cos = p.cos()?.reshape((b, 1, t, half))?.to_dtype(dtype)?;
        let sin = p.sin()?.reshape((b, 1, t, half))?.to_dtype(dtype)?;
        Ok((cos, sin))
    }

    /// Applies the rotation to `x: [B, heads, T, d]`.
    pub fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let d = x.dim(D::Minus1)?;
        let x1 = x.narrow(D::Minus1, 0, d / 2)?;
        let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
        let y1 = (x1.broadcast_mul(cos)? - x2.broadcast_mul(sin)?)?;
        let y2 = (x2.broadcast_mul(cos)? + x1.broadcast_mul(sin)?)?;
        Tensor::cat(&[y1, y2], D::Minus1)
    }
}

/// Differentiable softmax over the last dimension: `exp(s − max s) / Σ exp(s − max s)`.
pub fn softmax_last_dim(s: &Tensor) -> Result<Tensor> {
    let m = s.max_keepdim(D::Minus1)?.detach();
    let e = s.broadcast_sub(&m)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Multi-head attention with grouped key/value heads.
#[derive(Debug, Clone)]
pub struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    /// `x: [B, T, H]`; `bias: [B, 1, T, S]` additive (0 / large negative) over all `S` keys
    /// (cached + new). Appends the new keys/values to `cache` when given.
    pub fn forward(
        &self,
        x: &Tensor,
        ctx: &Ctx,
        cache: Option<&mut super::kv_cache::LayerCache>,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let d = self.head_dim;
        let q = self
            .q
            .forward(x)?
            .reshape((b, t, self.heads, d))?
            .transpose(1, 2)?;
        let k = self
            .k
            .forward(x)?
            .reshape((b, t, self.kv_heads, d))?
            .transpose(1, 2)?;
        let v = self
            .v
            .forward(x)?
            .reshape((b, t, self.kv_heads, d))?
            .transpose(1, 2)?
            .contiguous()?;
        let scale = 1.0 / (d as f64).sqrt();
        let (q, k) = match &ctx.fused {
            Some(f) => {
                let rot = |x: &Tensor, sc: f64| {
                    x.contiguous()?.apply_op1(RotaryOp {
                        cos: f.cos.clone(),
                        sin: f.sin.clone(),
                        sign: 1.0,
                        scale: sc as f32,
                    })
                };
                (rot(&q, scale)?, rot(&k, 1.0)?)
            }
            None => (
                Rotary::apply(&q.contiguous()?, &ctx.cos, &ctx.sin)?,
                Rotary::apply(&k.contiguous()?, &ctx.cos, &ctx.sin)?,
            ),
        };
        let (k, v) = match cache {
            Some(c) => c.append(&k, &v)?,
            None => (k, v),
        };
        if let (Some(f), true) = (&ctx.fused, ctx.inference) {
            let op = DecodeAttentionOp {
                bias: f.bias.clone(),
            };
            return self.o.forward(&q.apply_op3_no_bwd(&k, &v, &op)?);
        }
        let s = k.dim(2)?;
        let rep = self.heads / self.kv_heads;
        // group query heads by their kv head: [B, kvh, rep*T, d]
        let q = q.reshape((b, self.kv_heads, rep * t, d))?;
        let scores = q.matmul(&k.t()?)?;
        let p = match &ctx.fused {
            Some(f) => scores
                .reshape((b, self.heads, t, s))?
                .apply_op1(MaskedSoftmaxOp {
                    bias: f.bias.clone(),
                    t,
                })?
                .reshape((b, self.kv_heads, rep * t, s))?,
            None => {
                let scores = scores
                    .affine(scale, 0.0)?
                    .reshape((b, self.kv_heads, rep, t, s))?
                    .broadcast_add(&ctx.bias.unsqueeze(1)?.to_dtype(scores.dtype())?)?;
                softmax_last_dim(&scores.to_dtype(DType::F32)?)?
                    .to_dtype(v.dtype())?
                    .reshape((b, self.kv_heads, rep * t, s))?
            }
        };
        let y = p.matmul(&v)?; // [B, kvh, rep*T, d]
        let y = y
            .reshape((b, self.heads, t, d))?
            .transpose(1, 2)?
            .reshape((b, t, self.heads * d))?;
        self.o.forward(&y)
    }
}

/// SwiGLU MLP: `down(silu(gate(x)) · up(x))`.
#[derive(Debug, Clone)]
pub struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    /// `down(silu(gate(x)) · up(x))`; `fused` selects the f32 CPU kernel when applicable.
    pub fn forward(&self, x: &Tensor, fused: bool) -> Result<Tensor> {
        let g = self.gate.forward(x)?;
        let u = self.up.forward(x)?;
        if fused && fused_ok(&g) {
            return self.down.forward(&g.apply_op2(&u, SwiGluOp)?);
        }
        // silu(g) = g · sigmoid(g); candle's unary silu records its backward
        self.down.forward(&(g.silu()? * u)?)
    }
}

/// One pre-norm decoder block: `x + attn(norm1(x))`, then `+ mlp(norm2(·))`.
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    norm1: RmsNorm,
    attn: Attention,
    norm2: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    fn forward(
        &self,
        x: &Tensor,
        ctx: &Ctx,
        cache: Option<&mut super::kv_cache::LayerCache>,
    ) -> Result<Tensor> {
        let f = ctx.fused.is_some();
        let h = (x + self.attn.forward(&self.norm1.forward(x, f)?, ctx, cache)?)?;
        &h + self.mlp.forward(&self.norm2.forward(&h, f)?, f)?
    }
}

/// Per-forward inputs shared by all layers: rotary tables `[B, 1, T, d/2]`, the additive
/// attention bias `[B, 1, T, S]`, and their flat copies for the fused f32 CPU kernels.
pub struct Ctx {
    cos: Tensor,
    sin: Tensor,
    bias: Tensor,
    fused: Option<FusedCtx>,
    /// No graph is recorded (an inference model): attention may use the one-pass
    /// [`DecodeAttentionOp`], which has no backward.
    inference: bool,
}

struct FusedCtx {
    cos: Arc<Vec<f32>>,
    sin: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
}

/// Additive mask value for disallowed attention entries (finite, so fully padded rows stay
/// NaN-free).
pub const MASK_VALUE: f32 = -1e9;

/// The causal additive bias `[B, 1, T, past + T]` for `T` new tokens after `past` cached ones.
pub fn causal_bias(b: usize, t: usize, past: usize, dev: &Device) -> Result<Tensor> {
    let s = past + t;
    let v: Vec<f32> = (0..t)
        .flat_map(|i| (0..s).map(move |j| if j <= past + i { 0.0 } else { MASK_VALUE }))
        .collect();
    Tensor::from_vec(v, (1, 1, t, s), dev)?.broadcast_as((b, 1, t, s))
}

/// The attention bias of one forward over `ids [B, T]` after `past` cached positions: the
/// given one, or [`causal_bias`]; an error when `past + T` exceeds the model context.
pub fn forward_bias(
    cfg: &Config,
    ids: &Tensor,
    attn_bias: Option<&Tensor>,
    past: usize,
) -> Result<Tensor> {
    let (b, t) = ids.dims2()?;
    if past + t > cfg.max_position_embeddings {
        candle_core::bail!(
            "sequence of {} tokens exceeds the model context of {} (max_position_embeddings)",
            past + t,
            cfg.max_position_embeddings
        );
    }
    match attn_bias {
        Some(x) => Ok(x.clone()),
        None => causal_bias(b, t, past, ids.device()),
    }
}

/// The decoder-only transformer (llama / qwen2 families).
#[derive(Debug, Clone)]
pub struct Transformer {
    cfg: Config,
    embed: Tensor,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Tensor,
    /// Contiguous `lm_headᵀ` for inference models.
    lm_head_t: Option<Tensor>,
    rotary: Rotary,
    dtype: DType,
    fused: bool,
    /// Built by [`Transformer::new_inference`] (every weight detached).
    inference: bool,
}

impl Transformer {
    /// Builds the model over the parameters in `params` (HF names, see
    /// [`Config::param_shapes`]), computing in `dtype` (F32, or BF16/F16 with f32 master
    /// weights). Trainable parameters are tracked: `backward()` of a loss reaches their `Var`s;
    /// frozen ones are detached (no gradient work). With a non-f32 `dtype` the weights are cast
    /// copies: rebuild the model after each optimizer step.
    pub fn new(cfg: &Config, params: &ParamStore, dtype: DType) -> Result<Self> {
        Self::build(cfg, params, dtype, true)
    }

    /// Like [`Transformer::new`] in f32, with the products of every projection (attention and
    /// MLP; not the output head) in bf16, f32-accumulated, forward and backward
    /// ([`crate::policy::bf16_linear`]): `[model] dtype = "bf16"` on a CPU with AVX512-BF16.
    /// Fails on a CPU without it (the reference loop would be far slower than f32).
    pub fn new_bf16_projections(cfg: &Config, params: &ParamStore) -> Result<Self> {
        if !super::bf16_linear::available() {
            candle_core::bail!(
                "bf16 projections need a CPU with AVX512-BF16 (this one lacks it); use dtype \"f32\""
            );
        }
        let mut m = Self::build(cfg, params, DType::F32, true)?;
        for l in &mut m.layers {
            for lin in [
                &mut l.attn.q,
                &mut l.attn.k,
                &mut l.attn.v,
                &mut l.attn.o,
                &mut l.mlp.gate,
                &mut l.mlp.up,
                &mut l.mlp.down,
            ] {
                lin.bf16 = lin.lora.is_none();
            }
        }
        Ok(m)
    }

    /// Like [`Transformer::new`] but with every weight detached (inference / sampling: no graph
    /// is recorded) and the projection matrices kept as contiguous transposed copies (faster
    /// gemm for small batches). The copies do not follow optimizer updates: rebuild the
    /// inference model after each optimizer step (a copy of the weights, well under a second).
    pub fn new_inference(cfg: &Config, params: &ParamStore, dtype: DType) -> Result<Self> {
        Self::build(cfg, params, dtype, false)
    }

    fn build(cfg: &Config, params: &ParamStore, dtype: DType, track: bool) -> Result<Self> {
        let p = |n: &str| param(params, n, dtype, track);
        let embed = p("model.embed_tokens.weight")?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let pre = format!("model.layers.{i}");
            let lin = |n: &str, bias: bool| {
                Linear::load(params, &format!("{pre}.{n}"), bias, dtype, track)
            };
            layers.push(DecoderLayer {
                norm1: RmsNorm {
                    w: p(&format!("{pre}.input_layernorm.weight"))?,
                    eps: cfg.rms_norm_eps,
                },
                attn: Attention {
                    q: lin("self_attn.q_proj", cfg.attention_bias)?,
                    k: lin("self_attn.k_proj", cfg.attention_bias)?,
                    v: lin("self_attn.v_proj", cfg.attention_bias)?,
                    o: lin("self_attn.o_proj", false)?,
                    heads: cfg.num_attention_heads,
                    kv_heads: cfg.num_key_value_heads,
                    head_dim: cfg.head_dim,
                },
                norm2: RmsNorm {
                    w: p(&format!("{pre}.post_attention_layernorm.weight"))?,
                    eps: cfg.rms_norm_eps,
                },
                mlp: Mlp {
                    gate: lin("mlp.gate_proj", false)?,
                    up: lin("mlp.up_proj", false)?,
                    down: lin("mlp.down_proj", false)?,
                },
            });
        }
        let lm_head = if cfg.tie_word_embeddings {
            embed.clone()
        } else {
            p("lm_head.weight")?
        };
        let lm_head_t = if track {
            None
        } else {
            Some(lm_head.t()?.contiguous()?)
        };
        Ok(Self {
            cfg: cfg.clone(),
            lm_head_t,
            norm: RmsNorm {
                w: p("model.norm.weight")?,
                eps: cfg.rms_norm_eps,
            },
            rotary: Rotary::new(cfg, embed.device())?,
            embed,
            layers,
            lm_head,
            dtype,
            fused: true,
            inference: !track,
        })
    }

    /// Selects the fused f32 CPU kernels (`ops.rs`, the default) or the plain primitive-op
    /// formulas (used anyway for other dtypes/devices; kept selectable for tests).
    pub fn with_fused_kernels(mut self, on: bool) -> Self {
        self.fused = on;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device holding the weights.
    pub fn device(&self) -> &Device {
        self.embed.device()
    }

    /// The output projection `[V, H]` (the embedding matrix when tied).
    pub fn lm_head_weight(&self) -> &Tensor {
        &self.lm_head
    }

    /// Final hidden states `[B, T, H]` (after the final norm) for token ids `[B, T]` (u32) at
    /// `positions` `[B, T]` (u32). `attn_bias` is an additive `[B, 1, T, past + T]` mask; `None`
    /// means causal without padding. With `cache`, keys/values of the new tokens are appended
    /// and attention covers the cached ones (`past = cache.len()`).
    pub fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        attn_bias: Option<&Tensor>,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let past = cache.as_ref().map(|c| c.len()).unwrap_or(0);
        let bias = forward_bias(&self.cfg, ids, attn_bias, past)?;
        let (cos, sin) = self.rotary.tables(positions, self.dtype)?;
        let fused = if self.fused && fused_ok(&self.embed) {
            Some(FusedCtx {
                cos: Arc::new(cos.flatten_all()?.to_vec1()?),
                sin: Arc::new(sin.flatten_all()?.to_vec1()?),
                bias: Arc::new(bias.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?),
            })
        } else {
            None
        };
        let ctx = Ctx {
            cos,
            sin,
            bias,
            fused,
            inference: self.inference,
        };
        let mut x = self.embed.index_select(&ids.flatten_all()?, 0)?.reshape((
            b,
            t,
            self.cfg.hidden_size,
        ))?;
        for (i, layer) in self.layers.iter().enumerate() {
            let lc = cache.as_mut().map(|c| c.layer_mut(i));
            x = layer.forward(&x, &ctx, lc)?;
        }
        if let Some(c) = cache.as_mut() {
            c.advance(t);
        }
        self.norm.forward(&x, self.fused)
    }

    /// Full-vocabulary logits `hidden · Wᵀ` in f32 for hidden states `[.., H]`. Use only for few
    /// positions (e.g. the last one); the scorer never materialises all of them.
    pub fn lm_head(&self, hidden: &Tensor) -> Result<Tensor> {
        let dims = hidden.dims().to_vec();
        let h = *dims.last().unwrap_or(&0);
        let rows = hidden.elem_count() / h.max(1);
        let x = hidden.reshape((rows, h))?;
        let y = match &self.lm_head_t {
            Some(wt) => x.matmul(wt)?,
            None => x.matmul(&self.lm_head.t()?)?,
        }
        .to_dtype(DType::F32)?;
        let mut out = dims;
        *out.last_mut().unwrap() = self.cfg.vocab_size;
        y.reshape(out)
    }

    /// Convenience: logits `[B, T, V]` for unpadded rows `ids [B, T]` at positions `0..T`.
    pub fn logits(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let pos = Tensor::arange(0u32, t as u32, ids.device())?
            .unsqueeze(0)?
            .broadcast_as((b, t))?
            .contiguous()?;
        let h = self.forward(ids, &pos, None, None)?;
        self.lm_head(&h)
    }
}
