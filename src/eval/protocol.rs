//! The public evaluation protocols that the prompt styles reproduce, and the defaults each one
//! gives `prover eval` (a flag given on the command line always wins).
//!
//! | command / style | protocol (source) | max new tokens | temperature | top-p | stops | grading |
//! |---|---|---|---|---|---|---|
//! | `eval math --prompt-style qwen25-math-cot` | Qwen2.5-Math evaluation as run by One-Shot-RLVR (`Qwen2.5-Eval/evaluation/sh/eval_all_math.sh`, `math_eval.py`) | 3072 | 0; AIME/AMC 0.6 × 8 samples | 1.0 | `</s>`, `<\|im_end\|>`, `<\|endoftext\|>` (and their ids when they are tokens: 151645, 151643 for Qwen2) | `qwen` |
//! | `eval math`, styles `chat`, `raw`, `plain` | none (this project's) | 512 | as above | 1.0 | the model's EOS | `strict` |
//! | `eval minif2f --prompt-style complete` | DeepSeek-Prover-V1.5 non-CoT (`prover/utils.py` `non_cot_prompt`, `configs/sampling.py`) | 2048 | 1.0 | 0.95 | the model's EOS and "```" | Lean |
//! | `eval minif2f --prompt-style cot` | DeepSeek-Prover-V1.5 CoT (`cot_prompt`, the default `mode='cot'`) | 2048 | 1.0 | 0.95 | the model's EOS and "```" | Lean |
//! | `eval minif2f --prompt-style chat` | none (this project's) | 512 | 0 for 1 sample, else 1.0 | 1.0 | the model's EOS | Lean |
//!
//! DeepSeek keeps the completion up to the first "```" (`post_process_output`); stopping there
//! gives the same proof and saves the tokens after it.
//!
//! Qwen's evaluation, for prompt types other than `cot` and `pal` (so for `qwen25-math-cot`),
//! runs tool calls: an output without "boxed" that ends with "```" has its Python program
//! executed and generation continues after the printed output, up to 4 rounds (math_eval.py
//! 235, 336-356). `prover eval` does not execute code: such an output is graded as it is (the
//! Qwen grader then takes its last number). This matters only for models that write programs.
//!
//! Qwen's evaluation passes the stop ids 151645 and 151643 only when the model path contains
//! "qwen2" (math_eval.py 277-281); here a stop string that is one token of the model's
//! vocabulary stops by id whatever the model is called, which is the same set for Qwen2 models.
use crate::data::benchmarks::MathBench;
use crate::verify::answer::qwen::QwenData;

use super::prompts::{MathPromptStyle, ProofPromptStyle};

/// How `prover eval math` grades a response.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Grader {
    /// The Qwen2.5-Math evaluation's `extract_answer` + `math_equal` (comparable with papers
    /// that use it; lenient: last number, ×100/÷100, 1e-4 relative tolerance).
    Qwen,
    /// The strict checker (the RL reward): the last `\boxed{}` only, exact comparison.
    Strict,
    /// The strict checker's comparison with lenient extraction (phrases, last number, …).
    Lenient,
}

/// Stop strings of the Qwen2.5-Math evaluation (math_eval.py line 237).
pub const QWEN_STOP_STRINGS: [&str; 3] = ["</s>", "<|im_end|>", "<|endoftext|>"];

/// DeepSeek-Prover-V1.5 keeps a completion up to its first code fence.
pub const DEEPSEEK_STOP_STRINGS: [&str; 1] = ["```"];

/// The defaults of a math prompt style.
#[derive(Debug, Clone, PartialEq)]
pub struct MathProtocol {
    pub max_new_tokens: usize,
    pub top_p: f64,
    pub stop_strings: Vec<String>,
    pub grader: Grader,
}

/// The defaults of a miniF2F prompt style.
#[derive(Debug, Clone, PartialEq)]
pub struct ProofProtocol {
    pub max_new_tokens: usize,
    /// `None`: greedy for one sample, 1.0 for more.
    pub temperature: Option<f64>,
    pub top_p: f64,
    pub stop_strings: Vec<String>,
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

impl MathPromptStyle {
    /// The protocol this style reproduces (see the module table).
    pub fn protocol(self) -> MathProtocol {
        match self {
            MathPromptStyle::Qwen25MathCot => MathProtocol {
                max_new_tokens: 3072,
                top_p: 1.0,
                stop_strings: strings(&QWEN_STOP_STRINGS),
                grader: Grader::Qwen,
            },
            MathPromptStyle::Chat | MathPromptStyle::Raw | MathPromptStyle::Plain => MathProtocol {
                max_new_tokens: 512,
                top_p: 1.0,
                stop_strings: Vec::new(),
                grader: Grader::Strict,
            },
        }
    }
}

impl ProofPromptStyle {
    /// The protocol this style reproduces (see the module table).
    pub fn protocol(self) -> ProofProtocol {
        match self {
            ProofPromptStyle::Complete | ProofPromptStyle::Cot => ProofProtocol {
                max_new_tokens: 2048,
                temperature: Some(1.0),
                top_p: 0.95,
                stop_strings: strings(&DEEPSEEK_STOP_STRINGS),
            },
            ProofPromptStyle::Chat => ProofProtocol {
                max_new_tokens: 512,
                temperature: None,
                top_p: 1.0,
                stop_strings: Vec::new(),
            },
        }
    }
}

/// Which reference convention of Qwen's `parse_ground_truth` a benchmark follows: MATH500's
/// reference is extracted from its solution (One-Shot-RLVR parser.py line 587), Minerva's keeps
/// units, the others are bare answer fields.
pub fn qwen_data(bench: Option<MathBench>) -> QwenData {
    match bench {
        Some(MathBench::Math500) => QwenData::Math,
        Some(MathBench::Minerva) => QwenData::Minerva,
        _ => QwenData::Answer,
    }
}

/// The question as Qwen's `parse_question` gives it: stripped, with " (True or False)" or
/// " (Yes or No)" appended when the normalised reference is one of those words (parser.py
/// 705-719).
pub fn qwen_question(problem: &str, normalised_reference: &str) -> String {
    let mut q = problem.to_string();
    let gt = normalised_reference.to_lowercase();
    if gt == "true" || gt == "false" {
        q.push_str(" (True or False)");
    }
    if gt == "yes" || gt == "no" {
        q.push_str(" (Yes or No)");
    }
    q.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_is_stripped_and_tagged() {
        assert_eq!(qwen_question("\nFind x. ", "5"), "Find x.");
        assert_eq!(
            qwen_question("Is 7 prime?", "Yes"),
            "Is 7 prime? (Yes or No)"
        );
        assert_eq!(
            qwen_question("Is 7 prime?", "true"),
            "Is 7 prime? (True or False)"
        );
    }
}
