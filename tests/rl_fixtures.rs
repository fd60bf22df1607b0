//! Acceptance: the loss, advantages, KL and entropy reproduce the verl-formula fixtures in
//! `../shared/fixtures/grpo/grpo_fixtures.json` (values and gradients w.r.t. the logits) to
//! 1e-5 relative in f32.
mod common;

use candle_core::{DType, Device, Tensor, Var};
use prover::policy::logprob::token_logp_entropy;
use prover::rl::advantage::group_advantages;
use prover::rl::aggregate::{AggNorm, Aggregation};
use prover::rl::kl::KlEstimator;
use prover::rl::loss::{grpo_loss, LossConfig, LossInputs};
use serde_json::Value;

fn fixtures() -> Option<Value> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/grpo/grpo_fixtures.json"
    );
    match std::fs::read_to_string(p) {
        Ok(s) => Some(serde_json::from_str(&s).expect("fixture json parses")),
        Err(e) => {
            common::skip(&format!("cannot read {p}: {e}"));
            None
        }
    }
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => panic!("not numeric: {v}"),
    }
}

fn t2(v: &Value, b: usize, t: usize) -> Tensor {
    let f: Vec<f32> = flat(v).iter().map(|&x| x as f32).collect();
    Tensor::from_vec(f, (b, t), &Device::Cpu).unwrap()
}

/// Relative error against the array's scale, `|got − want| ≤ 1e-5 · max|want|` (an f32
/// computation of a quantity of magnitude `S` is exact to about `1e-7·S` at best, so tiny
/// elements are compared at the scale of the array they belong to, as `allclose` with
/// `atol = 1e-5·S` does), plus a looser per-element check `≤ 1e-4 · max(|want|, 1e-2·S)` that
/// catches any single wrong element.
fn assert_close(name: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let scale = want.iter().fold(0f64, |m, x| m.max(x.abs())).max(1e-30);
    let (mut rel_scale, mut rel_elem) = (0f64, 0f64);
    for (g, w) in got.iter().zip(want) {
        rel_scale = rel_scale.max((g - w).abs() / scale);
        rel_elem = rel_elem.max((g - w).abs() / w.abs().max(scale * 1e-2));
    }
    WORST.with(|w| {
        let mut w = w.borrow_mut();
        w.0 = w.0.max(rel_scale);
        w.1 = w.1.max(rel_elem);
    });
    assert!(
        rel_scale <= 1e-5,
        "{name}: max error {rel_scale:.3e} of the array scale > 1e-5"
    );
    assert!(
        rel_elem <= 1e-4,
        "{name}: max element-relative error {rel_elem:.3e} > 1e-4"
    );
}

thread_local! {
    static WORST: std::cell::RefCell<(f64, f64)> = const { std::cell::RefCell::new((0.0, 0.0)) };
}

