//! The sampler's reduced-precision model (`policy::quantized_decoder`): with f32 weights it
//! gives the training model's logits; bf16 / f16 / q8_0 copies stay close; a GGUF file's own
//! q4_1 matrices pick the same greedy tokens as its dequantized f32 copy (rate printed).
mod common;

use candle_core::quantized::GgmlDType;
use candle_core::{DType, Tensor, D};
use prover::policy::decoder::Decoder;
use prover::policy::model::{Config, Family, Transformer};
use prover::policy::quantized_decoder::QuantizedTransformer;
use prover::policy::transformer_decoder::PolicyDecoder;
use prover::policy::weights::{load_params, random_params};

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_dtype(DType::F32).unwrap().to_vec2().unwrap()
}

/// Logits of a padded prefill and three steps.
fn run(dec: &mut impl Decoder) -> Vec<Vec<Vec<f32>>> {
    let prompts = vec![vec![3u32, 9, 4, 7, 1], vec![5u32, 2], vec![8u32, 8, 6]];
    let mut out = vec![rows(&dec.prefill(&prompts).unwrap())];
    for s in 0..3u32 {
        out.push(rows(&dec.step(&[10 + s, 20 + s, 30 + s]).unwrap()));
    }
    out
}

fn max_diff(a: &[Vec<Vec<f32>>], b: &[Vec<Vec<f32>>]) -> (f32, f32) {
    let mut d = 0f32;
    let mut m = 0f32;
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        for (p, q) in x.iter().zip(y) {
            d = d.max((p - q).abs());
            m = m.max(p.abs());
        }
    }
    (d, m)
}

fn wide(family: Family) -> Config {
    Config {
        hidden_size: 32,
        intermediate_size: 64,
        head_dim: 8,
        ..Config::tiny(family)
    }
}

#[test]
fn f32_weights_give_the_training_models_logits() {
    for family in [Family::Llama, Family::Qwen2] {
        let cfg = Config::tiny(family);
        let params = random_params(&cfg, 5, 0.3).unwrap();
        let f = Transformer::new_inference(&cfg, &params, DType::F32).unwrap();
        let q = QuantizedTransformer::from_params(&cfg, &params, GgmlDType::F32).unwrap();
        let (d, m) = max_diff(
            &run(&mut PolicyDecoder::new(f)),
            &run(&mut PolicyDecoder::new(q)),
        );
        assert!(m > 0.1, "{family:?}: logits are all near zero");
        assert!(d < 1e-4, "{family:?}: max |Δlogit| = {d}");
    }
}

#[test]
fn reduced_precision_copies_stay_close() {
    for family in [Family::Llama, Family::Qwen2] {
        let cfg = wide(family);
        let params = random_params(&cfg, 6, 0.3).unwrap();
        let f = Transformer::new_inference(&cfg, &params, DType::F32).unwrap();
        let want = run(&mut PolicyDecoder::new(f));
        for (dt, tol) in [
            (GgmlDType::BF16, 0.05),
            (GgmlDType::F16, 0.01),
            (GgmlDType::Q8_0, 0.1), // activations are rounded to q8_0 blocks too
        ] {
            let q = QuantizedTransformer::from_params(&cfg, &params, dt).unwrap();
            assert_eq!(q.weights_dtype(), dt);
            let (d, m) = max_diff(&want, &run(&mut PolicyDecoder::new(q)));
            assert!(d > 0.0, "{family:?} {dt:?}: no rounding at all?");
            assert!(
                d < tol * m,
                "{family:?} {dt:?}: max |Δlogit| {d} vs max |logit| {m}"
            );
        }
    }
}

#[test]
fn rows_not_made_of_whole_blocks_are_an_error() {
    let cfg = Config::tiny(Family::Llama); // width 16 < the q8_0 block of 32
    let params = random_params(&cfg, 7, 0.3).unwrap();
    let e = QuantizedTransformer::from_params(&cfg, &params, GgmlDType::Q8_0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("block size"), "{e}");
}

