//! GPU benchmarks of the policy (CUDA build only; run by scripts/device-check.sh), random
//! weights in Qwen2.5-Math-1.5B's shape (speed does not depend on the weights' values), bf16
//! compute with f32 master weights:
//! - `gen`: generation tok/s, 64 rows × 512 new tokens (128-token prompts), KV cache,
//!   sampling on the device (τ = 1, top-p 0.95; only ids come back);
//! - `fwdbwd`: forward+backward tok/s at 8 × 3072 tokens through the chunked scorer, in
//!   micro-batches of $PROVER_BENCH_MICRO rows (default 1; activations of 8 × 3072 at once do
//!   not fit without activation checkpointing);
//! - `grpo`: one GRPO step of the 1-shot recipe scaled to one GPU: 64 rollouts (8 prompts × 8)
//!   of 512 new tokens, group-normalised advantages of random rewards, policy-gradient loss
//!   `−Σ A·log π / tokens` (on-policy, ratio 1), backward in micro-batches, AdamW on f32 masters.
//! Each prints a line and the peak device memory in use (total − free, polled every 5 ms);
//! `$PROVER_BENCH_JSON` (a path) also gets one JSON line per section.
//! Usage: gpu_policy [gen] [fwdbwd] [grpo]   (default: all three).
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use prover::policy::decoder::Decoder;
use prover::policy::device_sampling::sample_on_device;
use prover::policy::model::{Config, Family, Transformer};
use prover::policy::params::ParamStore;
use prover::policy::scorer::score_completions_chunked;
use prover::policy::transformer_decoder::PolicyDecoder;
use prover::rl::optimizer::{AdamW, AdamWParams, GradAccumulator};

type R<T> = anyhow::Result<T>;

/// Qwen2.5-Math-1.5B's config.json.
fn qwen25_math_15b() -> Config {
    Config {
        family: Family::Qwen2,
        vocab_size: 151_936,
        hidden_size: 1536,
        intermediate_size: 8960,
        num_hidden_layers: 28,
        num_attention_heads: 12,
        num_key_value_heads: 2,
        head_dim: 128,
        rms_norm_eps: 1e-6,
        rope_theta: 10_000.0,
        max_position_embeddings: 4096,
        tie_word_embeddings: true,
        attention_bias: true,
        bos_token_id: None,
        eos_token_ids: vec![151_643],
    }
}

