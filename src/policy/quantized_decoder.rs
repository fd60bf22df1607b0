//! The transformer for decoding from reduced-precision weights: every projection matrix
//! (q, k, v, o, gate, up, down and the output head) is held in bf16 (our own kernel,
//! [`crate::policy::bf16_matmul`], which also rounds the activations entering each projection
//! to bf16), or as a candle [`QMatMul`] over a [`QTensor`] in f16 or a GGML block format (q8_0,
//! or a GGUF file's own q4_1, q4_k, …); the embedding table, norms, biases, rotary tables,
//! attention and the KV cache stay f32.
//! Same formulas as [`crate::policy::model`] (and its fused f32 CPU kernels), so with f32
//! weights it computes the same logits; no graph, no gradients (sampling only).
//!
//! The weights come from the f32 training parameters ([`QuantizedTransformer::from_params`],
//! refreshed after each optimizer step) or straight from a GGUF file without dequantizing
//! ([`QuantizedTransformer::from_gguf`]).
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor, D};

use super::bf16_matmul::Bf16Matrix;
use super::decode_attention::DecodeAttentionOp;
use super::kv_cache::{KvCache, LayerCache};
use super::model::{forward_bias, Config, Family};
use super::ops::{RmsNormOp, RotaryOp, SwiGluOp};
use super::params::ParamStore;
use super::transformer_decoder::DecodingModel;
use super::weights::gguf_to_hf_name;

/// A projection matrix: a candle [`QMatMul`] (f32, f16, GGML blocks), or bf16 with our own
/// kernel ([`Bf16Matrix`]: candle's bf16 CPU matmul is several times slower than f32).
#[derive(Debug, Clone)]
enum Matrix {
    Q(QMatMul),
    Bf16(Arc<Bf16Matrix>),
}

impl Matrix {
    /// `x [rows, k] · Wᵀ`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Matrix::Q(q) => q.forward(x),
            Matrix::Bf16(w) => {
                let rows = x.dim(0)?;
                let xs: Vec<f32> = x.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
                let y = w.matmul(&xs, rows).map_err(candle_core::Error::Msg)?;
                Tensor::from_vec(y, (rows, w.rows()), x.device())
            }
        }
    }
}

/// A projection `y = x·Wᵀ (+ b)`.
#[derive(Debug, Clone)]
struct QLinear {
    w: Matrix,
    b: Option<Tensor>,
}

impl QLinear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let inner = *dims.last().unwrap_or(&0);
        let rows = x.elem_count() / inner.max(1);
        let mut y = self.w.forward(&x.reshape((rows, inner))?.contiguous()?)?;
        if let Some(b) = &self.b {
            y = y.broadcast_add(b)?;
        }
        let mut out = dims;
        *out.last_mut().unwrap() = y.dim(1)?;
        y.reshape(out)
    }
}

#[derive(Debug, Clone)]
struct QLayer {
    norm1: Tensor,
    q: QLinear,
    k: QLinear,
    v: QLinear,
    o: QLinear,
    norm2: Tensor,
    gate: QLinear,
    up: QLinear,
    down: QLinear,
}

/// Where the matrices come from: a name (HF naming) → its weight as a [`QTensor`], the f32
/// tensors (norms, biases, embedding) → plain tensors.
trait WeightSource {
    fn matrix(&mut self, name: &str) -> Result<Matrix>;
    fn tensor(&mut self, name: &str) -> Result<Tensor>;
}

/// The decoding transformer with reduced-precision projection matrices.
#[derive(Debug, Clone)]
pub struct QuantizedTransformer {
    cfg: Config,
    embed: Tensor,
    layers: Vec<QLayer>,
    norm: Tensor,
    lm_head: Matrix,
    /// `θ^(-2i/d)` for `i < d/2`.
    inv_freq: Vec<f32>,
    weights: GgmlDType,
}

