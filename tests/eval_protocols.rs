//! Each evaluation protocol against its public source, on fixed inputs: the prompt is rendered,
//! the output stopped / cut and graded exactly as the public code does. Expected strings and
//! verdicts come from reading that code (file and line cited at each assertion):
//! - QwenLM/Qwen2.5-Math `evaluation/` (utils.py, parser.py, grader.py) as copied into
//!   ypwang61/One-Shot-RLVR `Qwen2.5-Eval/evaluation/` (math_eval.py, sh/*.sh);
//! - deepseek-ai/DeepSeek-Prover-V1.5 (prover/utils.py, configs/sampling.py).
use candle_core::{Device, Tensor};

use prover::data::deepseek_minif2f::DeepSeekMinif2f;
use prover::data::FormalTask;
use prover::eval::minif2f::{
    proof_prompt_with_header, run_minif2f_eval, AttemptVerdict, ProofChecker, ProofEvalSettings,
};
use prover::eval::prompts::{extract_proof_body, MathPrompt, MathPromptStyle, ProofPromptStyle};
use prover::eval::protocol::{qwen_question, Grader};
use prover::eval::source::{Completion, CompletionSource, Prompt};
use prover::policy::decoder::Decoder;
use prover::policy::sampler::{generate, FinishReason, SamplingParams};
use prover::policy::stop::{stop_token_ids, Detokenize};
use prover::policy::tokenizer::PolicyTokenizer;
use prover::verify::answer::qwen::{grade, QwenData};
use prover::verify::Status;

mod common;

// ---------------------------------------------------------------- qwen25-math-cot + Qwen grading

#[test]
fn qwen25_math_cot_prompt_is_the_template_with_the_stripped_question() {
    // utils.py 141-146: "qwen25-math-cot" input template; parser.py 719: `question.strip()`.
    let p = MathPrompt::new(MathPromptStyle::Qwen25MathCot)
        .render(&qwen_question("\nFind $x$ if $2x = 4$. ", "2"));
    assert_eq!(
        p,
        Prompt::Raw(
            "<|im_start|>system\nPlease reason step by step, and put your final answer within \
             \\boxed{}.<|im_end|>\n<|im_start|>user\nFind $x$ if $2x = 4$.<|im_end|>\n\
             <|im_start|>assistant\n"
                .into()
        )
    );
}

#[test]
fn qwen25_math_cot_defaults_are_the_papers() {
    let p = MathPromptStyle::Qwen25MathCot.protocol();
    // math_eval.py 237: stop_words = ["</s>", "<|im_end|>", "<|endoftext|>"]
    assert_eq!(p.stop_strings, ["</s>", "<|im_end|>", "<|endoftext|>"]);
    // sh/eval_one_experiment_all_ckpts.sh line 3: MAX_TOKENS="3072"
    assert_eq!(p.max_new_tokens, 3072);
    // sh/eval_all_math.sh: --top_p 1
    assert_eq!(p.top_p, 1.0);
    assert_eq!(p.grader, Grader::Qwen);
    // no public protocol: the strict checker stays the default there
    assert_eq!(MathPromptStyle::Chat.protocol().grader, Grader::Strict);
}

fn smollm2_tokenizer() -> Option<PolicyTokenizer> {
    let dir = common::shared("fixtures/tiny-models/tiny-llama")?;
    Some(PolicyTokenizer::from_hf_dir(&dir).unwrap())
}

/// Emits a fixed script of token ids, whatever the context.
struct Script {
    ids: Vec<u32>,
    pos: usize,
    vocab: usize,
}

impl Script {
    fn logits(&mut self, rows: usize) -> candle_core::Result<Tensor> {
        let next = self.ids[self.pos.min(self.ids.len() - 1)] as usize;
        self.pos += 1;
        let mut v = vec![0f32; rows * self.vocab];
        for r in 0..rows {
            v[r * self.vocab + next] = 50.0;
        }
        Tensor::from_vec(v, (rows, self.vocab), &Device::Cpu)
    }
}

