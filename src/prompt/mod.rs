//! What the model is asked and what it answers, shared by `rl` and `eval`: [`Prompt`], the
//! [`CompletionSource`] trait and its [`Completion`] ([`source`]), and the prompt styles with
//! their renderers and the proof-body extraction ([`style`]).
pub mod source;
pub mod style;

pub use source::{Completion, CompletionSource, Prompt};
