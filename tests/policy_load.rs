//! Loading: config parsing (transformers 4 and 5 styles), clear errors for missing files,
//! unknown architectures and missing tensors, GGUF name mapping, parameter save/load.
mod common;

use common::max_abs_diff;
use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use prover::policy::model::{Config, Family, Transformer};
use prover::policy::params::{glob_match, ParamStore};
use prover::policy::weights::{gguf_to_hf_name, load_params, random_params, unpermute_qk};
use prover::policy::LoadError;

const V4_STYLE: &str = r#"{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2",
 "hidden_size":64,"intermediate_size":176,"num_hidden_layers":2,"num_attention_heads":4,
 "num_key_value_heads":2,"rms_norm_eps":1e-6,"rope_theta":1000000.0,"sliding_window":null,
 "max_position_embeddings":512,"tie_word_embeddings":true,"vocab_size":100,
 "bos_token_id":1,"eos_token_id":[2,7]}"#;

#[test]
fn parses_transformers4_style_config() {
    let c = Config::from_hf_json(V4_STYLE, "config.json").unwrap();
    assert_eq!(c.family, Family::Qwen2);
    assert_eq!(c.rope_theta, 1_000_000.0);
    assert_eq!(c.head_dim, 16);
    assert!(c.attention_bias && c.tie_word_embeddings);
    assert_eq!(c.eos_token_ids, vec![2, 7]);
}

#[test]
fn parses_transformers5_style_config() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/tiny-models/tiny-llama/config.json"
    );
    if !std::path::Path::new(p).exists() {
        common::skip(&format!("{p} not found"));
        return;
    }
    let c = Config::from_hf_file(std::path::Path::new(p)).unwrap();
    assert_eq!(c.family, Family::Llama);
    assert_eq!(c.rope_theta, 10000.0);
    assert_eq!(c.num_key_value_heads, 2);
    assert!(!c.attention_bias);
}

#[test]
fn unknown_architecture_is_a_clear_error() {
    let text = V4_STYLE
        .replace("Qwen2ForCausalLM", "GPT2LMHeadModel")
        .replace("\"qwen2\"", "\"gpt2\"");
    let e = Config::from_hf_json(&text, "x/config.json").unwrap_err();
    assert!(matches!(e, LoadError::UnknownArchitecture { .. }));
    let msg = e.to_string();
    assert!(msg.contains("x/config.json") && msg.contains("gpt2") && msg.contains("supported"));
}

#[test]
fn bad_configs_are_errors() {
    let e = Config::from_hf_json("{not json", "c.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid JSON"), "{e}");
    let e = Config::from_hf_json(&V4_STYLE.replace("\"vocab_size\":100,", ""), "c.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("vocab_size"), "{e}");
    let e = Config::from_hf_json(
        &V4_STYLE.replace("\"num_key_value_heads\":2", "\"num_key_value_heads\":3"),
        "c.json",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("multiple"), "{e}");
    let e = Config::from_hf_json(
        &V4_STYLE.replace(
            "\"sliding_window\":null",
            "\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}",
        ),
        "c.json",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("yarn"), "{e}");
}

#[test]
fn missing_path_is_a_clear_error() {
    let e = load_params(std::path::Path::new("/nonexistent/model.gguf")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("/nonexistent/model.gguf") && msg.contains("fetch-model"),
        "{msg}"
    );
}

#[test]
fn not_a_gguf_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.gguf");
    std::fs::write(&p, b"hello").unwrap();
    let msg = load_params(&p).unwrap_err().to_string();
    assert!(msg.contains("GGUF"), "{msg}");
}

#[test]
fn missing_tensor_and_missing_weights_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), V4_STYLE).unwrap();
    let msg = load_params(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("model.safetensors"), "{msg}");
    let t: HashMap<String, Tensor> = [(
        "model.embed_tokens.weight".to_string(),
        Tensor::zeros((100, 64), DType::F32, &Device::Cpu).unwrap(),
    )]
    .into_iter()
    .collect();
    candle_core::safetensors::save(&t, dir.path().join("model.safetensors")).unwrap();
    let e = load_params(dir.path()).unwrap_err();
    assert!(matches!(e, LoadError::MissingTensor { .. }), "{e}");
    assert!(e
        .to_string()
        .contains("model.layers.0.input_layernorm.weight"));
}

