import Lake
open Lake DSL

-- The Lake project prover checks proofs in: Lean v4.24.0 + Mathlib v4.24.0 (the versions of
-- the canonical miniF2F, yangky11/miniF2F-lean4) and the leanprover-community REPL at the
-- matching tag.
package «prover-lean» where

require mathlib from git "https://github.com/leanprover-community/mathlib4" @ "v4.24.0"

require REPL from git "https://github.com/leanprover-community/repl" @ "v4.24.0"

@[default_target]
lean_lib ProverLean where