fn to_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn grpo_fixtures_values_and_gradients() {
    let Some(doc) = fixtures() else { return };
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    let mut modes_seen = std::collections::BTreeSet::new();
    let mut clip_seen = false;
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let (b, t, v) = (
            c["shapes"]["B"].as_u64().unwrap() as usize,
            c["shapes"]["T"].as_u64().unwrap() as usize,
            c["shapes"]["V"].as_u64().unwrap() as usize,
        );
        let inp = &c["inputs"];
        let out = &c["outputs"];
        // advantages
        let rewards = flat(&inp["rewards"]);
        let gids: Vec<usize> = inp["group_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let adv = group_advantages(&rewards, &gids, true);
        let adv32: Vec<f64> = adv.iter().map(|&a| a as f32 as f64).collect();
        assert_close(
            &format!("{name} advantages"),
            &adv32,
            &flat(&out["advantages"]),
        );

        // logits -> logp, entropy (differentiable)
        let logits: Vec<f32> = flat(&inp["logits"]).iter().map(|&x| x as f32).collect();
        let logits = Var::from_vec(logits, (b, t, v), &Device::Cpu).unwrap();
        let ids: Vec<u32> = flat(&inp["chosen_ids"]).iter().map(|&x| x as u32).collect();
        let ids = Tensor::from_vec(ids, (b, t), &Device::Cpu).unwrap();
        let stats = token_logp_entropy(logits.as_tensor(), &ids, 1.0).unwrap();
        assert_close(
            &format!("{name} logp"),
            &to_f64(&stats.logp),
            &flat(&out["logp"]),
        );
        assert_close(
            &format!("{name} entropy"),
            &to_f64(&stats.entropy),
            &flat(&out["entropy"]),
        );

        let mask = t2(&inp["response_mask"], b, t);
        let old = t2(&inp["old_logp"], b, t);
        let refl = t2(&inp["ref_logp"], b, t);
        let adv_t = Tensor::from_vec(
            adv.iter().map(|&a| a as f32).collect::<Vec<_>>(),
            b,
            &Device::Cpu,
        )
        .unwrap();
        let mode: Aggregation =
            serde_json::from_value(inp["loss_agg_mode"].clone()).expect("known aggregation mode");
        modes_seen.insert(mode.name());
        let p = LossConfig {
            clip_low: inp["clip_eps_low"].as_f64().unwrap(),
            clip_high: inp["clip_eps_high"].as_f64().unwrap(),
            dual_clip: inp["clip_ratio_c"].as_f64().unwrap(),
            entropy_coef: inp["entropy_coef"].as_f64().unwrap(),
            kl_coef: inp["kl_coef"].as_f64().unwrap(),
            kl_estimator: KlEstimator::K3,
            aggregation: mode,
            ..Default::default()
        };
        let norm = AggNorm::from_mask(&mask).unwrap();
        let li = LossInputs {
            logp: &stats.logp,
            entropy: &stats.entropy,
            old_logp: Some(&old),
            ref_logp: Some(&refl),
            rollout_is_weights: None,
            advantages: &adv_t,
            mask: &mask,
        };
        // Force the KL term to be computed even with kl_coef 0, to check kl_agg.
        let p_kl = LossConfig {
            kl_coef: if p.kl_coef == 0.0 { 1e-30 } else { p.kl_coef },
            ..p
        };
        let o = grpo_loss(&li, &p_kl, &norm).unwrap();
        let o_exact = grpo_loss(&li, &p, &norm).unwrap();
        let s = |x: &Tensor| x.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
        assert_close(
            &format!("{name} ratio"),
            &to_f64(&o.ratio),
            &flat(&out["ratio"]),
        );
        assert_close(
            &format!("{name} pg per token"),
            &to_f64(&o.pg_per_token),
            &flat(&out["pg_loss_per_token"]),
        );
        assert_close(
            &format!("{name} kl per token"),
            &to_f64(&o.kl_per_token),
            &flat(&out["kl_per_token"]),
        );
        assert_close(
            &format!("{name} pg"),
            &[s(&o.pg)],
            &[out["pg_loss"].as_f64().unwrap()],
        );
        assert_close(
            &format!("{name} ent"),
            &[s(&o.entropy)],
            &[out["entropy_agg"].as_f64().unwrap()],
        );
        assert_close(
            &format!("{name} kl"),
            &[s(&o.kl)],
            &[out["kl_agg"].as_f64().unwrap()],
        );
        assert_close(
            &format!("{name} total"),
            &[s(&o_exact.total)],
            &[out["total_loss"].as_f64().unwrap()],
        );
        let m = &out["metrics"];
        assert_close(
            &format!("{name} clipfrac"),
            &[o.counts.clip_frac()],
            &[m["pg_clipfrac"].as_f64().unwrap()],
        );
        assert_close(
            &format!("{name} clipfrac lower"),
            &[o.counts.clip_frac_lower()],
            &[m["pg_clipfrac_lower"].as_f64().unwrap()],
        );
        assert!(
            (o.counts.ppo_kl() - m["ppo_kl"].as_f64().unwrap()).abs() < 1e-5,
            "{name} ppo_kl"
        );
        if o.counts.clipped > 0.0 && o.counts.dual_clipped > 0.0 {
            clip_seen = true;
        }

        // gradients w.r.t. the logits: total and each part
        for (key, tensor) in [
            ("grad_total_wrt_logits", &o_exact.total),
            ("grad_pg_wrt_logits", &o.pg),
            ("grad_entropy_agg_wrt_logits", &o.entropy),
            ("grad_kl_agg_wrt_logits", &o.kl),
        ] {
            let grads = tensor.backward().unwrap();
            let g = grads
                .get(logits.as_tensor())
                .expect("gradient reaches the logits");
            assert_close(&format!("{name} {key}"), &to_f64(g), &flat(&out[key]));
        }
    }
    assert_eq!(
        modes_seen.len(),
        4,
        "all four aggregation modes covered: {modes_seen:?}"
    );
    assert!(
        clip_seen,
        "some case exercises ratio clipping and the dual clip"
    );
    WORST.with(|w| {
        let w = w.borrow();
        eprintln!(
            "worst error vs array scale {:.2e}, worst element-relative {:.2e}",
            w.0, w.1
        );
    });
}
