//! Task formats and dataset readers.
pub mod arithmetic;
pub mod benchmarks;
pub mod deepseek_minif2f;
pub mod jsonl;
pub mod task;

pub use task::{FormalTask, InformalTask, Task};
