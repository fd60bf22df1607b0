//! The CUDA build's GPU tests (compiled only with `--features cuda`; Cargo.toml's
//! `required-features`, so the CPU build and CI never see them):
//! - each kernel of `kernels/` against its CPU reference (`policy/kernel_ref.rs`) on random
//!   inputs, f32, tolerance 1e-4 relative to the largest magnitude;
//! - forward parity CUDA vs CPU of the tiny models ($PROVER_TINY_MODELS, else
//!   ../shared/fixtures/tiny-models) and of a model in SmolLM2-135M's shape with random weights
//!   (SmolLM2's own weights do not fit the 64 MiB a GPU lease carries): f32 within 1e-3, bf16
//!   within 0.05·max|logit| + 0.05, and the differentiable scorer's gradients CUDA vs CPU.
//! Without a GPU each test says why it skips (and fails under PROVER_REQUIRE_FIXTURES=1).
mod common;

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use prover::policy::cuda_kernels as k;
use prover::policy::kernel_ref as r;
use prover::policy::model::{Config, Family, Transformer};
use prover::policy::params::ParamStore;
use prover::policy::scorer::score_completions_chunked;
use rand::{Rng, SeedableRng};

fn gpu() -> Option<Device> {
    match Device::new_cuda(0) {
        Ok(d) => Some(d),
        Err(e) => {
            common::skip(&format!("no CUDA device 0 ({e})"));
            None
        }
    }
}

fn randv(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-amp..amp)).collect()
}

fn up(v: &[f32], shape: &[usize], dev: &Device) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape, dev).unwrap()
}

fn down(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let s = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    let (i, d) = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold((0, 0f32), |m, (i, d)| if d > m.1 { (i, d) } else { m });
    eprintln!("{what}: max |kernel − reference| = {d:.3e} (scale {s:.3e})");
    assert!(
        d <= tol * s,
        "{what}: element {i}: {} vs {} (tol {tol}·{s})",
        got[i],
        want[i]
    );
}

#[test]
fn logprob_entropy_kernel_matches_reference() {
    let Some(dev) = gpu() else { return };
    // Qwen2.5's vocabulary, one scorer chunk of 64 rows
    for (rows, v, seed) in [(37, 1000, 1), (64, 151_936, 2)] {
        let z = randv(rows * v, seed, 8.0);
        let tgt: Vec<u32> = (0..rows).map(|i| ((i * 7919) % v) as u32).collect();
        let inv_t = 1.0 / 0.7;
        let zt = up(&z, &[rows, v], &dev);
        let tt = Tensor::from_vec(tgt.clone(), rows, &dev).unwrap();
        let stats = k::logprob_entropy_fwd(&zt, &tt, inv_t).unwrap();
        let want = r::logprob_entropy_fwd(&z, &tgt, v, inv_t);
        close(&format!("lpe fwd V={v}"), &down(&stats), &want, 1e-4);
        let g = randv(rows * 2, seed + 10, 1.0);
        let dz =
            k::logprob_entropy_bwd(&zt, &tt, &stats, &up(&g, &[rows, 2], &dev), inv_t).unwrap();
        let want = r::logprob_entropy_bwd(&z, &tgt, &want, &g, v, inv_t);
        close(&format!("lpe bwd V={v}"), &down(&dz), &want, 1e-4);
    }
}

#[test]
fn rmsnorm_kernels_match_reference() {
    let Some(dev) = gpu() else { return };
    let (rows, h, eps) = (333, 1536, 1e-6f32);
    let (x, w, g) = (
        randv(rows * h, 3, 3.0),
        randv(h, 4, 1.0),
        randv(rows * h, 5, 1.0),
    );
    let (xt, wt) = (up(&x, &[rows, h], &dev), up(&w, &[h], &dev));
    close(
        "rmsnorm fwd",
        &down(&k::rmsnorm_fwd(&xt, &wt, eps).unwrap()),
        &r::rmsnorm_fwd(&x, &w, eps),
        1e-4,
    );
    let (dx, dw) = k::rmsnorm_bwd(&xt, &wt, &up(&g, &[rows, h], &dev), eps).unwrap();
    let (rdx, rdw) = r::rmsnorm_bwd(&x, &w, &g, eps);
    close("rmsnorm dx", &down(&dx), &rdx, 1e-4);
    close("rmsnorm dw", &down(&dw), &rdw, 1e-4);
}

#[test]
fn rotary_kernel_matches_reference() {
    let Some(dev) = gpu() else { return };
    let (b, h, t, d) = (2, 12, 77, 128);
    let x = randv(b * h * t * d, 6, 2.0);
    let ang = randv(b * t * d / 2, 7, 3.0);
    let cos: Vec<f32> = ang.iter().map(|a| a.cos()).collect();
    let sin: Vec<f32> = ang.iter().map(|a| a.sin()).collect();
    let (ct, st) = (
        up(&cos, &[b, t, d / 2], &dev),
        up(&sin, &[b, t, d / 2], &dev),
    );
    for (sign, scale) in [(1.0, 0.088), (-1.0, 1.0)] {
        let y = k::rotary(&up(&x, &[b, h, t, d], &dev), &ct, &st, sign, scale).unwrap();
        let want = r::rotary(&x, &cos, &sin, b, h, t, d, sign, scale);
        close(&format!("rotary sign {sign}"), &down(&y), &want, 1e-5);
    }
}

