//! Prompt styles for the evaluations and the extraction of a proof body from a completion.
use super::source::Prompt;
use crate::data::FormalTask;

/// The `qwen25-math-cot` prompt of the Qwen2.5-Math evaluation (used by the 1-shot RLVR paper).
pub const QWEN25_MATH_COT_SYSTEM: &str =
    "Please reason step by step, and put your final answer within \\boxed{}.";

/// How a math problem becomes the model's input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum MathPromptStyle {
    /// `<|im_start|>system\n{QWEN25_MATH_COT_SYSTEM}<|im_end|>\n<|im_start|>user\n{problem}<|im_end|>\n<|im_start|>assistant\n`
    /// written literally (ChatML), as the Qwen2.5-Math evaluation does, with the problem
    /// stripped of surrounding whitespace (its `parse_question`).
    Qwen25MathCot,
    /// The model's own chat template with the same system prompt.
    Chat,
    /// The problem text followed by the instruction, no template.
    Raw,
    /// The problem text exactly as it is: no template, no instruction (base models,
    /// completion-style prompts written into the data).
    Plain,
}

/// The literal qwen25-math-cot prompt.
pub fn qwen25_math_cot(problem: &str) -> String {
    qwen25_math_cot_with(QWEN25_MATH_COT_SYSTEM, problem)
}

fn qwen25_math_cot_with(system: &str, problem: &str) -> String {
    format!(
        "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{problem}<|im_end|>\n<|im_start|>assistant\n"
    )
}

/// The raw prompt: problem then the instruction.
pub fn raw_math_prompt(problem: &str) -> String {
    raw_math_prompt_with(QWEN25_MATH_COT_SYSTEM, problem)
}

fn raw_math_prompt_with(instruction: &str, problem: &str) -> String {
    format!("{problem}\n{instruction}\n")
}

/// How an informal problem becomes a [`Prompt`]: a style plus an optional instruction that
/// replaces [`QWEN25_MATH_COT_SYSTEM`] (the system message of `chat` / `qwen25-math-cot`, the
/// trailing line of `raw`). Shared by `prover eval math` and the trainer, so a model is trained
/// and judged on the same prompt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MathPrompt {
    pub style: MathPromptStyle,
    /// `None`: the qwen25-math-cot instruction. `Some("")` in `chat` style: no system message.
    pub instruction: Option<String>,
}

impl MathPrompt {
    pub fn new(style: MathPromptStyle) -> Self {
        MathPrompt {
            style,
            instruction: None,
        }
    }

    /// The instruction in effect.
    pub fn instruction(&self) -> &str {
        self.instruction
            .as_deref()
            .unwrap_or(QWEN25_MATH_COT_SYSTEM)
    }

    /// Renders one problem.
    pub fn render(&self, problem: &str) -> Prompt {
        let ins = self.instruction();
        match self.style {
            MathPromptStyle::Qwen25MathCot => {
                Prompt::Raw(qwen25_math_cot_with(ins, problem.trim()))
            }
            MathPromptStyle::Raw => Prompt::Raw(raw_math_prompt_with(ins, problem)),
            MathPromptStyle::Plain => Prompt::Raw(problem.to_string()),
            MathPromptStyle::Chat => Prompt::Chat {
                system: (!ins.is_empty()).then(|| ins.to_string()),
                user: problem.to_string(),
            },
        }
    }
}

/// How a formal task becomes the model's input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProofPromptStyle {
    /// DeepSeek-Prover-V1.5 "complete the proof" (non-CoT): the model continues the code block
    /// after the statement's `:= by`.
    Complete,
    /// DeepSeek-Prover-V1.5 CoT, its default mode: as `complete`, asking for "explanatory
    /// comments preceding each line of code".
    Cot,
    /// For instruct models: a chat message asking for one ```lean4 block with the whole proof.
    Chat,
}

/// The first line of DeepSeek-Prover-V1.5's non-CoT prompt (prover/utils.py line 14).
pub const DEEPSEEK_COMPLETE_INTRO: &str = "Complete the following Lean 4 code:";
/// The first line of its CoT prompt (prover/utils.py line 29).
pub const DEEPSEEK_COT_INTRO: &str =
    "Complete the following Lean 4 code with explanatory comments preceding each line of code:";

/// DeepSeek-Prover-V1.5's completion prompt: `Complete the following Lean 4 code:\n\n```lean4\n`
/// + header + optional informal statement (as a docstring) + statement without `sorry`.
pub fn complete_prompt(task: &FormalTask) -> String {
    deepseek_prompt(DEEPSEEK_COMPLETE_INTRO, &task.header, task)
}

/// DeepSeek-Prover-V1.5's prompt (`non_cot_prompt` / `cot_prompt`, prover/utils.py 13-33):
/// `{intro}\n\n```lean4\n{header}{informal_prefix}{formal_statement}` where the statement
/// ends in `:= by\n`. `header` is the header shown to the model (DeepSeek's own, from its
/// miniF2F file); verification always uses the task's trusted header and statement.
pub fn deepseek_prompt(intro: &str, header: &str, task: &FormalTask) -> String {
    let informal = task
        .informal
        .as_deref()
        .map(|s| {
            if s.starts_with("/--") && s.ends_with('\n') {
                s.to_string() // DeepSeek's informal_prefix, verbatim
            } else if s.trim().starts_with("/--") {
                format!("{}\n", s.trim())
            } else {
                format!("/-- {} -/\n", s.trim())
            }
        })
        .unwrap_or_default();
    format!(
        "{intro}\n\n```lean4\n{header}{informal}{}\n",
        task.statement_without_proof()
    )
}

