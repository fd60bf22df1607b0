//! Exact answer checker: the reward of informal-math RL and the evaluator's judge.
//!
//! `AnswerChecker::check(reference, response)` extracts the final answer from the response
//! ([`extract`]), parses both sides into an [`ast::Expr`] ([`latex`], after [`normalize`]) and
//! decides equivalence ([`compare`]). It is `Send + Sync`, keeps no global state, and is
//! bounded by [`limits::Limits`] on every input.
//!
//! Rules (in order):
//! 1. Equality goes through the parse trees. Only byte-identical answers, or answers one of
//!    which does not parse and whose tree-preserving keys ([`normalize::text_key`]: braces and
//!    operators kept, spacing markup dropped) agree, are equal without it. No text-level
//!    shortcut may equate answers whose parse trees differ (`2^{n+1}` ≠ `2^n+1`).
//! 2. Rational values are compared exactly (big rationals): `1/2^99` ≠ `1/2^98`,
//!    `1/2004!` ≠ `1/2006!`; quadratic surds `c·√n` exactly ([`surd`]), rational
//!    polynomials in π or in e exactly ([`constpoly`]: `\frac{3\pi}{6}` = `\pi/2`). Every big-number
//!    operation is charged to the step budget by operand size, and powers, products,
//!    factorials and binomials are refused (not computed) when their result could exceed
//!    `max_power_bits` ([`limits`] has the cost model).
//! 3. **Rounding rule** (policy), decided before any closeness test whenever either side is
//!    a decimal literal. A predicted decimal with `d ≥ rounding_min_places` digits after the
//!    point (default 3) matches a reference whose exact value is *not* a terminating decimal
//!    (or is irrational) when it is that value correctly rounded: |ref − pred| ≤ ½·10^−d
//!    (exactly for rationals, at high precision for irrationals, strictly inside for them).
//!    So `1/3` accepts `0.333` and `0.3333` but not `0.33`, `0.3` or `0.334`; `1/8` (= 0.125)
//!    does not accept `0.13`; `\pi` accepts `3.142` but not `3.141592652`; `12.8` accepts
//!    `12.80` (exactly equal). Symmetrically a reference decimal with
//!    `d ≥ reference_rounding_min_places` digits (default 4) accepts the exact value it rounds
//!    (`4.1231` vs `\sqrt{17}`). A decimal never matches an expression with variables. Set
//!    either to `None` to disable.
//! 4. Other symbolic scalars (π, e, i, functions, variables) must have the same free
//!    variables. They are screened in f64 at 14 points per variable (negative values, zero's
//!    neighbourhood 0.04 and −0.2, values near 1, large values 14 and 41, integers 2..10 for
//!    `n!`); the domains must agree (a point where only one side is defined rejects: in
//!    real mode — no `i` in either answer — √ of a negative, ln of a non-positive number and
//!    negative bases to non-integer powers are undefined). At least 4 points must be defined
//!    and agree to 1e-7, then two of them must agree at high precision ([`precise`]: 192+
//!    bits, doubled, noise must shrink). So `|x|` ≠ `x`, `\ln|x|` ≠ `\ln x`,
//!    `\pi` ≠ `103993/33102`, `e^{-30}` ≠ `0`, while `e^{40}` = `(e^{20})^2`.
//! 5. Structures: tuples are ordered; answer lists (`a, b`, `a and b`), sets and `±` are
//!    unordered multisets (duplicates count once); intervals compare ends and open/closed
//!    brackets; an open interval equals the 2-tuple with the same ends; matrices compare
//!    entry-wise; a `vmatrix` is its determinant; a reference `x = 5` / `(p,q) = (3,2)` /
//!    `x \in S` accepts the bare value; named values compare by name (`x=1, y=2` accepts
//!    `y=2, x=1` and `1, 2`, never `2, 1`); a predicted chain `x = 5+5+1 = 11` gives its last
//!    part (`\approx` after `=` is cut); equations are equal when their differences are
//!    proportional; inequalities when their differences are positively proportional.
//! 6. An inequality becomes the set it describes only when one side is exactly the variable
//!    (`x > 2` ↔ `(2, \infty)`) or it is linear in one variable and solved exactly
//!    (`2x > 4` ↔ `(2, \infty)`, `-x > 2` ↔ `(-\infty, -2)`); anything else (`x^2 > 0`) is
//!    refused. `x < 2 or x > 3` equals the union of the two intervals. A reference interval
//!    accepts a predicted inequality only with `allow_inequality_for_interval` (default true).
//! 7. Parsing conventions ([`latex`]): an integer directly followed by a proper numeric
//!    fraction is a mixed number (`2\frac{1}{2}` = 5/2); single lowercase letters side by side
//!    are a product of variables (`xy^2` = x·y²; runs of at most 3 letters); an all-capital
//!    run is a name whose order matters (`ABC` ≠ `BAC`), as are `\angle ABC` (= `\angle CBA`),
//!    `\overline{AB}` (a segment), `\overrightarrow{AB}` (a vector); a capitalised or longer
//!    word is a word (`Evelyn` ≠ `Evenly`, compared case-insensitively: `\text{yes}` = `Yes`);
//!    a function applied to an unparenthesised product of a number and letters takes the
//!    whole product (`\sin 2x` = sin(2x)); `\lfloor`/`\lceil` are floor and ceiling;
//!    `1.\overline{3}` = 4/3; `\varnothing` = `\{\}`; `\mathbb{R}` = (−∞, ∞);
//!    `{n \choose k}` = `\binom{n}{k}`; degree marks inside a trigonometric argument are
//!    degrees (`\cos 60^\circ` = 1/2).
//! 8. Policy cases (accepted although the values differ):
//!    - rounding to the digits shown (rule 3);
//!    - percent: a top-level `x\%` equals x/100 and also x itself (`50\%` = `\frac12` = `50`);
//!    - degree marks, `\$`, units written as words of 2+ letters or in `\text{}`
//!      (`5\text{ cm}`, `3\text{ m}`), after a number are dropped: `90^\circ` = `90`. A bare
//!      single letter is always a variable: `3m` ≠ `3`.
//! 9. Word answers (`yes`/`no`, `true`/`false`, `even`/`odd`) are compared as words, ignoring
//!    case and `\text{}` markup, and never parsed ([`words`]).
//!
//! Extraction ([`extract`]) decides what the response states: a negated, hedged, questioned or
//! retracted answer is not credited, and when a response states several different final
//! answers (boxes not joined as one list), **every** one must be equivalent to the reference,
//! or all of them together, as one unordered set, must equal it (`\boxed{(3,3)} for (a) and
//! \boxed{(1,1)}` for the reference `(3,3), (1,1)`).
pub mod ast;
pub mod compare;
pub mod constpoly;
pub mod extract;
pub mod latex;
pub mod limits;
pub mod negation;
pub mod normalize;
pub mod precise;
pub mod qwen;
pub mod surd;
pub mod value;
pub mod words;

