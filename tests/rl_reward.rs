//! Rewards, shaping terms and advantages.
use prover::rl::advantage::{group_advantages, group_stats, is_constant_group};
use prover::rl::config::{RewardConfig, RewardKind};
use prover::rl::reward::{length_reward, overlong_penalty, RewardShaper};
use prover::rl::traits::RewardOutcome;
use prover::verify::Status;

fn outcome(v: Status, well_formed: bool) -> RewardOutcome {
    RewardOutcome {
        verdict: v,
        well_formed,
        graded: None,
    }
}

#[test]
fn base_reward_and_verifier_errors() {
    let s = RewardShaper::new(RewardConfig::default(), 100);
    assert_eq!(
        s.shape("t", &outcome(Status::Accepted, true), 10)
            .unwrap()
            .reward,
        1.0
    );
    assert_eq!(
        s.shape("t", &outcome(Status::rejected("x"), true), 10)
            .unwrap()
            .reward,
        0.0
    );
    assert!(s
        .shape("t", &outcome(Status::error("crash"), true), 10)
        .is_none());
    let e = RewardShaper::new(
        RewardConfig {
            kind: RewardKind::EntropyOnly,
            ..Default::default()
        },
        100,
    );
    let r = e.shape("t", &outcome(Status::Accepted, true), 10).unwrap();
    assert_eq!((r.reward, r.correct), (0.0, true));
}

#[test]
fn format_terms() {
    let s = RewardShaper::new(
        RewardConfig {
            format_reward: 0.1,
            format_penalty: -0.5,
            ..Default::default()
        },
        100,
    );
    assert!(
        (s.shape("t", &outcome(Status::Accepted, true), 5)
            .unwrap()
            .reward
            - 1.1)
            .abs()
            < 1e-12
    );
    assert!(
        (s.shape("t", &outcome(Status::rejected(String::new()), false), 5)
            .unwrap()
            .reward
            + 0.5)
            .abs()
            < 1e-12
    );
}

#[test]
fn dapo_overlong_penalty() {
    // L_max 100, L_buf 20: no penalty up to 80, linear to −factor at 100
    assert_eq!(overlong_penalty(80, 100, 20, 1.0), 0.0);
    assert!((overlong_penalty(90, 100, 20, 1.0) + 0.5).abs() < 1e-12);
    assert!((overlong_penalty(100, 100, 20, 2.0) + 2.0).abs() < 1e-12);
    assert_eq!(overlong_penalty(100, 100, 0, 1.0), 0.0);
    let s = RewardShaper::new(
        RewardConfig {
            overlong_buffer: 20,
            overlong_penalty: 1.0,
            ..Default::default()
        },
        100,
    );
    assert!(
        (s.shape("t", &outcome(Status::Accepted, true), 95)
            .unwrap()
            .reward
            - 0.25)
            .abs()
            < 1e-12
    );
}

#[test]
fn hapo_length_reward_uses_history() {
    assert!((length_reward(5, 10, true) - (std::f64::consts::FRAC_PI_4).cos()).abs() < 1e-12);
    assert!(length_reward(10, 10, true).abs() < 1e-12);
    assert!((length_reward(40, 10, true) + 1.0).abs() < 1e-12);
    assert_eq!(length_reward(5, 10, false), 0.0);
    assert!((length_reward(20, 10, false) + 1.0).abs() < 1e-12);
    let mut s = RewardShaper::new(
        RewardConfig {
            length_reward_weight: 0.5,
            ..Default::default()
        },
        100,
    );
    // no history: no term
    assert_eq!(
        s.shape("t", &outcome(Status::Accepted, true), 30)
            .unwrap()
            .length,
        0.0
    );
    s.record("t", 30, true);
    s.record("t", 12, false); // incorrect lengths do not count
    s.record("t", 20, true);
    assert_eq!(s.history["t"], 20);
    let r = s.shape("t", &outcome(Status::Accepted, true), 10).unwrap();
    assert!((r.length - 0.5 * (std::f64::consts::FRAC_PI_4).cos()).abs() < 1e-12);
    assert!((r.reward - (1.0 + r.length)).abs() < 1e-12);
}

#[test]
fn group_advantages_grpo_and_dr_grpo() {
    let r = [1.0, 0.0, 0.0, 1.0, 0.5];
    let g = [0, 1, 0, 0, 2];
    let a = group_advantages(&r, &g, true);
    // group 0 = {1, 0, 1}: mean 2/3, unbiased std sqrt(1/3)
    let (m, s) = (2.0 / 3.0, (1.0f64 / 3.0).sqrt());
    assert!((a[0] - (1.0 - m) / (s + 1e-6)).abs() < 1e-12);
    assert!((a[2] - (0.0 - m) / (s + 1e-6)).abs() < 1e-12);
    // singletons: mean 0, std 1
    assert!((a[1] - 0.0).abs() < 1e-12);
    assert!((a[4] - 0.5 / (1.0 + 1e-6)).abs() < 1e-12);
    let d = group_advantages(&r, &g, false);
    assert!((d[0] - (1.0 - m)).abs() < 1e-12);
    assert_eq!(d[4], 0.5);
    assert_eq!(group_stats(&[3.0]).std, 1.0);
    assert!(is_constant_group(&[1.0, 1.0, 1.0]));
    assert!(!is_constant_group(&[1.0, 0.0]));
    assert_eq!(group_advantages(&[1.0, 1.0], &[0, 0], true), vec![0.0, 0.0]);
}

#[test]
fn fn_rewarder_judges_each_completion() {
    use prover::data::Task;
    use prover::rl::traits::{FnRewarder, Rewarder};
    let mut r = FnRewarder(|t: &Task, c: &str| RewardOutcome {
        verdict: if Some(c.trim()) == t.answer() {
            Status::Accepted
        } else {
            Status::rejected(format!("expected {:?}", t.answer()))
        },
        well_formed: !c.is_empty(),
        graded: Some(c.trim().to_string()),
    });
    let task = Task::informal("a/0", "1+1", "2");
    let out = r
        .judge(&task, &["2".into(), "3".into(), "".into()])
        .unwrap();
    assert_eq!(out[0].verdict, Status::Accepted);
    assert!(matches!(out[1].verdict, Status::Rejected { .. }));
    assert!(!out[2].well_formed);
    let batch = r
        .judge_batch(&[(&task, vec!["2".into()]), (&task, vec!["5".into()])])
        .unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0][0].verdict, Status::Accepted);
}