#[test]
fn hf_dir_roundtrip_through_safetensors() {
    let cfg = Config::tiny(Family::Qwen2);
    let params = random_params(&cfg, 1, 0.2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg_json = r#"{"model_type":"qwen2","vocab_size":64,"hidden_size":16,
      "intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,
      "num_key_value_heads":2,"max_position_embeddings":64,"tie_word_embeddings":false}"#;
    std::fs::write(dir.path().join("config.json"), cfg_json).unwrap();
    let n = params
        .save(&dir.path().join("model.safetensors"), &["*"])
        .unwrap();
    assert_eq!(n, cfg.param_shapes().len());
    let (cfg2, params2) = load_params(dir.path()).unwrap();
    assert_eq!(cfg2.num_hidden_layers, 2);
    let m1 = Transformer::new_inference(&cfg, &params, DType::F32).unwrap();
    let m2 = Transformer::new_inference(&cfg2, &params2, DType::F32).unwrap();
    let x = Tensor::new(&[[1u32, 2, 3]], &Device::Cpu).unwrap();
    let d = (m1.logits(&x).unwrap() - m2.logits(&x).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(d < 1e-5);
}

#[test]
fn params_save_subset_and_load_back() {
    let cfg = Config::tiny(Family::Llama);
    let a = random_params(&cfg, 1, 0.2).unwrap();
    let b = random_params(&cfg, 2, 0.2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mlp.safetensors");
    assert_eq!(a.save(&p, &["model.layers.*.mlp.*"]).unwrap(), 6);
    assert_eq!(b.load(&p).unwrap(), 6);
    let name = "model.layers.1.mlp.up_proj.weight";
    let same = |s: &ParamStore, t: &ParamStore, n: &str| {
        max_abs_diff(s.get(n).unwrap().as_tensor(), t.get(n).unwrap().as_tensor()) == 0.0
    };
    assert!(same(&a, &b, name));
    assert!(!same(&a, &b, "model.norm.weight"));
    // a file with a shape that does not fit is rejected
    let other = random_params(
        &Config {
            hidden_size: 8,
            ..Config::tiny(Family::Llama)
        },
        1,
        0.2,
    )
    .unwrap();
    let q = dir.path().join("other.safetensors");
    other.save(&q, &["model.norm.weight"]).unwrap();
    let msg = b.load(&q).unwrap_err().to_string();
    assert!(msg.contains("shape"), "{msg}");
    assert!(b.load(&dir.path().join("absent.safetensors")).is_err());
}

#[test]
fn glob_patterns() {
    assert!(glob_match("*", "a.b"));
    assert!(glob_match(
        "model.layers.*.mlp.*",
        "model.layers.3.mlp.up_proj.weight"
    ));
    assert!(!glob_match(
        "model.layers.*.mlp.*",
        "model.layers.3.self_attn.q_proj.weight"
    ));
    assert!(glob_match("*lora_*", "x.q_proj.lora_A.weight"));
    assert!(glob_match("model.norm.weight", "model.norm.weight"));
    assert!(!glob_match("model.norm", "model.norm.weight"));
}

#[test]
fn gguf_names_map_to_hf() {
    assert_eq!(
        gguf_to_hf_name("blk.12.attn_q.weight").unwrap(),
        "model.layers.12.self_attn.q_proj.weight"
    );
    assert_eq!(
        gguf_to_hf_name("blk.0.attn_k.bias").unwrap(),
        "model.layers.0.self_attn.k_proj.bias"
    );
    assert_eq!(
        gguf_to_hf_name("token_embd.weight").unwrap(),
        "model.embed_tokens.weight"
    );
    assert_eq!(
        gguf_to_hf_name("blk.1.ffn_down.weight").unwrap(),
        "model.layers.1.mlp.down_proj.weight"
    );
    assert!(gguf_to_hf_name("rope_freqs.weight").is_none());
}

#[test]
fn unpermute_inverts_the_llama_cpp_permutation() {
    // llama.cpp: w.reshape(n_head, 2, rows/n_head/2, in).swapaxes(1, 2)
    let (heads, rows, inn) = (3usize, 12usize, 5usize);
    let w = Tensor::arange(0f32, (rows * inn) as f32, &Device::Cpu)
        .unwrap()
        .reshape((rows, inn))
        .unwrap();
    let permuted = w
        .reshape((heads, 2, rows / heads / 2, inn))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((rows, inn))
        .unwrap();
    let back = unpermute_qk(&permuted, heads).unwrap();
    let a: Vec<f32> = back.flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(a, b);
    assert_ne!(permuted.flatten_all().unwrap().to_vec1::<f32>().unwrap(), b);
}
