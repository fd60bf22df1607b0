//! What an evaluation needs from a model: completions for prompts. The policy implements it
//! (`rl::completion_source::PolicySource`, over any `rl::traits::Policy`); tests implement it
//! with scripted answers.
use anyhow::Result;

/// A prompt before rendering: raw text, or a chat conversation that the model's own chat
/// template renders.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Raw(String),
    Chat {
        system: Option<String>,
        user: String,
    },
}

impl Prompt {
    /// The problem / user text (a raw prompt's whole text).
    pub fn user_text(&self) -> &str {
        match self {
            Prompt::Raw(s) => s,
            Prompt::Chat { user, .. } => user,
        }
    }
}

/// One sampled completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    /// Number of generated tokens.
    pub tokens: usize,
}

/// Produces `n` completions for each prompt (greedy when the source was configured so).
pub trait CompletionSource {
    fn complete(&mut self, prompts: &[Prompt], n: usize) -> Result<Vec<Vec<Completion>>>;
}
