//! Seconds per GRPO step on SmolLM2-135M (f32 training weights, CPU), the same settings as
//! `benches/trl_peer.py` (TRL's GRPOTrainer): one prompt × G = 8 samples, responses forced to
//! 64 tokens (EOS ignored, temperature 1), a dummy reward, group advantages, the GRPO loss
//! (token-mean, no KL) over the 8 responses in one micro-batch, backward, one AdamW step.
//! The step includes (re)building the sampler's copy of the weights.
//!
//! usage: cargo bench --bench grpo_step [-- MODEL_PATH] [--sampling-weights f32|bf16|f16|q8_0]
//! [--dtype f32|bf16] (`bf16`: the training model's projections in bf16, `[model] dtype`)
//! (STEPS, default 3: prints every step and `GRPO_STEP_SECONDS` = the best after the first;
//! with reduced-precision sampling weights the loss applies token-level rollout correction.)
//! `scripts/bench-grpo.sh` runs it and the TRL peer one after the other.
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use prover::policy::gguf_tokenizer::GgufPreTokenizer;
use prover::policy::model::Transformer;
use prover::policy::model_text::ModelText;
use prover::policy::sampler::{generate, SamplingParams};
use prover::policy::sampling_weights::{SamplerCache, SamplingWeights};
use prover::policy::scorer::score_completions;
use prover::policy::spec::{resolve, HubOptions};
use prover::policy::transformer_decoder::PolicyDecoder;
use prover::policy::weights::load_params;
use prover::rl::advantage::group_advantages;
use prover::rl::aggregate::AggNorm;
use prover::rl::loss::{grpo_loss, LossConfig, LossInputs};
use prover::rl::optimizer::{AdamW, AdamWParams, GradAccumulator};
use prover::rl::rollout_correction::{batch_weights, RolloutIs};

#[path = "common/model_path.rs"]
mod model_path;
use model_path::model_path;

fn main() -> anyhow::Result<()> {
    prover::util::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let weights: SamplingWeights = match args.iter().position(|a| a == "--sampling-weights") {
        Some(i) => args
            .get(i + 1)
            .map(|s| s.parse())
            .transpose()
            .map_err(anyhow::Error::msg)?
            .unwrap_or_default(),
        None => SamplingWeights::F32,
    };
    let bf16_train = match args.iter().position(|a| a == "--dtype") {
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some("f32") => false,
            Some("bf16") => true,
            other => anyhow::bail!("--dtype {other:?}: expected f32 or bf16"),
        },
        None => false,
    };
    let arg = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            !a.starts_with("--")
                && (*i == 0 || !matches!(args[i - 1].as_str(), "--sampling-weights" | "--dtype"))
        })
        .map(|(_, a)| a.as_str());
    let Some(path) = model_path(arg) else {
        return Ok(());
    };
    let steps: usize = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let resolved = resolve(&path.display().to_string(), &HubOptions::from_env())?;
    let text = ModelText::load(&resolved, GgufPreTokenizer::FromMetadata)?;
    let (cfg, params) = load_params(resolved.weights_path())?;
    let prompt = text.prompt_ids(
        "What is the sum of the first ten positive integers? Answer with a number.",
        true,
        None,
    )?;
    let trainable = params.trainable();
    let mut opt = AdamW::new(trainable.clone(), AdamWParams::default())?;
    let mut sampler = SamplerCache::default();
    let lp = LossConfig::default();
    let (g, t_new) = (8usize, 64usize);
    println!(
        "model {} | {} training, {} sampling weights | {} threads | G = {g}, {t_new} tokens",
        path.display(),
        if bf16_train { "bf16-projection" } else { "f32" },
        weights.name(),
        candle_core::utils::get_num_threads()
    );
    let mut times = Vec::new();
    for step in 0..steps {
        let t0 = Instant::now();
        // rollouts
        let sp = SamplingParams {
            temperature: 1.0,
            top_p: 1.0,
            seed: step as u64,
            max_new_tokens: t_new,
            samples: g,
            max_rows: 64,
            max_context: cfg.max_position_embeddings,
            eos_ids: text.eos_ids.clone(),
            ignore_eos: true,
            ..Default::default()
        };
        let prompts = [prompt.clone()];
        let samples = match sampler.get(weights, &cfg, &params, None)? {
            Some(q) => generate(&mut PolicyDecoder::new(q), &text.tokenizer, &prompts, &sp)?,
            None => {
                let m = Transformer::new_inference(&cfg, &params, DType::F32)?;
                generate(&mut PolicyDecoder::new(m), &text.tokenizer, &prompts, &sp)?
            }
        };
        let t_gen = t0.elapsed().as_secs_f64();
        anyhow::ensure!(samples.iter().all(|s| s.token_ids.len() == t_new));
        // rewards (dummy) and advantages
        let rewards: Vec<f64> = (0..g).map(|i| (i % 3) as f64).collect();
        let adv = group_advantages(&rewards, &vec![0; g], true);
        // update
        let seqs: Vec<(Vec<u32>, Vec<u32>)> = samples
            .iter()
            .map(|s| (prompt.clone(), s.token_ids.clone()))
            .collect();
        let t1 = Instant::now();
        let model = if bf16_train {
            Transformer::new_bf16_projections(&cfg, &params)?
        } else {
            Transformer::new(&cfg, &params, DType::F32)?
        };
        let out = score_completions(&model, &seqs, 1.0)?;
        let is_w = match weights {
            SamplingWeights::F32 => None,
            _ => {
                let ro: Vec<Option<&[f32]>> = samples
                    .iter()
                    .map(|s| Some(s.tempered_logprobs.as_slice()))
                    .collect();
                batch_weights(&out.logprobs, &ro, &vec![t_new; g], RolloutIs::Token, 2.0)?
                    .map(|(w, _)| w)
            }
        };
        let adv_t = Tensor::from_vec(
            adv.iter().map(|&a| a as f32).collect::<Vec<_>>(),
            g,
            &Device::Cpu,
        )?;
        let inp = LossInputs {
            logp: &out.logprobs,
            entropy: &out.entropy,
            old_logp: None,
            ref_logp: None,
            rollout_is_weights: is_w.as_ref(),
            advantages: &adv_t,
            mask: &out.mask,
        };
        let lo = grpo_loss(&inp, &lp, &AggNorm::from_mask(&out.mask)?)?;
        let t_fwd = t1.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let grads = prover::util::on_rayon_worker(|| lo.total.backward())?;
        let t_bwd = t2.elapsed().as_secs_f64();
        let t3 = Instant::now();
        let mut acc = GradAccumulator::new();
        acc.add(&trainable, &grads)?;
        drop(grads);
        opt.step(&acc, 1e-6)?;
        sampler.invalidate();
        let t_opt = t3.elapsed().as_secs_f64();
        let t = t0.elapsed().as_secs_f64();
        println!(
            "prover grpo step {}: {t:.3} s (generation {t_gen:.3} s, update {:.3} s: \
             forward+loss {t_fwd:.3}, backward {t_bwd:.3}, optimizer {t_opt:.3})",
            step + 1,
            t - t_gen
        );
        times.push(t);
    }
    let best = times
        .iter()
        .skip(usize::from(times.len() > 1))
        .copied()
        .fold(f64::INFINITY, f64::min);
    println!("GRPO_STEP_SECONDS {best:.3}");
    Ok(())
}
