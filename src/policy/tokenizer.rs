//! The policy's tokenizer: a `tokenizers::Tokenizer` plus the special tokens a chat template and
//! the sampler need (bos / eos / pad / unk). Loaded from an HF `tokenizer.json` (with the
//! optional `tokenizer_config.json` beside it) or rebuilt from a GGUF file's metadata
//! (see [`crate::policy::gguf_tokenizer`]).
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use thiserror::Error;

/// Errors of loading or using a tokenizer.
#[derive(Debug, Error)]
pub enum TokenizerError {
    /// A file the tokenizer needs does not exist.
    #[error(
        "{path}: not found ({what}); pass an HF model directory that contains it, or a .gguf file"
    )]
    Missing {
        /// The missing file.
        path: PathBuf,
        /// What the file was for.
        what: &'static str,
    },
    /// A file exists but could not be read or parsed.
    #[error("{path}: {msg}")]
    Invalid {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// The GGUF declares a tokenizer this crate cannot rebuild.
    #[error("{path}: {msg}")]
    Unsupported {
        /// The GGUF file.
        path: PathBuf,
        /// What is unsupported and what to do instead.
        msg: String,
    },
    /// The tokenizer does not belong to the model (see [`check_vocab`]).
    #[error("tokenizer/model vocabulary mismatch: {0}")]
    VocabMismatch(String),
    /// `tokenizers` failed to encode or decode.
    #[error("tokenizer: {0}")]
    Codec(String),
}

/// The text form of the special tokens, as HF passes them to chat templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Beginning-of-sequence token text (`bos_token`).
    pub bos: Option<String>,
    /// End-of-sequence token text (`eos_token`).
    pub eos: Option<String>,
    /// Padding token text (`pad_token`).
    pub pad: Option<String>,
    /// Unknown token text (`unk_token`).
    pub unk: Option<String>,
}

/// A tokenizer with its special tokens resolved to ids.
#[derive(Clone)]
pub struct PolicyTokenizer {
    inner: tokenizers::Tokenizer,
    special: SpecialTokens,
    bos_id: Option<u32>,
    eos_id: Option<u32>,
    pad_id: Option<u32>,
    source: PathBuf,
}

impl std::fmt::Debug for PolicyTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyTokenizer")
            .field("source", &self.source)
            .field("vocab_size", &self.vocab_size())
            .field("special", &self.special)
            .finish()
    }
}

/// Reads a token entry of `tokenizer_config.json`: either `"<s>"` or `{"content": "<s>", ...}`.
fn token_text(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) => Some(s.clone()),
        Json::Object(m) => m.get("content").and_then(|c| c.as_str()).map(str::to_owned),
        _ => None,
    }
}

impl PolicyTokenizer {
    /// Wraps an already-built tokenizer. Special token ids are looked up from their texts.
    pub fn from_parts(
        inner: tokenizers::Tokenizer,
        special: SpecialTokens,
        source: PathBuf,
    ) -> Self {
        let id = |t: &Option<String>| t.as_deref().and_then(|t| inner.token_to_id(t));
        let bos_id = id(&special.bos);
        let eos_id = id(&special.eos);
        let pad_id = id(&special.pad);
        Self {
            inner,
            special,
            bos_id,
            eos_id,
            pad_id,
            source,
        }
    }