/// Wraps a [`QTensor`] without candle's automatic dequantization of f16/bf16 (which would
/// make `QMatMul::from_qtensor` keep an f32 copy and read full-size weights).
fn qmatmul(q: QTensor) -> QMatMul {
    match q.dtype() {
        GgmlDType::F32 => match q.dequantize(&Device::Cpu) {
            Ok(t) => QMatMul::Tensor(t),
            Err(_) => QMatMul::QTensor(Arc::new(q)),
        },
        _ => QMatMul::QTensor(Arc::new(q)),
    }
}

struct FromParams<'a> {
    params: &'a ParamStore,
    dtype: GgmlDType,
}

impl WeightSource for FromParams<'_> {
    fn matrix(&mut self, name: &str) -> Result<Matrix> {
        let t = self.tensor(name)?;
        let cols = t.dim(D::Minus1)?;
        match self.dtype {
            GgmlDType::F32 => return Ok(Matrix::Q(QMatMul::Tensor(t))),
            GgmlDType::BF16 => {
                let (n, k) = t.dims2()?;
                let w = Bf16Matrix::from_f32(&t.flatten_all()?.to_vec1()?, n, k)
                    .map_err(candle_core::Error::Msg)?;
                return Ok(Matrix::Bf16(Arc::new(w)));
            }
            _ => {}
        }
        if cols % self.dtype.block_size() != 0 {
            candle_core::bail!(
                "{name}: {cols} columns is not a multiple of the {:?} block size {}; \
                 use sampling weights \"f32\" for this model",
                self.dtype,
                self.dtype.block_size()
            );
        }
        Ok(Matrix::Q(qmatmul(QTensor::quantize(&t, self.dtype)?)))
    }
    fn tensor(&mut self, name: &str) -> Result<Tensor> {
        let v = self
            .params
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("missing parameter {name}")))?;
        v.as_tensor().detach().to_dtype(DType::F32)
    }
}

struct FromGguf {
    file: std::fs::File,
    content: gguf_file::Content,
    /// HF name → GGUF name.
    names: HashMap<String, String>,
    heads: usize,
    kv_heads: usize,
    family: Family,
}

impl FromGguf {
    fn read(&mut self, name: &str) -> Result<QTensor> {
        let g = self
            .names
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("GGUF file lacks tensor {name}")))?;
        let q = self.content.tensor(&mut self.file, g, &Device::Cpu)?;
        // llama.cpp permutes the rows of Q and K for its interleaved rotary; undo it on the
        // raw rows (a row is whole quantization blocks, so rows move without re-quantizing)
        let n_head = match (self.family, name) {
            (Family::Llama, n) if n.contains("q_proj") => self.heads,
            (Family::Llama, n) if n.contains("k_proj") => self.kv_heads,
            _ => return Ok(q),
        };
        unpermute_rows(&q, n_head)
    }
}

/// [`crate::policy::weights::unpermute_qk`] on the raw rows of a (quantized) matrix.
fn unpermute_rows(q: &QTensor, n_head: usize) -> Result<QTensor> {
    let dims = q.shape().dims().to_vec();
    let rows = dims[0];
    let data = q.data()?;
    let row_bytes = data.len() / rows;
    let per_head = rows / n_head;
    let half = per_head / 2;
    let mut out = vec![0u8; data.len()];
    for h in 0..n_head {
        for i in 0..half {
            for j in 0..2 {
                let old = h * per_head + i * 2 + j;
                let new = h * per_head + j * half + i;
                out[new * row_bytes..(new + 1) * row_bytes]
                    .copy_from_slice(&data[old * row_bytes..(old + 1) * row_bytes]);
            }
        }
    }
    let storage = QStorage::from_data(std::borrow::Cow::Owned(out), &Device::Cpu, q.dtype())?;
    QTensor::new(storage, dims)
}

