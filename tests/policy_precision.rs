//! CPU proofs for the GPU policy (issue 13), so that what runs on CUDA is known right before it
//! ever runs there:
//! - each fused CPU op of `policy/ops.rs` equals the primitive-op formula of `model.rs` (the path
//!   CUDA takes), values and gradients, and equals the CPU reference of its CUDA kernel
//!   (`policy/kernel_ref.rs`);
//! - mixed precision: an f16-computing model (f16 on the CPU stands in for bf16 on CUDA) sends
//!   f32 gradients to f32 master weights, and AdamW updates them in f32;
//! - the chunked log-prob/entropy op equals the unfused formula (values and gradients) and never
//!   materialises more than one chunk of `[rows, V]` logits.
mod common;

use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var, D};
use common::max_abs_diff;
use prover::policy::kernel_ref;
use prover::policy::model::{softmax_last_dim, Config, Family, Rotary, Transformer, MASK_VALUE};
use prover::policy::ops::{MaskedSoftmaxOp, RmsNormOp, RotaryOp, SwiGluOp};
use prover::policy::scorer::{
    score_completions_chunked, take_peak_logit_elems, token_logprobs_entropy,
    token_logprobs_entropy_reference,
};
use prover::policy::weights::random_params;
use prover::rl::optimizer::{AdamW, AdamWParams, GradAccumulator};
use rand::{Rng, SeedableRng};

fn randn(shape: &[usize], seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..shape.iter().product::<usize>())
        .map(|_| rng.gen_range(-2.0f32..2.0))
        .collect()
}

fn var(shape: &[usize], seed: u64) -> Var {
    Var::from_tensor(&Tensor::from_vec(randn(shape, seed), shape, &Device::Cpu).unwrap()).unwrap()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    Tensor::from_vec(randn(shape, seed), shape, &Device::Cpu).unwrap()
}

fn vec1(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// `max |a − b| ≤ tol · max(1, max |b|)`.
fn assert_close(what: &str, a: &Tensor, b: &Tensor, tol: f32) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let d = max_abs_diff(a, b);
    let s = vec1(b).iter().fold(1f32, |m, v| m.max(v.abs()));
    assert!(d <= tol * s, "{what}: differ by {d} (scale {s})");
}

fn assert_close_vec(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let s = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    let d = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(d <= tol * s, "{what}: differ by {d} (scale {s})");
}

/// `Σ y·r` for a fixed random `r`, so every output element gets a distinct gradient.
fn weighted_sum(y: &Tensor, seed: u64) -> Tensor {
    (y * tensor(y.dims(), seed)).unwrap().sum_all().unwrap()
}

#[test]
fn rmsnorm_fused_equals_primitive_and_kernel_reference() {
    let (rows, h, eps) = (6, 24, 1e-5);
    let x = var(&[rows, h], 1);
    let w = var(&[h], 2);
    let fused = x
        .as_tensor()
        .apply_op2(w.as_tensor(), RmsNormOp { eps })
        .unwrap();
    // model.rs's primitive path (what CUDA runs)
    let xt = x.as_tensor();
    let inv = xt
        .sqr()
        .unwrap()
        .mean_keepdim(D::Minus1)
        .unwrap()
        .affine(1.0, eps)
        .unwrap()
        .sqrt()
        .unwrap()
        .recip()
        .unwrap();
    let prim = xt
        .broadcast_mul(&inv)
        .unwrap()
        .broadcast_mul(w.as_tensor())
        .unwrap();
    assert_close("rmsnorm values", &fused, &prim, 1e-5);
    let gf = weighted_sum(&fused, 3).backward().unwrap();
    let gp = weighted_sum(&prim, 3).backward().unwrap();
    for (name, v) in [("x", &x), ("w", &w)] {
        let (a, b) = (gf.get(v).unwrap(), gp.get(v).unwrap());
        assert_close(&format!("rmsnorm d{name}"), a, b, 1e-4);
    }
    // the CUDA kernel's CPU reference
    let r = kernel_ref::rmsnorm_fwd(&vec1(xt), &vec1(w.as_tensor()), eps as f32);
    assert_close_vec("rmsnorm reference", &r, &vec1(&prim), 1e-5);
    let g = vec1(&tensor(&[rows, h], 3));
    let (dx, dw) = kernel_ref::rmsnorm_bwd(&vec1(xt), &vec1(w.as_tensor()), &g, eps as f32);
    assert_close_vec(
        "rmsnorm reference dx",
        &dx,
        &vec1(gp.get(&x).unwrap()),
        1e-4,
    );
    assert_close_vec(
        "rmsnorm reference dw",
        &dw,
        &vec1(gp.get(&w).unwrap()),
        1e-4,
    );
}

