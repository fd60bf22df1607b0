//! `prover eval math` and `prover eval minif2f`.
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};

use crate::data::benchmarks::{read_formal, read_informal, AnswerField, MathBench};
use crate::eval::lean_checker::LeanChecker;
use crate::eval::math::{run_math_eval, Graded, MathEvalSettings};
use crate::eval::minif2f::{run_minif2f_eval, ProofEvalSettings};
use crate::eval::protocol::{qwen_data, qwen_question, Grader};
use crate::policy::sampling_weights::SamplingWeights;
use crate::prompt::style::{MathPrompt, MathPromptStyle, ProofPromptStyle};
use crate::rl::completion_source::PolicySource;
use crate::rl::traits::SamplingParams;
use crate::rl::transformer_policy::TransformerPolicy;
use crate::verify::answer::AnswerChecker;
use crate::verify::lean::launch::LeanBackend;

use super::lean_args::LeanArgs;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub which: EvalWhich,
}

#[derive(Debug, Subcommand)]
pub enum EvalWhich {
    /// Accuracy (avg@k) on a math benchmark, graded by the answer checker.
    Math(MathArgs),
    /// pass@k on miniF2F, every proof checked by the Lean pool.
    Minif2f(Minif2fArgs),
}

/// Options shared by both evaluations.
#[derive(Debug, Args)]
pub struct Common {
    /// Model: HF dir, .gguf file or hf:ORG/NAME.
    #[arg(long, default_value = "models/smollm2-135m-instruct/")]
    pub model: String,
    /// Trained weights over --model: a checkpoint folder of `prover train`
    /// (RUN/checkpoints/step-N) or its weights.safetensors.
    #[arg(long, value_name = "CHECKPOINT")]
    pub weights: Option<PathBuf>,
    /// Evaluate only the first N problems.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Sampling temperature (0 = greedy). Default: the protocol's (see --prompt-style).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass. Default: the protocol's (see --prompt-style).
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Most tokens generated per sample. Default: the protocol's (see --prompt-style).
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Weights to decode from: f32 | bf16 | f16 | q8_0 (copies of the matrices) | gguf (a
    /// .gguf file's own quantized matrices, never dequantized) | auto (bf16 on a CPU with
    /// AVX512-BF16, else f32). bf16 also rounds the activations entering each matrix.
    #[arg(long, default_value = "f32", value_name = "W")]
    pub sampling_weights: SamplingWeights,
    /// Device: cpu | cuda | cuda:N (cuda needs the CUDA build, scripts/build-cuda.sh).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Compute dtype: f32 | bf16 | f16 (f16 needs device cuda; bf16 on the CPU needs
    /// AVX512-BF16 and leaves decoding to --sampling-weights).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Output folder (results.jsonl, summary.json); re-running with it resumes.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Common {
    /// The sampling settings: these flags over the protocol's `temperature`, `top_p` and
    /// `max_new_tokens`, with its stop strings.
    fn sampling(
        &self,
        temperature: f64,
        top_p: f64,
        max_new_tokens: usize,
        stop_strings: &[String],
    ) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature.unwrap_or(temperature),
            top_p: self.top_p.unwrap_or(top_p),
            max_new_tokens: self.max_new_tokens.unwrap_or(max_new_tokens),
            stop_strings: stop_strings.to_vec(),
        }
    }
}

