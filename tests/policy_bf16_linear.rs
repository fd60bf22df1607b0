//! bf16 projections for training (`[model] dtype = "bf16"` on a CPU with AVX512-BF16): the
//! product and both of its gradients against the formulas in f64, the transposed packing
//! against packing the transpose, and the whole model against f32.
use candle_core::{DType, Device, Tensor};
use prover::policy::bf16_linear::bf16_linear;
use prover::policy::bf16_matmul::{bf16_bits, bf16_value, Bf16Matrix};
use prover::policy::model::{Config, Family, Transformer};
use prover::policy::scorer::score_completions;
use prover::policy::weights::random_params;

struct Rng(u64);
impl Rng {
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 = prover::util::splitmix64(self.0);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }
}

fn r(v: f32) -> f64 {
    bf16_value(bf16_bits(v)) as f64
}

/// `Σ_c a(i, c)·b(j, c)` over `len` terms, with both operands rounded to bf16, in f64; and the
/// sum of the magnitudes (for the tolerance).
fn dot_f64(
    rows: usize,
    cols: usize,
    len: usize,
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
) -> (Vec<f64>, Vec<f64>) {
    let mut y = vec![0f64; rows * cols];
    let mut mag = vec![0f64; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            for c in 0..len {
                let p = r(a(i, c)) * r(b(j, c));
                y[i * cols + j] += p;
                mag[i * cols + j] += p.abs();
            }
        }
    }
    (y, mag)
}

fn check(what: &str, got: &Tensor, want: &(Vec<f64>, Vec<f64>), len: usize) {
    let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(got.len(), want.0.len(), "{what}: size");
    for (i, (&g, (&e, &m))) in got.iter().zip(want.0.iter().zip(&want.1)).enumerate() {
        let tol = 1e-6 * (len as f64).sqrt() * m + 1e-7;
        assert!((g as f64 - e).abs() <= tol, "{what} [{i}]: {g} vs {e}");
    }
}

#[test]
fn product_and_both_gradients_match_the_formulas() {
    let mut rng = Rng(5);
    // (m, k, n): one element, odd k (a padded pair), n not a multiple of 16, rows not a
    // multiple of the 8-row tile, a model-sized slice
    for (m, k, n) in [
        (1, 1, 1),
        (3, 33, 17),
        (9, 64, 50),
        (17, 5, 130),
        (40, 576, 192),
    ] {
        let xv = rng.vec(m * k, 2.0);
        let wv = rng.vec(n * k, 0.5);
        let gv = rng.vec(m * n, 1.0);
        let x = candle_core::Var::from_vec(xv.clone(), (m, k), &Device::Cpu).unwrap();
        let w = candle_core::Var::from_vec(wv.clone(), (n, k), &Device::Cpu).unwrap();
        let g = Tensor::from_vec(gv.clone(), (m, n), &Device::Cpu).unwrap();
        let y = bf16_linear(x.as_tensor(), w.as_tensor()).unwrap();
        assert_eq!(y.dims(), &[m, n]);
        // y = x·Wᵀ
        let want_y = dot_f64(m, n, k, |i, c| xv[i * k + c], |j, c| wv[j * k + c]);
        check(&format!("{m}x{k}x{n} y"), &y, &want_y, k);
        // the loss Σ y ⊙ g has ∂L/∂y = g
        let grads = (y * &g).unwrap().sum_all().unwrap().backward().unwrap();
        // ∂L/∂x [m, k] = g·W: Σ_j g[i, j]·W[j, c]
        let want_gx = dot_f64(m, k, n, |i, j| gv[i * n + j], |c, j| wv[j * k + c]);
        check(
            &format!("{m}x{k}x{n} dx"),
            grads.get(x.as_tensor()).unwrap(),
            &want_gx,
            n,
        );
        // ∂L/∂W [n, k] = gᵀ·x: Σ_i g[i, j]·x[i, c]
        let want_gw = dot_f64(n, k, m, |j, i| gv[i * n + j], |c, i| xv[i * k + c]);
        check(
            &format!("{m}x{k}x{n} dW"),
            grads.get(w.as_tensor()).unwrap(),
            &want_gw,
            m,
        );
    }
}

