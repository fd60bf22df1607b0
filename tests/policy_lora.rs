//! LoRA adapters: start equal to the base, only adapters train, save/load round-trips.
mod common;

use candle_core::{DType, Device, Tensor};
use common::max_abs_diff;
use prover::policy::lora::{attach, load_adapters, save_adapters, LoraConfig};
use prover::policy::model::{Config, Family, Transformer};
use prover::policy::scorer::score_completions;
use prover::policy::weights::random_params;

fn logits(cfg: &Config, p: &prover::policy::params::ParamStore) -> Tensor {
    let m = Transformer::new_inference(cfg, p, DType::F32).unwrap();
    m.logits(&Tensor::new(&[[1u32, 7, 9, 3]], &Device::Cpu).unwrap())
        .unwrap()
}

fn diff(a: &Tensor, b: &Tensor) -> f32 {
    max_abs_diff(a, b)
}

#[test]
fn lora_trains_only_adapters_and_round_trips() {
    let cfg = Config::tiny(Family::Qwen2);
    let mut params = random_params(&cfg, 4, 0.3).unwrap();
    let base = logits(&cfg, &params);
    let lc = LoraConfig {
        rank: 2,
        alpha: 4.0,
        target_modules: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
    };
    let n = attach(&mut params, &cfg, &lc, 1).unwrap();
    assert_eq!(n, 2 * 3 * cfg.num_hidden_layers);
    assert_eq!(params.trainable_vars().len(), n);
    // B = 0: identical to the base
    assert!(diff(&base, &logits(&cfg, &params)) < 1e-6);
    // move B away from zero: output changes, and every adapter gets a gradient
    for (name, var) in params.trainable() {
        if name.contains("lora_B") {
            let t = Tensor::randn(0f32, 0.5, var.shape(), &Device::Cpu).unwrap();
            var.set(&t).unwrap();
        }
    }
    let adapted = logits(&cfg, &params);
    assert!(diff(&base, &adapted) > 1e-3);
    let m = Transformer::new(&cfg, &params, DType::F32).unwrap();
    let out = score_completions(&m, &[(vec![1, 2, 3], vec![4, 5, 6])], 1.0).unwrap();
    let grads = out.logprobs.sum_all().unwrap().backward().unwrap();
    for (name, var) in params.iter() {
        let g = grads.get(var.as_tensor());
        if name.contains("lora_") {
            let norm = g
                .unwrap_or_else(|| panic!("no grad for {name}"))
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "{name}");
        } else {
            assert!(g.is_none(), "frozen {name} got a gradient");
        }
    }
    // save / load into a fresh base
    let dir = tempfile::tempdir().unwrap();
    save_adapters(&params, &lc, dir.path()).unwrap();
    let mut fresh = random_params(&cfg, 4, 0.3).unwrap();
    let lc2 = load_adapters(&mut fresh, &cfg, dir.path()).unwrap();
    assert_eq!(lc2, lc);
    assert!(diff(&adapted, &logits(&cfg, &fresh)) < 1e-6);
}

#[test]
fn bad_lora_settings_are_errors() {
    let cfg = Config::tiny(Family::Llama);
    let mut params = random_params(&cfg, 4, 0.3).unwrap();
    let bad = LoraConfig {
        rank: 2,
        alpha: 4.0,
        target_modules: vec!["qkv".into()],
    };
    let msg = attach(&mut params, &cfg, &bad, 0).unwrap_err().to_string();
    assert!(msg.contains("unknown LoRA target `qkv`"), "{msg}");
    let dir = tempfile::tempdir().unwrap();
    assert!(load_adapters(&mut params, &cfg, dir.path()).is_err());
}
