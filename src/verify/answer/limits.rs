//! Hard resource bounds for the answer checker: input sizes, nesting depth, exponent and
//! factorial sizes, and a per-pair step budget. Every bound turns adversarial input into a
//! refusal (an unparsed or "different" verdict), never into a panic, hang or huge allocation.
//!
//! Cost model of the step budget: one step is about one parse node or one comparison step
//! (~10 ns). Big-integer work is charged by operand size in 64-bit limbs: an addition or a
//! comparison of `l` limbs costs `l/16 + 1`; a multiplication / division / gcd of `a` and `b`
//! limbs costs `a·b/16 + 1` for small operands and `max·min^0.6/4 + 1` once both exceed 32
//! limbs (num-bigint multiplies with Karatsuba / Toom-3 there); a rational operation that
//! reduces by a gcd costs `bits·limbs/64 + 1` of its larger operand (Stein's gcd is
//! quadratic), so integers take gcd-free paths. So `max_steps` bounds the
//! wall time of one pair whatever its text: the default 200,000 steps are a few milliseconds.
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
            max_depth: 320,
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
    /// Charge a linear pass (add, compare, copy) over numbers of `bits` bits.
    pub fn charge_linear(&self, bits: u64) -> bool {
        self.spend(limbs(bits) / 16 + 1)
    }
    /// Charge a multiplication, division or gcd of operands of `a` and `b` bits.
    pub fn charge_mul(&self, a: u64, b: u64) -> bool {
        let (x, y) = (limbs(a), limbs(b));
        let (lo, hi) = (x.min(y), x.max(y));
        let cost = if lo <= 32 {
            lo.saturating_mul(hi) / 16
        } else {
            ((hi as f64) * (lo as f64).powf(0.6) / 4.0).min(u64::MAX as f64 / 2.0) as u64
        };
        self.spend(cost.saturating_add(1))
    }
    /// Charge a rational operation that reduces by a gcd: num-bigint's gcd (Stein's) takes
    /// about one pass over the larger operand per bit of it, `bits·limbs/64 + 1`.
    pub fn charge_gcd(&self, a: u64, b: u64) -> bool {
        let m = a.max(b);
        self.spend(m.saturating_mul(limbs(m)) / 64 + 1)
    }
    /// Steps left.
    pub fn left(&self) -> u64 {
        self.left.get()
    }
    /// True when nothing is left.
    pub fn exhausted(&self) -> bool {
        self.left.get() == 0
    }
}

fn limbs(bits: u64) -> u64 {
    bits / 64 + 1
}
