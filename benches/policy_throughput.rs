//! Policy throughput on SmolLM2-135M-Instruct (f32, CPU):
//! (a) batched greedy generation, 16 rows × 64 new tokens through `PolicyDecoder`, from the f32
//!     weights and from the sampler's reduced-precision copies (bf16, f16, q8_0; see
//!     `policy::sampling_weights`) and, for a `.gguf`, the file's own quantized matrices;
//! (b) one forward + backward of a scorer loss over 16 × 128 tokens, with the f32 training model
//! and (on AVX512-BF16 CPUs) with bf16 projection products (rows marked `bf16`).
//! Prints a table with tokens/s and the peak RSS (VmHWM). Peer: `benches/hf_peer.py`.
//!
//! usage: cargo bench --bench policy_throughput [-- MODEL_PATH]
//! (`BENCH_ROWS=bf16,score` runs only the rows whose label contains one of the words)
//! (default models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf or $PROVER_TEST_MODEL)
use std::time::Instant;

use candle_core::{DType, Tensor, D};
use prover::policy::decoder::Decoder;
use prover::policy::model::Transformer;
use prover::policy::quantized_decoder::QuantizedTransformer;
use prover::policy::scorer::score_completions;
use prover::policy::transformer_decoder::PolicyDecoder;
use prover::policy::weights::load_params;

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Deterministic pseudo-text token ids (no tokenizer needed).
fn ids(n: usize, seed: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729 + 17) % (vocab - 100) + 100) as u32)
        .collect()
}

/// Whether the row `label` was asked for (`BENCH_ROWS`, comma-separated words; unset: all).
fn wanted(label: &str) -> bool {
    match std::env::var("BENCH_ROWS") {
        Ok(words) => words.split(',').any(|w| label.contains(w.trim())),
        Err(_) => true,
    }
}

/// Prefill + 64 greedy steps; prints the two rows, `label` naming the weights.
fn generation_rows(
    dec: &mut impl Decoder,
    prompts: &[Vec<u32>],
    label: &str,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut logits = dec.prefill(prompts)?;
    let t_prefill = t0.elapsed().as_secs_f64();
    let n_new = 64;
    for _ in 0..n_new {
        let next: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
        logits = dec.step(&next)?;
    }
    let t_gen = t0.elapsed().as_secs_f64();
    let prompt_toks: usize = prompts.iter().map(|p| p.len()).sum();
    println!(
        "{:<44} {:>10.3} {:>12.1} {:>10.0}",
        format!("prefill 16 rows ({prompt_toks} prompt tokens) {label}"),
        t_prefill,
        prompt_toks as f64 / t_prefill,
        vm_hwm_mb()
    );
    println!(
        "{:<44} {:>10.3} {:>12.1} {:>10.0}",
        format!("generate 16 x 64 greedy {label}"),
        t_gen,
        (16 * n_new) as f64 / t_gen,
        vm_hwm_mb()
    );
    Ok(())
}

#[path = "common/model_path.rs"]
mod model_path;
use model_path::model_path;