/// Teacher-forced greedy agreement: the f32 path decodes greedily; at each step the other
/// decoder is fed the same tokens and its argmax is compared.
fn agreement(f32_dec: &mut impl Decoder, other: &mut impl Decoder, steps: usize) -> f64 {
    let prompts: Vec<Vec<u32>> = vec![
        vec![1, 504, 3458, 282, 4649, 314, 216, 30, 29],
        vec![1, 19556, 378, 1076, 253, 1644, 30],
        vec![1, 2683, 314, 216, 33, 1232, 216, 34],
        vec![1, 378, 2496, 253, 22995, 30, 657, 5248],
    ];
    let mut a = f32_dec.prefill(&prompts).unwrap();
    let mut b = other.prefill(&prompts).unwrap();
    let (mut same, mut n) = (0usize, 0usize);
    for _ in 0..steps {
        let ta: Vec<u32> = a.argmax(D::Minus1).unwrap().to_vec1().unwrap();
        let tb: Vec<u32> = b.argmax(D::Minus1).unwrap().to_vec1().unwrap();
        same += ta.iter().zip(&tb).filter(|(x, y)| x == y).count();
        n += ta.len();
        a = f32_dec.step(&ta).unwrap();
        b = other.step(&ta).unwrap();
    }
    same as f64 / n as f64
}

#[test]
fn smollm2_q4_1_and_q8_0_agree_with_the_f32_path() {
    let Some(path) = common::smollm2_gguf() else {
        return;
    };
    let (cfg, params) = load_params(&path).unwrap();
    let f = || PolicyDecoder::new(Transformer::new_inference(&cfg, &params, DType::F32).unwrap());
    let gguf = QuantizedTransformer::from_gguf(&cfg, &path).unwrap();
    assert_eq!(gguf.weights_dtype(), GgmlDType::Q4_1);
    let r_gguf = agreement(&mut f(), &mut PolicyDecoder::new(gguf), 32);
    let q8 = QuantizedTransformer::from_params(&cfg, &params, GgmlDType::Q8_0).unwrap();
    let r_q8 = agreement(&mut f(), &mut PolicyDecoder::new(q8), 32);
    let bf = QuantizedTransformer::from_params(&cfg, &params, GgmlDType::BF16).unwrap();
    let r_bf = agreement(&mut f(), &mut PolicyDecoder::new(bf), 32);
    eprintln!(
        "greedy agreement with the dequantized f32 path (4 rows x 32 tokens, teacher-forced): \
         gguf q4_1 {r_gguf:.3}, q8_0 {r_q8:.3}, bf16 {r_bf:.3}"
    );
    assert!(r_gguf >= 0.9, "gguf q4_1 agreement {r_gguf}");
    assert!(r_q8 >= 0.9, "q8_0 agreement {r_q8}");
    assert!(r_bf >= 0.9, "bf16 agreement {r_bf}");
}

// ---- the bf16 kernel (policy::bf16_matmul) ----

/// A small deterministic generator (xorshift64*), values in [-1, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        v as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

#[test]
fn bf16_rounding_is_nearest_even() {
    use prover::policy::bf16_matmul::{bf16_bits, bf16_value};
    // exactly representable values stay
    for v in [
        0.0f32,
        -0.0,
        1.0,
        -2.5,
        65280.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        assert_eq!(bf16_value(bf16_bits(v)).to_bits(), v.to_bits(), "{v}");
    }
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0)
    assert_eq!(bf16_value(bf16_bits(1.0 + 1.0 / 256.0)), 1.0);
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even)
    assert_eq!(bf16_value(bf16_bits(1.0 + 3.0 / 256.0)), 1.0 + 1.0 / 64.0);
    // just above a tie rounds up
    assert_eq!(
        bf16_value(bf16_bits(f32::from_bits((1.0f32).to_bits() + 0x8001))),
        1.0 + 1.0 / 128.0
    );
    // the largest finite f32 rounds to infinity; NaN stays NaN
    assert_eq!(bf16_value(bf16_bits(f32::MAX)), f32::INFINITY);
    assert!(bf16_value(bf16_bits(f32::NAN)).is_nan());
    // relative rounding error at most 2^-8 (8 significant bits) on random normal values
    let mut rng = Rng(7);
    for _ in 0..10_000 {
        let v = rng.next() * 1e3;
        let r = bf16_value(bf16_bits(v));
        assert!((r - v).abs() <= v.abs() / 256.0, "{v} -> {r}");
    }
}

