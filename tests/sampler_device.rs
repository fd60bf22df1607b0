//! The on-device sampler (`policy/device_sampling.rs`), run here on the CPU: greedy at
//! temperature 0, never a token outside the nucleus, and frequencies that follow the
//! renormalised nucleus probabilities.
use candle_core::{Device, Tensor};
use prover::policy::device_sampling::sample_on_device;

fn logits(probs: &[f32], rows: usize) -> Tensor {
    let row: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
    let all: Vec<f32> = (0..rows).flat_map(|_| row.clone()).collect();
    Tensor::from_vec(all, (rows, probs.len()), &Device::Cpu).unwrap()
}

#[test]
fn greedy_at_temperature_zero() {
    let z = Tensor::from_vec(vec![0.1f32, 3.0, -1.0, 2.9, 0.0, 5.0], (2, 3), &Device::Cpu).unwrap();
    let ids: Vec<u32> = sample_on_device(&z, 0.0, 0.9).unwrap().to_vec1().unwrap();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn draws_follow_the_nucleus() {
    // nucleus at 0.8: {0, 1, 2} (0.4 + 0.3 + 0.15 = 0.85), renormalised to 0.47 / 0.35 / 0.18
    let probs = [0.4f32, 0.3, 0.15, 0.1, 0.04, 0.01];
    let rows = 20_000;
    let ids: Vec<u32> = sample_on_device(&logits(&probs, rows), 1.0, 0.8)
        .unwrap()
        .to_vec1()
        .unwrap();
    let mut counts = [0usize; 6];
    for &i in &ids {
        counts[i as usize] += 1;
    }
    assert_eq!(
        counts[3] + counts[4] + counts[5],
        0,
        "outside the nucleus: {counts:?}"
    );
    for (i, want) in [(0, 0.4 / 0.85), (1, 0.3 / 0.85), (2, 0.15 / 0.85)] {
        let got = counts[i] as f64 / rows as f64;
        assert!(
            (got - want).abs() < 0.02,
            "token {i}: {got:.3} vs {want:.3}"
        );
    }
    // top_p = 1 keeps every token; temperature 2 flattens: the rarest gets drawn too
    let ids: Vec<u32> = sample_on_device(&logits(&probs, rows), 2.0, 1.0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let p5 = ids.iter().filter(|&&i| i == 5).count() as f64 / rows as f64;
    let flat: Vec<f64> = probs.iter().map(|p| (*p as f64).sqrt()).collect();
    let want = flat[5] / flat.iter().sum::<f64>();
    assert!(
        (p5 - want).abs() < 0.01,
        "token 5 at τ=2: {p5:.4} vs {want:.4}"
    );
}