/// The user message of the chat style.
pub fn chat_proof_request(task: &FormalTask) -> String {
    let informal = task
        .informal
        .as_deref()
        .map(|s| format!("Informal statement: {}\n\n", s.trim()))
        .unwrap_or_default();
    format!(
        "{informal}Prove the following theorem in Lean 4 with Mathlib. Reply with the complete \
         proof in one ```lean4 code block, starting from the theorem statement.\n\n```lean4\n{}{} sorry\n```",
        task.header,
        task.statement_without_proof()
    )
}

/// Extracts the tactic-proof body (the text after the statement's `:= by`) from a completion.
///
/// - `Complete` and `Cot` styles: the completion continues right after `:= by`; the body is
///   everything up to the first ``` fence (or the end), as DeepSeek's `post_process_output`.
/// - `Chat` style: the last ```lean4 (or ```lean) block; if it restates the theorem, the body is
///   what follows the first `:= by` after the theorem's name; otherwise the whole block.
///
/// Returns `None` when no body can be found. The body is never trusted: the verifier assembles
/// the file from the trusted header and statement and runs its own guard on the body.
pub fn extract_proof_body(
    completion: &str,
    task: &FormalTask,
    style: ProofPromptStyle,
) -> Option<String> {
    match style {
        ProofPromptStyle::Complete | ProofPromptStyle::Cot => {
            let body = completion.split("```").next().unwrap_or("");
            (!body.trim().is_empty()).then(|| body.trim_end().to_string())
        }
        ProofPromptStyle::Chat => {
            let block = last_lean_block(completion)?;
            let needle = format!("theorem {}", task.name);
            let needle_lemma = format!("lemma {}", task.name);
            let start = block.find(&needle).or_else(|| block.find(&needle_lemma));
            let body = match start {
                Some(pos) => {
                    let rest = &block[pos..];
                    let by = rest.find(":= by")?;
                    &rest[by + ":= by".len()..]
                }
                None => block,
            };
            let body = body.trim_end();
            (!body.trim().is_empty()).then(|| body.to_string())
        }
    }
}

fn last_lean_block(text: &str) -> Option<&str> {
    let mut best = None;
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find("```") {
        let after_fence = &rest[open + 3..];
        let line_end = after_fence.find('\n')?;
        let lang = after_fence[..line_end].trim();
        let content_start = offset + open + 3 + line_end + 1;
        let content = &text[content_start..];
        let close = content.find("```");
        let end = close.map(|c| content_start + c).unwrap_or(text.len());
        if lang.is_empty() || lang.starts_with("lean") {
            best = Some(&text[content_start..end]);
        }
        match close {
            Some(c) => {
                offset = content_start + c + 3;
                rest = &text[offset..];
            }
            None => break,
        }
    }
    best
}

/// The model's input for a formal task.
pub fn proof_prompt(style: ProofPromptStyle, task: &FormalTask) -> Prompt {
    proof_prompt_with_header(style, task, None)
}

/// The model's input, with `header` (if given) shown in place of the task's header.
pub fn proof_prompt_with_header(
    style: ProofPromptStyle,
    task: &FormalTask,
    header: Option<&str>,
) -> Prompt {
    let header = header.unwrap_or(&task.header);
    match style {
        ProofPromptStyle::Complete => {
            Prompt::Raw(deepseek_prompt(DEEPSEEK_COMPLETE_INTRO, header, task))
        }
        ProofPromptStyle::Cot => Prompt::Raw(deepseek_prompt(DEEPSEEK_COT_INTRO, header, task)),
        ProofPromptStyle::Chat => Prompt::Chat {
            system: None,
            user: chat_proof_request(task),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> FormalTask {
        FormalTask {
            name: "foo".into(),
            header: "import Mathlib\n\n".into(),
            formal_statement: "theorem foo (x : ℕ) : x + 0 = x := by sorry".into(),
            informal: Some("Show x + 0 = x.".into()),
            split: None,
        }
    }

    #[test]
    fn complete_prompt_ends_with_statement() {
        let p = complete_prompt(&task());
        assert!(p.starts_with("Complete the following Lean 4 code:\n\n```lean4\nimport Mathlib"));
        assert!(p.contains("/-- Show x + 0 = x. -/\n"));
        assert!(p.ends_with("theorem foo (x : ℕ) : x + 0 = x := by\n"));
    }

    #[test]
    fn complete_style_stops_at_fence() {
        let body = extract_proof_body(
            "  simp\n```\nmore text",
            &task(),
            ProofPromptStyle::Complete,
        );
        assert_eq!(body.as_deref(), Some("  simp"));
        assert_eq!(
            extract_proof_body("```", &task(), ProofPromptStyle::Complete),
            None
        );
    }

    #[test]
    fn chat_style_takes_last_lean_block_after_statement() {
        let c = "Here:\n```lean4\ntheorem foo (x : ℕ) : x + 0 = x := by\n  omega\n```\nor\n```lean\ntheorem foo (x : ℕ) : x + 0 = x := by\n  simp\n```\n";
        assert_eq!(
            extract_proof_body(c, &task(), ProofPromptStyle::Chat).as_deref(),
            Some("\n  simp")
        );
        let bare = "```lean4\n  simp\n```";
        assert_eq!(
            extract_proof_body(bare, &task(), ProofPromptStyle::Chat).as_deref(),
            Some("  simp")
        );
        assert_eq!(
            extract_proof_body("no code", &task(), ProofPromptStyle::Chat),
            None
        );
        let python = "```python\nprint(1)\n```";
        assert_eq!(
            extract_proof_body(python, &task(), ProofPromptStyle::Chat),
            None
        );
    }

    #[test]
    fn qwen_prompt_is_chatml() {
        assert_eq!(
            qwen25_math_cot("1+1?"),
            "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n"
        );
    }
}