/// `y[r, j] = Σ bf16(x)·bf16(W)` in f64: the reference's own formula, independently.
fn bf16_matmul_f64(x: &[f32], w: &[f32], m: usize, n: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    use prover::policy::bf16_matmul::{bf16_bits, bf16_value};
    let r = |v: f32| bf16_value(bf16_bits(v)) as f64;
    let mut y = vec![0f64; m * n];
    let mut mag = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            for c in 0..k {
                let p = r(x[i * k + c]) * r(w[j * k + c]);
                y[i * n + j] += p;
                mag[i * n + j] += p.abs();
            }
        }
    }
    (y, mag)
}

#[test]
fn bf16_kernel_and_reference_agree_with_the_formula() {
    use prover::policy::bf16_matmul::Bf16Matrix;
    if !Bf16Matrix::kernel_available() {
        common::skip("this CPU has no AVX512-BF16: only the reference loop runs here");
    }
    let mut rng = Rng(42);
    // shapes: tile remainders in rows (1..8, 9, 17), blocks (n not a multiple of 16 or 48),
    // odd k (a padded pair)
    let shapes = [
        (1, 16, 32),
        (3, 48, 64),
        (8, 96, 576),
        (9, 50, 33),
        (16, 192, 576),
        (17, 7, 5),
        (5, 130, 1536),
        (2, 1, 1),
    ];
    for (m, n, k) in shapes {
        let x = rng.vec(m * k, 2.0);
        let w = rng.vec(n * k, 0.5);
        let mat = Bf16Matrix::from_f32(&w, n, k).unwrap();
        assert_eq!((mat.rows(), mat.cols()), (n, k));
        let (exact, mag) = bf16_matmul_f64(&x, &w, m, n, k);
        let fast = mat.matmul(&x, m).unwrap();
        let reference = mat.matmul_reference(&x, m).unwrap();
        for (i, ((&e, &g), (&f, &r))) in exact
            .iter()
            .zip(&mag)
            .zip(fast.iter().zip(&reference))
            .enumerate()
        {
            let tol = 1e-6 * (k as f64).sqrt() * g + 1e-7;
            assert!(
                (f as f64 - e).abs() <= tol,
                "{m}x{n}x{k} [{i}]: kernel {f} vs {e}"
            );
            assert!(
                (r as f64 - e).abs() <= tol,
                "{m}x{n}x{k} [{i}]: reference {r} vs {e}"
            );
        }
    }
}

#[test]
fn bf16_matmul_refuses_wrong_sizes() {
    use prover::policy::bf16_matmul::Bf16Matrix;
    let err = Bf16Matrix::from_f32(&[1.0; 5], 2, 3).unwrap_err();
    assert!(err.contains("5 values for a 2 × 3"), "{err}");
    let mat = Bf16Matrix::from_f32(&[1.0; 6], 2, 3).unwrap();
    let err = mat.matmul(&[1.0; 4], 2).unwrap_err();
    assert!(err.contains("4 input values for 2 rows of 3"), "{err}");
}

#[test]
fn auto_sampling_weights_pick_bf16_only_where_the_kernel_runs() {
    use candle_core::Device;
    use prover::policy::bf16_matmul::Bf16Matrix;
    use prover::policy::sampling_weights::SamplingWeights;
    let auto: SamplingWeights = "auto".parse().unwrap();
    assert_eq!(auto, SamplingWeights::Auto);
    let want = if Bf16Matrix::kernel_available() {
        SamplingWeights::Bf16
    } else {
        SamplingWeights::F32
    };
    assert_eq!(auto.resolve(&Device::Cpu), want);
    // explicit choices are never changed
    for w in ["f32", "bf16", "f16", "q8_0", "gguf"] {
        let w: SamplingWeights = w.parse().unwrap();
        assert_eq!(w.resolve(&Device::Cpu), w);
    }
    let err = "fp8".parse::<SamplingWeights>().unwrap_err();
    assert!(err.contains("auto"), "{err}");
}
