//! The real policy behind the trainer's [`Policy`] trait: the candle transformer, its
//! tokenizer + chat template, the batched sampler and the chunked differentiable scorer.
use anyhow::{Context, Result};
use candle_core::{DType, Var};

use super::traits::{Policy, Rollout, SamplingParams, ScoreItem, ScoreOut};
use crate::policy::gguf_tokenizer::GgufPreTokenizer;
use crate::policy::lora::{self, LoraConfig};
use crate::policy::model::{Config, Transformer};
use crate::policy::model_text::ModelText;
use crate::policy::params::ParamStore;
use crate::policy::sampler::{self, FinishReason};
use crate::policy::sampling_weights::{SamplerCache, SamplingWeights};
use crate::policy::scorer::score_completions;
use crate::policy::spec::{resolve, HubOptions};
use crate::policy::stop::stop_token_ids;
use crate::policy::tokenizer::check_vocab;
use crate::policy::transformer_decoder::PolicyDecoder;
use crate::prompt::source::Prompt;

/// A transformer policy with f32 master weights (full fine-tuning or LoRA) and a frozen copy of
/// the initial weights as the KL reference.
pub struct TransformerPolicy {
    cfg: Config,
    params: ParamStore,
    reference: Option<Transformer>,
    text: ModelText,
    chat: bool,
    dtype: DType,
    sampling_weights: SamplingWeights,
    sampler: SamplerCache,
    /// The model file when it is a `.gguf` (for `SamplingWeights::Gguf`).
    gguf: Option<std::path::PathBuf>,
}

impl TransformerPolicy {
    /// Loads `spec` (HF dir, `.gguf`, `hf:ORG/NAME`). `lora_rank > 0` trains adapters only.
    pub fn load(
        spec: &str,
        chat: bool,
        lora_rank: usize,
        lora_alpha: f64,
        with_reference: bool,
    ) -> Result<Self> {
        let resolved = resolve(spec, &HubOptions::from_env())
            .with_context(|| format!("resolving model {spec}"))?;
        let text = ModelText::load(&resolved, GgufPreTokenizer::FromMetadata)?;
        let wpath = resolved.weights_path();
        let gguf = (wpath.extension().and_then(|e| e.to_str()) == Some("gguf"))
            .then(|| wpath.to_path_buf());
        let (cfg, mut params) = crate::policy::weights::load_params(wpath)?;
        check_vocab(&text.tokenizer, cfg.vocab_size)?;
        let reference = if with_reference {
            Some(Transformer::new_inference(&cfg, &params, DType::F32)?)
        } else {
            None
        };
        if lora_rank > 0 {
            let l = LoraConfig {
                rank: lora_rank,
                alpha: lora_alpha,
                target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                    .map(String::from)
                    .to_vec(),
            };
            lora::attach(&mut params, &cfg, &l, 0)?;
        }
        Ok(Self {
            cfg,
            params,
            reference,
            text,
            chat,
            dtype: DType::F32,
            sampling_weights: SamplingWeights::F32,
            sampler: SamplerCache::default(),
            gguf,
        })
    }

    /// Decodes from `w` weights from now on (see [`crate::policy::sampling_weights`]);
    /// "gguf" needs a `.gguf` model.
    pub fn set_sampling_weights(&mut self, w: SamplingWeights) -> Result<()> {
        if w == SamplingWeights::Gguf && self.gguf.is_none() {
            anyhow::bail!(
                "sampling weights \"gguf\" need a .gguf model file; use f32, bf16, f16 or q8_0"
            );
        }
        self.sampling_weights = w;
        self.sampler.invalidate();
        Ok(())
    }

    /// True when the model was loaded from a `.gguf` file.
    pub fn is_gguf(&self) -> bool {
        self.gguf.is_some()
    }

    /// The model that computes the log-probs entering the loss: f32, the compute dtype on a GPU,
    /// or f32 with bf16 projection products for bf16 on the CPU.
    fn training_model(&self) -> Result<Transformer> {
        Ok(
            if self.params.device().is_cpu() && self.dtype == DType::BF16 {
                Transformer::new_bf16_projections(&self.cfg, &self.params)?
            } else {
                Transformer::new(&self.cfg, &self.params, self.dtype)?
            },
        )
    }

    /// The dtype of decoding and reference models ([`crate::policy::device::inference_dtype`]).
    fn inference_dtype(&self) -> DType {
        crate::policy::device::inference_dtype(&self.params.device(), self.dtype)
    }

    /// Moves the master weights (f32) to `device` and computes in `dtype` from now on (the KL
    /// reference too, rebuilt from the current weights: call this right after `load`, before
    /// any update). Checked by the caller with `policy::device::check_servable`.
    pub fn place(&mut self, device: &candle_core::Device, dtype: DType) -> Result<()> {
        if !device.is_cpu()
            && !matches!(
                self.sampling_weights,
                SamplingWeights::F32 | SamplingWeights::Auto
            )
        {
            anyhow::bail!(
                "reduced-precision sampling weights ({}) run on the CPU only; on a GPU use \
                 sampling weights f32 and a compute dtype (bf16) instead",
                self.sampling_weights.name()
            );
        }
        self.params.to_device(device)?;
        self.dtype = dtype;
        if self.reference.is_some() {
            self.reference = Some(Transformer::new_inference(
                &self.cfg,
                &self.params,
                crate::policy::device::inference_dtype(device, dtype),
            )?);
        }
        Ok(())
    }