#[derive(Debug, Args)]
pub struct MathArgs {
    /// A benchmark from ../shared/datasets/math (or $PROVER_DATA_DIR/math).
    #[arg(long, value_enum, required_unless_present = "data")]
    pub bench: Option<MathBench>,
    /// Or any JSONL with a problem/question field ...
    #[arg(long, conflicts_with = "bench")]
    pub data: Option<PathBuf>,
    /// ... and this answer field: NAME, boxed:NAME, first:NAME or hashes:NAME.
    #[arg(long, default_value = "answer")]
    pub answer_field: String,
    /// Samples per problem (avg@k). Default: 8 for AIME/AMC, else 1.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Prompt style, and with it the protocol's defaults:
    /// qwen25-math-cot = the Qwen2.5-Math evaluation as the 1-shot RLVR paper runs it
    /// (3072 new tokens; greedy, AIME/AMC 8 samples at temperature 0.6; top-p 1.0; stops at
    /// </s>, <|im_end|>, <|endoftext|>; --grader qwen). chat, raw, plain: no public protocol
    /// (512 new tokens, same temperatures, top-p 1.0, the model's EOS, --grader strict).
    #[arg(long, value_enum, default_value_t = MathPromptStyle::Qwen25MathCot, verbatim_doc_comment)]
    pub prompt_style: MathPromptStyle,
    /// Replace the instruction "Please reason step by step, and put your final answer within
    /// \boxed{}." (the system message of chat/qwen25-math-cot, the last line of raw);
    /// "" in chat style sends no system message.
    #[arg(long, value_name = "TEXT")]
    pub instruction: Option<String>,
    /// How responses are graded. qwen: Qwen2.5-Math's extract_answer + math_equal (the last
    /// number of an unboxed response counts, 1e-4 relative tolerance, x100 and /100 accepted);
    /// strict: our checker, last \boxed{} only (the RL reward); lenient: our checker with
    /// lenient extraction. Default: the prompt style's protocol.
    #[arg(long, value_enum)]
    pub grader: Option<Grader>,
    /// Same as --grader lenient.
    #[arg(long, conflicts_with = "grader")]
    pub lenient: bool,
    /// Problems generated together in one batch (greedy runs; sampled runs batch the k
    /// samples of one problem). `cargo bench --bench eval_throughput` measures the trade-off.
    #[arg(long, default_value_t = 32)]
    pub batch_problems: usize,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct Minif2fArgs {
    /// miniF2F JSONL (name, split, header, formal_statement).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Only these theorem names (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub names: Vec<String>,
    /// Samples per problem (n of pass@k).
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// Prompt style, and with it the protocol's defaults:
    /// complete = DeepSeek-Prover-V1.5 non-CoT, cot = DeepSeek-Prover-V1.5 CoT (its default):
    /// DeepSeek's header and informal prefix (from --deepseek-data), temperature 1.0, top-p
    /// 0.95, 2048 new tokens, output cut at the first ```. chat: no public protocol (a
    /// ```lean4 block requested in a chat message; greedy for 1 sample, else temperature 1.0;
    /// top-p 1.0; 512 new tokens).
    #[arg(long, value_enum, default_value_t = ProofPromptStyle::Complete, verbatim_doc_comment)]
    pub prompt_style: ProofPromptStyle,
    /// DeepSeek-Prover-V1.5's miniF2F file, for the header and informal prefix of complete/cot
    /// prompts (joined by theorem name). Default:
    /// <datasets>/minif2f/deepseek-prover-v1.5-minif2f-lean4.9.jsonl; "none" keeps the
    /// tasks' own header and no informal prefix. Proofs are always checked against --data.
    #[arg(long, value_name = "FILE")]
    pub deepseek_data: Option<PathBuf>,
    #[command(flatten)]
    pub lean: LeanArgs,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: EvalArgs) -> Result<u8> {
    match args.which {
        EvalWhich::Math(a) => math(a),
        EvalWhich::Minif2f(a) => minif2f(a),
    }
}

fn math(a: MathArgs) -> Result<u8> {
    let (path, field, sampled) = match (&a.bench, &a.data) {
        (Some(b), _) => (b.default_path(), b.answer_field(), b.sampled_by_default()),
        (None, Some(p)) => (p.clone(), AnswerField::parse(&a.answer_field), false),
        (None, None) => bail!("give --bench NAME or --data FILE"),
    };
    let mut tasks = read_informal(&path, &field).with_context(|| {
        format!(
            "reading {} (set PROVER_DATA_DIR or pass --data)",
            path.display()
        )
    })?;
    if let Some(n) = a.common.limit {
        tasks.truncate(n);
    }
    let protocol = a.prompt_style.protocol();
    let grader = match (a.grader, a.lenient) {
        (Some(g), _) => g,
        (None, true) => Grader::Lenient,
        (None, false) => protocol.grader,
    };
    let data = qwen_data(a.bench);
    if a.prompt_style == MathPromptStyle::Qwen25MathCot {
        for t in &mut tasks {
            let gt = crate::verify::answer::qwen::reference_answer(&t.answer, data);
            t.problem = qwen_question(&t.problem, &gt);
        }
    }
    let samples = a.samples.unwrap_or(if sampled { 8 } else { 1 });
    let sampling = a.common.sampling(
        if sampled { 0.6 } else { 0.0 },
        protocol.top_p,
        protocol.max_new_tokens,
        &protocol.stop_strings,
    );
    let mut policy = load_policy(&a.common)?;
    let mut source = PolicySource::new(&mut policy, sampling.clone(), a.common.seed);
    let checker = if grader == Grader::Lenient {
        AnswerChecker::new(crate::verify::answer::CheckerConfig::lenient())
    } else {
        AnswerChecker::default()
    };
    let grade = |r: &str, s: &str| {
        if grader == Grader::Qwen {
            let g = crate::verify::answer::qwen::grade(s, r, data);
            return Graded {
                correct: g.correct,
                extracted: (!g.pred.is_empty()).then_some(g.pred),
            };
        }
        let v = checker.check(r, s);
        Graded {
            correct: v.correct,
            extracted: v.extracted,
        }
    };
    let settings = MathEvalSettings {
        prompt: MathPrompt {
            style: a.prompt_style,
            instruction: a.instruction.clone(),
        },
        samples,
        batch_problems: if samples == 1 { a.batch_problems } else { 1 },
        out: a.common.out.clone(),
        progress: true,
    };
    let (s, _) = run_math_eval(&tasks, &mut source, &grade, &settings)?;
    println!("benchmark  {}", path.display());
    println!("problems   {}", s.problems);
    println!(
        "samples    {} per problem (temperature {}, top-p {}, up to {} new tokens)",
        s.samples_per_problem, sampling.temperature, sampling.top_p, sampling.max_new_tokens
    );
    println!("grader     {grader:?}");
    println!(
        "accuracy   {:.1}% (avg@{}; {}/{} samples correct)",
        100.0 * s.accuracy,
        samples,
        s.correct_samples,
        s.total_samples
    );
    println!(
        "time       {:.1} s ({:.2} problems/min, {} tokens)",
        s.seconds, s.problems_per_minute, s.generated_tokens
    );
    Ok(0)
}

fn load_policy(c: &Common) -> Result<TransformerPolicy> {
    let mut policy = TransformerPolicy::load(&c.model, true, 0, 16.0, false)?;
    if let Some(w) = &c.weights {
        let n = policy.load_weights(w)?;
        eprintln!("loaded {n} trained tensors from {}", w.display());
    }
    if c.weights.is_some() && c.sampling_weights == SamplingWeights::Gguf {
        anyhow::bail!(
            "--sampling-weights gguf decodes the .gguf file's own weights, not --weights; \
             use q8_0, bf16, f16 or f32 with a trained checkpoint"
        );
    }
    policy.set_sampling_weights(c.sampling_weights)?;
    let (device, dtype) =
        crate::policy::device::open(&c.device, &c.dtype).map_err(|e| anyhow::anyhow!("{e}"))?;
    policy.place(&device, dtype)?;
    Ok(policy)
}

fn minif2f(a: Minif2fArgs) -> Result<u8> {
    let path = a.data.clone().unwrap_or_else(|| {
        crate::data::benchmarks::datasets_dir().join("minif2f/minif2f-lean4-v4.24.0.jsonl")
    });
    let mut tasks = read_formal(&path).with_context(|| format!("reading {}", path.display()))?;
    tasks.retain(|t| t.split.as_deref().is_none_or(|s| s == a.split));
    if !a.names.is_empty() {
        tasks.retain(|t| a.names.contains(&t.name));
    }
    if let Some(n) = a.common.limit {
        tasks.truncate(n);
    }
    if tasks.is_empty() {
        bail!(
            "no problems selected from {} (split {}, names {:?})",
            path.display(),
            a.split,
            a.names
        );
    }
    let prompt_header = deepseek_prompt_parts(&a, &mut tasks)?;
    let settings = a.lean.settings(LeanBackend::Repl);
    let (rt, verifier) = super::lean_setup::start_verifier(&settings).map_err(|e| anyhow!(e))?;
    let checker = LeanChecker::new(rt, verifier);
    let protocol = a.prompt_style.protocol();
    let sampling = a.common.sampling(
        protocol
            .temperature
            .unwrap_or(if a.samples > 1 { 1.0 } else { 0.0 }),
        protocol.top_p,
        protocol.max_new_tokens,
        &protocol.stop_strings,
    );
    let mut policy = load_policy(&a.common)?;
    let mut source = PolicySource::new(&mut policy, sampling, a.common.seed);
    let settings = ProofEvalSettings {
        style: a.prompt_style,
        prompt_header,
        samples: a.samples,
        verify_threads: checker.proofs_in_flight(),
        out: a.common.out.clone(),
        progress: true,
    };
    let (s, _) = run_minif2f_eval(&tasks, &mut source, &checker, &settings)?;
    println!("problems   {} ({} split)", s.problems, a.split);
    for (k, p) in &s.pass_at_k {
        println!("pass@{k:<5} {:.1}%", 100.0 * p);
    }
    println!("solved     {}", s.solved);
    println!(
        "errors     {} verifier errors (not counted as proofs)",
        s.verifier_errors
    );
    println!("time       {:.1} s", s.seconds);
    println!(
        "pool       {}",
        serde_json::to_string(&checker.metrics_json())?
    );
    Ok(0)
}

/// For the DeepSeek styles: attaches DeepSeek's informal prefixes to the tasks and returns its
/// header (shown in prompts only). `None` for the chat style or `--deepseek-data none`.
fn deepseek_prompt_parts(
    a: &Minif2fArgs,
    tasks: &mut [crate::data::FormalTask],
) -> Result<Option<String>> {
    use crate::data::deepseek_minif2f::{default_path, DeepSeekMinif2f};
    if a.prompt_style == ProofPromptStyle::Chat {
        return Ok(None);
    }
    let path = match &a.deepseek_data {
        Some(p) if p.as_os_str() == "none" => return Ok(None),
        Some(p) => p.clone(),
        None => default_path(&crate::data::benchmarks::datasets_dir()),
    };
    let ds = DeepSeekMinif2f::read(&path).with_context(|| {
        format!(
            "reading DeepSeek-Prover-V1.5's miniF2F file {} for the prompt's header and informal \
             prefixes (pass --deepseek-data FILE, or --deepseek-data none to prompt with the \
             tasks' own header)",
            path.display()
        )
    })?;
    let missing = ds.attach_informal(tasks);
    if !missing.is_empty() {
        eprintln!(
            "warning: {} theorem(s) not in {}, prompted without an informal prefix: {}",
            missing.len(),
            path.display(),
            missing.join(", ")
        );
    }
    let header = ds.common_header().ok_or_else(|| {
        anyhow!(
            "{}: the rows carry different headers; expected DeepSeek's single prompt header",
            path.display()
        )
    })?;
    Ok(Some(header))
}
