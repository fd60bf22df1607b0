//! Rebuilds a tokenizer from a GGUF file's metadata (`tokenizer.ggml.*`), so a `.gguf` alone is
//! a complete model. Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE: `tokens`,
//! `merges` as `"a b"` strings, `token_type`, `bos/eos/padding/unknown_token_id`,
//! `add_bos_token`), with the pre-tokenizer chosen by `tokenizer.ggml.pre`:
//!
//! | `tokenizer.ggml.pre` | pre-tokenizer (as llama.cpp / the original HF tokenizer) |
//! |---|---|
//! | `gpt2`, `default`, absent | GPT-2 ByteLevel regex |
//! | `smollm` | split every digit, then GPT-2 ByteLevel regex (SmolLM / SmolLM2) |
//! | `llama-bpe`, `llama3` | Llama-3 regex split, ByteLevel without regex |
//! | `qwen2` | Qwen2 regex split (single digits), ByteLevel without regex |
//!
//! transformers' own GGUF conversion ignores `tokenizer.ggml.pre` and always uses the plain
//! GPT-2 ByteLevel pre-tokenizer; [`GgufPreTokenizer::Gpt2ByteLevel`] reproduces that. For
//! SmolLM2 the two differ only for a run of whitespace directly before a digit (`"a  1"`).
//! Token types (llama.cpp): 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte;
//! control and unknown tokens become special added tokens, user-defined ones plain added tokens.
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior};

use super::tokenizer::{PolicyTokenizer, SpecialTokens, TokenizerError};

/// Llama-3 pre-tokenizer regex (llama.cpp `LLAMA_VOCAB_PRE_TYPE_LLAMA3`).
pub const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2 pre-tokenizer regex (llama.cpp `LLAMA_VOCAB_PRE_TYPE_QWEN2`).
pub const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Which pre-tokenizer a GGUF-rebuilt tokenizer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GgufPreTokenizer {
    /// Follow `tokenizer.ggml.pre` as llama.cpp does (the tokenizer the model was trained with).
    #[default]
    FromMetadata,
    /// Plain GPT-2 ByteLevel, as transformers converts any GGUF BPE vocabulary.
    Gpt2ByteLevel,
}

/// Reads the metadata (and tensor directory) of a GGUF file.
pub fn read_gguf(path: &Path) -> Result<Content, TokenizerError> {
    if !path.exists() {
        return Err(TokenizerError::Missing {
            path: path.to_owned(),
            what: "the GGUF model file",
        });
    }
    let mut file = std::fs::File::open(path).map_err(|e| TokenizerError::Invalid {
        path: path.to_owned(),
        msg: format!("cannot open: {e}"),
    })?;
    Content::read(&mut file).map_err(|e| TokenizerError::Invalid {
        path: path.to_owned(),
        msg: format!("not a readable GGUF file: {e}"),
    })
}

/// Reads a GGUF file and rebuilds its tokenizer.
pub fn tokenizer_from_gguf(
    path: &Path,
    pre: GgufPreTokenizer,
) -> Result<PolicyTokenizer, TokenizerError> {
    let content = read_gguf(path)?;
    tokenizer_from_gguf_content(&content, path, pre)
}

fn as_u64(v: &Value) -> Option<u64> {
    match *v {
        Value::U8(x) => Some(x.into()),
        Value::U16(x) => Some(x.into()),
        Value::U32(x) => Some(x.into()),
        Value::U64(x) => Some(x),
        Value::I8(x) => u64::try_from(x).ok(),
        Value::I16(x) => u64::try_from(x).ok(),
        Value::I32(x) => u64::try_from(x).ok(),
        Value::I64(x) => u64::try_from(x).ok(),
        _ => None,
    }
}

/// A metadata string (e.g. `tokenizer.chat_template`), if present and a string.
pub fn gguf_string<'a>(content: &'a Content, key: &str) -> Option<&'a str> {
    match content.metadata.get(key) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A metadata unsigned integer (any integer width), if present.
pub fn gguf_u64(content: &Content, key: &str) -> Option<u64> {
    content.metadata.get(key).and_then(as_u64)
}

fn string_array<'a>(
    content: &'a Content,
    key: &str,
    path: &Path,
) -> Result<Vec<&'a str>, TokenizerError> {
    let bad = |msg: String| TokenizerError::Invalid {
        path: path.to_owned(),
        msg,
    };
    match content.metadata.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(bad(format!("{key}[{i}] is {other:?}, expected a string"))),
            })
            .collect(),
        Some(other) => Err(bad(format!(
            "{key} is a {:?}, expected an array of strings",
            other.value_type()
        ))),
        None => Err(bad(format!(
            "GGUF metadata has no {key}; the file carries no tokenizer — use an HF directory with tokenizer.json"
        ))),
    }
}