#[test]
fn transposed_packing_equals_packing_the_transpose() {
    let mut rng = Rng(9);
    for (k, n) in [(1, 1), (2, 16), (7, 33), (64, 48), (33, 100), (576, 192)] {
        let a = rng.vec(k * n, 3.0);
        let at: Vec<f32> = (0..n * k).map(|i| a[(i % k) * n + i / k]).collect();
        let p = Bf16Matrix::from_f32_transposed(&a, k, n).unwrap();
        let q = Bf16Matrix::from_f32(&at, n, k).unwrap();
        assert_eq!((p.rows(), p.cols()), (n, k));
        for j in 0..n {
            for c in 0..k {
                assert_eq!(
                    p.weight(j, c).to_bits(),
                    q.weight(j, c).to_bits(),
                    "{k}x{n} at ({j}, {c})"
                );
                assert_eq!(p.weight(j, c) as f64, r(a[c * n + j]));
            }
        }
        let x = rng.vec(5 * k, 1.0);
        assert_eq!(p.matmul(&x, 5).unwrap(), q.matmul(&x, 5).unwrap());
    }
    assert!(Bf16Matrix::from_f32_transposed(&[1.0; 5], 2, 3).is_err());
}

/// The tiny model with bf16 projections against f32: the same loss within bf16 rounding, and
/// gradients pointing the same way. Where the CPU lacks AVX512-BF16 the model is refused.
#[test]
fn the_model_with_bf16_projections_tracks_f32() {
    let cfg = Config {
        hidden_size: 64,
        intermediate_size: 128,
        head_dim: 16,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        ..Config::tiny(Family::Llama)
    };
    let params = random_params(&cfg, 21, 0.3).unwrap();
    let Ok(bf) = Transformer::new_bf16_projections(&cfg, &params) else {
        assert!(
            !Bf16Matrix::kernel_available(),
            "refused although the CPU has AVX512-BF16"
        );
        eprintln!("this CPU has no AVX512-BF16: bf16 projections are refused, as they must be");
        return;
    };
    let f32m = Transformer::new(&cfg, &params, DType::F32).unwrap();
    let batch = vec![
        (vec![1u32, 5, 9, 33], vec![7u32, 8, 2, 11, 40]),
        (vec![1, 40], vec![63, 12, 13, 14, 2]),
    ];
    let run = |m: &Transformer| {
        let out = score_completions(m, &batch, 1.0).unwrap();
        let lp = (&out.logprobs * &out.mask).unwrap().sum_all().unwrap();
        let l = (lp + out.entropy.sum_all().unwrap().affine(0.1, 0.0).unwrap()).unwrap();
        let g = l.backward().unwrap();
        let flat: Vec<f32> = params
            .iter()
            .flat_map(|(_, v)| {
                g.get(v.as_tensor())
                    .map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                    .unwrap_or_default()
            })
            .collect();
        (l.to_scalar::<f32>().unwrap() as f64, flat)
    };
    let (l_bf, g_bf) = run(&bf);
    let (l_32, g_32) = run(&f32m);
    assert!(
        (l_bf - l_32).abs() < 0.02 * l_32.abs().max(1.0),
        "loss {l_bf} vs {l_32}"
    );
    assert_eq!(g_bf.len(), g_32.len());
    let dot: f64 = g_bf
        .iter()
        .zip(&g_32)
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum();
    let n1: f64 = g_bf.iter().map(|&a| (a as f64).powi(2)).sum::<f64>().sqrt();
    let n2: f64 = g_32.iter().map(|&a| (a as f64).powi(2)).sum::<f64>().sqrt();
    let cos = dot / (n1 * n2);
    assert!(cos > 0.995, "gradient cosine {cos}");
    assert!((n1 / n2 - 1.0).abs() < 0.05, "gradient norms {n1} vs {n2}");
    // and the two are not the same computation
    assert!(g_bf != g_32, "bf16 projections changed nothing");
}
