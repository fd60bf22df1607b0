//! [`Decoder`] for the [`Transformer`]: batched incremental decoding with a KV cache. Rows of
//! different lengths are left-padded; each row keeps its own positions (`0..len`) and padded
//! key columns are masked, so a row's logits do not depend on the other rows. Only the last
//! position goes through the output projection.
use candle_core::{Device, Result, Tensor};

use super::decoder::Decoder;
use super::kv_cache::KvCache;
use super::model::{Config, Transformer, MASK_VALUE};

/// What [`PolicyDecoder`] needs of a model: the f32 [`Transformer`], or the reduced-precision
/// [`crate::policy::quantized_decoder::QuantizedTransformer`].
pub trait DecodingModel: Send {
    /// The configuration.
    fn config(&self) -> &Config;
    /// The device holding the weights.
    fn device(&self) -> &Device;
    /// Final hidden states, as [`Transformer::forward`].
    fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        attn_bias: Option<&Tensor>,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor>;
    /// f32 logits, as [`Transformer::lm_head`].
    fn lm_head(&self, hidden: &Tensor) -> Result<Tensor>;
}

impl DecodingModel for Transformer {
    fn config(&self) -> &Config {
        Transformer::config(self)
    }
    fn device(&self) -> &Device {
        Transformer::device(self)
    }
    fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        attn_bias: Option<&Tensor>,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        Transformer::forward(self, ids, positions, attn_bias, cache)
    }
    fn lm_head(&self, hidden: &Tensor) -> Result<Tensor> {
        Transformer::lm_head(self, hidden)
    }
}

/// Decoding state for one batch. Build the model with `Transformer::new_inference` (weights
/// detached, no graph recorded) and rebuild it after optimizer steps; a model from
/// `Transformer::new` also works but records (and drops) a graph at each step.
pub struct PolicyDecoder<M: DecodingModel = Transformer> {
    model: M,
    cache: KvCache,
    pad: Vec<usize>,
    next_pos: Vec<u32>,
}

impl<M: DecodingModel> PolicyDecoder<M> {
    /// A decoder over `model`.
    pub fn new(model: M) -> Self {
        let n = model.config().num_hidden_layers;
        Self {
            model,
            cache: KvCache::new(n),
            pad: vec![],
            next_pos: vec![],
        }
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Columns in the cache (longest prompt + generated steps).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    fn last_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let t = hidden.dim(1)?;
        let last = hidden.narrow(1, t - 1, 1)?.squeeze(1)?;
        self.model.lm_head(&last)?.detach().contiguous()
    }
}

impl<M: DecodingModel> Decoder for PolicyDecoder<M> {
    fn vocab_size(&self) -> usize {
        self.model.config().vocab_size
    }

    fn prefill(&mut self, prompts: &[Vec<u32>]) -> Result<Tensor> {
        crate::util::on_rayon_worker(|| self.prefill_here(prompts))
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Tensor> {
        crate::util::on_rayon_worker(|| self.step_here(tokens))
    }
}

impl<M: DecodingModel> PolicyDecoder<M> {
    fn prefill_here(&mut self, prompts: &[Vec<u32>]) -> Result<Tensor> {
        if prompts.is_empty() {
            candle_core::bail!("prefill: no prompts");
        }
        if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
            candle_core::bail!("prefill: prompt {i} is empty");
        }
        let vocab = self.vocab_size() as u32;
        if let Some(bad) = prompts.iter().flatten().find(|&&t| t >= vocab) {
            candle_core::bail!("prefill: token id {bad} is outside the vocabulary of {vocab}");
        }
        let ctx = self.model.config().max_position_embeddings;
        let l = prompts.iter().map(|p| p.len()).max().unwrap_or(0);
        if l > ctx {
            candle_core::bail!(
                "prompt of {l} tokens exceeds the model context of {ctx} tokens; shorten the prompt"
            );
        }
        let b = prompts.len();
        self.cache.clear();
        self.pad = prompts.iter().map(|p| l - p.len()).collect();
        self.next_pos = prompts.iter().map(|p| p.len() as u32).collect();
        let mut ids = Vec::with_capacity(b * l);
        let mut pos = Vec::with_capacity(b * l);
        let mut bias = Vec::with_capacity(b * l * l);
        for (p, &pad) in prompts.iter().zip(&self.pad) {
            ids.extend(std::iter::repeat_n(0u32, pad));
            ids.extend_from_slice(p);
            pos.extend((0..l).map(|j| j.saturating_sub(pad) as u32));
            for i in 0..l {
                bias.extend((0..l).map(|j| {
                    if j <= i && (j >= pad || j == i) {
                        0.0f32
                    } else {
                        MASK_VALUE
                    }
                }));
            }
        }
        let dev = self.model.device().clone();
        let ids = Tensor::from_vec(ids, (b, l), &dev)?;
        let pos = Tensor::from_vec(pos, (b, l), &dev)?;
        let bias = Tensor::from_vec(bias, (b, 1, l, l), &dev)?;
        let h = self
            .model
            .forward(&ids, &pos, Some(&bias), Some(&mut self.cache))?;
        self.last_logits(&h)
    }

    fn step_here(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let b = self.pad.len();
        if b == 0 {
            candle_core::bail!("step called before prefill");
        }
        if tokens.len() != b {
            candle_core::bail!("step: got {} tokens for a batch of {b} rows", tokens.len());
        }
        let vocab = self.vocab_size() as u32;
        if let Some(bad) = tokens.iter().find(|&&t| t >= vocab) {
            candle_core::bail!("step: token id {bad} is outside the vocabulary of {vocab}");
        }
        let s = self.cache.len() + 1;
        let ctx = self.model.config().max_position_embeddings;
        if s > ctx {
            candle_core::bail!("generation reached the model context of {ctx} tokens");
        }
        let dev: Device = self.model.device().clone();
        let ids = Tensor::from_vec(tokens.to_vec(), (b, 1), &dev)?;
        let pos = Tensor::from_vec(self.next_pos.clone(), (b, 1), &dev)?;
        let bias: Vec<f32> = self
            .pad
            .iter()
            .flat_map(|&pad| (0..s).map(move |j| if j < pad { MASK_VALUE } else { 0.0 }))
            .collect();
        let bias = Tensor::from_vec(bias, (b, 1, 1, s), &dev)?;
        let h = self
            .model
            .forward(&ids, &pos, Some(&bias), Some(&mut self.cache))?;
        for p in &mut self.next_pos {
            *p += 1;
        }
        self.last_logits(&h)
    }
}