/// Polls `total − free` device memory every 5 ms on its own thread.
struct PeakMem {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl PeakMem {
    fn start(dev: &Device) -> R<Self> {
        let Device::Cuda(cd) = dev else {
            anyhow::bail!("a CUDA device is needed")
        };
        let ctx = cd.cuda_stream().context().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicUsize::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = std::thread::spawn(move || {
            if ctx.bind_to_thread().is_err() {
                return;
            }
            while !s.load(Ordering::Relaxed) {
                if let Ok((free, total)) = ctx.mem_get_info() {
                    p.fetch_max(total - free, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        Ok(Self {
            stop,
            peak,
            handle: Some(handle),
        })
    }

    fn finish(mut self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed) as f64 / (1u64 << 30) as f64
    }
}

fn sync(dev: &Device) -> R<()> {
    dev.synchronize()?;
    Ok(())
}

fn report(section: &str, line: String, json: serde_json::Value) {
    println!("{section}: {line}");
    if let Ok(p) = std::env::var("PROVER_BENCH_JSON") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(
                f,
                "{}",
                serde_json::json!({"section": section, "result": json})
            );
        }
    }
}

fn prompts(rows: usize, len: usize, vocab: usize, salt: usize) -> Vec<Vec<u32>> {
    (0..rows)
        .map(|r| {
            (0..len)
                .map(|i| ((i * 7919 + r * 104_729 + salt * 13) % (vocab - 1000) + 100) as u32)
                .collect()
        })
        .collect()
}

/// Decodes `new` tokens for every row; returns the completions and the seconds taken.
fn generate(
    cfg: &Config,
    params: &ParamStore,
    dev: &Device,
    ps: &[Vec<u32>],
    new: usize,
) -> R<(Vec<Vec<u32>>, f64)> {
    let model = Transformer::new_inference(cfg, params, DType::BF16)?;
    let mut dec = PolicyDecoder::new(model);
    sync(dev)?;
    let t0 = Instant::now();
    let mut logits = dec.prefill(ps)?;
    let mut out: Vec<Vec<u32>> = vec![Vec::with_capacity(new); ps.len()];
    for k in 0..new {
        let ids: Vec<u32> = sample_on_device(&logits, 1.0, 0.95)?.to_vec1()?;
        for (o, &i) in out.iter_mut().zip(&ids) {
            o.push(i);
        }
        if k + 1 < new {
            logits = dec.step(&ids)?;
        }
    }
    sync(dev)?;
    Ok((out, t0.elapsed().as_secs_f64()))
}

fn bench_gen(cfg: &Config, params: &ParamStore, dev: &Device) -> R<()> {
    let (rows, prompt, new) = (64, 128, 512);
    let ps = prompts(rows, prompt, cfg.vocab_size, 0);
    // warm-up (kernel loading, allocator)
    generate(cfg, params, dev, &ps[..8], 8)?;
    let mem = PeakMem::start(dev)?;
    let (_, secs) = generate(cfg, params, dev, &ps, new)?;
    let peak = mem.finish();
    let tps = (rows * new) as f64 / secs;
    report(
        "gen",
        format!(
            "{rows} rows x {new} new tokens (prompts {prompt}) in {secs:.2} s = {tps:.0} tok/s; \
             peak device memory {peak:.1} GiB"
        ),
        serde_json::json!({"rows": rows, "new_tokens": new, "prompt": prompt, "seconds": secs,
                           "tok_per_s": tps, "peak_gib": peak}),
    );
    Ok(())
}

/// Forward + backward of `seqs` through the scorer in micro-batches; gradients summed.
fn fwd_bwd(
    cfg: &Config,
    params: &ParamStore,
    seqs: &[(Vec<u32>, Vec<u32>)],
    weights: &[f32],
    micro: usize,
    acc: &mut GradAccumulator,
) -> R<usize> {
    let trainable = params.trainable();
    let mut tokens = 0;
    for (ci, chunk) in seqs.chunks(micro).enumerate() {
        let model = Transformer::new(cfg, params, DType::BF16)?;
        let s = score_completions_chunked(&model, chunk, 1.0, 256)?;
        let (b, c) = s.logprobs.dims2()?;
        let w: Vec<f32> = (0..b)
            .flat_map(|r| std::iter::repeat_n(weights[ci * micro + r], c))
            .collect();
        let w = Tensor::from_vec(w, (b, c), s.logprobs.device())?;
        let n = s.mask.sum_all()?.to_scalar::<f32>()? as usize;
        tokens += n;
        let loss = ((&s.logprobs * &w)? * &s.mask)?
            .sum_all()?
            .affine(-1.0, 0.0)?;
        acc.add(&trainable, &loss.backward()?)?;
    }
    Ok(tokens)
}

fn micro() -> usize {
    std::env::var("PROVER_BENCH_MICRO")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn bench_fwdbwd(cfg: &Config, params: &ParamStore, dev: &Device) -> R<()> {
    let (rows, len, micro) = (8, 3072, micro());
    let seqs: Vec<(Vec<u32>, Vec<u32>)> = prompts(rows, len, cfg.vocab_size, 1)
        .into_iter()
        .map(|p| (p[..1].to_vec(), p[1..].to_vec()))
        .collect();
    let w = vec![1.0f32 / (rows * len) as f32; rows];
    let mut acc = GradAccumulator::new();
    fwd_bwd(cfg, params, &seqs[..micro.min(rows)], &w, micro, &mut acc)?; // warm-up
    acc.clear();
    sync(dev)?;
    let mem = PeakMem::start(dev)?;
    let t0 = Instant::now();
    fwd_bwd(cfg, params, &seqs, &w, micro, &mut acc)?;
    sync(dev)?;
    let secs = t0.elapsed().as_secs_f64();
    let peak = mem.finish();
    let tps = (rows * len) as f64 / secs;
    report(
        "fwdbwd",
        format!(
            "{rows} x {len} tokens forward+backward (micro-batch {micro}) in {secs:.2} s = \
             {tps:.0} tok/s; peak device memory {peak:.1} GiB"
        ),
        serde_json::json!({"rows": rows, "len": len, "micro_batch": micro, "seconds": secs,
                           "tok_per_s": tps, "peak_gib": peak}),
    );
    Ok(())
}

fn bench_grpo(cfg: &Config, params: &ParamStore, dev: &Device) -> R<()> {
    let (groups, group, prompt, new, micro) = (8, 8, 128, 512, micro().max(8));
    let base = prompts(groups, prompt, cfg.vocab_size, 2);
    let ps: Vec<Vec<u32>> = base
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), group))
        .collect();
    let mut opt = AdamW::new(params.trainable(), AdamWParams::default())?;
    let mem = PeakMem::start(dev)?;
    let t0 = Instant::now();
    let (comps, gen_secs) = generate(cfg, params, dev, &ps, new)?;
    // random 0/1 rewards, group-normalised advantages (GRPO)
    let rewards: Vec<f32> = (0..ps.len())
        .map(|i| (((i * 2_654_435_761) >> 7) & 1) as f32)
        .collect();
    let mut adv = vec![0f32; ps.len()];
    for g in 0..groups {
        let r = &rewards[g * group..(g + 1) * group];
        let mean = r.iter().sum::<f32>() / group as f32;
        let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / group as f32).sqrt();
        for k in 0..group {
            adv[g * group + k] = (r[k] - mean) / (sd + 1e-6);
        }
    }
    let total = (ps.len() * new) as f32;
    let w: Vec<f32> = adv.iter().map(|a| a / total).collect();
    let seqs: Vec<(Vec<u32>, Vec<u32>)> = ps.into_iter().zip(comps).collect();
    let mut acc = GradAccumulator::new();
    let t1 = Instant::now();
    fwd_bwd(cfg, params, &seqs, &w, micro, &mut acc)?;
    opt.step(&acc, 1e-6)?;
    sync(dev)?;
    let train_secs = t1.elapsed().as_secs_f64();
    let secs = t0.elapsed().as_secs_f64();
    let peak = mem.finish();
    report(
        "grpo",
        format!(
            "one step, {} rollouts x {new} tokens: {secs:.2} s (generation {gen_secs:.2} s, \
             score+backward+AdamW {train_secs:.2} s, micro-batch {micro}); peak device memory \
             {peak:.1} GiB",
            seqs.len()
        ),
        serde_json::json!({"rollouts": seqs.len(), "new_tokens": new, "seconds": secs,
                           "generation_s": gen_secs, "train_s": train_secs,
                           "micro_batch": micro, "peak_gib": peak}),
    );
    Ok(())
}

fn main() -> R<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    let dev = Device::new_cuda(0)?;
    let cfg = qwen25_math_15b();
    let t0 = Instant::now();
    // drawn on the GPU (1.5B values; the CPU generator would take longer than the benchmarks)
    let mut map = std::collections::HashMap::new();
    for (name, shape) in cfg.param_shapes() {
        let t = if name.ends_with("norm.weight") {
            Tensor::ones(shape, DType::F32, &dev)?
        } else {
            Tensor::randn(0f32, 0.02, shape, &dev)?
        };
        map.insert(name, t);
    }
    let params = ParamStore::from_tensors(map)?;
    println!(
        "model: Qwen2.5-Math-1.5B shape, random weights, {} parameters, f32 masters on cuda:0, \
         bf16 compute ({:.1} s to set up)",
        params.num_elements(),
        t0.elapsed().as_secs_f64()
    );
    if want("gen") {
        bench_gen(&cfg, &params, &dev)?;
    }
    if want("fwdbwd") {
        bench_fwdbwd(&cfg, &params, &dev)?;
    }
    if want("grpo") {
        bench_grpo(&cfg, &params, &dev)?;
    }
    Ok(())
}
