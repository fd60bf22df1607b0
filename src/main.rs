//! The `prover` binary: a thin shell over the library (argument parsing lives in `cli`).
use std::process::ExitCode;

fn main() -> ExitCode {
    prover::util::tune_allocator();
    prover::cli::main()
}
