//! The policy: trainable transformer, weights loading, tokenizer + chat template, sampler,
//! scorer. Knows nothing of rewards.
pub mod bf16_linear;
pub mod bf16_matmul;
#[cfg(feature = "cuda")]
pub mod cuda_kernels;
pub mod decode_attention;
pub mod decoder;
pub mod device;
pub mod device_memory;
pub mod device_sampling;
pub mod kernel_ref;
pub mod kv_cache;
pub mod logprob;
pub mod lora;
pub mod model;
pub mod ops;
pub mod params;
pub mod quantized_decoder;
pub mod sampling_weights;
pub mod scorer;
pub mod transformer_decoder;
pub mod weights;

/// Errors while loading a model or parameters: what file, what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is malformed or lacks a required key.
    #[error("{path}: invalid model config: {msg}")]
    Config {
        /// The config file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The checkpoint's architecture is neither llama nor qwen2.
    #[error("{path}: unsupported architecture ({found}); supported: llama (LlamaForCausalLM, SmolLM), qwen2 (Qwen2ForCausalLM)")]
    UnknownArchitecture {
        /// The config or GGUF file.
        path: String,
        /// What the file declares.
        found: String,
    },
    /// A tensor the config requires is absent.
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor {
        /// The checkpoint.
        path: String,
        /// HF name of the tensor.
        name: String,
    },
    /// A weights file is malformed or does not fit the model.
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// A tensor operation failed while building the model.
    #[error("building the model: {0}")]
    Candle(#[from] candle_core::Error),
}
pub mod chat_template;
pub mod generation_config;
pub mod gguf_tokenizer;
pub mod model_text;
pub mod sampler;
pub mod spec;
pub mod stop;
pub mod token_choice;
pub mod tokenizer;
