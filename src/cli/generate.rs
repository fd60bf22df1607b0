//! `prover generate`: sample completions of prompts from a policy model.
//!
//! ```text
//! prover generate --model models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --prompt "What is 12 + 7?" --chat --samples 4 --temperature 0.7 --seed 1 --json
//! ```
//! With `--json` every sample is one JSON line on stdout:
//! `{"prompt_index", "sample_index", "token_ids", "text", "logprobs", "policy_logprobs",
//! "finish", "stop_string"}` (`logprobs`: log-prob under the sampled distribution, 0 when
//! greedy; `policy_logprobs`: log-softmax of the raw logits; `finish`: eos | stop | length |
//! context). Otherwise the texts are printed for humans. Throughput goes to stderr.
use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::DType;
use clap::{Args, ValueEnum};

use crate::policy::decoder::Decoder;
use crate::policy::gguf_tokenizer::GgufPreTokenizer;
use crate::policy::model_text::ModelText;
use crate::policy::sampler::{generate, Sample, SamplingParams};
use crate::policy::sampling_weights::SamplingWeights;
use crate::policy::spec::{resolve, HubOptions, ResolvedModel};
use crate::policy::tokenizer::check_vocab;

/// Compute precision of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    /// float32.
    F32,
    /// bfloat16 (needs --device cuda).
    Bf16,
    /// float16 (needs --device cuda).
    F16,
}

impl DTypeArg {
    /// The candle dtype.
    pub fn dtype(self) -> DType {
        match self {
            Self::F32 => DType::F32,
            Self::Bf16 => DType::BF16,
            Self::F16 => DType::F16,
        }
    }
}

/// Pre-tokenizer of a tokenizer rebuilt from a GGUF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GgufPreArg {
    /// As `tokenizer.ggml.pre` says (llama.cpp; the model's original tokenizer).
    Metadata,
    /// Plain GPT-2 ByteLevel, as transformers converts GGUF vocabularies.
    Gpt2,
}

/// Arguments of `prover generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Model: an HF directory, a .gguf file, or hf:ORG/NAME[@REV][/FILE.gguf].
    #[arg(long, value_name = "MODEL")]
    pub model: String,
    /// Prompt text (repeat for several prompts).
    #[arg(long, required = true, value_name = "TEXT")]
    pub prompt: Vec<String>,
    /// Wrap each prompt as a user message in the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// System message (with --chat).
    #[arg(long, requires = "chat", value_name = "TEXT")]
    pub system: Option<String>,
    /// Samples per prompt.
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// Maximum generated tokens per sample.
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// Temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Nucleus sampling mass in (0, 1] (1 = off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Top-k (0 = off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// RNG seed (same seed, same samples).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep generating after EOS (exactly --max-new-tokens tokens).
    #[arg(long)]
    pub ignore_eos: bool,
    /// Stop when this string appears in the text (repeatable); the text is cut before it.
    #[arg(long = "stop", value_name = "TEXT")]
    pub stop: Vec<String>,
    /// Maximum rows (prompts × samples) per model batch (0 = all at once).
    #[arg(long, default_value_t = 0)]
    pub max_rows: usize,
    /// Context length (default: the model's).
    #[arg(long)]
    pub max_context: Option<usize>,
    /// Print one JSON line per sample.
    #[arg(long)]
    pub json: bool,
    /// Compute precision.
    #[arg(long, value_enum, default_value_t = DTypeArg::F32)]
    pub dtype: DTypeArg,
    /// Device: cpu | cuda | cuda:N (cuda needs the CUDA build, scripts/build-cuda.sh).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Pre-tokenizer of a GGUF tokenizer.
    #[arg(long, value_enum, default_value_t = GgufPreArg::Metadata)]
    pub gguf_pretokenizer: GgufPreArg,
    /// Weights to decode from: f32 | bf16 | f16 | q8_0 (copies of the matrices) | gguf (a
    /// .gguf file's own quantized matrices, never dequantized) | auto (bf16 on a CPU with
    /// AVX512-BF16, else f32). bf16 also rounds the activations entering each matrix.
    #[arg(long, default_value = "f32", value_name = "W")]
    pub sampling_weights: SamplingWeights,
}