    /// Loads `DIR/tokenizer.json` and, when present, `DIR/tokenizer_config.json`.
    pub fn from_hf_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let config = dir.join("tokenizer_config.json");
        Self::from_files(
            &dir.join("tokenizer.json"),
            config.exists().then_some(config.as_path()),
        )
    }

    /// Loads a `tokenizer.json`; the special tokens come from `tokenizer_config.json` when
    /// given (keys `bos_token`, `eos_token`, `pad_token`, `unk_token`, each a string or an
    /// `{"content": ...}` object).
    pub fn from_files(
        tokenizer_json: &Path,
        tokenizer_config: Option<&Path>,
    ) -> Result<Self, TokenizerError> {
        if !tokenizer_json.exists() {
            return Err(TokenizerError::Missing {
                path: tokenizer_json.to_owned(),
                what: "the HF tokenizer file",
            });
        }
        let inner = tokenizers::Tokenizer::from_file(tokenizer_json).map_err(|e| {
            TokenizerError::Invalid {
                path: tokenizer_json.to_owned(),
                msg: format!("cannot load tokenizer.json: {e}"),
            }
        })?;
        let mut special = SpecialTokens::default();
        if let Some(cfg) = tokenizer_config {
            let text = std::fs::read_to_string(cfg).map_err(|e| TokenizerError::Invalid {
                path: cfg.to_owned(),
                msg: format!("cannot read: {e}"),
            })?;
            let json: Json = serde_json::from_str(&text).map_err(|e| TokenizerError::Invalid {
                path: cfg.to_owned(),
                msg: format!("invalid JSON: {e}"),
            })?;
            special = SpecialTokens {
                bos: token_text(json.get("bos_token")),
                eos: token_text(json.get("eos_token")),
                pad: token_text(json.get("pad_token")),
                unk: token_text(json.get("unk_token")),
            };
        }
        Ok(Self::from_parts(inner, special, tokenizer_json.to_owned()))
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// The file this tokenizer was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Special token texts (for chat templates).
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    /// Id of the beginning-of-sequence token, if any.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// Id of the end-of-sequence token, if any.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }

    /// Id of the padding token, if any.
    pub fn pad_id(&self) -> Option<u32> {
        self.pad_id
    }

    /// Number of token ids, added tokens included (= 1 + the largest id for dense vocabularies).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The largest token id the tokenizer can produce.
    pub fn max_token_id(&self) -> Option<u32> {
        let vocab = self.inner.get_vocab(true);
        vocab.values().copied().max()
    }

    /// Id of a token text (exact vocabulary entry).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary entry of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Encodes text. Special tokens written in the text (e.g. `<|im_start|>`) are always
    /// recognised; `add_special_tokens` controls only what the post-processor adds around the
    /// text (e.g. a BOS). Rendered chat templates are encoded with `false`, as HF does.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode_fast(text, add_special_tokens)
            .map_err(|e| TokenizerError::Codec(format!("cannot encode text: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Decodes ids to text; with `skip_special_tokens` the special tokens (eos, im_start, ...)
    /// are left out.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, TokenizerError> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TokenizerError::Codec(format!("cannot decode ids: {e}")))
    }
}

/// Checks that a tokenizer belongs to a model whose logits have `model_vocab` entries: every id
/// the tokenizer can produce, and its eos/bos/pad ids, must be below `model_vocab`. (A model
/// vocabulary larger than the tokenizer's is allowed: checkpoints often pad the embedding.)
pub fn check_vocab(tokenizer: &PolicyTokenizer, model_vocab: usize) -> Result<(), TokenizerError> {
    let n = tokenizer.vocab_size();
    let max_id = tokenizer.max_token_id().unwrap_or(0) as usize;
    if n == 0 {
        return Err(TokenizerError::VocabMismatch(format!(
            "the tokenizer from {} has an empty vocabulary",
            tokenizer.source().display()
        )));
    }
    if max_id >= model_vocab || n > model_vocab {
        return Err(TokenizerError::VocabMismatch(format!(
            "the tokenizer from {} has {n} tokens (largest id {max_id}) but the model's vocabulary \
             has {model_vocab} entries; the tokenizer does not belong to this model — use the \
             tokenizer.json of the same checkpoint (or the model's .gguf)",
            tokenizer.source().display()
        )));
    }
    for (name, id) in [
        ("eos", tokenizer.eos_id()),
        ("bos", tokenizer.bos_id()),
        ("pad", tokenizer.pad_id()),
    ] {
        if let Some(id) = id {
            if id as usize >= model_vocab {
                return Err(TokenizerError::VocabMismatch(format!(
                    "{name} token id {id} is outside the model's vocabulary of {model_vocab}"
                )));
            }
        }
    }
    Ok(())
}
