//! Everything text-side of a resolved model: tokenizer, chat template, generation config, stop
//! ids and context length, loaded from the HF files or the GGUF metadata, and the prompt
//! encoding the sampler consumes.
use std::path::Path;

use super::chat_template::{ChatMessage, ChatTemplate, ChatTemplateError};
use super::generation_config::GenerationConfig;
use super::gguf_tokenizer::{
    gguf_string, gguf_u64, read_gguf, tokenizer_from_gguf_content, GgufPreTokenizer,
};
use super::spec::{ModelFiles, ResolvedModel};
use super::tokenizer::{PolicyTokenizer, TokenizerError};

/// The text side of a model.
#[derive(Debug)]
pub struct ModelText {
    /// The tokenizer.
    pub tokenizer: PolicyTokenizer,
    /// The chat template, when the model has one.
    pub chat_template: Option<ChatTemplate>,
    /// `generation_config.json` (default for GGUF).
    pub generation: GenerationConfig,
    /// Stop ids: `generation_config.eos_token_id` ∪ the tokenizer's eos, in that order.
    pub eos_ids: Vec<u32>,
    /// Context length (`max_position_embeddings` / GGUF `{arch}.context_length`), if known.
    pub context_length: Option<usize>,
}

fn template_err(e: ChatTemplateError) -> TokenizerError {
    TokenizerError::Codec(e.to_string())
}

fn config_context(path: &Path) -> Result<Option<usize>, TokenizerError> {
    let text = std::fs::read_to_string(path).map_err(|e| TokenizerError::Invalid {
        path: path.to_owned(),
        msg: format!("cannot read: {e}"),
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| TokenizerError::Invalid {
            path: path.to_owned(),
            msg: format!("invalid JSON: {e}"),
        })?;
    Ok(json
        .get("max_position_embeddings")
        .and_then(|v| v.as_u64())
        .map(|v| v as usize))
}

impl ModelText {
    /// Loads the text side of a resolved model (`pre` applies to GGUF tokenizers only).
    pub fn load(model: &ResolvedModel, pre: GgufPreTokenizer) -> Result<Self, TokenizerError> {
        let (tokenizer, chat_template, generation, context_length) = match &model.files {
            ModelFiles::Gguf { file } => {
                let content = read_gguf(file)?;
                let tokenizer = tokenizer_from_gguf_content(&content, file, pre)?;
                let template = ChatTemplate::from_gguf(&content).map_err(template_err)?;
                let arch = gguf_string(&content, "general.architecture").unwrap_or("llama");
                let ctx = gguf_u64(&content, &format!("{arch}.context_length")).map(|c| c as usize);
                (tokenizer, template, GenerationConfig::default(), ctx)
            }
            ModelFiles::Safetensors { config, .. } => {
                let tj =
                    model
                        .tokenizer_json
                        .as_deref()
                        .ok_or_else(|| TokenizerError::Missing {
                            path: config.with_file_name("tokenizer.json"),
                            what: "the HF tokenizer file",
                        })?;
                let tokenizer = PolicyTokenizer::from_files(tj, model.tokenizer_config.as_deref())?;
                let template = match (&model.chat_template, &model.tokenizer_config) {
                    (Some(jinja), _) => Some(ChatTemplate::from_file(jinja).map_err(template_err)?),
                    (None, Some(cfg)) => {
                        ChatTemplate::from_tokenizer_config(cfg).map_err(template_err)?
                    }
                    (None, None) => None,
                };
                let generation = match &model.generation_config {
                    Some(p) => GenerationConfig::from_file(p)?,
                    None => GenerationConfig::default(),
                };
                (tokenizer, template, generation, config_context(config)?)
            }
        };
        let mut eos_ids = generation.eos_token_ids.clone();
        if let Some(e) = tokenizer.eos_id() {
            if !eos_ids.contains(&e) {
                eos_ids.push(e);
            }
        }
        Ok(Self {
            tokenizer,
            chat_template,
            generation,
            eos_ids,
            context_length,
        })
    }

    /// Token ids of a prompt. With `chat`, the prompt is the user message (after an optional
    /// system message) rendered by the chat template with the generation prompt, then encoded
    /// without added special tokens (as HF `apply_chat_template`); otherwise the raw text is
    /// encoded with the tokenizer's special tokens (e.g. a BOS where the tokenizer adds one).
    pub fn prompt_ids(
        &self,
        prompt: &str,
        chat: bool,
        system: Option<&str>,
    ) -> Result<Vec<u32>, TokenizerError> {
        if !chat {
            if system.is_some() {
                return Err(TokenizerError::Codec(
                    "a system message needs the chat template (--chat)".into(),
                ));
            }
            return self.tokenizer.encode(prompt, true);
        }
        let text = self.chat_text(prompt, system)?;
        self.tokenizer.encode(&text, false)
    }

    /// The chat-template rendering of one user turn (with an optional system turn) followed by
    /// the assistant generation prompt.
    pub fn chat_text(&self, prompt: &str, system: Option<&str>) -> Result<String, TokenizerError> {
        let template = self.chat_template.as_ref().ok_or_else(|| {
            TokenizerError::Codec(format!(
                "the model ({}) has no chat template; drop --chat to use the raw prompt",
                self.tokenizer.source().display()
            ))
        })?;
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(ChatMessage::new("system", s));
        }
        messages.push(ChatMessage::new("user", prompt));
        template
            .render(&messages, true, self.tokenizer.special_tokens())
            .map_err(template_err)
    }
}
