//! Checkpoints survive interrupted writes; metrics files are trimmed on resume.
use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use prover::rl::checkpoint::{self, TrainState};
use prover::rl::metrics::{read_metrics, MetricsWriter, StepMetrics};

fn state(step: u64) -> TrainState {
    TrainState {
        step,
        optimizer_steps: step * 2,
        data_cursor: step * 4,
        seed: 9,
        reward_history: BTreeMap::from([("t/1".to_string(), 17usize)]),
    }
}

#[test]
fn round_trip_and_interrupted_save() {
    let dir = tempfile::tempdir().unwrap();
    let w = Tensor::new(&[1.0f32, 2.0, 3.0], &Device::Cpu).unwrap();
    let m = Tensor::new(&[0.5f32, 0.25, 0.0], &Device::Cpu).unwrap();
    let d = checkpoint::save(
        dir.path(),
        &[("w".into(), w.clone())],
        &[("m.w".into(), m.clone()), ("v.w".into(), m.clone())],
        &state(10),
    )
    .unwrap();
    assert!(d.ends_with("step-00000010"));
    // a crash while writing step 20 leaves a temp dir behind; latest still points at 10
    let tmp = dir.path().join("checkpoints/.step-00000020.tmp-1234");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("weights.safetensors"), b"partial").unwrap();
    let latest = checkpoint::latest(dir.path()).unwrap().unwrap();
    assert_eq!(latest, d);
    let ck = checkpoint::load(&latest).unwrap();
    assert_eq!(ck.state, state(10));
    assert_eq!(
        ck.weights["w"].to_vec1::<f32>().unwrap(),
        vec![1.0, 2.0, 3.0]
    );
    assert_eq!(
        ck.optimizer["m.w"].to_vec1::<f32>().unwrap(),
        vec![0.5, 0.25, 0.0]
    );
    // pruning ignores temp dirs and keeps the newest
    for s in [11, 12, 13] {
        checkpoint::save(dir.path(), &[("w".into(), w.clone())], &[], &state(s)).unwrap();
    }
    checkpoint::prune(dir.path(), 2).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ".step-00000020.tmp-1234",
            "latest",
            "step-00000012",
            "step-00000013"
        ]
    );
    // saving the same step twice replaces it
    checkpoint::save(dir.path(), &[("w".into(), m.clone())], &[], &state(13)).unwrap();
    let ck = checkpoint::load(&checkpoint::latest(dir.path()).unwrap().unwrap()).unwrap();
    assert_eq!(
        ck.weights["w"].to_vec1::<f32>().unwrap(),
        vec![0.5, 0.25, 0.0]
    );
}

#[test]
fn broken_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checkpoints/step-00000005")).unwrap();
    std::fs::write(dir.path().join("checkpoints/latest"), "step-00000005\n").unwrap();
    let msg = format!(
        "{:#}",
        checkpoint::load(&checkpoint::latest(dir.path()).unwrap().unwrap()).unwrap_err()
    );
    assert!(
        msg.contains("step-00000005") && msg.contains("state.json"),
        "{msg}"
    );
    std::fs::write(dir.path().join("checkpoints/latest"), "../../etc\n").unwrap();
    assert!(checkpoint::latest(dir.path()).is_err());
}

#[test]
fn resume_trims_metrics_after_the_checkpoint_and_torn_lines() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut w = MetricsWriter::open(dir.path(), Some(0)).unwrap();
        for step in 1..=6 {
            w.write_step(&StepMetrics {
                step,
                reward_mean: step as f64,
                ..Default::default()
            })
            .unwrap();
        }
    }
    // a crash mid-line
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("metrics.jsonl"))
        .unwrap();
    f.write_all(b"{\"step\":7,\"rew").unwrap();
    drop(f);
    assert!(
        read_metrics(&dir.path().join("metrics.jsonl")).is_err(),
        "torn line is reported"
    );
    MetricsWriter::open(dir.path(), Some(4)).unwrap();
    let m = read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(
        m.iter().map(|x| x.step).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
}
