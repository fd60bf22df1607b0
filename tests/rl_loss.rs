//! Loss pieces beyond the fixtures: micro-batch accumulation equals the full batch, the other
//! KL estimators, temperature, Dr. GRPO normalizer.
use candle_core::{Device, Tensor, Var};
use prover::policy::logprob::token_logp_entropy;
use prover::rl::aggregate::{aggregate, AggNorm, Aggregation};
use prover::rl::kl::{kl_per_token, KlEstimator};
use prover::rl::loss::{grpo_loss, LossConfig, LossInputs};

fn det(n: usize, seed: u32) -> Vec<f32> {
    // deterministic pseudo-random values in (-2, 2)
    (0..n)
        .map(|i| {
            let x = ((i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(seed.wrapping_mul(40503)))
                % 10007;
            x as f32 / 10007.0 * 4.0 - 2.0
        })
        .collect()
}

#[test]
fn micro_batches_add_up_to_the_full_batch() {
    let (b, t, v) = (6, 4, 7);
    let logits = Var::from_vec(det(b * t * v, 1), (b, t, v), &Device::Cpu).unwrap();
    let ids: Vec<u32> = (0..b * t).map(|i| (i * 5 % v) as u32).collect();
    let ids = Tensor::from_vec(ids, (b, t), &Device::Cpu).unwrap();
    let lens = [4usize, 2, 0, 3, 4, 1];
    let mask: Vec<f32> = lens
        .iter()
        .flat_map(|&n| (0..t).map(move |k| (k < n) as u32 as f32))
        .collect();
    let mask = Tensor::from_vec(mask, (b, t), &Device::Cpu).unwrap();
    let adv = Tensor::new(&[1.0f32, -0.5, 0.3, -1.2, 0.8, 0.0], &Device::Cpu).unwrap();
    let old = Tensor::from_vec(det(b * t, 2), (b, t), &Device::Cpu)
        .unwrap()
        .affine(0.1, -2.0)
        .unwrap();
    let rf = Tensor::from_vec(det(b * t, 3), (b, t), &Device::Cpu)
        .unwrap()
        .affine(0.1, -2.0)
        .unwrap();
    for mode in [
        Aggregation::TokenMean,
        Aggregation::SeqMeanTokenMean,
        Aggregation::SeqMeanTokenSum,
        Aggregation::SeqMeanTokenSumNorm,
    ] {
        let p = LossConfig {
            entropy_coef: 0.01,
            kl_coef: 0.05,
            aggregation: mode,
            ..Default::default()
        };
        let norm = AggNorm::from_lengths(&lens, 16);
        let run = |rows: std::ops::Range<usize>| {
            let n = rows.len();
            let lg = logits.as_tensor().narrow(0, rows.start, n).unwrap();
            let s = token_logp_entropy(&lg, &ids.narrow(0, rows.start, n).unwrap(), 0.7).unwrap();
            let o = old.narrow(0, rows.start, n).unwrap();
            let r = rf.narrow(0, rows.start, n).unwrap();
            let a = adv.narrow(0, rows.start, n).unwrap();
            let m = mask.narrow(0, rows.start, n).unwrap();
            let inp = LossInputs {
                logp: &s.logp,
                entropy: &s.entropy,
                old_logp: Some(&o),
                ref_logp: Some(&r),
                rollout_is_weights: None,
                advantages: &a,
                mask: &m,
            };
            grpo_loss(&inp, &p, &norm).unwrap().total
        };
        let full = run(0..6);
        let g_full = full.backward().unwrap();
        let g_full = g_full
            .get(logits.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let (l1, l2) = (run(0..2), run(2..6));
        let g1 = l1.backward().unwrap();
        let g2 = l2.backward().unwrap();
        let sum_g =
            (g1.get(logits.as_tensor()).unwrap() + g2.get(logits.as_tensor()).unwrap()).unwrap();
        let sum_g = sum_g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let lf = full.to_scalar::<f32>().unwrap();
        let ls = l1.to_scalar::<f32>().unwrap() + l2.to_scalar::<f32>().unwrap();
        assert!(
            (lf - ls).abs() < 1e-6 * (1.0 + lf.abs()),
            "{mode:?}: {lf} vs {ls}"
        );
        for (a, b) in g_full.iter().zip(&sum_g) {
            assert!((a - b).abs() < 1e-6, "{mode:?}: grad {a} vs {b}");
        }
    }
}

#[test]
fn kl_estimators() {
    let lp = Tensor::new(&[[-1.0f32, -2.0]], &Device::Cpu).unwrap();
    let rf = Tensor::new(&[[-1.5f32, -1.0]], &Device::Cpu).unwrap();
    let k1: Vec<f32> = kl_per_token(&lp, &rf, KlEstimator::K1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let k2: Vec<f32> = kl_per_token(&lp, &rf, KlEstimator::K2)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let k3: Vec<f32> = kl_per_token(&lp, &rf, KlEstimator::K3)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(k1, vec![0.5, -1.0]);
    assert_eq!(k2, vec![0.125, 0.5]);
    let want = |x: f64| (x.exp() - x - 1.0) as f32;
    assert!((k3[0] - want(-0.5)).abs() < 1e-6 && (k3[1] - want(1.0)).abs() < 1e-6);
}

#[test]
fn temperature_divides_logits() {
    let z = Tensor::new(&[[[1.0f32, 2.0, 0.5]]], &Device::Cpu).unwrap();
    let ids = Tensor::new(&[[1u32]], &Device::Cpu).unwrap();
    let a = token_logp_entropy(&z, &ids, 0.5).unwrap();
    let b = token_logp_entropy(&(&z / 0.5).unwrap(), &ids, 1.0).unwrap();
    let f = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0];
    assert!((f(&a.logp) - f(&b.logp)).abs() < 1e-6);
    assert!((f(&a.entropy) - f(&b.entropy)).abs() < 1e-6);
    let p: Vec<f64> = [2.0f64, 4.0, 1.0].iter().map(|x| x.exp()).collect();
    let s: f64 = p.iter().sum();
    assert!((f(&a.logp) as f64 - (p[1] / s).ln()).abs() < 1e-6);
}

#[test]
fn sum_norm_divides_by_the_constant_length() {
    let m = Tensor::new(&[[1.0f32, 2.0, 3.0], [4.0, 0.0, 0.0]], &Device::Cpu).unwrap();
    let mask = Tensor::new(&[[1.0f32, 1.0, 1.0], [1.0, 0.0, 0.0]], &Device::Cpu).unwrap();
    let norm = AggNorm::from_lengths(&[3, 1], 10);
    let v = aggregate(&m, &mask, Aggregation::SeqMeanTokenSumNorm, &norm)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((v - 10.0 / 2.0 / 10.0).abs() < 1e-6);
    let v = aggregate(&m, &mask, Aggregation::TokenMean, &norm)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((v - 2.5).abs() < 1e-6);
    let v = aggregate(&m, &mask, Aggregation::SeqMeanTokenMean, &norm)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((v - 3.0).abs() < 1e-6);
}
