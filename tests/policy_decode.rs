//! The Decoder implementation: batched, left-padded rows give the same logits as each row
//! decoded alone and as a full forward pass; bad input is an error, not a panic.
use candle_core::{DType, Device, Tensor};
use prover::policy::decoder::Decoder;
use prover::policy::model::{Config, Family, Transformer};
use prover::policy::transformer_decoder::PolicyDecoder;
use prover::policy::weights::random_params;

fn model(family: Family) -> Transformer {
    let cfg = Config::tiny(family);
    let params = random_params(&cfg, 21, 0.3).unwrap();
    Transformer::new_inference(&cfg, &params, DType::F32).unwrap()
}

fn full_last_logits(m: &Transformer, ids: &[u32]) -> Vec<f32> {
    let x = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let l = m.logits(&x).unwrap();
    l.get(0)
        .unwrap()
        .get(ids.len() - 1)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn batched_equals_single(family: Family) {
    let m = model(family);
    let prompts = vec![
        vec![1u32, 5, 9, 33, 4, 4, 7],
        vec![1, 40],
        vec![8, 9, 10, 11],
    ];
    let mut dec = PolicyDecoder::new(m.clone());
    let mut logits = dec.prefill(&prompts).unwrap();
    assert_eq!(logits.dims(), &[3, 64]);
    let mut seqs = prompts.clone();
    for step in 0..6 {
        let rows: Vec<Vec<f32>> = logits.to_vec2().unwrap();
        for (r, seq) in seqs.iter().enumerate() {
            let want = full_last_logits(&m, seq);
            let d = max_diff(&rows[r], &want);
            assert!(
                d < 1e-4,
                "row {r} step {step}: differs from a full forward by {d}"
            );
        }
        let next: Vec<u32> = (0..3).map(|r| ((step * 11 + r * 17) % 64) as u32).collect();
        for (s, &t) in seqs.iter_mut().zip(&next) {
            s.push(t);
        }
        logits = dec.step(&next).unwrap();
    }
}

#[test]
fn batched_left_padded_decode_matches_full_forward_llama() {
    batched_equals_single(Family::Llama);
}

#[test]
fn batched_left_padded_decode_matches_full_forward_qwen2() {
    batched_equals_single(Family::Qwen2);
}

#[test]
fn prefill_resets_the_previous_batch() {
    let m = model(Family::Llama);
    let mut dec = PolicyDecoder::new(m.clone());
    dec.prefill(&[vec![1, 2, 3], vec![4]]).unwrap();
    dec.step(&[5, 6]).unwrap();
    let l: Vec<Vec<f32>> = dec.prefill(&[vec![7, 8]]).unwrap().to_vec2().unwrap();
    assert!(max_diff(&l[0], &full_last_logits(&m, &[7, 8])) < 1e-4);
    assert_eq!(dec.cache_len(), 2);
}

#[test]
fn bad_decoder_input_is_an_error() {
    let m = model(Family::Llama);
    let mut dec = PolicyDecoder::new(m);
    let e = dec.step(&[1]).unwrap_err().to_string();
    assert!(e.contains("before prefill"), "{e}");
    assert!(dec.prefill(&[]).is_err());
    let e = dec.prefill(&[vec![1], vec![]]).unwrap_err().to_string();
    assert!(e.contains("prompt 1 is empty"), "{e}");
    let e = dec.prefill(&[vec![1, 64]]).unwrap_err().to_string();
    assert!(e.contains("outside the vocabulary"), "{e}");
    // the tiny context is 64 tokens
    let e = dec.prefill(&[vec![3; 65]]).unwrap_err().to_string();
    assert!(e.contains("exceeds the model context of 64"), "{e}");
    dec.prefill(&[vec![3; 63], vec![4]]).unwrap();
    dec.step(&[1, 1]).unwrap();
    let e = dec.step(&[1, 1]).unwrap_err().to_string();
    assert!(e.contains("context of 64"), "{e}");
    let e = dec.step(&[1]).unwrap_err().to_string();
    assert!(e.contains("1 tokens for a batch of 2"), "{e}");
}

#[test]
fn scorer_rejects_overlong_and_empty_prompts() {
    let m = model(Family::Qwen2);
    let long = vec![(vec![1u32; 60], vec![2u32; 10])];
    let e = prover::policy::scorer::score_completions(&m, &long, 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("exceeds the model context"), "{e}");
    let e = prover::policy::scorer::score_completions(&m, &[(vec![], vec![1])], 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    let e = prover::policy::scorer::score_completions(&m, &[(vec![1], vec![1])], 0.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("temperature"), "{e}");
}

/// The inference model's one-pass attention (`policy::decode_attention`) against the training
/// model's attention (matmuls, fused masked softmax, transposes): the same logits at every
/// position, incrementally decoded left-padded rows included.
#[test]
fn one_pass_attention_matches_the_training_attention() {
    for family in [Family::Llama, Family::Qwen2] {
        let cfg = Config::tiny(family);
        let params = random_params(&cfg, 21, 0.3).unwrap();
        let infer = Transformer::new_inference(&cfg, &params, DType::F32).unwrap();
        let train = Transformer::new(&cfg, &params, DType::F32).unwrap();
        let ids: Vec<u32> = (0..19)
            .map(|i| (i * 7 + 3) % cfg.vocab_size as u32)
            .collect();
        let x = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let a: Vec<Vec<f32>> = infer.logits(&x).unwrap().get(0).unwrap().to_vec2().unwrap();
        let b: Vec<Vec<f32>> = train.logits(&x).unwrap().get(0).unwrap().to_vec2().unwrap();
        let scale = b.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.1, "{family:?}: logits are all near zero");
        for (t, (ra, rb)) in a.iter().zip(&b).enumerate() {
            let d = max_diff(ra, rb);
            assert!(
                d < 1e-4 * scale.max(1.0),
                "{family:?} position {t}: |Δlogit| {d}"
            );
        }
        // incremental decoding of two left-padded rows with the inference model against the
        // training model's full forward of each row
        let rows = [ids[..7].to_vec(), ids[3..15].to_vec()];
        let mut dec = PolicyDecoder::new(infer);
        let mut got = dec.prefill(&rows).unwrap().to_vec2::<f32>().unwrap();
        let mut seqs = rows.to_vec();
        for step in 0..4u32 {
            for (r, seq) in seqs.iter().enumerate() {
                let d = max_diff(&got[r], &full_last_logits(&train, seq));
                assert!(
                    d < 1e-4 * scale.max(1.0),
                    "{family:?} row {r} step {step}: {d}"
                );
            }
            let next = [step + 5, step + 11];
            for (seq, &tok) in seqs.iter_mut().zip(&next) {
                seq.push(tok);
            }
            got = dec.step(&next).unwrap().to_vec2::<f32>().unwrap();
        }
    }
}