    /// Overwrites the weights with a checkpoint of `prover train`: its folder
    /// (`checkpoints/step-N`) or its `weights.safetensors`. Returns how many tensors were set.
    pub fn load_weights(&mut self, path: &std::path::Path) -> Result<usize> {
        let file = if path.is_dir() {
            path.join("weights.safetensors")
        } else {
            path.to_path_buf()
        };
        self.params.load(&file).with_context(|| {
            format!(
                "loading trained weights from {} (a full fine-tuning checkpoint of this model)",
                file.display()
            )
        })
    }

    /// Token ids of a prompt: a chat prompt through the chat template (when the model has one
    /// and `chat_template` is on), a raw prompt as it is.
    fn prompt_ids(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        let text = &self.text;
        Ok(match prompt {
            Prompt::Raw(s) => text.prompt_ids(s, false, None)?,
            Prompt::Chat { system, user } => text.prompt_ids(
                user,
                self.chat && text.chat_template.is_some(),
                system.as_deref(),
            )?,
        })
    }

    /// Samples `n` completions per prompt from the current weights, decoding with plain
    /// tensors (no graph) through a model rebuilt from the master weights. A row ends at the
    /// model's EOS ids, at `stops` (as text, and as ids where a stop string is one token) or
    /// at `max_new_tokens`; the text is cut before the first stop string.
    #[allow(clippy::too_many_arguments)]
    fn sample(
        &mut self,
        ids: &[Vec<u32>],
        n: usize,
        temperature: f64,
        top_p: f64,
        max_new_tokens: usize,
        seed: u64,
        stops: &[String],
    ) -> Result<Vec<sampler::Sample>> {
        let reduced = self.sampler.get(
            self.sampling_weights,
            &self.cfg,
            &self.params,
            self.gguf.as_deref(),
        )?;
        let mut eos_ids = self.text.eos_ids.clone();
        for id in stop_token_ids(&self.text.tokenizer, stops) {
            if !eos_ids.contains(&id) {
                eos_ids.push(id);
            }
        }
        let sp = sampler::SamplingParams {
            temperature: temperature as f32,
            top_p: top_p as f32,
            seed,
            max_new_tokens,
            samples: n,
            max_rows: 64,
            max_context: self.cfg.max_position_embeddings,
            eos_ids,
            stop_strings: stops.to_vec(),
            ..Default::default()
        };
        let tok = &self.text.tokenizer;
        Ok(match reduced {
            Some(q) => sampler::generate(&mut PolicyDecoder::new(q), tok, ids, &sp)?,
            None => {
                let model =
                    Transformer::new_inference(&self.cfg, &self.params, self.inference_dtype())?;
                sampler::generate(&mut PolicyDecoder::new(model), tok, ids, &sp)?
            }
        })
    }

    fn items(items: &[ScoreItem]) -> Vec<(Vec<u32>, Vec<u32>)> {
        items
            .iter()
            .map(|i| (i.prompt_ids.to_vec(), i.completion_ids.to_vec()))
            .collect()
    }
}

impl Policy for TransformerPolicy {
    fn generate(
        &mut self,
        prompts: &[Prompt],
        group_size: usize,
        params: &SamplingParams,
        seed: u64,
    ) -> Result<Vec<Vec<Rollout>>> {
        let ids: Vec<Vec<u32>> = prompts
            .iter()
            .map(|p| self.prompt_ids(p))
            .collect::<Result<_>>()?;
        let samples = self.sample(
            &ids,
            group_size,
            params.temperature,
            params.top_p,
            params.max_new_tokens,
            seed,
            &params.stop_strings,
        )?;
        let mut out: Vec<Vec<Rollout>> = (0..prompts.len()).map(|_| Vec::new()).collect();
        for s in samples {
            out[s.prompt_index].push(Rollout {
                prompt_ids: ids[s.prompt_index].clone(),
                sampling_logp: Some(s.tempered_logprobs.clone()),
                truncated: matches!(s.finish, FinishReason::Length),
                completion_ids: s.token_ids,
                text: s.text,
            });
        }
        Ok(out)
    }

    fn score(&mut self, items: &[ScoreItem], temperature: f64) -> Result<ScoreOut> {
        let model = self.training_model()?;
        let s = score_completions(&model, &Self::items(items), temperature)?;
        Ok(ScoreOut {
            logp: s.logprobs,
            entropy: s.entropy,
            mask: s.mask,
        })
    }

    fn reference_logp(
        &mut self,
        items: &[ScoreItem],
        temperature: f64,
    ) -> Result<Option<candle_core::Tensor>> {
        match &self.reference {
            Some(r) => Ok(Some(
                score_completions(r, &Self::items(items), temperature)?
                    .logprobs
                    .detach(),
            )),
            None => Ok(None),
        }
    }

    fn trainable(&self) -> Vec<(String, Var)> {
        self.params.trainable()
    }

    fn prompt_tokens(&self, prompt: &Prompt) -> Result<Option<usize>> {
        Ok(Some(self.prompt_ids(prompt)?.len()))
    }

    fn after_update(&mut self) -> Result<()> {
        if self.sampling_weights == SamplingWeights::Gguf {
            anyhow::bail!(
                "sampling weights \"gguf\" cannot follow training updates; use f32, bf16, f16 \
                 or q8_0 with prover train"
            );
        }
        self.sampler.invalidate();
        Ok(())
    }
}
