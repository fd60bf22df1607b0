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
