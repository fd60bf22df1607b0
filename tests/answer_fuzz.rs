//! Adversarial input: random strings, random nestings, huge numbers. The checker must never
//! panic and must finish each pair within its step budget (no test here is timed; a hang
//! would show as a stuck test).
use proptest::prelude::*;
use prover::verify::answer::extract::extract_counted;
use prover::verify::answer::{AnswerChecker, CheckerConfig, ExtractOptions, Limits};

const ATOMS: &[&str] = &[
    "\\frac",
    "\\sqrt",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\\{",
    "\\}",
    "^",
    "_",
    "!",
    "1",
    "23",
    "0.5",
    "x",
    "y",
    "\\pi",
    "e",
    "i",
    "+",
    "-",
    "*",
    "/",
    "=",
    "<",
    "\\le",
    ",",
    ";",
    "\\pm",
    "\\cup",
    "\\infty",
    "\\boxed",
    "\\text{",
    "\\left(",
    "\\right)",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "&",
    "\\\\",
    "$",
    "\\sin",
    "\\log_",
    "%",
    "\\circ",
    "10^{10^{10}}",
    "99999!",
    "|",
    "\\cdot",
    " and ",
    "\\sum_{k=0}^{n}",
    "2^{-1000}",
    "\\binom",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ATOMS), 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn random_unicode_never_panics(a in ".{0,200}", b in ".{0,200}") {
        let c = AnswerChecker::new(CheckerConfig::lenient());
        let _ = c.check(&a, &b);
        let _ = c.check(&a, &format!("\\boxed{{{b}}}"));
    }

    #[test]
    fn latex_soup_never_panics(a in soup(), b in soup()) {
        let c = AnswerChecker::new(CheckerConfig::lenient());
        let v = c.check(&a, &b);
        prop_assert!(!v.reason.is_empty());
        let _ = AnswerChecker::default().check(&a, &format!("\\boxed{{{b}}}"));
    }

    #[test]
    fn random_nesting_never_panics(depth in 0usize..3000, open in prop::sample::select(vec!["{", "(", "\\frac{1}{", "\\sqrt{", "[", "|", "-", "2^{"])) {
        let close = match open { "(" => ")", "[" => "]", "|" => "|", "-" => "", _ => "}" };
        let s = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let c = AnswerChecker::default();
        let _ = c.check(&s, &format!("\\boxed{{{s}}}"));
        let _ = c.check("1", &s);
    }

    #[test]
    fn integers_compare_exactly(a in any::<i64>(), b in any::<i64>()) {
        let c = AnswerChecker::default();
        let v = c.check(&a.to_string(), &format!("\\boxed{{{b}}}"));
        prop_assert_eq!(v.correct, a == b);
    }

    #[test]
    fn fractions_compare_exactly(p in -1000i64..1000, q in 1i64..1000, r in -1000i64..1000, s in 1i64..1000) {
        let c = AnswerChecker::default();
        let v = c.check(&format!("\\frac{{{p}}}{{{q}}}"), &format!("\\boxed{{\\dfrac{{{r}}}{{{s}}}}}"));
        prop_assert_eq!(v.correct, p * s == r * q);
    }
}

#[test]
fn fifty_kilobytes_of_braces() {
    let c = AnswerChecker::default();
    let s = "{".repeat(25_000) + &"}".repeat(25_000);
    let v = c.check(&s, &format!("\\boxed{{{s}}}"));
    assert!(!v.reason.is_empty());
    let s = "{".repeat(50_000);
    let _ = c.check("1", &format!("\\boxed{s}"));
    let s = "(".repeat(50_000);
    assert!(!c.check(&s, &format!("\\boxed{{{s}}}")).correct || s.is_empty());
}

#[test]
fn huge_inputs_are_bounded() {
    let c = AnswerChecker::new(CheckerConfig::lenient());
    let big = "9".repeat(1 << 21);
    let _ = c.check("1", &big);
    let v = c.check(&big, &format!("\\boxed{{{big}}}"));
    assert!(!v.correct, "over-long answers are refused");
    let tower = "2^{".repeat(40) + "2" + &"}".repeat(40);
    let _ = c.check(&tower, &format!("\\boxed{{{tower}+1}}"));
    let _ = c.check("100000000!", "\\boxed{100000001!}");
    // long flat chains: products stay flat, quotient / ± chains are capped
    for op in ["*", "/", "\\pm", "+", "^", "-", "x", "\\cdot", "="] {
        let chain = vec!["2"; 3000].join(op);
        let _ = c.check(&chain, &format!("\\boxed{{{chain}}}"));
    }
}

#[test]
fn adversarial_megabyte_responses_stay_linear() {
    // each of these would be quadratic with naive rescanning; they must finish promptly
    let c = AnswerChecker::new(CheckerConfig::lenient());
    for unit in [
        "\\boxed{",
        "\\[",
        "\\(",
        "$$",
        "$",
        "{",
        "\\fbox{1",
        "**",
        "answer is ",
        "1,",
    ] {
        let s = unit.repeat((1 << 20) / unit.len());
        let _ = c.check("1", &s);
        let _ = AnswerChecker::default().check("1", &s);
        // The scanning steps the extractor counts grow linearly: 4x the input takes at most
        // 4.5x the steps, and never more than 64 steps per byte.
        let quarter = unit.repeat((1 << 18) / unit.len());
        for opts in [ExtractOptions::strict(), ExtractOptions::lenient()] {
            let steps = |r: &str| extract_counted(r, &opts, &Limits::default()).1;
            let (s1, s2) = (steps(&quarter), steps(&s));
            assert!(
                s2 as f64 <= 4.5 * s1.max(1) as f64,
                "{unit:?}: {s1} steps for {} bytes, {s2} for {} bytes",
                quarter.len(),
                s.len()
            );
            assert!(
                s2 <= 64 * s.len() as u64,
                "{unit:?}: {s2} steps for {} bytes",
                s.len()
            );
        }
    }
}