#[test]
fn masked_softmax_fused_equals_primitive() {
    let (b, g, t, s) = (2, 3, 4, 7);
    let scores = var(&[b, g, t, s], 4);
    // causal after 3 cached keys, and the second row's first key padded out
    let bias: Vec<f32> = (0..b * t * s)
        .map(|k| {
            let (bi, ti, si) = (k / (t * s), (k / s) % t, k % s);
            if si > 3 + ti || (bi == 1 && si == 0) {
                MASK_VALUE
            } else {
                0.0
            }
        })
        .collect();
    let fused = scores
        .as_tensor()
        .apply_op1(MaskedSoftmaxOp {
            bias: Arc::new(bias.clone()),
            t,
        })
        .unwrap();
    let bias_t = Tensor::from_vec(bias, (b, 1, t, s), &Device::Cpu).unwrap();
    let prim = softmax_last_dim(&scores.as_tensor().broadcast_add(&bias_t).unwrap()).unwrap();
    assert_close("softmax values", &fused, &prim, 1e-6);
    let masked = vec1(&prim)
        .iter()
        .zip(vec1(&bias_t.broadcast_as((b, g, t, s)).unwrap()))
        .filter(|(_, m)| *m == MASK_VALUE)
        .fold(0f32, |a, (p, _)| a.max(*p));
    assert_eq!(masked, 0.0, "masked entries get no probability");
    let gf = weighted_sum(&fused, 5).backward().unwrap();
    let gp = weighted_sum(&prim, 5).backward().unwrap();
    assert_close(
        "softmax dscores",
        gf.get(&scores).unwrap(),
        gp.get(&scores).unwrap(),
        1e-5,
    );
}

#[test]
fn rotary_fused_equals_primitive_and_kernel_reference() {
    let (b, heads, t, d) = (2, 3, 5, 8);
    let x = var(&[b, heads, t, d], 6);
    let cfg = Config {
        head_dim: d,
        ..Config::tiny(Family::Llama)
    };
    let rot = Rotary::new(&cfg, &Device::Cpu).unwrap();
    let pos: Vec<u32> = (0..b * t).map(|k| (k % t + 3 * (k / t)) as u32).collect();
    let pos = Tensor::from_vec(pos, (b, t), &Device::Cpu).unwrap();
    let (cos, sin) = rot.tables(&pos, DType::F32).unwrap();
    let scale = 0.5f32;
    let fused = x
        .as_tensor()
        .apply_op1(RotaryOp {
            cos: Arc::new(vec1(&cos)),
            sin: Arc::new(vec1(&sin)),
            sign: 1.0,
            scale,
        })
        .unwrap();
    let prim = Rotary::apply(x.as_tensor(), &cos, &sin)
        .unwrap()
        .affine(scale as f64, 0.0)
        .unwrap();
    assert_close("rotary values", &fused, &prim, 1e-5);
    let gf = weighted_sum(&fused, 7).backward().unwrap();
    let gp = weighted_sum(&prim, 7).backward().unwrap();
    assert_close("rotary dx", gf.get(&x).unwrap(), gp.get(&x).unwrap(), 1e-5);
    let (c, s) = (vec1(&cos), vec1(&sin));
    let r = kernel_ref::rotary(&vec1(x.as_tensor()), &c, &s, b, heads, t, d, 1.0, scale);
    assert_close_vec("rotary reference", &r, &vec1(&prim), 1e-5);
    // the backward is the same kernel rotating the gradient by −θ
    let g = vec1(&tensor(&[b, heads, t, d], 7));
    let dx = kernel_ref::rotary(&g, &c, &s, b, heads, t, d, -1.0, scale);
    assert_close_vec("rotary reference dx", &dx, &vec1(gp.get(&x).unwrap()), 1e-5);
}

