//! AdamW against hand-computed steps, gradient clipping, accumulation, state round trip, and
//! the learning-rate schedules.
use candle_core::{Device, Tensor, Var};
use prover::rl::optimizer::{AdamW, AdamWParams, GradAccumulator};
use prover::rl::schedule::{Schedule, ScheduleKind};

fn var(v: &[f32]) -> Var {
    Var::from_vec(v.to_vec(), v.len(), &Device::Cpu).unwrap()
}

/// Gradients of `Σ θ·c` are `c`.
fn grads_for(params: &[(String, Var)], coefs: &[&[f32]]) -> GradAccumulator {
    let mut loss = Tensor::new(0f32, &Device::Cpu).unwrap();
    for ((_, p), c) in params.iter().zip(coefs) {
        let c = Tensor::from_vec(c.to_vec(), c.len(), &Device::Cpu).unwrap();
        loss = (loss + (p.as_tensor() * c).unwrap().sum_all().unwrap()).unwrap();
    }
    let mut acc = GradAccumulator::new();
    acc.add(params, &loss.backward().unwrap()).unwrap();
    acc
}

fn vals(v: &Var) -> Vec<f32> {
    v.as_tensor().to_vec1().unwrap()
}

#[test]
fn adamw_matches_hand_computed_steps() {
    let p = vec![("w".to_string(), var(&[1.0, -2.0]))];
    let hp = AdamWParams {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
        grad_clip: 0.0,
    };
    let mut opt = AdamW::new(p.clone(), hp).unwrap();
    // step 1: m̂ = g, v̂ = g², update = sign(g); θ ← θ(1 − lr·wd) − lr·sign(g)
    let st = opt.step(&grads_for(&p, &[&[0.5, -0.1]]), 0.1).unwrap();
    assert!((st.grad_norm - (0.26f64).sqrt()).abs() < 1e-6);
    let w = vals(&p[0].1);
    assert!((w[0] - 0.899).abs() < 1e-6, "{w:?}");
    assert!((w[1] - (-1.898)).abs() < 1e-6, "{w:?}");
    // step 2 with g = [0.2, 0.3], by the formulas in f64
    let g1 = [0.5f64, -0.1];
    let g2 = [0.2f64, 0.3];
    let theta1 = [0.899f64, -1.898];
    opt.step(&grads_for(&p, &[&[0.2, 0.3]]), 0.05).unwrap();
    let w = vals(&p[0].1);
    for k in 0..2 {
        let m = 0.9 * (0.1 * g1[k]) + 0.1 * g2[k];
        let v = 0.999 * (0.001 * g1[k] * g1[k]) + 0.001 * g2[k] * g2[k];
        let mh = m / (1.0 - 0.81);
        let vh = v / (1.0 - 0.999f64.powi(2));
        let want = theta1[k] * (1.0 - 0.05 * 0.01) - 0.05 * mh / (vh.sqrt() + 1e-8);
        assert!(
            (w[k] as f64 - want).abs() < 1e-5,
            "param {k}: {} vs {want}",
            w[k]
        );
    }
    assert_eq!(opt.steps(), 2);
}

#[test]
fn global_clipping_reports_pre_clip_norm() {
    let p = vec![
        ("a".to_string(), var(&[0.0])),
        ("b".to_string(), var(&[0.0])),
    ];
    let hp = AdamWParams {
        weight_decay: 0.0,
        grad_clip: 1.0,
        ..Default::default()
    };
    let mut opt = AdamW::new(p.clone(), hp).unwrap();
    let st = opt.step(&grads_for(&p, &[&[3.0], &[4.0]]), 0.1).unwrap();
    assert!((st.grad_norm - 5.0).abs() < 1e-6);
    // first moments hold (1 − β₁)·clipped gradient = 0.1·[0.6, 0.8]
    let (state, _) = opt.state();
    let m_a: Vec<f32> = state
        .iter()
        .find(|(n, _)| n == "m.a")
        .unwrap()
        .1
        .to_vec1()
        .unwrap();
    let m_b: Vec<f32> = state
        .iter()
        .find(|(n, _)| n == "m.b")
        .unwrap()
        .1
        .to_vec1()
        .unwrap();
    assert!(
        (m_a[0] - 0.06).abs() < 1e-6 && (m_b[0] - 0.08).abs() < 1e-6,
        "{m_a:?} {m_b:?}"
    );
}

#[test]
fn accumulation_sums_micro_batches() {
    let p = vec![("w".to_string(), var(&[1.0, 1.0]))];
    let mut acc = grads_for(&p, &[&[1.0, 2.0]]);
    let loss = (p[0].1.as_tensor() * 3.0).unwrap().sum_all().unwrap();
    acc.add(&p, &loss.backward().unwrap()).unwrap();
    assert_eq!(
        acc.get("w").unwrap().to_vec1::<f32>().unwrap(),
        vec![4.0, 5.0]
    );
}

#[test]
fn nan_gradient_is_refused_without_update() {
    let p = vec![("w".to_string(), var(&[1.0]))];
    let mut opt = AdamW::new(p.clone(), AdamWParams::default()).unwrap();
    assert!(opt.step(&grads_for(&p, &[&[f32::NAN]]), 0.1).is_err());
    assert_eq!(vals(&p[0].1), vec![1.0]);
    assert_eq!(opt.steps(), 0);
}

