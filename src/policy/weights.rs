//! Loading weights into a [`ParamStore`]: HF safetensors directories (single file or sharded
//! with `model.safetensors.index.json`) and GGUF files (dequantized to f32, tensor names mapped
//! to HF names, llama.cpp's Q/K row permutation undone for llama-family files).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};

use super::model::{Config, Family, Transformer};
use super::params::ParamStore;
use super::LoadError;

fn io_err(path: &Path, e: std::io::Error) -> LoadError {
    LoadError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

fn fmt_err(path: &Path, msg: impl ToString) -> LoadError {
    LoadError::Format {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

/// Loads config and parameters from `path`: an HF model directory (`config.json` +
/// `*.safetensors`) or a `.gguf` file.
pub fn load_params(path: &Path) -> Result<(Config, ParamStore), LoadError> {
    if !path.exists() {
        return Err(io_err(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file or directory (expected an HF model directory or a .gguf file; \
                 scripts/fetch-model.sh fetches the default model)",
            ),
        ));
    }
    if path.is_dir() {
        load_hf_dir(path)
    } else {
        load_gguf(path)
    }
}

/// Loads the parameters and builds a [`Transformer`] (all parameters trainable) computing in
/// `dtype`.
pub fn load_model(path: &Path, dtype: DType) -> Result<(Transformer, Config), LoadError> {
    let (cfg, params) = load_params(path)?;
    let m = Transformer::new(&cfg, &params, dtype)?;
    Ok((m, cfg))
}

fn check_complete(
    cfg: &Config,
    mut tensors: HashMap<String, Tensor>,
    path: &Path,
) -> Result<ParamStore, LoadError> {
    let shapes = cfg.param_shapes();
    let mut out = HashMap::new();
    for (name, shape) in shapes {
        let t = tensors
            .remove(&name)
            .ok_or_else(|| LoadError::MissingTensor {
                path: path.display().to_string(),
                name: name.clone(),
            })?;
        if t.dims() != shape.as_slice() {
            return Err(fmt_err(
                path,
                format!(
                    "tensor `{name}` has shape {:?}, config.json implies {shape:?}",
                    t.dims()
                ),
            ));
        }
        out.insert(name, t);
    }
    Ok(ParamStore::from_tensors(out)?)
}

/// Loads an HF directory: `config.json` plus `model.safetensors` or the shards listed in
/// `model.safetensors.index.json`.
pub fn load_hf_dir(dir: &Path) -> Result<(Config, ParamStore), LoadError> {
    let cfg = Config::from_hf_file(&dir.join("config.json"))?;
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| io_err(&index, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| fmt_err(&index, e))?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| fmt_err(&index, "missing object `weight_map`"))?;
        let mut f: Vec<PathBuf> = map
            .values()
            .filter_map(|x| x.as_str())
            .map(|s| dir.join(s))
            .collect();
        f.sort();
        f.dedup();
        f
    } else {
        let single = dir.join("model.safetensors");
        if !single.exists() {
            return Err(io_err(
                &single,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no model.safetensors and no model.safetensors.index.json in the directory",
                ),
            ));
        }
        vec![single]
    };
    let mut tensors = HashMap::new();
    for f in &files {
        if !f.exists() {
            return Err(io_err(
                f,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "shard listed in the index is missing",
                ),
            ));
        }
        let part = candle_core::safetensors::load(f, &Device::Cpu).map_err(|e| fmt_err(f, e))?;
        tensors.extend(part);
    }
    if cfg.tie_word_embeddings {
        tensors.remove("lm_head.weight");
    }
    let params = check_complete(&cfg, tensors, dir)?;
    Ok((cfg, params))
}