#[test]
fn swiglu_fused_equals_primitive_and_kernel_reference() {
    let a = var(&[4, 10], 8);
    let bv = var(&[4, 10], 9);
    let fused = a.as_tensor().apply_op2(bv.as_tensor(), SwiGluOp).unwrap();
    let prim = (a.as_tensor().silu().unwrap() * bv.as_tensor()).unwrap();
    assert_close("swiglu values", &fused, &prim, 1e-6);
    let gf = weighted_sum(&fused, 10).backward().unwrap();
    let gp = weighted_sum(&prim, 10).backward().unwrap();
    for (name, v) in [("a", &a), ("b", &bv)] {
        let (x, y) = (gf.get(v).unwrap(), gp.get(v).unwrap());
        assert_close(&format!("swiglu d{name}"), x, y, 1e-5);
    }
    let (av, bvv) = (vec1(a.as_tensor()), vec1(bv.as_tensor()));
    assert_close_vec(
        "swiglu reference",
        &kernel_ref::swiglu_fwd(&av, &bvv),
        &vec1(&prim),
        1e-5,
    );
    let (da, db) = kernel_ref::swiglu_bwd(&av, &bvv, &vec1(&tensor(&[4, 10], 10)));
    assert_close_vec("swiglu reference da", &da, &vec1(gp.get(&a).unwrap()), 1e-5);
    assert_close_vec(
        "swiglu reference db",
        &db,
        &vec1(gp.get(&bv).unwrap()),
        1e-5,
    );
}

/// Rows `n`, width `h`, vocabulary `v`, temperature, targets.
fn scorer_inputs(n: usize, h: usize, v: usize) -> (Var, Var, Vec<u32>) {
    let hv = var(&[n, h], 11);
    let wv = var(&[v, h], 12);
    let tgt = (0..n).map(|i| ((i * 37 + 5) % v) as u32).collect();
    (hv, wv, tgt)
}

