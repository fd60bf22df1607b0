//! Exact answer checker: the reward of informal-math RL and the evaluator's judge.
//!
//! `AnswerChecker::check(reference, response)` extracts the final answer from the response
//! ([`extract`]), parses both sides into an [`ast::Expr`] ([`latex`], after [`normalize`]) and
//! decides equivalence ([`compare`]). It is `Send + Sync`, keeps no global state, and is
//! bounded by [`limits::Limits`] on every input.
//!
//! Rules (in order):
//! 1. Identical answers after markup normalization ([`normalize::text_key`]) are equal.
//! 2. Rational values are compared exactly (big rationals): `1/2^99` ≠ `1/2^98`,
//!    `1/2004!` ≠ `1/2006!`. Powers with exponent > `max_exponent` or result over
//!    `max_power_bits`, and factorials over `max_factorial`, are refused (not computed).
//! 3. **Rounding rule.** A predicted decimal with `d ≥ rounding_min_places` digits after the
//!    point (default 3) matches a reference whose exact value is *not* a terminating decimal
//!    (or is irrational) when it is that value correctly rounded: |ref − pred| ≤ ½·10^−d.
//!    So `1/3` accepts `0.333` and `0.3333` but not `0.33`, `0.3` or `0.334`; `1/8`
//!    (= 0.125) does not accept `0.13`; `12.8` accepts `12.80` (exactly equal). Symmetrically a reference
//!    decimal with `d ≥ reference_rounding_min_places` digits (default 4) accepts the exact
//!    value it rounds (`4.1231` vs `\sqrt{17}`). Set either to `None` to disable.
//! 4. Symbolic scalars (with `\sqrt`, π, e, i, variables, functions) must have the same free
//!    variables; then they are evaluated (complex f64) at 6 seeded pseudo-random points and
//!    must agree within `relative_tolerance` (1e-9) at ≥ 3 points where both are defined;
//!    a point where only one side is defined, or any value above 1e15 in magnitude, rejects.
//! 5. Structures: tuples are ordered; answer lists (`a, b`, `a and b`), sets and `±` are
//!    unordered multisets (duplicates count once); intervals compare ends and open/closed
//!    brackets; an open interval equals the 2-tuple with the same ends; matrices compare
//!    entry-wise; a reference `x = 5` / `(p,q) = (3,2)` / `x \in S` accepts the bare value;
//!    a predicted chain `x = 5+5+1 = 11` gives its last part (`\approx` after `=` is cut);
//!    equations are equal when their differences are proportional; inequalities when their
//!    differences are positively proportional; an inequality in one variable equals the
//!    interval it describes (`x > 2` ↔ `(2, \infty)`); a reference interval accepts a
//!    predicted inequality only with `allow_inequality_for_interval` (default true).
//! 6. An integer directly followed by a proper numeric fraction is a mixed number:
//!    `2\frac{1}{2}` = 5/2 (anything else side by side is a product).
//! 7. Percent signs, degree marks, `\$`, units and `\text{}` words after a number are dropped:
//!    `28\%` = `28` (not 0.28), `90^\circ` = `90`, `5\text{ cm}` = `5`.
//! 8. Word answers (`yes`/`no`, `true`/`false`, `even`/`odd`) are compared as words, ignoring
//!    case and `\text{}` markup, and never parsed ([`words`]).
//!
//! Extraction ([`extract`]) decides what the response states: a negated, hedged, questioned or
//! retracted answer is not credited, and when a response states several different final
//! answers (boxes not joined as one list), **every** one must be equivalent to the reference.
pub mod ast;
pub mod compare;
pub mod extract;
pub mod latex;
pub mod limits;
pub mod negation;
pub mod normalize;
pub mod qwen;
pub mod surd;
pub mod value;
pub mod words;

use serde::{Deserialize, Serialize};

pub use extract::{extract_answer, ExtractMode, ExtractOptions, Extraction};
pub use limits::Limits;

use compare::{equal, Ctx};
use latex::parse_expr;
use limits::Budget;
use normalize::{prepare, text_key};

/// Checker settings. See the module docs for the meaning of each rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckerConfig {
    /// Where the answer is looked for in a response (`Strict`: last `\boxed{}` only).
    pub mode: ExtractMode,
    /// Override of the extraction stages (None: those of `mode`).
    pub extract: Option<ExtractOptions>,
    /// Least digits after the point for a predicted decimal to count as a rounding of a
    /// non-terminating reference (None: rounding never accepted).
    pub rounding_min_places: Option<u32>,
    /// Least digits after the point for a reference decimal to accept the exact value it
    /// rounds (None: never).
    pub reference_rounding_min_places: Option<u32>,
    /// Relative tolerance of numeric (symbolic) comparison: |a − b| ≤ tol · max(|a|, |b|).
    pub relative_tolerance: f64,
    /// A reference interval accepts a predicted inequality (`[−2,7]` vs `−2 ≤ x ≤ 7`).
    pub allow_inequality_for_interval: bool,
    /// Resource limits.
    pub limits: Limits,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        CheckerConfig {
            mode: ExtractMode::Strict,
            extract: None,
            rounding_min_places: Some(3),
            reference_rounding_min_places: Some(4),
            relative_tolerance: 1e-9,
            allow_inequality_for_interval: true,
            limits: Limits::default(),
        }
    }
}

