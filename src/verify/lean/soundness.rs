//! Soundness: what makes a `true` from Lean mean "this proof proves that statement". The
//! ladder, one stage per file (each tested on its own), re-exported here:
//!
//! 1. **Lexer** (`lexer.rs`): reads text as Lean v4.24 does (nested comments, raw and
//!    interpolated strings, char literals, `«»` names resolved, Lean's identifier classes,
//!    maximal munch on symbols); where Lean's reading depends on notation we cannot see, it
//!    refuses instead of guessing.
//! 2. **Guard** (`guard.rs`): allow-lists on the tokens Lean will read: options, no
//!    metaprogramming namespaces, no elaboration-time code, no gaps, no command inside a body,
//!    a size cap. Reasons name the construct and its line and column in the user's text.
//! 3. **Assembly** (`assemble.rs`, RL mode): prover writes the file from the trusted header,
//!    the reference statement (its `sorry` removed, ending in `:= by`) and the guarded,
//!    re-indented body; the policy never writes anything above its proof.
//!    **File plan** (`file_plan.rs`, `prover verify FILE.lean`): an allow-list of commands;
//!    with `--against`, the reference's statements token for token.
//! 4. (`pool`, `worker`: the sealed channel and the sandbox around Lean.)
//! 5. **Post-checks** (`post_check.rs`, after Lean): no error, no sorry, every theorem in the
//!    final environment, and only allowed axioms in `#print axioms`.
//!
//! Not done: a kernel re-check of the final environment (lean4checker / SafeVerify style),
//! which needs a real Lean.
pub use super::assemble::{assemble, assemble_with, statement_without_sorry, Assembled};
pub use super::file_plan::{plan_file, MAX_FILE_BYTES};
pub use super::guard::{
    guard_proof_body, guard_proof_body_with, guard_steps, GuardConfig, ALLOWED_OPTIONS,
    DEFAULT_MAX_PROOF_BYTES, META_NAMESPACES,
};
pub use super::post_check::{
    decide_from_repl_replies, is_native_decide_axiom, is_sorry_warning, parse_axioms_message,
    AxiomPolicy, NATIVE_DECIDE_AXIOMS, STANDARD_AXIOMS,
};
pub(crate) use super::post_check::{post_check, LeanOutput};
