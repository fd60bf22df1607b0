//! `curves.svg`: whole-step tick labels without repeats, the KL panel when KL is off, and the
//! held-out evaluations marked on the reward panel.
use std::collections::HashMap;

use prover::rl::metrics::{MetricsWriter, StepMetrics};
use prover::rl::plot::{plot_run, render, EVAL_MARK};

/// A `<text>` element of the SVG: its anchor and content.
struct Text {
    x: f64,
    y: f64,
    s: String,
}

fn attr(tag: &str, name: &str) -> Option<f64> {
    let k = format!(" {name}=\"");
    let i = tag.find(&k)? + k.len();
    tag[i..].split('"').next()?.parse().ok()
}

fn texts(svg: &str) -> Vec<Text> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        rest = &rest[i..];
        let close = rest.find('>').unwrap();
        let end = rest.find("</text>").unwrap();
        let tag = &rest[..close];
        out.push(Text {
            x: attr(tag, "x").unwrap(),
            y: attr(tag, "y").unwrap(),
            s: rest[close + 1..end].trim().to_string(),
        });
        rest = &rest[end..];
    }
    out
}

/// Groups of labels that share one axis: x-axis labels of a panel share their `y` and
/// y-axis labels their `x` (panels are 400 px wide, 350 px high).
fn axis_groups(t: &[Text]) -> Vec<Vec<String>> {
    let mut by_row: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    let mut by_col: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    for x in t {
        let panel = ((x.x / 400.0) as i64, (x.y / 350.0) as i64);
        by_row
            .entry((x.y.round() as i64, panel.0))
            .or_default()
            .push(x.s.clone());
        by_col
            .entry((x.x.round() as i64, panel.1))
            .or_default()
            .push(x.s.clone());
    }
    by_row
        .into_values()
        .chain(by_col.into_values())
        .filter(|g| g.len() > 1)
        .collect()
}

fn rows(n: u64, kl: f64) -> Vec<StepMetrics> {
    let mut v = vec![StepMetrics {
        step: 0,
        eval_accuracy: Some(0.25),
        ..Default::default()
    }];
    for s in 1..=n {
        v.push(StepMetrics {
            step: s,
            reward_mean: 0.1 * s as f64,
            accuracy: 0.2 * s as f64,
            entropy: 1.0 - 0.01 * s as f64,
            kl: kl * s as f64,
            grad_norm: 0.5,
            zero_std_frac: 0.5,
            eval_accuracy: (s == 2).then_some(0.5),
            ..Default::default()
        });
    }
    v
}

#[test]
fn three_steps_have_whole_step_labels_each_once() {
    for kl_off in [false, true] {
        let svg = render(&rows(3, 0.01), kl_off).unwrap();
        let t = texts(&svg);
        let groups = axis_groups(&t);
        // six panels: each has an x-axis group and a y-axis group
        assert!(groups.len() >= 12, "{} axis groups", groups.len());
        for g in &groups {
            let mut seen = std::collections::HashSet::new();
            for s in g {
                assert!(
                    seen.insert(s),
                    "tick label {s:?} repeated on one axis: {g:?}"
                );
            }
        }
        // the x-axes are labelled at whole steps only: 0 (the evaluation before training) to 3
        let x_axis: Vec<&Vec<String>> = groups
            .iter()
            .filter(|g| g.iter().all(|s| s.parse::<i64>().is_ok()))
            .collect();
        assert!(x_axis.len() >= 6, "{x_axis:?}");
        for g in x_axis {
            assert_eq!(g, &["0", "1", "2", "3"], "x-axis labels");
        }
        // without the evaluation before training the axis starts at step 1
        let no_zero: Vec<StepMetrics> = rows(3, 0.01).into_iter().skip(1).collect();
        let groups = axis_groups(&texts(&render(&no_zero, kl_off).unwrap()));
        let x_axis: Vec<&Vec<String>> = groups
            .iter()
            .filter(|g| g.iter().all(|s| s.parse::<i64>().is_ok()))
            .collect();
        assert!(x_axis.len() >= 6, "{x_axis:?}");
        for g in x_axis {
            assert_eq!(g, &["1", "2", "3"], "x-axis labels");
        }
    }
}

#[test]
fn one_and_many_steps_have_distinct_labels() {
    for n in [1, 2, 7, 250] {
        let svg = render(&rows(n, 0.0), true).unwrap();
        for g in axis_groups(&texts(&svg)) {
            let mut sorted = g.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), g.len(), "{n} steps: repeated label in {g:?}");
        }
    }
}

#[test]
fn kl_panel_says_when_kl_is_off() {
    let off = render(&rows(3, 0.0), true).unwrap();
    assert!(off.contains("KL off"), "title says KL off");
    assert!(!off.contains("KL to reference"));
    let on = render(&rows(3, 0.01), false).unwrap();
    assert!(on.contains("KL to reference"));
    assert!(!on.contains("KL off"));
}

#[test]
fn held_out_evaluations_are_marked_on_the_reward_panel() {
    let mark = format!("#{:02X}{:02X}{:02X}", EVAL_MARK.0, EVAL_MARK.1, EVAL_MARK.2);
    // evaluations at steps 0 and 2: two marks
    let svg = render(&rows(3, 0.0), true).unwrap();
    assert_eq!(svg.matches(&mark).count(), 2, "one mark per evaluation");
    // no evaluation, no mark
    let plain: Vec<StepMetrics> = rows(3, 0.0)
        .into_iter()
        .filter(|m| m.step > 0)
        .map(|m| StepMetrics {
            eval_accuracy: None,
            ..m
        })
        .collect();
    assert_eq!(render(&plain, true).unwrap().matches(&mark).count(), 0);
}

#[test]
fn plot_run_reads_kl_coef_from_the_run_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = MetricsWriter::open(dir.path(), Some(0)).unwrap();
    for m in rows(3, 0.0) {
        w.write_step(&m).unwrap();
    }
    // no config.toml: every KL is 0, so KL is off
    let svg = std::fs::read_to_string(plot_run(dir.path()).unwrap()).unwrap();
    assert!(svg.contains("KL off"));
    // a config with kl_coef ≠ 0 shows the KL even while it is still 0
    std::fs::write(dir.path().join("config.toml"), "[loss]\nkl_coef = 0.001\n").unwrap();
    let svg = std::fs::read_to_string(plot_run(dir.path()).unwrap()).unwrap();
    assert!(svg.contains("KL to reference"));
    std::fs::write(dir.path().join("config.toml"), "[loss]\nkl_coef = 0.0\n").unwrap();
    let svg = std::fs::read_to_string(plot_run(dir.path()).unwrap()).unwrap();
    assert!(svg.contains("KL off"));
}