impl CheckerConfig {
    /// Default settings with lenient extraction (for evaluation of free-form answers).
    pub fn lenient() -> Self {
        CheckerConfig {
            mode: ExtractMode::Lenient,
            ..Default::default()
        }
    }
    fn extract_options(&self) -> ExtractOptions {
        self.extract.unwrap_or_else(|| self.mode.options())
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The response's answer is equivalent to the reference.
    pub correct: bool,
    /// The answer found in the response (None: nothing found).
    pub extracted: Option<String>,
    /// Why: which rule decided, or what failed.
    pub reason: String,
}

/// The answer checker. Cheap to clone; share one across threads.
#[derive(Debug, Clone, Default)]
pub struct AnswerChecker {
    config: CheckerConfig,
}

impl AnswerChecker {
    /// A checker with these settings.
    pub fn new(config: CheckerConfig) -> Self {
        AnswerChecker { config }
    }
    /// The settings.
    pub fn config(&self) -> &CheckerConfig {
        &self.config
    }

    /// Check a model `response` against a `reference` answer (bare or boxed).
    pub fn check(&self, reference: &str, response: &str) -> Verdict {
        let lim = &self.config.limits;
        let answers = match extract::extract_detailed(response, &self.config.extract_options(), lim)
        {
            Extraction::Answers(v) => v,
            Extraction::Refused { answer, why } => {
                return Verdict {
                    correct: false,
                    extracted: answer,
                    reason: format!("not credited: {why}"),
                }
            }
            Extraction::Nothing => {
                let why = match self.config.mode {
                    ExtractMode::Strict if self.config.extract.is_none() => {
                        "no \\boxed{} answer in the response (strict mode)"
                    }
                    _ => "no answer found in the response",
                };
                return Verdict {
                    correct: false,
                    extracted: None,
                    reason: why.into(),
                };
            }
        };
        let gold = self.reference_answer(reference);
        let n = answers.len();
        let mut reason = String::new();
        for (k, pred) in answers.iter().enumerate() {
            let (correct, why) = self.compare_answers(&gold, pred);
            if !correct {
                let why = if n > 1 {
                    format!("answer {} of {n} stated ({pred:?}): {why}", k + 1)
                } else {
                    why
                };
                return Verdict {
                    correct: false,
                    extracted: Some(pred.clone()),
                    reason: why,
                };
            }
            reason = why;
        }
        if n > 1 {
            reason = format!("{reason} (all {n} answers stated)");
        }
        Verdict {
            correct: true,
            extracted: answers.last().cloned(),
            reason,
        }
    }

    /// The answer inside a reference: its last box group if boxed, else the reference itself
    /// when it parses, else what lenient extraction finds in it.
    pub fn reference_answer(&self, reference: &str) -> String {
        let lim = &self.config.limits;
        if let Some(b) = extract::last_boxed_group(reference) {
            return b;
        }
        let budget = Budget::new(lim.max_steps / 4);
        if parse_expr(&prepare(reference), lim, &budget, false).is_ok() {
            return reference.trim().to_string();
        }
        let mut opts = ExtractOptions::lenient();
        opts.whole = false;
        opts.last_number = false; // a stray number of a prose reference is not its answer
        extract::extract_with(reference, &opts, lim).unwrap_or_else(|| reference.trim().to_string())
    }

    /// Are two bare answers equivalent? Returns the decision and its reason.
    pub fn compare_answers(&self, gold: &str, pred: &str) -> (bool, String) {
        let lim = &self.config.limits;
        if gold.len() > lim.max_answer_bytes || pred.len() > lim.max_answer_bytes {
            return (
                false,
                format!("answer longer than {} bytes", lim.max_answer_bytes),
            );
        }
        let (wg, wp) = (words::word_answer(gold), words::word_answer(pred));
        if wg.is_some() || wp.is_some() {
            return if wg == wp {
                (true, "same word answer".into())
            } else {
                (false, "word answers differ".into())
            };
        }
        let kg = text_key(gold);
        if !kg.is_empty() && kg == text_key(pred) {
            return (true, "identical after normalization".into());
        }
        let budget = Budget::new(lim.max_steps);
        let g = match parse_expr(&prepare(gold), lim, &budget, false) {
            Ok(g) => g,
            Err(e) => return (false, format!("reference not parsed ({e}); texts differ")),
        };
        let p = match parse_expr(&prepare(pred), lim, &budget, false) {
            Ok(p) => p,
            Err(e) => return (false, format!("answer not parsed ({e}); texts differ")),
        };
        let cx = Ctx {
            cfg: &self.config,
            lim,
            budget: &budget,
        };
        let eq = equal(&g, &p, &cx, 0);
        if budget.exhausted() {
            return (false, "step budget exhausted".into());
        }
        if eq {
            (true, "equivalent".into())
        } else {
            (false, "not equivalent".into())
        }
    }
}

/// Are two bare answers equivalent under the default settings?
pub fn equivalent(a: &str, b: &str) -> bool {
    AnswerChecker::default().compare_answers(a, b).0
}