/// Maps a GGUF tensor name (`blk.3.attn_q.weight`) to its HF name.
pub fn gguf_to_hf_name(name: &str) -> Option<String> {
    let fixed = match name {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (base, suffix) = rest.rsplit_once('.')?;
    let hf = match base {
        "attn_norm" => "input_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_norm" => "post_attention_layernorm",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{suffix}"))
}

/// Undoes llama.cpp's Q/K row permutation: `w.reshape(n_head, rows/n_head/2, 2, ..)
/// .swapaxes(1, 2)` (rows of a weight `[rows, in]` or a bias `[rows]`).
pub fn unpermute_qk(w: &Tensor, n_head: usize) -> candle_core::Result<Tensor> {
    let dims = w.dims().to_vec();
    let rows = dims[0];
    let rest: usize = dims[1..].iter().product();
    w.reshape((n_head, rows / n_head / 2, 2, rest))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape(dims)
}

/// Loads a GGUF file (llama or qwen2 architecture): config from the `{arch}.*` metadata,
/// tensors dequantized to f32.
pub fn load_gguf(path: &Path) -> Result<(Config, ParamStore), LoadError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let content = gguf_file::Content::read(&mut f)
        .map_err(|e| fmt_err(path, format!("not a readable GGUF file: {e}")))?;
    let md = &content.metadata;
    let arch = md
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    let family = match arch.as_str() {
        "llama" => Family::Llama,
        "qwen2" => Family::Qwen2,
        _ => {
            return Err(LoadError::UnknownArchitecture {
                path: path.display().to_string(),
                found: format!("general.architecture={arch:?}"),
            })
        }
    };
    let key = |k: &str| md.get(&format!("{arch}.{k}"));
    let req_u = |k: &str| -> Result<usize, LoadError> {
        key(k)
            .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
            .map(|x| x as usize)
            .ok_or_else(|| fmt_err(path, format!("missing metadata `{arch}.{k}`")))
    };
    let opt_f =
        |k: &str| key(k).and_then(|v| v.to_f32().ok().map(f64::from).or_else(|| v.to_f64().ok()));
    let hidden = req_u("embedding_length")?;
    let heads = req_u("attention.head_count")?;
    let kv_heads = req_u("attention.head_count_kv").unwrap_or(heads);
    let emb = content
        .tensor_infos
        .get("token_embd.weight")
        .ok_or_else(|| LoadError::MissingTensor {
            path: path.display().to_string(),
            name: "token_embd.weight".into(),
        })?;
    let vocab = emb.shape.dims()[0];
    let tied = !content.tensor_infos.contains_key("output.weight");
    let tok_id = |k: &str| {
        md.get(k).and_then(|v| {
            v.to_u32()
                .ok()
                .or_else(|| v.to_u64().ok().map(|x| x as u32))
        })
    };
    let cfg = Config {
        family,
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: req_u("feed_forward_length")?,
        num_hidden_layers: req_u("block_count")?,
        num_attention_heads: heads,
        num_key_value_heads: kv_heads,
        head_dim: req_u("attention.key_length").unwrap_or(hidden / heads),
        rms_norm_eps: opt_f("attention.layer_norm_rms_epsilon").unwrap_or(1e-6),
        rope_theta: opt_f("rope.freq_base").unwrap_or(10000.0),
        max_position_embeddings: req_u("context_length").unwrap_or(2048),
        tie_word_embeddings: tied,
        attention_bias: family == Family::Qwen2,
        bos_token_id: tok_id("tokenizer.ggml.bos_token_id"),
        eos_token_ids: tok_id("tokenizer.ggml.eos_token_id").into_iter().collect(),
    };
    let mut tensors = HashMap::new();
    for name in content.tensor_infos.keys() {
        let Some(hf) = gguf_to_hf_name(name) else {
            continue;
        };
        let q = content
            .tensor(&mut f, name, &Device::Cpu)
            .map_err(|e| fmt_err(path, format!("reading tensor `{name}`: {e}")))?;
        let mut t = q
            .dequantize(&Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| fmt_err(path, format!("dequantizing `{name}`: {e}")))?;
        if family == Family::Llama {
            if hf.contains("q_proj") {
                t = unpermute_qk(&t, heads)?;
            } else if hf.contains("k_proj") {
                t = unpermute_qk(&t, kv_heads)?;
            }
        }
        tensors.insert(hf, t);
    }
    let params = check_complete(&cfg, tensors, path)?;
    Ok((cfg, params))
}

/// Random parameters for `cfg` (tests, benchmarks): matrices `N(0, std²)` from a seeded RNG,
/// norm weights uniform in `[0.5, 1.5]`, biases `N(0, std²)`.
pub fn random_params(cfg: &Config, seed: u64, std: f64) -> candle_core::Result<ParamStore> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut map = HashMap::new();
    for (name, shape) in cfg.param_shapes() {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = if name.contains("norm") {
            (0..n).map(|_| rng.gen_range(0.5f32..1.5)).collect()
        } else {
            (0..n)
                .map(|_| {
                    // Box-Muller
                    let u1: f64 = rng.gen_range(1e-12..1.0);
                    let u2: f64 = rng.gen();
                    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
                })
                .collect()
        };
        map.insert(name, Tensor::from_vec(v, shape, &Device::Cpu)?);
    }
    ParamStore::from_tensors(map)
}
