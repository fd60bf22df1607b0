//! `generation_config.json` of an HF checkpoint: the model's stop tokens and default sampling
//! settings. `eos_token_id` may be a single id, a list of ids or null; unknown keys are ignored.
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

use super::tokenizer::TokenizerError;

/// The keys of `generation_config.json` the sampler uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationConfig {
    /// `bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `eos_token_id`, normalised to a list (empty when absent or null).
    pub eos_token_ids: Vec<u32>,
    /// `pad_token_id`.
    pub pad_token_id: Option<u32>,
    /// `do_sample` (HF default false = greedy).
    pub do_sample: Option<bool>,
    /// `temperature`.
    pub temperature: Option<f32>,
    /// `top_p`.
    pub top_p: Option<f32>,
    /// `top_k` (0 = off).
    pub top_k: Option<usize>,
    /// `max_new_tokens`.
    pub max_new_tokens: Option<usize>,
    /// `max_length` (prompt + generation).
    pub max_length: Option<usize>,
}

#[derive(Deserialize)]
struct Raw {
    bos_token_id: Option<Json>,
    eos_token_id: Option<Json>,
    pad_token_id: Option<Json>,
    do_sample: Option<bool>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<usize>,
    max_new_tokens: Option<usize>,
    max_length: Option<usize>,
}

fn one_id(key: &str, v: Option<Json>) -> Result<Option<u32>, String> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{key} = {n} is not a token id")),
        // Some configs list several; the first is the canonical one.
        Some(Json::Array(a)) if !a.is_empty() => one_id(key, a.into_iter().next()),
        Some(other) => Err(format!("{key} = {other} is not a token id")),
    }
}

impl GenerationConfig {
    /// Parses the JSON text of a `generation_config.json`.
    pub fn from_json_str(text: &str) -> Result<Self, String> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let eos_token_ids = match raw.eos_token_id {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items
                .into_iter()
                .map(|v| one_id("eos_token_id", Some(v)).map(|x| x.unwrap_or_default()))
                .collect::<Result<_, _>>()?,
            Some(v) => one_id("eos_token_id", Some(v))?.into_iter().collect(),
        };
        Ok(Self {
            bos_token_id: one_id("bos_token_id", raw.bos_token_id)?,
            eos_token_ids,
            pad_token_id: one_id("pad_token_id", raw.pad_token_id)?,
            do_sample: raw.do_sample,
            temperature: raw.temperature,
            top_p: raw.top_p,
            top_k: raw.top_k,
            max_new_tokens: raw.max_new_tokens,
            max_length: raw.max_length,
        })
    }

    /// Reads a `generation_config.json` file.
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                TokenizerError::Missing {
                    path: path.to_owned(),
                    what: "generation_config.json",
                }
            } else {
                TokenizerError::Invalid {
                    path: path.to_owned(),
                    msg: format!("cannot read: {e}"),
                }
            }
        })?;
        Self::from_json_str(&text).map_err(|msg| TokenizerError::Invalid {
            path: path.to_owned(),
            msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eos_single_list_null() {
        let c =
            GenerationConfig::from_json_str(r#"{"eos_token_id": 2, "bos_token_id": 1}"#).unwrap();
        assert_eq!(c.eos_token_ids, vec![2]);
        assert_eq!(c.bos_token_id, Some(1));
        let c = GenerationConfig::from_json_str(
            r#"{"eos_token_id": [151645, 151643], "do_sample": true, "temperature": 0.7, "top_p": 0.8, "top_k": 20}"#,
        )
        .unwrap();
        assert_eq!(c.eos_token_ids, vec![151645, 151643]);
        assert_eq!(c.do_sample, Some(true));
        assert_eq!(c.top_k, Some(20));
        let c = GenerationConfig::from_json_str(r#"{"eos_token_id": null}"#).unwrap();
        assert!(c.eos_token_ids.is_empty());
        assert!(GenerationConfig::from_json_str(r#"{"eos_token_id": "x"}"#).is_err());
        assert!(GenerationConfig::from_json_str(r#"{"eos_token_id": -1}"#).is_err());
    }
}