impl WeightSource for FromGguf {
    fn matrix(&mut self, name: &str) -> Result<Matrix> {
        Ok(Matrix::Q(qmatmul(self.read(name)?)))
    }
    fn tensor(&mut self, name: &str) -> Result<Tensor> {
        self.read(name)?
            .dequantize(&Device::Cpu)?
            .to_dtype(DType::F32)
    }
}

impl QuantizedTransformer {
    /// Quantizes the current (f32) parameters to `dtype` (`F16`, `BF16`, `Q8_0`, … or `F32`
    /// for a plain copy). LoRA adapters are not supported here.
    pub fn from_params(cfg: &Config, params: &ParamStore, dtype: GgmlDType) -> Result<Self> {
        if params.lora_scale().is_some() {
            candle_core::bail!(
                "reduced-precision sampling weights do not support LoRA adapters yet; \
                 use sampling weights \"f32\""
            );
        }
        Self::build(cfg, &mut FromParams { params, dtype }, dtype)
    }

    /// Reads the matrices of a GGUF file as they are stored (no dequantization); `cfg` is the
    /// file's configuration (from [`crate::policy::weights::load_params`] or
    /// [`crate::policy::weights::load_gguf`]).
    pub fn from_gguf(cfg: &Config, path: &Path) -> Result<Self> {
        let mut file = std::fs::File::open(path)
            .map_err(|e| candle_core::Error::Msg(format!("{}: {e}", path.display())))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| {
            candle_core::Error::Msg(format!("{}: not a GGUF file: {e}", path.display()))
        })?;
        let names = content
            .tensor_infos
            .keys()
            .filter_map(|g| gguf_to_hf_name(g).map(|h| (h, g.clone())))
            .collect();
        let dtype = content
            .tensor_infos
            .get("blk.0.ffn_down.weight")
            .map(|i| i.ggml_dtype)
            .unwrap_or(GgmlDType::F32);
        let mut src = FromGguf {
            file,
            content,
            names,
            heads: cfg.num_attention_heads,
            kv_heads: cfg.num_key_value_heads,
            family: cfg.family,
        };
        Self::build(cfg, &mut src, dtype)
    }

    fn build(cfg: &Config, src: &mut dyn WeightSource, weights: GgmlDType) -> Result<Self> {
        let embed = src.tensor("model.embed_tokens.weight")?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let pre = format!("model.layers.{i}");
            let mut lin = |n: &str, bias: bool| -> Result<QLinear> {
                Ok(QLinear {
                    w: src.matrix(&format!("{pre}.{n}.weight"))?,
                    b: if bias {
                        Some(src.tensor(&format!("{pre}.{n}.bias"))?)
                    } else {
                        None
                    },
                })
            };
            let q = lin("self_attn.q_proj", cfg.attention_bias)?;
            let k = lin("self_attn.k_proj", cfg.attention_bias)?;
            let v = lin("self_attn.v_proj", cfg.attention_bias)?;
            let o = lin("self_attn.o_proj", false)?;
            let gate = lin("mlp.gate_proj", false)?;
            let up = lin("mlp.up_proj", false)?;
            let down = lin("mlp.down_proj", false)?;
            layers.push(QLayer {
                norm1: src.tensor(&format!("{pre}.input_layernorm.weight"))?,
                norm2: src.tensor(&format!("{pre}.post_attention_layernorm.weight"))?,
                q,
                k,
                v,
                o,
                gate,
                up,
                down,
            });
        }
        let head_name = if cfg.tie_word_embeddings {
            "model.embed_tokens.weight"
        } else {
            "lm_head.weight"
        };
        Ok(Self {
            cfg: cfg.clone(),
            lm_head: src.matrix(head_name)?,
            norm: src.tensor("model.norm.weight")?,
            inv_freq: (0..cfg.head_dim / 2)
                .map(|i| 1.0 / (cfg.rope_theta as f32).powf((2 * i) as f32 / cfg.head_dim as f32))
                .collect(),
            embed,
            layers,
            weights,
        })
    }

    /// The storage type of the projection matrices.
    pub fn weights_dtype(&self) -> GgmlDType {
        self.weights
    }

    fn rms(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op2(
            w,
            RmsNormOp {
                eps: self.cfg.rms_norm_eps,
            },
        )
    }

    fn attention(
        &self,
        l: &QLayer,
        x: &Tensor,
        rot: &(Arc<Vec<f32>>, Arc<Vec<f32>>),
        bias: &Arc<Vec<f32>>,
        cache: Option<&mut LayerCache>,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let c = &self.cfg;
        let d = c.head_dim;
        let (heads, kvh) = (c.num_attention_heads, c.num_key_value_heads);
        let q = l.q.forward(x)?.reshape((b, t, heads, d))?.transpose(1, 2)?;
        let k = l.k.forward(x)?.reshape((b, t, kvh, d))?.transpose(1, 2)?;
        let v =
            l.v.forward(x)?
                .reshape((b, t, kvh, d))?
                .transpose(1, 2)?
                .contiguous()?;
        let scale = 1.0 / (d as f64).sqrt();
        let rope = |x: &Tensor, sc: f64| {
            x.contiguous()?.apply_op1(RotaryOp {
                cos: rot.0.clone(),
                sin: rot.1.clone(),
                sign: 1.0,
                scale: sc as f32,
            })
        };
        let (q, k) = (rope(&q, scale)?, rope(&k, 1.0)?);
        let (k, v) = match cache {
            Some(c) => c.append(&k, &v)?,
            None => (k, v),
        };
        let y = q.apply_op3_no_bwd(&k, &v, &DecodeAttentionOp { bias: bias.clone() })?;
        l.o.forward(&y)
    }
}