#[test]
fn swiglu_kernels_match_reference() {
    let Some(dev) = gpu() else { return };
    let n = 8 * 8960 + 13;
    let (a, b, g) = (randv(n, 8, 6.0), randv(n, 9, 2.0), randv(n, 10, 1.0));
    let (at, bt) = (up(&a, &[n], &dev), up(&b, &[n], &dev));
    close(
        "swiglu fwd",
        &down(&k::swiglu_fwd(&at, &bt).unwrap()),
        &r::swiglu_fwd(&a, &b),
        1e-5,
    );
    let (da, db) = k::swiglu_bwd(&at, &bt, &up(&g, &[n], &dev)).unwrap();
    let (rda, rdb) = r::swiglu_bwd(&a, &b, &g);
    close("swiglu da", &down(&da), &rda, 1e-5);
    close("swiglu db", &down(&db), &rdb, 1e-5);
}

fn tiny_dir(name: &str) -> Option<PathBuf> {
    match std::env::var_os("PROVER_TINY_MODELS") {
        Some(d) => Some(PathBuf::from(d).join(name)),
        None => common::tiny_model(name),
    }
}

/// SmolLM2-135M-Instruct's shape (its config.json).
fn smollm2_shape() -> Config {
    Config {
        vocab_size: 49_152,
        hidden_size: 576,
        intermediate_size: 1536,
        num_hidden_layers: 30,
        num_attention_heads: 9,
        num_key_value_heads: 3,
        head_dim: 64,
        rms_norm_eps: 1e-5,
        rope_theta: 100_000.0,
        max_position_embeddings: 8192,
        tie_word_embeddings: true,
        attention_bias: false,
        ..Config::tiny(Family::Llama)
    }
}

fn parity(name: &str, cfg: &Config, params: &ParamStore, dev: &Device) {
    let rows: Vec<(Vec<u32>, Vec<u32>)> = (0..3)
        .map(|r| {
            let v = cfg.vocab_size as u32;
            let p = (0..5 + 3 * r)
                .map(|i| (i * 31 + r * 7 + 3) as u32 % v)
                .collect();
            let c = (0..7 + r)
                .map(|i| (i * 17 + r * 5 + 11) as u32 % v)
                .collect();
            (p, c)
        })
        .collect();
    let ids: Vec<u32> = rows[0].0.iter().chain(&rows[0].1).copied().collect();
    let n = ids.len();
    let cpu_model = Transformer::new(cfg, params, DType::F32).unwrap();
    let want = down(
        &cpu_model
            .logits(&Tensor::from_vec(ids.clone(), (1, n), &Device::Cpu).unwrap())
            .unwrap(),
    );
    let mut gp = params.clone();
    gp.to_device(dev).unwrap();
    for (dt, tol) in [(DType::F32, 1e-3f32), (DType::BF16, 0.05)] {
        let m = Transformer::new(cfg, &gp, dt).unwrap();
        let got = down(
            &m.logits(&Tensor::from_vec(ids.clone(), (1, n), dev).unwrap())
                .unwrap(),
        );
        let s = want.iter().fold(1f32, |a, v| a.max(v.abs()));
        let d = got
            .iter()
            .zip(&want)
            .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
        eprintln!("{name} {dt:?}: max |Δlogit| CUDA vs CPU f32 = {d:.3e} (max |logit| {s:.2})");
        assert!(d <= tol * s + tol, "{name} {dt:?}: logits differ by {d}");
    }
    // the differentiable scorer: values and gradients on CUDA equal the CPU's (f32)
    let grads_of = |m: &Transformer, ps: &ParamStore| {
        let s = score_completions_chunked(m, &rows, 1.0, 4).unwrap();
        let l = ((&s.logprobs + &s.entropy).unwrap() * &s.mask)
            .unwrap()
            .sum_all()
            .unwrap();
        let g = l.backward().unwrap();
        let lv = l.to_scalar::<f32>().unwrap();
        let gs: Vec<Vec<f32>> = ps
            .iter()
            .map(|(_, v)| down(g.get(v.as_tensor()).unwrap()))
            .collect();
        (lv, gs)
    };
    let (lc, gc) = grads_of(&cpu_model, params);
    let (lg, gg) = grads_of(&Transformer::new(cfg, &gp, DType::F32).unwrap(), &gp);
    eprintln!("{name}: scorer loss CPU {lc} CUDA {lg}");
    assert!((lc - lg).abs() <= 1e-3 * lc.abs().max(1.0));
    for ((pname, _), (a, b)) in params.iter().zip(gg.iter().zip(&gc)) {
        let s = b.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        let d = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            d <= 1e-2 * s,
            "{name} {pname}: CUDA gradient differs by {d} (scale {s})"
        );
    }
}

#[test]
fn forward_and_gradient_parity_cuda_vs_cpu() {
    let Some(dev) = gpu() else { return };
    for name in ["tiny-llama", "tiny-qwen2"] {
        let Some(dir) = tiny_dir(name) else { return };
        let (cfg, params) = prover::policy::weights::load_params(&dir).unwrap();
        parity(name, &cfg, &params, &dev);
    }
    let cfg = smollm2_shape();
    let params = prover::policy::weights::random_params(&cfg, 1, 0.02).unwrap();
    parity("smollm2-135m shape (random weights)", &cfg, &params, &dev);
}
