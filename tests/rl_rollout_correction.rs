//! Rollout correction against float64 Python fixtures
//! (`tests/fixtures/make_rollout_correction.py`), and its hook in the loss.
use candle_core::{DType, Device, Tensor};
use prover::rl::aggregate::AggNorm;
use prover::rl::loss::{grpo_loss, LossConfig, LossInputs};
use prover::rl::rollout_correction::{batch_weights, rollout_is_weights, RolloutIs};

fn close(what: &str, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

fn rows(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

#[test]
fn weights_and_metrics_match_the_python_fixtures() {
    let text = std::fs::read_to_string("tests/fixtures/rollout_correction.json").unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 6);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let mode = match c["mode"].as_str().unwrap() {
            "token" => RolloutIs::Token,
            "sequence" => RolloutIs::Sequence,
            m => panic!("{name}: unknown mode {m}"),
        };
        let tr = rows(&c["train"]);
        let ro = rows(&c["rollout"]);
        let trr: Vec<&[f32]> = tr.iter().map(|r| r.as_slice()).collect();
        let ror: Vec<&[f32]> = ro.iter().map(|r| r.as_slice()).collect();
        let th = c["threshold"].as_f64().unwrap();
        let w = rollout_is_weights(&trr, &ror, mode, th).unwrap();
        let want = c["weights"].as_array().unwrap();
        for (i, (g, e)) in w.weights.iter().zip(want).enumerate() {
            let e = e.as_array().unwrap();
            assert_eq!(g.len(), e.len(), "{name} row {i}");
            for (t, (a, b)) in g.iter().zip(e).enumerate() {
                close(&format!("{name} w[{i}][{t}]"), *a, b.as_f64().unwrap());
            }
        }
        let f = |k: &str| c[k].as_f64().unwrap();
        close(name, w.stats.mean(), f("rollout_is_mean"));
        close(
            name,
            w.stats.eff_sample_size(),
            f("rollout_is_eff_sample_size"),
        );
        close(name, w.stats.mismatch(), f("rollout_mismatch"));
    }
}

#[test]
fn loss_multiplies_the_per_token_pg_by_the_weights() {
    let dev = Device::Cpu;
    let logp = Tensor::new(&[[-1.0f32, -0.5, -2.0], [-0.3, -1.2, -0.7]], &dev).unwrap();
    let rollout: [&[f32]; 2] = [&[-1.4, -0.5, -1.0], &[-0.1, -1.2]];
    let lens = [3usize, 2];
    let mask = Tensor::new(&[[1f32, 1., 1.], [1., 1., 0.]], &dev).unwrap();
    let adv = Tensor::new(&[0.7f32, -1.1], &dev).unwrap();
    let ent = logp.zeros_like().unwrap();
    let ro: Vec<Option<&[f32]>> = rollout.iter().map(|r| Some(*r)).collect();
    let (w, st) = batch_weights(&logp, &ro, &lens, RolloutIs::Token, 2.0)
        .unwrap()
        .unwrap();
    assert_eq!(st.tokens, 5.0);
    let norm = AggNorm::from_mask(&mask).unwrap();
    let p = LossConfig::default();
    let base = LossInputs {
        logp: &logp,
        entropy: &ent,
        old_logp: None,
        ref_logp: None,
        rollout_is_weights: None,
        advantages: &adv,
        mask: &mask,
    };
    let plain = grpo_loss(&base, &p, &norm).unwrap();
    let weighted = grpo_loss(
        &LossInputs {
            rollout_is_weights: Some(&w),
            ..base.clone()
        },
        &p,
        &norm,
    )
    .unwrap();
    let v = |t: &Tensor| -> Vec<Vec<f32>> { t.to_dtype(DType::F32).unwrap().to_vec2().unwrap() };
    let (a, b, wv) = (v(&plain.pg_per_token), v(&weighted.pg_per_token), v(&w));
    // on-policy the ratio is 1, so pg_t = −A; weighted: −A·w_t
    for i in 0..2 {
        for t in 0..lens[i] {
            let want = a[i][t] * wv[i][t];
            assert!(
                (b[i][t] - want).abs() < 1e-6,
                "[{i}][{t}] {} vs {want}",
                b[i][t]
            );
        }
    }
    // w[0][0] = min(exp(-1.0 + 1.4), 2) = e^0.4; w[0][2] = min(e^-1, 2); w[1][0] = e^-0.2
    assert!((wv[0][0] as f64 - 0.4f64.exp()).abs() < 1e-6);
    assert!((wv[0][2] as f64 - (-1.0f64).exp()).abs() < 1e-6);
    assert!((wv[1][0] as f64 - (-0.2f64).exp()).abs() < 1e-6);
    assert_eq!(wv[1][2], 1.0, "padding gets weight 1");
}
