//! (module under construction: see the issues)
pub mod arithmetic;