impl Decoder for Script {
    fn vocab_size(&self) -> usize {
        self.vocab
    }
    fn prefill(&mut self, prompts: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        self.logits(prompts.len())
    }
    fn step(&mut self, tokens: &[u32]) -> candle_core::Result<Tensor> {
        self.logits(tokens.len())
    }
}

#[test]
fn qwen_stops_end_generation_at_the_special_token_and_at_the_text() {
    let Some(tk) = smollm2_tokenizer() else {
        return;
    };
    let stops: Vec<String> = MathPromptStyle::Qwen25MathCot.protocol().stop_strings;
    // <|im_end|> and <|endoftext|> are special tokens: they never show in the decoded text,
    // so they must stop by id (math_eval.py 277-281 passes their Qwen2 ids 151645, 151643).
    let ids = stop_token_ids(&tk, &stops);
    let im_end = tk.token_to_id("<|im_end|>").unwrap();
    let eot = tk.token_to_id("<|endoftext|>").unwrap();
    assert_eq!(ids, vec![im_end, eot]);
    assert_eq!(
        tk.detokenize(&[im_end]).unwrap(),
        "",
        "special: absent from text"
    );

    let answer = tk.encode("So \\boxed{5}.", false).unwrap();
    let later = tk.encode(" Then \\boxed{6}.", false).unwrap();
    let params = |eos: Vec<u32>| SamplingParams {
        temperature: 0.0,
        max_new_tokens: 64,
        eos_ids: eos,
        stop_strings: stops.clone(),
        ..Default::default()
    };
    // A base model whose EOS list lacks <|im_end|> would run past it: the stop id ends it.
    let script: Vec<u32> = [answer.clone(), vec![im_end], later.clone()].concat();
    let mut dec = Script {
        ids: script,
        pos: 0,
        vocab: tk.vocab_size(),
    };
    let out = generate(&mut dec, &tk, &[vec![1]], &params(ids.clone())).unwrap();
    assert_eq!(out[0].finish, FinishReason::Eos);
    assert_eq!(out[0].text, "So \\boxed{5}.");
    assert!(grade(&out[0].text, "5", QwenData::Answer).correct);
    // Without the stop ids the later box would replace the answer (the bug of issue 16).
    let mut dec = Script {
        ids: [answer.clone(), vec![im_end], later.clone()].concat(),
        pos: 0,
        vocab: tk.vocab_size(),
    };
    let run_on = generate(&mut dec, &tk, &[vec![1]], &params(vec![])).unwrap();
    assert!(run_on[0].text.contains("\\boxed{6}"));
    assert!(!grade(&run_on[0].text, "5", QwenData::Answer).correct);
    // "</s>" written as plain text stops by text; the text is cut before it.
    let mut dec = Script {
        ids: [answer, tk.encode("</s> \\boxed{6}", false).unwrap()].concat(),
        pos: 0,
        vocab: tk.vocab_size(),
    };
    let out = generate(&mut dec, &tk, &[vec![1]], &params(ids)).unwrap();
    assert_eq!(out[0].finish, FinishReason::Stop);
    assert_eq!(out[0].text, "So \\boxed{5}.");
}

