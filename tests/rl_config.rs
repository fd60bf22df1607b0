//! Run configs: every file in configs/ parses; unknown keys and bad values are errors that
//! name the key and the file.
mod common;

use prover::rl::aggregate::Aggregation;
use prover::rl::config::{RewardKind, RunConfig};
use prover::rl::kl::KlEstimator;

#[test]
fn every_config_file_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            RunConfig::load(&p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 3, "expected at least 3 configs, found {n}");
}

#[test]
fn one_shot_recipe_has_the_papers_settings() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/one-shot-rlvr-qwen2.5-math-1.5b.toml"
    );
    let c = RunConfig::load(std::path::Path::new(p)).unwrap();
    assert_eq!(c.sampling.group_size, 8);
    assert_eq!(c.sampling.prompts_per_step, 128);
    assert_eq!(c.sampling.temperature, 0.6);
    assert_eq!(c.sampling.max_new_tokens, 3072);
    assert_eq!(c.optim.lr, 1e-6);
    assert_eq!(c.optim.weight_decay, 0.01);
    assert_eq!(c.optim.grad_clip, 1.0);
    assert_eq!(c.loss.kl_coef, 0.001);
    assert_eq!(c.loss.kl_estimator, KlEstimator::K3);
    assert_eq!(c.loss.entropy_coef, 0.001);
    assert_eq!(c.data.example.as_deref(), Some("pi1"));
    assert!(c.data.one_shot);
    // verl's _validate decodes greedily (do_sample=False); that verl has no dual clip;
    // trainer.save_freq = test_freq = 20; data.max_prompt_length = 1024.
    assert_eq!(c.sampling.eval_temperature, 0.0);
    assert_eq!(c.loss.dual_clip, 0.0);
    assert_eq!((c.train.save_every, c.train.eval_every), (20, 20));
    assert_eq!(c.data.max_prompt_tokens, 1024);
    let lean = RunConfig::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/minif2f-lean.toml"
    )))
    .unwrap();
    assert_eq!(lean.reward.kind, RewardKind::Lean);
    assert_eq!(lean.loss.aggregation, Aggregation::TokenMean);
    assert_eq!(lean.lean.workers, Some(4));
    assert_eq!(lean.lean.timeout_s, 60.0);
    assert!(lean.lean.servers.is_empty());
}

#[test]
fn empty_config_gives_defaults() {
    let c = RunConfig::from_toml("", "empty").unwrap();
    assert_eq!(c, RunConfig::default());
    // round trip
    let again = RunConfig::from_toml(&c.to_toml().unwrap(), "roundtrip").unwrap();
    assert_eq!(again, c);
}

#[test]
fn unknown_key_names_key_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "[loss]\nclip_low = 0.2\nentropy_coeff = 0.01\n").unwrap();
    let msg = format!("{:#}", RunConfig::load(&p).unwrap_err());
    assert!(msg.contains("entropy_coeff"), "{msg}");
    assert!(msg.contains("bad.toml"), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");

    let msg = format!(
        "{:#}",
        RunConfig::from_toml("[sampling]\ngroup_size = 8\n[nonsense]\nx = 1\n", "x.toml")
            .unwrap_err()
    );
    assert!(msg.contains("nonsense") && msg.contains("x.toml"), "{msg}");

    // [lean] is typed: a misspelt key is refused, not passed along and ignored
    let msg = format!(
        "{:#}",
        RunConfig::from_toml("[lean]\nworkers = 2\ntimeout = 5\n", "l.toml").unwrap_err()
    );
    assert!(msg.contains("timeout") && msg.contains("l.toml"), "{msg}");
    let c = RunConfig::from_toml(
        "[lean]\nservers = [\"http://a:8000\", \"http://b:8000\"]\n",
        "s.toml",
    )
    .unwrap();
    assert_eq!(c.lean.servers, ["http://a:8000", "http://b:8000"]);
    let lsp = RunConfig::from_toml("[lean]\nbackend = \"lsp\"\n", "b.toml").unwrap();
    assert!(lsp.lean.settings().unwrap_err().contains("repl"));
}

#[test]
fn bad_values_are_errors() {
    for (text, key) in [
        ("[loss]\naggregation = \"token-sum\"\n", "token-sum"),
        ("[loss]\nkl_estimator = \"k4\"\n", "k4"),
        ("[sampling]\ngroup_size = 0\n", "group_size"),
        ("[loss]\ndual_clip = 0.5\n", "dual_clip"),
        ("[optim]\nschedule = \"step\"\n", "step"),
        ("[data]\nkind = \"weird\"\n", "weird"),
        ("[sampling]\ntemperature = \"hot\"\n", "temperature"),
    ] {
        let msg = format!("{:#}", RunConfig::from_toml(text, "c.toml").unwrap_err());
        assert!(msg.contains(key) && msg.contains("c.toml"), "{text}: {msg}");
    }
}

