//! Hard resource bounds for the answer checker: input sizes, nesting depth, exponent and
//! factorial sizes, and a per-pair step budget. Every bound turns adversarial input into a
//! refusal (an unparsed or "different" verdict), never into a panic, hang or huge allocation.
use std::cell::Cell;

use serde::{Deserialize, Serialize};

/// Resource limits. All are per checked pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest model response read, bytes; a longer one is not credited. Extraction scans the
    /// whole response in linear time, so this only bounds memory.
    pub max_response_bytes: usize,
    /// Longest extracted answer / reference that is parsed, bytes.
    pub max_answer_bytes: usize,
    /// Most tokens in one parsed answer.
    pub max_tokens: usize,
    /// Deepest nesting of the parser (braces, parentheses, operators).
    pub max_depth: u32,
    /// Largest integer exponent evaluated exactly (|n|).
    pub max_exponent: u64,
    /// Largest exact result of a power, in bits (base bits x exponent).
    pub max_power_bits: u64,
    /// Largest n for which n! is evaluated exactly.
    pub max_factorial: u64,
    /// Work budget per pair (parse nodes + comparison steps + numeric evaluations).
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_response_bytes: 64 << 20,
            max_answer_bytes: 8 * 1024,
            max_tokens: 4096,
            max_depth: 64,
            max_exponent: 100_000,
            max_power_bits: 1 << 20,
            max_factorial: 5_000,
            max_steps: 200_000,
        }
    }
}

/// A countdown of work units shared by one comparison. `spend` returns false once exhausted.
#[derive(Debug)]
pub struct Budget {
    left: Cell<u64>,
}

impl Budget {
    /// A budget of `steps` units.
    pub fn new(steps: u64) -> Self {
        Budget {
            left: Cell::new(steps),
        }
    }
    /// Take `n` units; false when the budget is exhausted.
    pub fn spend(&self, n: u64) -> bool {
        let l = self.left.get();
        if l < n {
            self.left.set(0);
            false
        } else {
            self.left.set(l - n);
            true
        }
    }
    /// True when nothing is left.
    pub fn exhausted(&self) -> bool {
        self.left.get() == 0
    }
}