#[test]
fn qwen_grading_follows_extract_answer_and_math_equal() {
    let g = |resp: &str, gt: &str| grade(resp, gt, QwenData::Answer);
    // parser.py 505-508: "final answer is $…$. I hope" wins over a later box.
    let r = g(
        "The final answer is $3$. I hope it is correct. \\boxed{4}",
        "3",
    );
    assert_eq!((r.pred.as_str(), r.correct), ("3", true));
    // parser.py 509-529: the last "boxed", braces balanced.
    assert_eq!(
        g("\\boxed{1} then \\boxed{\\frac{1}{2}}", "0.5").pred,
        "\\frac{1}{2}"
    );
    // parser.py 530-531: after the last "he answer is"; 561-566: trailing "." dropped.
    assert_eq!(g("The answer is 12.", "12").pred, "12");
    // parser.py 537-544: the last number, commas removed.
    assert_eq!(g("it costs 1,234 in total", "1234").pred, "1234");
    // grader.py 97-115 + 266-273: numbers within rel. 1e-4, and x100 / /100 variants.
    assert!(g("\\boxed{0.3333}", "0.33333333").correct);
    assert!(!g("\\boxed{0.333}", "0.33333333").correct);
    assert!(g("\\boxed{25}", "0.25").correct);
    assert!(g("\\boxed{0.25}", "25").correct);
    assert!(!g("\\boxed{2.5}", "25").correct);
    // parser.py 252-260: units are dropped as whole words; 274-275: \text{} unwrapped.
    assert!(g("\\boxed{5 \\text{ cm}}", "5").correct);
    // parser.py 271-272 (word2number): "five" is 5.
    assert_eq!(g("\\boxed{five}", "5").pred, "5");
    // parser.py 282-284: percent signs removed; 347-348: a/b becomes \frac{a}{b}.
    assert_eq!(g("\\boxed{3/4}", "\\frac34").pred, "\\frac{3}{4}");
    // math_eval.py 370-372: the text after a stop word is not graded.
    assert!(g("\\boxed{5}<|im_end|>\\boxed{6}", "5").correct);
    // parser.py 510-512: a response ending in "boxed" has an empty prediction.
    assert!(!g("so boxed", "0").correct);
    // Minerva keeps units (parser.py 568, STRIP_EXCEPTIONS 572).
    assert_eq!(grade("\\boxed{5 cm}", "5", QwenData::Minerva).pred, "5cm");
}

// ------------------------------------------------------------- DeepSeek-Prover-V1.5 complete / CoT

fn v424_task() -> FormalTask {
    // The v4.24.0 row of amc12b_2003_p6 (its own header; statement ends in `:= by sorry`).
    FormalTask {
        name: "amc12b_2003_p6".into(),
        header: "import Mathlib\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n".into(),
        formal_statement: "theorem amc12b_2003_p6 (a r : ℝ) (u : ℕ → ℝ) (h₀ : ∀ k, u k = a * r ^ k) (h₁ : u 1 = 2)\n  (h₂ : u 3 = 6) : u 0 = 2 / Real.sqrt 3 ∨ u 0 = -(2 / Real.sqrt 3) := by sorry".into(),
        informal: None,
        split: Some("valid".into()),
    }
}

/// prover/utils.py line 11: LEAN4_DEFAULT_HEADER (also every row's `header` in their file).
const DEEPSEEK_HEADER: &str =
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n";
const PREFIX: &str = "/-- The second and fourth terms of a geometric sequence are $2$ and $6$. Which of the following is a possible first term? Show that it is $\\frac{2\\sqrt{3}}{3}$.-/\n";
const STATEMENT: &str = "theorem amc12b_2003_p6 (a r : ℝ) (u : ℕ → ℝ) (h₀ : ∀ k, u k = a * r ^ k) (h₁ : u 1 = 2)\n  (h₂ : u 3 = 6) : u 0 = 2 / Real.sqrt 3 ∨ u 0 = -(2 / Real.sqrt 3) := by\n";

#[test]
fn deepseek_complete_and_cot_prompts_are_byte_exact() {
    let mut task = v424_task();
    task.informal = Some(PREFIX.into());
    // utils.py 13-18 non_cot_prompt: "Complete the following Lean 4 code:\n\n```lean4\n"
    // + header + informal_prefix + formal_statement.
    let complete =
        proof_prompt_with_header(ProofPromptStyle::Complete, &task, Some(DEEPSEEK_HEADER));
    assert_eq!(
        complete,
        Prompt::Raw(format!(
            "Complete the following Lean 4 code:\n\n```lean4\n{DEEPSEEK_HEADER}{PREFIX}{STATEMENT}"
        ))
    );
    // utils.py 28-33 cot_prompt.
    let cot = proof_prompt_with_header(ProofPromptStyle::Cot, &task, Some(DEEPSEEK_HEADER));
    assert_eq!(
        cot,
        Prompt::Raw(format!(
            "Complete the following Lean 4 code with explanatory comments preceding each line \
             of code:\n\n```lean4\n{DEEPSEEK_HEADER}{PREFIX}{STATEMENT}"
        ))
    );
}