#[test]
fn every_config_names_data_that_loads() {
    let root = env!("CARGO_MANIFEST_DIR");
    for name in [
        "default.toml",
        "one-shot-rlvr-qwen2.5-math-1.5b.toml",
        "minif2f-lean.toml",
    ] {
        let c = RunConfig::load(&std::path::Path::new(root).join("configs").join(name)).unwrap();
        let missing = [Some(&c.data.train), c.data.eval.as_ref()]
            .into_iter()
            .flatten()
            .find(|p| !std::path::Path::new(root).join(p).exists());
        if let Some(p) = missing {
            common::skip(&format!(
                "{name}: {} is missing (../shared not present)",
                p.display()
            ));
            continue;
        }
        let mut data = c.data.clone();
        data.train = std::path::Path::new(root).join(&data.train);
        data.eval = data.eval.map(|p| std::path::Path::new(root).join(p));
        let train = prover::rl::run_data::train_tasks(&data).unwrap();
        let eval = prover::rl::run_data::eval_tasks(&data).unwrap();
        assert!(!train.is_empty() && !eval.is_empty(), "{name}");
        let prompt = prover::rl::run_data::prompt_for(&data, &train[0]);
        assert!(!prompt.user_text().is_empty(), "{name}");
        match name {
            "default.toml" => {
                assert_eq!((train.len(), eval.len()), (300, 200));
                assert!(c.reward.lenient);
            }
            "one-shot-rlvr-qwen2.5-math-1.5b.toml" => {
                assert_eq!(train.len(), 1, "one named example");
                assert_eq!(train[0].answer(), Some("12.8"));
                assert_eq!(eval.len(), 500);
            }
            _ => {
                assert_eq!(train.len(), 244, "miniF2F valid");
                assert_eq!(eval.len(), 244, "miniF2F test");
                assert!(prompt.user_text().contains(train[0].id()));
            }
        }
    }
}

#[test]
fn unsupported_dtype_or_device_is_refused_not_ignored() {
    use prover::rl::config::ModelConfig;
    let ok = ModelConfig::default();
    ok.check_supported().unwrap();
    let bf16_cpu = ModelConfig {
        dtype: "bf16".into(),
        ..ModelConfig::default()
    }
    .check_supported();
    if prover::policy::bf16_linear::available() {
        bf16_cpu.unwrap();
    } else {
        let e = format!("{:#}", bf16_cpu.unwrap_err());
        assert!(e.contains("AVX512-BF16"), "{e}");
    }
    for (dtype, device, needle) in [
        ("f16", "cpu", "dtype = \"f16\" on the CPU"),
        ("f32", "tpu", "expected \"cpu\""),
        ("f8", "cpu", "expected \"f32\""),
    ]
    .into_iter()
    .chain(
        // the CPU build refuses CUDA and says how to get a CUDA build
        [
            ("f32", "cuda", "scripts/build-cuda.sh"),
            ("bf16", "cuda:1", "device = \"cuda:1\""),
        ]
        .into_iter()
        .filter(|_| !cfg!(feature = "cuda")),
    ) {
        let m = ModelConfig {
            dtype: dtype.into(),
            device: device.into(),
            ..ModelConfig::default()
        };
        let e = m.check_supported().unwrap_err().to_string();
        assert!(e.contains(needle), "{dtype}/{device}: {e}");
    }
}

/// The module doc of `src/rl/config.rs` states each key's default by hand, as
/// `` `key` … (default VALUE…) ``: every such VALUE must be what `RunConfig::default()` holds,
/// and every key `Default` writes must be documented (the free-form `[lean]` table aside).
#[test]
fn documented_defaults_match_default() {
    let src = include_str!("../src/rl/config.rs");
    let doc: String = src
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!"))
        .collect::<Vec<_>>()
        .join(" ");
    let defaults = toml::Value::try_from(RunConfig::default()).unwrap();
    let mut section = String::new();
    let mut checked = 0;
    let mut documented = std::collections::HashSet::new();
    // Walk the doc's backticked names: "`[name]`" opens a section, "`key`" names a key, and a
    // "(default V" that follows a key before the next backtick states its default.
    let parts: Vec<&str> = doc.split('`').collect();
    for i in (1..parts.len()).step_by(2) {
        let name = parts[i];
        if let Some(s) = name.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let Some(table) = defaults.get(section.as_str()) else {
            continue;
        };
        documented.insert(format!("{section}.{name}"));
        let after = parts.get(i + 1).copied().unwrap_or("");
        let Some(at) = after.find("(default ") else {
            continue;
        };
        if after[..at].chars().count() > 12 || after[..at].contains([';', ':', '(', ')']) {
            // prose between the key and "(default": the default belongs to something else
            continue;
        }
        let rest = after[at + "(default ".len()..].trim_start();
        let value = if rest.starts_with('[') {
            &rest[..=rest.find(']').unwrap()]
        } else {
            rest.split([',', ')', ' ']).next().unwrap()
        };
        let stated: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .unwrap_or_else(|e| panic!("[{section}] {name}: default {value:?} is not TOML: {e}"))
            .remove("v")
            .unwrap();
        let actual = table.get(name).unwrap_or_else(|| {
            panic!("[{section}] {name}: documented default but Default has none")
        });
        let same = match (&stated, actual) {
            (toml::Value::Integer(a), toml::Value::Float(b)) => *a as f64 == *b,
            (toml::Value::Array(a), toml::Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_float() == y.as_float())
            }
            (a, b) => a == b,
        };
        assert!(
            same,
            "[{section}] {name}: the doc says default {stated}, Default holds {actual}"
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} documented defaults found");
    for (section, table) in defaults.as_table().unwrap() {
        if section == "lean" {
            continue;
        }
        for key in table.as_table().unwrap().keys() {
            assert!(
                documented.contains(&format!("{section}.{key}")),
                "[{section}] {key} is not documented in src/rl/config.rs"
            );
        }
    }
}
