//! Verifiers: [`answer`] decides whether an informal final answer equals the reference;
//! [`lean`] decides whether a Lean 4 proof proves the stated theorem.
pub mod answer;
pub mod lean;