/// Everything `generate` needs except the model: resolved files, text side, prompt ids and
/// sampling settings.
#[derive(Debug)]
pub struct Prepared {
    /// The resolved model files.
    pub model: ResolvedModel,
    /// Tokenizer, chat template, stop ids, context length.
    pub text: ModelText,
    /// Token ids of each prompt.
    pub prompts: Vec<Vec<u32>>,
    /// Sampling settings.
    pub params: SamplingParams,
}

/// Context length used when neither `--max-context` nor the model gives one.
pub const FALLBACK_CONTEXT: usize = 2048;

/// Resolves the model, loads its text side, encodes the prompts and builds the settings.
pub fn prepare(args: &GenerateArgs) -> Result<Prepared> {
    let mut hub = HubOptions::from_env();
    hub.progress = !args.json;
    let model = resolve(&args.model, &hub)?;
    let pre = match args.gguf_pretokenizer {
        GgufPreArg::Metadata => GgufPreTokenizer::FromMetadata,
        GgufPreArg::Gpt2 => GgufPreTokenizer::Gpt2ByteLevel,
    };
    let text = ModelText::load(&model, pre).with_context(|| format!("loading {}", args.model))?;
    let prompts = args
        .prompt
        .iter()
        .enumerate()
        .map(|(i, p)| {
            text.prompt_ids(p, args.chat, args.system.as_deref())
                .with_context(|| format!("prompt {i}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let max_context = match (args.max_context, text.context_length) {
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => {
            tracing::warn!("the model does not state its context length; using {FALLBACK_CONTEXT}");
            FALLBACK_CONTEXT
        }
    };
    let params = SamplingParams {
        temperature: args.temperature,
        top_p: args.top_p,
        top_k: args.top_k,
        seed: args.seed,
        max_new_tokens: args.max_new_tokens,
        samples: args.samples,
        max_rows: args.max_rows,
        max_context,
        eos_ids: text.eos_ids.clone(),
        ignore_eos: args.ignore_eos,
        stop_strings: args.stop.clone(),
    };
    params.validate()?;
    Ok(Prepared {
        model,
        text,
        prompts,
        params,
    })
}

/// Samples with a ready decoder and prints: JSON lines or human text to `out`, throughput to
/// `err`. Returns the samples.
pub fn run_with(
    decoder: &mut dyn Decoder,
    prepared: &Prepared,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Vec<Sample>> {
    check_vocab(&prepared.text.tokenizer, decoder.vocab_size())?;
    let start = Instant::now();
    let samples = generate(
        decoder,
        &prepared.text.tokenizer,
        &prepared.prompts,
        &prepared.params,
    )?;
    let secs = start.elapsed().as_secs_f64();
    let tokens: usize = samples.iter().map(|s| s.token_ids.len()).sum();
    for s in &samples {
        if json {
            writeln!(out, "{}", serde_json::to_string(s)?)?;
        } else {
            writeln!(
                out,
                "=== prompt {} sample {} ({} tokens, finish: {}) ===",
                s.prompt_index,
                s.sample_index,
                s.token_ids.len(),
                serde_json::to_value(s.finish)?.as_str().unwrap_or("?")
            )?;
            writeln!(out, "{}", s.text)?;
        }
    }
    writeln!(
        err,
        "generated {tokens} tokens in {secs:.2} s ({:.1} tokens/s) over {} samples",
        tokens as f64 / secs.max(1e-9),
        samples.len()
    )?;
    Ok(samples)
}

/// Runs `prover generate`; returns the process exit code.
pub fn run(args: GenerateArgs) -> Result<u8> {
    let prepared = prepare(&args)?;
    let (device, dtype) = crate::policy::device::open(
        &args.device,
        crate::policy::device::dtype_name(args.dtype.dtype()),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut decoder = crate::policy::sampling_weights::load_decoder(
        prepared.model.weights_path(),
        args.sampling_weights,
        crate::policy::device::inference_dtype(&device, dtype),
        &device,
    )
    .with_context(|| format!("loading the model of {}", prepared.model.spec))?;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_with(
        decoder.as_mut(),
        &prepared,
        args.json,
        &mut stdout.lock(),
        &mut stderr.lock(),
    )?;
    Ok(0)
}
