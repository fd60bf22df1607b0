//! Lean 4 verifier.