use serde::{Deserialize, Serialize};

use crate::verify::Status;

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

/// Outcome of one check: its [`Status`] (via [`AnswerCheck::status`]; the answer checker is
/// bounded and never errors) with the answer found. Serialised as `{correct, extracted,
/// reason}` (`prover verify --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerCheck {
    /// The response's answer is equivalent to the reference.
    pub correct: bool,
    /// The answer found in the response (None: nothing found).
    pub extracted: Option<String>,
    /// Why: which rule decided, or what failed.
    pub reason: String,
}

impl AnswerCheck {
    /// Accepted when correct, else rejected with the reason.
    pub fn status(&self) -> Status {
        if self.correct {
            Status::Accepted
        } else {
            Status::rejected(self.reason.clone())
        }
    }
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
    pub fn check(&self, reference: &str, response: &str) -> AnswerCheck {
        let lim = &self.config.limits;
        let answers = match extract::extract_detailed(response, &self.config.extract_options(), lim)
        {
            Extraction::Answers(v) => v,
            Extraction::Refused { answer, why } => {
                return AnswerCheck {
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
                return AnswerCheck {
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
                // Several answers stated apart (`\boxed{(3,3)} for part (a) and
                // \boxed{(1,1)}`) may together be the reference's list: compare them as one
                // unordered set (never as an ordered tuple), every answer included.
                if n > 1 {
                    let all = format!("\\{{{}\\}}", answers.join(", "));
                    let (together, why_all) = self.compare_answers(&gold, &all);
                    if together {
                        return AnswerCheck {
                            correct: true,
                            extracted: Some(all),
                            reason: format!("{why_all} (the {n} answers stated, as one list)"),
                        };
                    }
                }
                let why = if n > 1 {
                    format!("answer {} of {n} stated ({pred:?}): {why}", k + 1)
                } else {
                    why
                };
                return AnswerCheck {
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
        AnswerCheck {
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
        let (ok, why, _) = self.compare_answers_metered(gold, pred);
        (ok, why)
    }

    /// [`Self::compare_answers`] and the steps of the work budget it used (at most
    /// `limits.max_steps`; see [`limits`] for the cost model).
    pub fn compare_answers_metered(&self, gold: &str, pred: &str) -> (bool, String, u64) {
        let lim = &self.config.limits;
        let budget = Budget::new(lim.max_steps);
        let (ok, why) = self.compare_with(gold, pred, &budget);
        (ok, why, lim.max_steps - budget.left())
    }

    fn compare_with(&self, gold: &str, pred: &str, budget: &Budget) -> (bool, String) {
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
        if !gold.trim().is_empty() && gold.trim() == pred.trim() {
            return (true, "identical text".into());
        }
        let parsed = (
            parse_expr(&prepare(gold), lim, budget, false),
            parse_expr(&prepare(pred), lim, budget, false),
        );
        let (g, p) = match parsed {
            (Ok(g), Ok(p)) => (g, p),
            (g, p) => {
                // Neither parse tree can decide: only a tree-preserving literal key may.
                let kg = text_key(gold);
                if !kg.is_empty() && kg == text_key(pred) {
                    return (true, "same text up to markup (not parsed)".into());
                }
                return match (g, p) {
                    (Err(e), _) => (false, format!("reference not parsed ({e}); texts differ")),
                    (_, Err(e)) => (false, format!("answer not parsed ({e}); texts differ")),
                    _ => (false, "not parsed".into()),
                };
            }
        };
        let cx = Ctx {
            cfg: &self.config,
            lim,
            budget,
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
