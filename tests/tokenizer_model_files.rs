//! Model specs, tokenizer.json loading, vocabulary checks and the text side of the tiny models.
mod common;

use common::tiny_model as tiny;
use std::path::{Path, PathBuf};

use prover::policy::gguf_tokenizer::GgufPreTokenizer;
use prover::policy::model_text::ModelText;
use prover::policy::spec::{resolve, HubOptions, ModelFiles};
use prover::policy::tokenizer::{check_vocab, PolicyTokenizer};

fn offline_empty_cache(dir: &Path) -> HubOptions {
    HubOptions {
        offline: true,
        cache_dir: Some(dir.to_owned()),
        endpoint: None,
        progress: false,
    }
}

#[test]
fn check_vocab_accepts_the_model_and_rejects_a_mismatch() {
    let Some(dir) = tiny("tiny-llama") else {
        return;
    };
    let tk = PolicyTokenizer::from_hf_dir(&dir).unwrap();
    assert_eq!(tk.vocab_size(), 49152);
    check_vocab(&tk, 49152).unwrap();
    check_vocab(&tk, 49280).unwrap(); // padded embeddings are fine
    let e = check_vocab(&tk, 32000).unwrap_err().to_string();
    assert!(
        e.contains("49152 tokens") && e.contains("32000") && e.contains("does not belong"),
        "{e}"
    );
}

#[test]
fn tokenizer_file_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let e = PolicyTokenizer::from_hf_dir(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tokenizer.json") && e.contains("not found"),
        "{e}"
    );
    std::fs::write(tmp.path().join("tokenizer.json"), "{ not json").unwrap();
    let e = PolicyTokenizer::from_hf_dir(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tokenizer.json") && e.contains("cannot load"),
        "{e}"
    );
}

#[test]
fn resolves_hf_directories_single_and_sharded() {
    let (Some(llama), Some(qwen)) = (tiny("tiny-llama"), tiny("tiny-qwen2")) else {
        return;
    };
    let r = resolve(llama.to_str().unwrap(), &HubOptions::default()).unwrap();
    match &r.files {
        ModelFiles::Safetensors {
            weights, config, ..
        } => {
            assert_eq!(weights, &[llama.join("model.safetensors")]);
            assert_eq!(config, &llama.join("config.json"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.chat_template, Some(llama.join("chat_template.jinja")));
    assert_eq!(
        r.generation_config,
        Some(llama.join("generation_config.json"))
    );
    let r = resolve(qwen.to_str().unwrap(), &HubOptions::default()).unwrap();
    match &r.files {
        ModelFiles::Safetensors { weights, .. } => assert_eq!(
            weights,
            &[
                qwen.join("model-00001-of-00002.safetensors"),
                qwen.join("model-00002-of-00002.safetensors")
            ]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_paths_and_files_error_clearly() {
    let e = resolve("/nonexistent/model-dir", &HubOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/model-dir") && e.contains("no such file"),
        "{e}"
    );
    let e = resolve("/nonexistent/m.gguf", &HubOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/m.gguf") && e.contains("not found"),
        "{e}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let e = resolve(tmp.path().to_str().unwrap(), &HubOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no model.safetensors"), "{e}");
    std::fs::write(tmp.path().join("model.safetensors"), b"").unwrap();
    let e = resolve(tmp.path().to_str().unwrap(), &HubOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json"), "{e}");
    std::fs::write(tmp.path().join("config.json"), b"{}").unwrap();
    let e = resolve(tmp.path().to_str().unwrap(), &HubOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("tokenizer.json"), "{e}");
    // A sharded index naming a missing shard.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"a": "model-00001-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let e = resolve(tmp.path().to_str().unwrap(), &HubOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model-00001-of-00002.safetensors") && e.contains("missing"),
        "{e}"
    );
}

#[test]
fn hub_specs_offline_and_unreachable_say_how_to_fix() {
    let cache = tempfile::tempdir().unwrap();
    let e = resolve(
        "hf:HuggingFaceTB/SmolLM2-135M-Instruct",
        &offline_empty_cache(cache.path()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("hf:HuggingFaceTB/SmolLM2-135M-Instruct")
            && e.contains("config.json")
            && e.contains("HF_HUB_OFFLINE")
            && e.contains("local model directory"),
        "{e}"
    );
    // A file already in the cache resolves offline (hub cache layout: refs + snapshots).
    let repo = cache.path().join("models--org--tiny");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "abc123").unwrap();
    let snap = repo.join("snapshots/abc123");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(snap.join("m.gguf"), b"GGUF").unwrap();
    let r = resolve("hf:org/tiny/m.gguf", &offline_empty_cache(cache.path())).unwrap();
    assert_eq!(
        r.files,
        ModelFiles::Gguf {
            file: snap.join("m.gguf")
        }
    );
    // Online against an unreachable endpoint: the error names it and the offline alternatives.
    let opts = HubOptions {
        offline: false,
        cache_dir: Some(cache.path().to_owned()),
        endpoint: Some("http://127.0.0.1:9".into()),
        progress: false,
    };
    let e = resolve("hf:org/other@v2", &opts).unwrap_err().to_string();
    assert!(
        e.contains("hf:org/other")
            && e.contains("revision v2")
            && e.contains("127.0.0.1:9")
            && e.contains("HF_HUB_OFFLINE=1")
            && e.contains("--model"),
        "{e}"
    );
}

#[test]
fn text_side_of_the_tiny_model() {
    let Some(dir) = tiny("tiny-qwen2") else {
        return;
    };
    let r = resolve(dir.to_str().unwrap(), &HubOptions::default()).unwrap();
    let text = ModelText::load(&r, GgufPreTokenizer::FromMetadata).unwrap();
    assert_eq!(text.eos_ids, [2]);
    assert_eq!(text.context_length, Some(512));
    assert_eq!(text.generation.bos_token_id, Some(1));
    let ids = text
        .prompt_ids("What is 2+2?", true, Some("Be brief."))
        .unwrap();
    let chat = text.tokenizer.decode(&ids, false).unwrap();
    assert_eq!(
        chat,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(ids[0], 1);
    let raw = text.prompt_ids("What is 2+2?", false, None).unwrap();
    assert_eq!(text.tokenizer.decode(&raw, false).unwrap(), "What is 2+2?");
    assert!(text.prompt_ids("x", false, Some("sys")).is_err());
}

#[test]
fn text_side_of_the_gguf() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/smollm2-135m-instruct"
    ));
    let Some(gguf) = std::fs::read_dir(&dir).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "gguf"))
    }) else {
        common::skip(&format!(
            "no .gguf in {} (run scripts/fetch-model.sh)",
            dir.display()
        ));
        return;
    };
    // The directory spec finds its single GGUF too.
    for spec in [gguf.to_str().unwrap(), dir.to_str().unwrap()] {
        let r = resolve(spec, &HubOptions::default()).unwrap();
        assert_eq!(r.files, ModelFiles::Gguf { file: gguf.clone() });
        let text = ModelText::load(&r, GgufPreTokenizer::FromMetadata).unwrap();
        assert_eq!(text.eos_ids, [2]);
        assert_eq!(text.context_length, Some(8192));
        assert_eq!(
            text.chat_text("Hi", None).unwrap(),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        check_vocab(&text.tokenizer, 49152).unwrap();
    }
}
