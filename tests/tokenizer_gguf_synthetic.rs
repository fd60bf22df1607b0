//! GGUF tokenizer rebuild on small synthetic GGUF files: each supported `tokenizer.ggml.pre`,
//! BOS insertion, token types, and clear errors for what cannot be rebuilt.
use candle_core::quantized::gguf_file::{write, Value};
use prover::policy::gguf_tokenizer::{tokenizer_from_gguf, GgufPreTokenizer};

const TOKENS: &[&str] = &[
    "<s>", "</s>", "<tool>", "a", "b", "Ġ", "1", "2", "3", "ab", "12", "123",
];
const MERGES: &[&str] = &["a b", "1 2", "12 3"];

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::String((*s).into())).collect())
}

/// Writes a GGUF with the given metadata overrides (`None` removes a key).
fn gguf(dir: &std::path::Path, name: &str, edits: &[(&str, Option<Value>)]) -> std::path::PathBuf {
    let mut meta: Vec<(String, Value)> = vec![
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens".into(), strings(TOKENS)),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(
                (0..TOKENS.len())
                    .map(|i| {
                        Value::I32(match i {
                            0 | 1 => 3,
                            2 => 4,
                            _ => 1,
                        })
                    })
                    .collect(),
            ),
        ),
        ("tokenizer.ggml.merges".into(), strings(MERGES)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(1)),
    ];
    for (k, v) in edits {
        meta.retain(|(key, _)| key != k);
        if let Some(v) = v {
            meta.push(((*k).into(), v.clone()));
        }
    }
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    let refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    write(&mut f, &refs, &[]).unwrap();
    path
}

fn pieces(path: &std::path::Path, mode: GgufPreTokenizer, text: &str) -> Vec<String> {
    let tk = tokenizer_from_gguf(path, mode).unwrap();
    tk.encode(text, true)
        .unwrap()
        .into_iter()
        .map(|i| tk.id_to_token(i).unwrap())
        .collect()
}

#[test]
fn pre_tokenizers_follow_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    for (pre, want) in [
        ("gpt2", vec!["ab", "123"]),
        ("smollm", vec!["ab", "1", "2", "3"]),
        ("llama-bpe", vec!["ab", "123"]),
        ("qwen2", vec!["ab", "1", "2", "3"]),
    ] {
        let p = gguf(
            dir.path(),
            &format!("{pre}.gguf"),
            &[("tokenizer.ggml.pre", Some(Value::String(pre.into())))],
        );
        assert_eq!(
            pieces(&p, GgufPreTokenizer::FromMetadata, "ab123"),
            want,
            "{pre}"
        );
        // transformers-style conversion ignores the pre-tokenizer name.
        assert_eq!(
            pieces(&p, GgufPreTokenizer::Gpt2ByteLevel, "ab123"),
            ["ab", "123"],
            "{pre}"
        );
    }
    // Absent pre = plain GPT-2.
    let p = gguf(dir.path(), "nopre.gguf", &[("tokenizer.ggml.pre", None)]);
    assert_eq!(
        pieces(&p, GgufPreTokenizer::FromMetadata, "ab 12"),
        ["ab", "Ġ", "12"]
    );
}

#[test]
fn bos_and_token_types() {
    let dir = tempfile::tempdir().unwrap();
    let p = gguf(
        dir.path(),
        "bos.gguf",
        &[("tokenizer.ggml.add_bos_token", Some(Value::Bool(true)))],
    );
    assert_eq!(
        pieces(&p, GgufPreTokenizer::FromMetadata, "ab"),
        ["<s>", "ab"]
    );
    let tk = tokenizer_from_gguf(&p, GgufPreTokenizer::FromMetadata).unwrap();
    assert_eq!(
        tk.encode("ab", false).unwrap(),
        [9],
        "no BOS without add_special_tokens"
    );
    assert_eq!((tk.bos_id(), tk.eos_id()), (Some(0), Some(1)));
    // Control tokens are special (matched in text, skipped when decoding); user-defined tokens
    // are matched in text and kept when decoding.
    let ids = tk.encode("ab</s><tool>12", false).unwrap();
    assert_eq!(ids, [9, 1, 2, 10]);
    assert_eq!(tk.decode(&ids, true).unwrap(), "ab<tool>12");
    let p = gguf(dir.path(), "nobos.gguf", &[]);
    assert_eq!(pieces(&p, GgufPreTokenizer::FromMetadata, "ab"), ["ab"]);
}

#[test]
fn unsupported_or_broken_metadata_errors_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let err = |edits: &[(&str, Option<Value>)], name: &str| {
        let p = gguf(dir.path(), name, edits);
        tokenizer_from_gguf(&p, GgufPreTokenizer::FromMetadata)
            .unwrap_err()
            .to_string()
    };
    let e = err(
        &[("tokenizer.ggml.model", Some(Value::String("llama".into())))],
        "spm.gguf",
    );
    assert!(
        e.contains("spm.gguf") && e.contains("\"llama\"") && e.contains("tokenizer.json"),
        "{e}"
    );
    let e = err(
        &[(
            "tokenizer.ggml.pre",
            Some(Value::String("deepseek-coder".into())),
        )],
        "pre.gguf",
    );
    assert!(
        e.contains("deepseek-coder") && e.contains("supported"),
        "{e}"
    );
    let e = err(&[("tokenizer.ggml.model", None)], "none.gguf");
    assert!(e.contains("no tokenizer.ggml.model"), "{e}");
    let e = err(
        &[("tokenizer.ggml.merges", Some(strings(&["ab"])))],
        "merge.gguf",
    );
    assert!(e.contains("tokenizer.ggml.merges[0]"), "{e}");
    let e = err(
        &[(
            "tokenizer.ggml.token_type",
            Some(Value::Array(vec![Value::I32(1)])),
        )],
        "types.gguf",
    );
    assert!(e.contains("token_type has 1 entries"), "{e}");
}