impl DecodingModel for QuantizedTransformer {
    fn config(&self) -> &Config {
        &self.cfg
    }

    fn device(&self) -> &Device {
        self.embed.device()
    }

    fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        attn_bias: Option<&Tensor>,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let past = cache.as_ref().map(|c| c.len()).unwrap_or(0);
        let bias = forward_bias(&self.cfg, ids, attn_bias, past)?;
        // rotary tables [B, T, d/2] as in `Rotary::tables`
        let pos: Vec<u32> = positions.flatten_all()?.to_dtype(DType::U32)?.to_vec1()?;
        let mut cos = Vec::with_capacity(pos.len() * self.inv_freq.len());
        let mut sin = Vec::with_capacity(cos.capacity());
        for &p in &pos {
            for &f in &self.inv_freq {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        let rot = (Arc::new(cos), Arc::new(sin));
        let bias = Arc::new(bias.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?);
        let mut x = self.embed.index_select(&ids.flatten_all()?, 0)?.reshape((
            b,
            t,
            self.cfg.hidden_size,
        ))?;
        for (i, l) in self.layers.iter().enumerate() {
            let lc = cache.as_mut().map(|c| c.layer_mut(i));
            let h = (&x + self.attention(l, &self.rms(&x, &l.norm1)?, &rot, &bias, lc)?)?;
            let n = self.rms(&h, &l.norm2)?;
            let g = l.gate.forward(&n)?;
            let u = l.up.forward(&n)?;
            x = (&h
                + l.down
                    .forward(&g.contiguous()?.apply_op2(&u.contiguous()?, SwiGluOp)?)?)?;
        }
        if let Some(c) = cache.as_mut() {
            c.advance(t);
        }
        self.rms(&x, &self.norm)
    }

    fn lm_head(&self, hidden: &Tensor) -> Result<Tensor> {
        let dims = hidden.dims().to_vec();
        let h = *dims.last().unwrap_or(&0);
        let rows = hidden.elem_count() / h.max(1);
        let y = self
            .lm_head
            .forward(&hidden.reshape((rows, h))?.contiguous()?)?;
        let mut out = dims;
        *out.last_mut().unwrap() = self.cfg.vocab_size;
        y.reshape(out)
    }
}
