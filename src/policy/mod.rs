//! The policy: trainable transformer, weights loading, tokenizer + chat template, sampler,
//! scorer. Knows nothing of rewards.
pub mod chat_template;
pub mod decoder;
pub mod generation_config;
pub mod gguf_tokenizer;
pub mod model_text;
pub mod sampler;
pub mod sampling;
pub mod spec;
pub mod stop;
pub mod tokenizer;