fn pre_tokenizer(
    pre_name: &str,
    mode: GgufPreTokenizer,
    add_prefix_space: bool,
    path: &Path,
) -> Result<PreTokenizerWrapper, TokenizerError> {
    let gpt2 = || ByteLevel::new(add_prefix_space, true, true);
    let split = |regex: &str| -> Result<PreTokenizerWrapper, TokenizerError> {
        let split = Split::new(
            SplitPattern::Regex(regex.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| TokenizerError::Invalid {
            path: path.to_owned(),
            msg: format!("pre-tokenizer regex: {e}"),
        })?;
        Ok(Sequence::new(vec![
            split.into(),
            ByteLevel::new(add_prefix_space, false, false).into(),
        ])
        .into())
    };
    if mode == GgufPreTokenizer::Gpt2ByteLevel {
        return Ok(gpt2().into());
    }
    match pre_name {
        "" | "default" | "gpt2" | "gpt-2" => Ok(gpt2().into()),
        "smollm" => Ok(Sequence::new(vec![Digits::new(true).into(), gpt2().into()]).into()),
        "llama-bpe" | "llama3" => split(LLAMA3_REGEX),
        "qwen2" => split(QWEN2_REGEX),
        other => Err(TokenizerError::Unsupported {
            path: path.to_owned(),
            msg: format!(
                "tokenizer.ggml.pre = {other:?} is not supported (supported: gpt2, default, smollm, \
                 llama-bpe, qwen2); use the model's HF directory with tokenizer.json instead"
            ),
        }),
    }
}

/// Rebuilds the tokenizer from already-read GGUF metadata (`path` is used in messages only).
pub fn tokenizer_from_gguf_content(
    content: &Content,
    path: &Path,
    mode: GgufPreTokenizer,
) -> Result<PolicyTokenizer, TokenizerError> {
    let bad = |msg: String| TokenizerError::Invalid {
        path: path.to_owned(),
        msg,
    };
    let model = gguf_string(content, "tokenizer.ggml.model").ok_or_else(|| {
        bad("GGUF metadata has no tokenizer.ggml.model; the file carries no tokenizer — use an HF directory with tokenizer.json".into())
    })?;
    if model != "gpt2" {
        return Err(TokenizerError::Unsupported {
            path: path.to_owned(),
            msg: format!(
                "tokenizer.ggml.model = {model:?} is not supported (only \"gpt2\" byte-level BPE); \
                 use the model's HF directory with tokenizer.json instead"
            ),
        });
    }
    let tokens = string_array(content, "tokenizer.ggml.tokens", path)?;
    let merges = string_array(content, "tokenizer.ggml.merges", path)?;
    let types: Vec<u64> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(Value::Array(items)) => items.iter().map(|v| as_u64(v).unwrap_or(1)).collect(),
        _ => vec![1; tokens.len()],
    };
    if types.len() != tokens.len() {
        return Err(bad(format!(
            "tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
            types.len(),
            tokens.len()
        )));
    }

    let mut vocab = Vocab::default();
    for (id, tok) in tokens.iter().enumerate() {
        // Duplicates keep the first id, as llama.cpp's token-to-id map does.
        vocab.entry((*tok).to_owned()).or_insert(id as u32);
    }
    let mut pairs = Vec::with_capacity(merges.len());
    for (i, m) in merges.iter().enumerate() {
        let (a, b) = m.split_once(' ').ok_or_else(|| {
            bad(format!(
                "tokenizer.ggml.merges[{i}] = {m:?} is not two tokens separated by a space"
            ))
        })?;
        pairs.push((a.to_owned(), b.to_owned()));
    }
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, pairs)
        .build()
        .map_err(|e| bad(format!("cannot build the BPE model: {e}")))?;

    let pre_name = gguf_string(content, "tokenizer.ggml.pre").unwrap_or("");
    let add_prefix_space = matches!(
        content.metadata.get("tokenizer.ggml.add_space_prefix"),
        Some(Value::Bool(true))
    );
    let pre = pre_tokenizer(pre_name, mode, add_prefix_space, path)?;

    let mut tk = tokenizers::Tokenizer::new(bpe);
    tk.with_pre_tokenizer(Some(pre));
    tk.with_decoder(Some(ByteLevelDecoder::default()));

    let mut special = Vec::new();
    let mut user = Vec::new();
    for (tok, ty) in tokens.iter().zip(&types) {
        match ty {
            2 | 3 => special.push(AddedToken::from(*tok, true)),
            4 => user.push(AddedToken::from(*tok, false).normalized(false)),
            _ => {}
        }
    }
    tk.add_special_tokens(special)
        .map_err(|e| bad(format!("adding the special tokens: {e}")))?;
    tk.add_tokens(user)
        .map_err(|e| bad(format!("adding the user-defined tokens: {e}")))?;

    let id_text = |key: &str| -> Option<(u32, String)> {
        let id = gguf_u64(content, key)? as u32;
        tokens.get(id as usize).map(|t| (id, (*t).to_owned()))
    };
    let bos = id_text("tokenizer.ggml.bos_token_id");
    let add_bos = matches!(
        content.metadata.get("tokenizer.ggml.add_bos_token"),
        Some(Value::Bool(true))
    );
    if let (true, Some((bos_id, bos_text))) = (add_bos, &bos) {
        let err = |e: String| bad(format!("BOS template: {e}"));
        let mut builder = TemplateProcessing::builder();
        builder
            .try_single(format!("{bos_text} $A"))
            .map_err(|e| err(e.to_string()))?
            .try_pair(format!("{bos_text} $A {bos_text} $B"))
            .map_err(|e| err(e.to_string()))?
            .special_tokens(vec![(bos_text.clone(), *bos_id)]);
        let post = builder.build().map_err(|e| err(e.to_string()))?;
        tk.with_post_processor(Some(post));
    }
    let special_tokens = SpecialTokens {
        bos: bos.map(|(_, t)| t),
        eos: id_text("tokenizer.ggml.eos_token_id").map(|(_, t)| t),
        pad: id_text("tokenizer.ggml.padding_token_id").map(|(_, t)| t),
        unk: id_text("tokenizer.ggml.unknown_token_id").map(|(_, t)| t),
    };
    Ok(PolicyTokenizer::from_parts(
        tk,
        special_tokens,
        path.to_owned(),
    ))
}
