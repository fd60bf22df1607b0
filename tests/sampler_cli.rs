//! `prover generate`: argument handling, prompt preparation and printing, with a scripted mock
//! decoder in place of the transformer.
mod common;

use common::tiny_model;
use std::process::Command;

use candle_core::{Device, Tensor};
use clap::Parser;
use prover::cli::generate::{prepare, run_with, GenerateArgs};
use prover::policy::decoder::Decoder;

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: GenerateArgs,
}

/// Emits `script` token by token (logit 10, everything else 0), then EOS (id 2) forever.
struct Scripted {
    vocab: usize,
    script: Vec<u32>,
    pos: Vec<usize>,
    prompts_seen: Vec<Vec<u32>>,
}

impl Scripted {
    fn logits(&self) -> candle_core::Result<Tensor> {
        let mut data = vec![0f32; self.pos.len() * self.vocab];
        for (r, &k) in self.pos.iter().enumerate() {
            let t = self.script.get(k).copied().unwrap_or(2);
            data[r * self.vocab + t as usize] = 10.0;
        }
        Tensor::from_vec(data, (self.pos.len(), self.vocab), &Device::Cpu)
    }
}

impl Decoder for Scripted {
    fn vocab_size(&self) -> usize {
        self.vocab
    }
    fn prefill(&mut self, prompts: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        self.prompts_seen = prompts.to_vec();
        self.pos = vec![0; prompts.len()];
        self.logits()
    }
    fn step(&mut self, _tokens: &[u32]) -> candle_core::Result<Tensor> {
        self.pos.iter_mut().for_each(|k| *k += 1);
        self.logits()
    }
}

fn args(list: &[&str]) -> GenerateArgs {
    let mut argv = vec!["generate"];
    argv.extend_from_slice(list);
    Wrapper::try_parse_from(argv).unwrap().args
}

#[test]
fn json_lines_and_human_output() {
    let Some(dir) = tiny_model("tiny-llama") else {
        return;
    };
    let a = args(&[
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "What is 12 + 7?",
        "--prompt",
        "Hi",
        "--chat",
        "--system",
        "Be brief.",
        "--samples",
        "2",
        "--temperature",
        "0",
        "--json",
    ]);
    let prepared = prepare(&a).unwrap();
    assert_eq!(prepared.params.eos_ids, [2]);
    assert_eq!(prepared.params.max_context, 512);
    assert_eq!(prepared.params.samples, 2);
    let script = prepared
        .text
        .tokenizer
        .encode("The answer is 19.", false)
        .unwrap();
    let mut dec = Scripted {
        vocab: 49152,
        script: script.clone(),
        pos: vec![],
        prompts_seen: vec![],
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let samples = run_with(&mut dec, &prepared, true, &mut out, &mut err).unwrap();
    assert_eq!(samples.len(), 4);
    // The decoder saw each chat prompt twice (samples are rows of one batch).
    assert_eq!(dec.prompts_seen.len(), 4);
    assert_eq!(dec.prompts_seen[0], dec.prompts_seen[1]);
    let chat = prepared
        .text
        .tokenizer
        .decode(&dec.prompts_seen[0], false)
        .unwrap();
    assert_eq!(
        chat,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["prompt_index"], i / 2);
        assert_eq!(l["sample_index"], i % 2);
        assert_eq!(l["text"], "The answer is 19.");
        assert_eq!(l["finish"], "eos");
        let ids: Vec<u32> = l["token_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let mut want = script.clone();
        want.push(2);
        assert_eq!(ids, want);
        assert_eq!(l["policy_logprobs"].as_array().unwrap().len(), ids.len());
        assert_eq!(l["logprobs"].as_array().unwrap().len(), ids.len());
    }
    assert!(String::from_utf8(err).unwrap().contains("tokens/s"));

    // Human output, stop string, raw prompt.
    let a = args(&[
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "x",
        "--stop",
        " is",
        "--temperature",
        "0",
    ]);
    let prepared = prepare(&a).unwrap();
    let mut dec = Scripted {
        vocab: 49152,
        script,
        pos: vec![],
        prompts_seen: vec![],
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run_with(&mut dec, &prepared, false, &mut out, &mut err).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "=== prompt 0 sample 0 (3 tokens, finish: stop) ===\nThe answer\n"
    );
}

#[test]
fn vocabulary_mismatch_is_refused() {
    let Some(dir) = tiny_model("tiny-llama") else {
        return;
    };
    let prepared = prepare(&args(&["--model", dir.to_str().unwrap(), "--prompt", "x"])).unwrap();
    let mut dec = Scripted {
        vocab: 32000,
        script: vec![],
        pos: vec![],
        prompts_seen: vec![],
    };
    let e = run_with(&mut dec, &prepared, true, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    assert!(format!("{e:#}").contains("vocabulary mismatch"), "{e:#}");
}

#[test]
fn prompt_longer_than_context_is_refused() {
    let Some(dir) = tiny_model("tiny-llama") else {
        return;
    };
    let long = "word ".repeat(600);
    let prepared = prepare(&args(&[
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        &long,
    ]))
    .unwrap();
    let mut dec = Scripted {
        vocab: 49152,
        script: vec![],
        pos: vec![],
        prompts_seen: vec![],
    };
    let e = run_with(&mut dec, &prepared, true, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("prompt 0") && msg.contains("context of 512"),
        "{msg}"
    );
}

#[test]
fn binary_reports_errors_with_exit_code_2() {
    let bin = env!("CARGO_BIN_EXE_prover");
    let out = Command::new(bin)
        .args(["generate", "--model", "/nonexistent/dir", "--prompt", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/dir") && err.contains("no such file"),
        "{err}"
    );
    let out = Command::new(bin)
        .args(["generate", "--model", "x", "--prompt", "y", "--top-p", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let Some(dir) = tiny_model("tiny-llama") else {
        return;
    };
    let out = Command::new(bin)
        .args([
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "x",
            "--top-p",
            "1.5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("top_p"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin)
        .args([
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "x",
        ])
        .output()
        .unwrap();
    // With the model wired in, the tiny checkpoint really generates.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
}