#[test]
fn chunked_logprob_entropy_equals_unfused_formula_and_holds_one_chunk() {
    let (n, h, v, chunk, temp) = (40, 16, 97, 8, 0.7);
    let (hv, wv, tgt) = scorer_inputs(n, h, v);
    let g = tensor(&[n, 2], 13);
    take_peak_logit_elems();
    let fused = token_logprobs_entropy(hv.as_tensor(), wv.as_tensor(), &tgt, temp, chunk).unwrap();
    let gf = (&fused * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let peak = take_peak_logit_elems();
    assert_eq!(peak, chunk * v, "one chunk of [rows, V] logits at a time");
    assert!(peak < n * v);
    let reference =
        token_logprobs_entropy_reference(hv.as_tensor(), wv.as_tensor(), &tgt, temp).unwrap();
    let gr = (&reference * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_close("log-prob/entropy values", &fused, &reference, 1e-5);
    for (name, x) in [("h", &hv), ("W", &wv)] {
        let (a, b) = (gf.get(x).unwrap(), gr.get(x).unwrap());
        assert_close(&format!("log-prob/entropy d{name}"), a, b, 1e-4);
    }
}

#[test]
fn logprob_entropy_kernel_reference_equals_formula_values_and_gradients() {
    // With W = I the logits are h itself, so ∂/∂h of the reference is the kernel's dz.
    let (n, v, temp) = (9, 50, 0.8f32);
    let z = var(&[n, v], 14);
    let eye = Tensor::eye(v, DType::F32, &Device::Cpu).unwrap();
    let tgt: Vec<u32> = (0..n).map(|i| ((i * 11 + 3) % v) as u32).collect();
    let reference =
        token_logprobs_entropy_reference(z.as_tensor(), &eye, &tgt, temp as f64).unwrap();
    let stats = kernel_ref::logprob_entropy_fwd(&vec1(z.as_tensor()), &tgt, v, 1.0 / temp);
    let lp_ent: Vec<f32> = stats.chunks(4).flat_map(|r| [r[0], r[1]]).collect();
    assert_close_vec("reference values", &lp_ent, &vec1(&reference), 1e-5);
    let g = tensor(&[n, 2], 15);
    let grads = (&reference * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let dz = kernel_ref::logprob_entropy_bwd(
        &vec1(z.as_tensor()),
        &tgt,
        &stats,
        &vec1(&g),
        v,
        1.0 / temp,
    );
    assert_close_vec("reference dz", &dz, &vec1(grads.get(&z).unwrap()), 1e-4);
}

fn batch() -> Vec<(Vec<u32>, Vec<u32>)> {
    vec![
        (vec![1, 5, 9, 33], vec![7, 8, 2, 40]),
        (vec![1, 40], vec![63, 12, 13, 14, 2]),
    ]
}

#[test]
fn half_precision_compute_with_f32_masters_and_f32_adamw() {
    // f16 on the CPU stands in for bf16 on CUDA (candle's CPU matmul has no bf16 kernel).
    let cfg = Config::tiny(Family::Qwen2);
    let params = random_params(&cfg, 21, 0.3).unwrap();
    let before: Vec<Vec<f32>> = params.iter().map(|(_, v)| vec1(v.as_tensor())).collect();
    let m16 = Transformer::new(&cfg, &params, DType::F16).unwrap();
    assert_eq!(m16.dtype(), DType::F16);
    assert_eq!(m16.lm_head_weight().dtype(), DType::F16, "compute copies");
    take_peak_logit_elems();
    let s16 = score_completions_chunked(&m16, &batch(), 1.0, 3).unwrap();
    assert!(take_peak_logit_elems() <= 3 * cfg.vocab_size);
    // log-probs and entropies (and so loss, KL, advantages) are f32 whatever the compute dtype
    assert_eq!(s16.logprobs.dtype(), DType::F32);
    assert_eq!(s16.entropy.dtype(), DType::F32);
    let m32 = Transformer::new(&cfg, &params, DType::F32).unwrap();
    let s32 = score_completions_chunked(&m32, &batch(), 1.0, 3).unwrap();
    let d = max_abs_diff(&s16.logprobs, &s32.logprobs);
    assert!(d < 0.05, "f16 log-probs differ from f32 by {d}");
    let loss = |s: &prover::policy::scorer::ScoreOutput| {
        ((&s.logprobs + s.entropy.affine(0.1, 0.0).unwrap()).unwrap() * &s.mask)
            .unwrap()
            .sum_all()
            .unwrap()
    };
    let g16 = loss(&s16).backward().unwrap();
    let g32 = loss(&s32).backward().unwrap();
    let trainable = params.trainable();
    for (name, var) in &trainable {
        let a = g16.get(var.as_tensor()).unwrap();
        assert_eq!(a.dtype(), DType::F32, "{name}: master gradient dtype");
        let b = g32.get(var.as_tensor()).unwrap();
        let s = vec1(b).iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        let dd = max_abs_diff(a, b);
        assert!(
            dd < 0.05 * s,
            "{name}: f16 gradient differs by {dd} (scale {s})"
        );
    }
    let mut acc = GradAccumulator::new();
    acc.add(&trainable, &g16).unwrap();
    let mut opt = AdamW::new(trainable.clone(), AdamWParams::default()).unwrap();
    opt.step(&acc, 1e-3).unwrap();
    let mut changed = 0;
    for ((name, var), old) in params.iter().zip(&before) {
        assert_eq!(var.dtype(), DType::F32, "{name}: master stays f32");
        let new = vec1(var.as_tensor());
        // an update of ~lr that f16 masters (ulp 2^-11 near 1) would partly round away
        changed += usize::from(new.iter().zip(old).any(|(a, b)| a != b));
    }
    assert_eq!(changed, params.iter().count(), "every master weight moved");
    let (state, steps) = opt.state();
    assert_eq!(steps, 1);
    assert!(
        state.iter().all(|(_, t)| t.dtype() == DType::F32),
        "AdamW moments are f32"
    );
    // the next compute copy follows the updated masters
    let m16b = Transformer::new(&cfg, &params, DType::F16).unwrap();
    let s16b = score_completions_chunked(&m16b, &batch(), 1.0, 3).unwrap();
    assert!(max_abs_diff(&s16b.logprobs, &s16.logprobs) > 0.0);
}

#[test]
fn device_and_dtype_policy() {
    use prover::policy::device::{check_servable, parse_device, parse_dtype, DeviceSpec};
    assert_eq!(parse_device("cpu"), Ok(DeviceSpec::Cpu));
    assert_eq!(parse_device("cuda"), Ok(DeviceSpec::Cuda(0)));
    assert_eq!(parse_device("cuda:3"), Ok(DeviceSpec::Cuda(3)));
    assert!(parse_device("cuda:x").is_err());
    assert!(parse_device("gpu").is_err());
    assert_eq!(parse_dtype("bf16"), Ok(DType::BF16));
    assert!(parse_dtype("fp16").unwrap_err().contains("\"f16\""));
    assert!(check_servable(DeviceSpec::Cpu, DType::F32).is_ok());
    let e = check_servable(DeviceSpec::Cpu, DType::F16).unwrap_err();
    assert!(e.contains("f16") && e.contains("cuda"), "{e}");
    // bf16 on the CPU: bf16 projection products, only where the kernel runs
    let bf = check_servable(DeviceSpec::Cpu, DType::BF16);
    if prover::policy::bf16_linear::available() {
        assert!(bf.is_ok(), "{bf:?}");
    } else {
        assert!(bf.unwrap_err().contains("AVX512-BF16"));
    }
    let cuda = check_servable(DeviceSpec::Cuda(0), DType::BF16);
    if cfg!(feature = "cuda") {
        assert!(cuda.is_ok());
    } else {
        assert!(cuda.unwrap_err().contains("scripts/build-cuda.sh"));
    }
}
