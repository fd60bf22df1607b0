//! Cost of the RL loss path on CPU: per-token log-probs + entropies from logits
//! (`token_logp_entropy`), the GRPO loss (k3 KL, entropy, token-mean) and its backward pass to
//! the logits, for a few (B, T, V) shapes. Prints a table.
//!
//! Run: `cargo bench --bench rl_loss` (add `-- quick` for the small shapes only).
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use prover::policy::logprob::token_logp_entropy;
use prover::rl::aggregate::AggNorm;
use prover::rl::loss::{grpo_loss, LossConfig, LossInputs};

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "quick");
    let mut shapes = vec![(8usize, 128usize, 2048usize), (8, 256, 8192)];
    if !quick {
        shapes.push((2, 256, 49152)); // SmolLM2 vocabulary
    }
    println!("| B | T | V | logp+entropy fwd (ms) | loss fwd (ms) | backward (ms) | µs / token |");
    println!("|---|---|---|---|---|---|---|");
    let dev = Device::Cpu;
    for (b, t, v) in shapes {
        let logits = Var::from_tensor(&(Tensor::randn(0f32, 2.0, (b, t, v), &dev)?))?;
        let ids: Vec<u32> = (0..b * t).map(|i| ((i * 7919 + 13) % v) as u32).collect();
        let ids = Tensor::from_vec(ids, (b, t), &dev)?;
        let mask = Tensor::ones((b, t), candle_core::DType::F32, &dev)?;
        let adv = Tensor::randn(0f32, 1.0, b, &dev)?;
        let p = LossConfig {
            entropy_coef: 0.001,
            kl_coef: 0.001,
            ..Default::default()
        };
        let norm = AggNorm::from_mask(&mask)?;
        let mut best = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..3 {
            let t0 = Instant::now();
            let s = token_logp_entropy(logits.as_tensor(), &ids, 0.6)?;
            let _ = s.logp.sum_all()?.to_scalar::<f32>()?;
            let t1 = Instant::now();
            let reference = (s.logp.detach() - 0.1)?;
            let inp = LossInputs {
                logp: &s.logp,
                entropy: &s.entropy,
                old_logp: None,
                ref_logp: Some(&reference),
                rollout_is_weights: None,
                advantages: &adv,
                mask: &mask,
            };
            let out = grpo_loss(&inp, &p, &norm)?;
            let _ = out.total.to_scalar::<f32>()?;
            let t2 = Instant::now();
            let g = out.total.backward()?;
            let _ = g
                .get(logits.as_tensor())
                .unwrap()
                .sum_all()?
                .to_scalar::<f32>()?;
            let t3 = Instant::now();
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            best = (
                best.0.min(ms(t0, t1)),
                best.1.min(ms(t1, t2)),
                best.2.min(ms(t2, t3)),
            );
        }
        let per_tok = (best.0 + best.1 + best.2) * 1e3 / (b * t) as f64;
        println!(
            "| {b} | {t} | {v} | {:.1} | {:.2} | {:.1} | {per_tok:.1} |",
            best.0, best.1, best.2
        );
    }
    Ok(())
}