#[test]
fn state_round_trip_continues_identically() {
    let mk = || vec![("w".to_string(), var(&[0.3, -0.7, 1.1]))];
    let (pa, pb) = (mk(), mk());
    let mut a = AdamW::new(pa.clone(), AdamWParams::default()).unwrap();
    for g in [[0.1f32, 0.2, -0.3], [0.5, -0.5, 0.05]] {
        a.step(&grads_for(&pa, &[&g]), 0.01).unwrap();
    }
    // copy weights and state into a fresh optimizer
    pb[0].1.set(pa[0].1.as_tensor()).unwrap();
    let mut b = AdamW::new(pb.clone(), AdamWParams::default()).unwrap();
    let (state, t) = a.state();
    b.load_state(&state.into_iter().collect(), t).unwrap();
    let g = [0.2f32, 0.1, 0.4];
    a.step(&grads_for(&pa, &[&g]), 0.01).unwrap();
    b.step(&grads_for(&pb, &[&g]), 0.01).unwrap();
    assert_eq!(vals(&pa[0].1), vals(&pb[0].1));
    // a missing entry is an error naming it
    let mut c = AdamW::new(mk(), AdamWParams::default()).unwrap();
    let err = c.load_state(&Default::default(), 1).unwrap_err();
    assert!(format!("{err}").contains("m.w"));
}

#[test]
fn schedules() {
    let s = |kind| Schedule {
        kind,
        lr: 1.0,
        warmup_steps: 10,
        total_steps: 110,
        min_lr_ratio: 0.1,
    };
    for k in [
        ScheduleKind::Constant,
        ScheduleKind::Linear,
        ScheduleKind::Cosine,
    ] {
        assert!((s(k).lr_at(0) - 0.1).abs() < 1e-12);
        assert!((s(k).lr_at(4) - 0.5).abs() < 1e-12);
        assert!((s(k).lr_at(10) - 1.0).abs() < 1e-12);
    }
    assert_eq!(s(ScheduleKind::Constant).lr_at(100), 1.0);
    assert!((s(ScheduleKind::Linear).lr_at(60) - 0.55).abs() < 1e-12);
    assert!((s(ScheduleKind::Linear).lr_at(110) - 0.1).abs() < 1e-12);
    assert!((s(ScheduleKind::Cosine).lr_at(60) - 0.55).abs() < 1e-12);
    assert!(
        (s(ScheduleKind::Cosine).lr_at(35)
            - (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI / 4.0).cos())))
        .abs()
            < 1e-12
    );
    assert!((s(ScheduleKind::Cosine).lr_at(500) - 0.1).abs() < 1e-12);
}

/// The fused CPU step on a parameter larger than one parallel chunk, with clipping active,
/// against the formulas in f64 over three steps; the moments it reports through `state()`
/// match too.
#[test]
fn fused_step_on_a_large_matrix_matches_the_formulas() {
    let (rows, cols) = (300usize, 170usize); // 51,000 elements: several chunks of 16,384
    let n = rows * cols;
    let mut s = 7u64;
    let mut rnd = || {
        s = prover::util::splitmix64(s);
        (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let theta0: Vec<f32> = (0..n).map(|_| rnd() as f32).collect();
    let p = vec![(
        "w".to_string(),
        Var::from_vec(theta0.clone(), (rows, cols), &Device::Cpu).unwrap(),
    )];
    let hp = AdamWParams {
        beta1: 0.8,
        beta2: 0.95,
        eps: 1e-6,
        weight_decay: 0.1,
        grad_clip: 5.0,
    };
    let mut opt = AdamW::new(p.clone(), hp).unwrap();
    let mut theta: Vec<f64> = theta0.iter().map(|&x| x as f64).collect();
    let (mut m, mut v) = (vec![0f64; n], vec![0f64; n]);
    for step in 1..=3i32 {
        // the gradient of Σ θ ⊙ Cᵀ, with C built [cols, rows]
        let c: Vec<f32> = (0..n).map(|_| (rnd() * 0.5) as f32).collect();
        let ct = Tensor::from_vec(c.clone(), (cols, rows), &Device::Cpu).unwrap();
        let loss = (p[0].1.as_tensor() * ct.t().unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let mut acc = GradAccumulator::new();
        acc.add(&p, &loss.backward().unwrap()).unwrap();
        let lr = 0.01 * step as f64;
        let st = opt.step(&acc, lr).unwrap();
        // g[i][j] = c[j][i]
        let g: Vec<f64> = (0..n)
            .map(|k| c[(k % cols) * rows + k / cols] as f64)
            .collect();
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(
            (st.grad_norm - norm).abs() < 1e-6 * norm,
            "{} vs {norm}",
            st.grad_norm
        );
        let clip = if norm > 5.0 { 5.0 / (norm + 1e-6) } else { 1.0 };
        assert!(clip < 1.0, "the test means to exercise clipping");
        let (bc1, bc2) = (1.0 - 0.8f64.powi(step), 1.0 - 0.95f64.powi(step));
        for k in 0..n {
            let gk = g[k] * clip;
            m[k] = 0.8 * m[k] + 0.2 * gk;
            v[k] = 0.95 * v[k] + 0.05 * gk * gk;
            theta[k] =
                theta[k] * (1.0 - lr * 0.1) - lr * (m[k] / bc1) / ((v[k] / bc2).sqrt() + 1e-6);
        }
        let got: Vec<f32> = p[0].1.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        let worst = got
            .iter()
            .zip(&theta)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0f64, f64::max);
        assert!(worst < 2e-5, "step {step}: worst |Δθ| = {worst}");
    }
    let (state, t) = opt.state();
    assert_eq!(t, 3);
    let state: std::collections::HashMap<_, _> = state.into_iter().collect();
    for (key, want) in [("m.w", &m), ("v.w", &v)] {
        let got: Vec<f32> = state[key].flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(state[key].dims(), &[rows, cols]);
        let worst = got
            .iter()
            .zip(want.iter())
            .map(|(&a, &b)| ((a as f64 - b) / b.abs().max(1e-3)).abs())
            .fold(0f64, f64::max);
        assert!(worst < 1e-4, "{key}: worst relative error {worst}");
    }
}