#[test]
fn deepseek_output_is_cut_at_the_first_fence_and_sampled_as_configured() {
    let task = v424_task();
    // utils.py 43-45 post_process_output: output[:output.find("```")].
    let out = "  -- comment\n  nlinarith [h₀]\n```\nSome prose with ```lean4 more```";
    for style in [ProofPromptStyle::Complete, ProofPromptStyle::Cot] {
        assert_eq!(
            extract_proof_body(out, &task, style).as_deref(),
            Some("  -- comment\n  nlinarith [h₀]")
        );
        // configs/sampling.py 18-23: temperature=1, max_tokens=2048, top_p=0.95.
        let p = style.protocol();
        assert_eq!(
            (p.temperature, p.max_new_tokens, p.top_p),
            (Some(1.0), 2048, 0.95)
        );
        assert_eq!(p.stop_strings, ["```"]);
    }
}

struct Recorder(Vec<Prompt>, &'static str);
impl CompletionSource for Recorder {
    fn complete(&mut self, prompts: &[Prompt], n: usize) -> anyhow::Result<Vec<Vec<Completion>>> {
        self.0.extend(prompts.iter().cloned());
        Ok(prompts
            .iter()
            .map(|_| {
                (0..n)
                    .map(|_| Completion {
                        text: self.1.into(),
                        tokens: 1,
                    })
                    .collect()
            })
            .collect())
    }
}

/// Records what the verifier is asked to check.
struct Seen(std::sync::Mutex<Vec<(String, String, String)>>);
impl ProofChecker for Seen {
    fn check(&self, task: &FormalTask, body: &str) -> AttemptVerdict {
        self.0.lock().unwrap().push((
            task.header.clone(),
            task.formal_statement.clone(),
            body.into(),
        ));
        AttemptVerdict {
            status: Status::Accepted,
            seconds: 0.0,
        }
    }
}

#[test]
fn deepseek_prompt_joined_by_name_but_verified_with_the_v4_24_statement() {
    let Some(path) = common::shared("datasets/minif2f/deepseek-prover-v1.5-minif2f-lean4.9.jsonl")
    else {
        return;
    };
    let ds = DeepSeekMinif2f::read(&path).unwrap();
    assert_eq!(ds.common_header().as_deref(), Some(DEEPSEEK_HEADER));
    // The one name that differs by case between the two files still joins.
    assert!(ds.get("numbertheory_notEquiv2i2jasqbsqdiv8").is_some());
    let mut tasks = vec![v424_task()];
    assert!(ds.attach_informal(&mut tasks).is_empty());
    let row = ds.get("amc12b_2003_p6").unwrap();
    assert_eq!(
        tasks[0].informal.as_deref(),
        Some(row.informal_prefix.as_str())
    );
    let mut src = Recorder(Vec::new(), "  nlinarith\n```");
    let seen = Seen(Default::default());
    let settings = ProofEvalSettings {
        style: ProofPromptStyle::Cot,
        prompt_header: ds.common_header(),
        samples: 1,
        verify_threads: 1,
        out: None,
        progress: false,
    };
    run_minif2f_eval(&tasks, &mut src, &seen, &settings).unwrap();
    let Prompt::Raw(prompt) = &src.0[0] else {
        panic!("raw prompt expected")
    };
    assert_eq!(
        prompt,
        &format!(
            "Complete the following Lean 4 code with explanatory comments preceding each line \
             of code:\n\n```lean4\n{DEEPSEEK_HEADER}{}{STATEMENT}",
            row.informal_prefix
        )
    );
    let checked = seen.0.lock().unwrap();
    assert_eq!(
        checked[0].0,
        v424_task().header,
        "verified with the v4.24.0 header"
    );
    assert_eq!(checked[0].1, v424_task().formal_statement);
    assert_eq!(checked[0].2, "  nlinarith");
}
