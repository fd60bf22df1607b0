//! Sampling on the device: temperature and top-p (nucleus) with tensor ops only, so on CUDA the
//! `[rows, V]` logits never leave the GPU; only the chosen token ids (`[rows]` u32) come back.
//!
//! With `p = softmax(z/τ)` (f32) per row:
//! - nucleus: the tokens with `p_v ≥ θ`, `θ` the largest value with `Σ_{p_v ≥ θ} p_v ≥ top_p`
//!   (the smallest set of most likely tokens reaching `top_p`, as HF's top-p). `θ` is found by
//!   bisection on `[0, max p]` ([`BISECTIONS`] halvings: within `max p · 2⁻²⁴`), no sort needed;
//! - the draw: Gumbel-max over the nucleus, `argmax_v (log p_v + G_v)` with
//!   `G = −log(−log U)`, `U ~ Uniform(0, 1)` from the device's generator: an exact draw from `p`
//!   restricted to the nucleus and renormalised;
//! - `τ = 0`: greedy (`argmax z`).
//!
//! The CPU sampler (`sampler.rs`) stays the default for `generate`/`eval`/`train` (seeded,
//! reproducible on the CPU); the GPU benchmark decodes with this one.
use candle_core::{DType, Result, Tensor, D};

/// Halvings of the nucleus threshold search.
pub const BISECTIONS: usize = 24;

/// Token ids `[rows]` (u32) drawn from f32/bf16/f16 logits `[rows, V]` at `temperature` with
/// nucleus mass `top_p` (1 = no truncation), on the logits' device.
pub fn sample_on_device(logits: &Tensor, temperature: f64, top_p: f64) -> Result<Tensor> {
    let (rows, v) = logits.dims2()?;
    let ok = temperature >= 0.0 && temperature.is_finite() && top_p > 0.0 && top_p <= 1.0;
    if !ok {
        candle_core::bail!("temperature {temperature} must be ≥ 0 and top_p {top_p} in (0, 1]");
    }
    let z = logits.to_dtype(DType::F32)?;
    if temperature == 0.0 {
        return z.argmax(D::Minus1);
    }
    let z = z.affine(1.0 / temperature, 0.0)?;
    let m = z.max_keepdim(D::Minus1)?;
    let e = z.broadcast_sub(&m)?.exp()?;
    let p = e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?;
    let keep = if top_p < 1.0 {
        let dev = p.device();
        let mut lo = Tensor::zeros((rows, 1), DType::F32, dev)?;
        let mut hi = p.max_keepdim(D::Minus1)?;
        let target = Tensor::full(top_p as f32, (rows, 1), dev)?;
        for _ in 0..BISECTIONS {
            let mid = ((&lo + &hi)? * 0.5)?;
            let inside = p.broadcast_ge(&mid)?.to_dtype(DType::F32)?;
            let mass = (&p * inside)?.sum_keepdim(D::Minus1)?;
            let ok = mass.ge(&target)?;
            lo = ok.where_cond(&mid, &lo)?;
            hi = ok.where_cond(&hi, &mid)?;
        }
        Some(p.broadcast_ge(&lo)?)
    } else {
        None
    };
    let u = Tensor::rand(1e-12f32, 1.0, (rows, v), p.device())?;
    let gumbel = u.log()?.neg()?.log()?.neg()?;
    let score = (p.log()? + gumbel)?;
    let score = match keep {
        Some(k) => k.where_cond(
            &score,
            &Tensor::full(f32::NEG_INFINITY, (rows, v), p.device())?,
        )?,
        None => score,
    };
    score.argmax(D::Minus1)
}
