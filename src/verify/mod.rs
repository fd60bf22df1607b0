//! Verifiers: [`answer`] decides whether an informal final answer equals the reference;
//! [`lean`] decides whether a Lean 4 proof proves the stated theorem. Both answer in the one
//! vocabulary of [`status`]: accepted, rejected or error.
pub mod answer;
pub mod lean;
pub mod status;

pub use status::Status;
