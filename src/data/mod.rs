//! Task formats and dataset readers.
pub mod benchmarks;
pub mod jsonl;
pub mod task;

pub use task::{FormalTask, InformalTask, Task};
//! (module under construction: see the issues)
pub mod arithmetic;