fn main() -> anyhow::Result<()> {
    // the allocator set-up of the `prover` binary (PROVER_MALLOC_TUNE=0: glibc defaults)
    let tuned = prover::util::tune_allocator();
    let arg = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let Some(path) = model_path(arg.as_deref()) else {
        return Ok(());
    };
    let (cfg, params) = load_params(&path)?;
    let v = cfg.vocab_size;
    let threads = candle_core::utils::get_num_threads();
    println!(
        "model {} | f32 | {threads} threads | malloc tuned: {tuned}",
        path.display()
    );
    println!(
        "{:<44} {:>10} {:>12} {:>10}",
        "benchmark", "seconds", "tokens/s", "VmHWM MB"
    );

    // (0) the bf16 projection kernel alone, on this model's shapes (16 rows, one layer's
    // seven matrices + the output head)
    if wanted("kernel") {
        use prover::policy::bf16_matmul::Bf16Matrix;
        let (h, f, kv) = (
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.num_key_value_heads * cfg.head_dim,
        );
        let shapes = [
            (h, h),
            (kv, h),
            (kv, h),
            (h, h),
            (f, h),
            (f, h),
            (h, f),
            (v, h),
        ];
        for m in [16usize, 560] {
            let mats: Vec<(Bf16Matrix, Vec<f32>)> = shapes
                .iter()
                .map(|&(n, k)| {
                    let w: Vec<f32> = (0..n * k)
                        .map(|i| ((i % 97) as f32 - 48.0) / 97.0)
                        .collect();
                    let x: Vec<f32> = (0..m * k)
                        .map(|i| ((i % 89) as f32 - 44.0) / 89.0)
                        .collect();
                    (Bf16Matrix::from_f32(&w, n, k).unwrap(), x)
                })
                .collect();
            let reps = if m == 16 { 50 } else { 2 };
            let t0 = Instant::now();
            let mut flops = 0.0;
            for _ in 0..reps {
                for ((mat, x), &(n, k)) in mats.iter().zip(&shapes) {
                    std::hint::black_box(mat.matmul(x, m).unwrap());
                    flops += 2.0 * (m * n * k) as f64;
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "{:<44} {:>10.3} {:>12} {:>10.0}",
                format!("bf16 kernel {m} rows: {:.1} GFLOP/s", flops / secs / 1e9),
                secs,
                "-",
                vm_hwm_mb()
            );
        }
    }

    // (a) generation: 16 prompts of 20..50 tokens, 64 greedy tokens each
    let prompts: Vec<Vec<u32>> = (0..16).map(|r| ids(20 + (r * 2) % 31, r, v)).collect();
    if wanted("f32") {
        let model = Transformer::new_inference(&cfg, &params, DType::F32)?;
        generation_rows(&mut PolicyDecoder::new(model), &prompts, "f32")?;
    }
    use candle_core::quantized::GgmlDType;
    for (dt, label) in [
        (GgmlDType::BF16, "bf16"),
        (GgmlDType::F16, "f16"),
        (GgmlDType::Q8_0, "q8_0"),
    ] {
        if !wanted(label) {
            continue;
        }
        let q = QuantizedTransformer::from_params(&cfg, &params, dt)?;
        generation_rows(&mut PolicyDecoder::new(q), &prompts, label)?;
    }
    if path.extension().and_then(|e| e.to_str()) == Some("gguf") && wanted("gguf") {
        let q = QuantizedTransformer::from_gguf(&cfg, &path)?;
        let label = format!("gguf {:?}", q.weights_dtype()).to_lowercase();
        generation_rows(&mut PolicyDecoder::new(q), &prompts, &label)?;
    }

    // (b) forward + backward of the scorer loss over 16 x 128 tokens (1 prompt + 127 scored)
    if !wanted("score") {
        return Ok(());
    }
    let batch: Vec<(Vec<u32>, Vec<u32>)> = (0..16)
        .map(|r| {
            let s = ids(128, 100 + r, v);
            (s[..1].to_vec(), s[1..].to_vec())
        })
        .collect();
    let score_rows = |model: &Transformer, suffix: &str| -> anyhow::Result<()> {
        for rep in 0..2 {
            let t0 = Instant::now();
            let out = score_completions(model, &batch, 1.0)?;
            let t_fwd = t0.elapsed().as_secs_f64();
            let n = out.mask.sum_all()?;
            let loss = ((out.logprobs.sum_all()? + out.entropy.sum_all()?.affine(0.01, 0.0)?)?
                .neg()?
                / n.to_scalar::<f32>()? as f64)?;
            // as the trainer runs it (rl/trainer/update.rs): on a rayon worker
            let grads = prover::util::on_rayon_worker(|| loss.backward())?;
            let t_all = t0.elapsed().as_secs_f64();
            let g: &Tensor = grads
                .get(params.get("model.embed_tokens.weight").unwrap().as_tensor())
                .expect("gradient");
            assert!(g.dims2()?.0 == v);
            println!(
                "{:<44} {:>10.3} {:>12.1} {:>10.0}",
                format!("score fwd 16 x 128{suffix} (run {rep})"),
                t_fwd,
                (16 * 128) as f64 / t_fwd,
                vm_hwm_mb()
            );
            println!(
                "{:<44} {:>10.3} {:>12.1} {:>10.0}",
                format!("score fwd+bwd 16 x 128{suffix} (run {rep})"),
                t_all,
                (16 * 128) as f64 / t_all,
                vm_hwm_mb()
            );
        }
        Ok(())
    };
    score_rows(&Transformer::new(&cfg, &params, DType::F32)?, "")?;
    // the training model with bf16 projection products (`[model] dtype = "bf16"` on the CPU)
    if prover::policy::bf16_linear::available() {
        score_rows(&Transformer::new_bf16_projections(&cfg, &params)?, " bf16")?;
    }
    Ok(())
}
