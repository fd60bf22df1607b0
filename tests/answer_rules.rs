//! One test per normalization / comparison rule of the answer checker, including the
//! false-positive traps a policy under RL would exploit.
use prover::verify::answer::{equivalent, AnswerChecker, CheckerConfig, ExtractMode};

fn same(a: &str, b: &str) {
    assert!(equivalent(a, b), "expected {a:?} ≡ {b:?}");
    assert!(equivalent(b, a), "expected {b:?} ≡ {a:?} (swapped)");
}
fn accepts(gold: &str, pred: &str) {
    assert!(
        equivalent(gold, pred),
        "expected reference {gold:?} to accept {pred:?}"
    );
}
fn differ(a: &str, b: &str) {
    assert!(!equivalent(a, b), "expected {a:?} ≢ {b:?}");
    assert!(!equivalent(b, a), "expected {b:?} ≢ {a:?} (swapped)");
}

#[test]
fn exact_rationals_no_float_false_positives() {
    differ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}");
    differ("\\frac{1}{2004!}", "\\frac{1}{2006!}");
    differ("12345", "12346");
    differ("100000000000000000001", "100000000000000000000");
    differ("0.1+0.2", "0.30000000000000004");
    same("0.1+0.2", "0.3");
    same("\\frac{2}{4}", "0.5");
    same("\\frac{1}{2^{99}}", "2^{-99}");
}

#[test]
fn fractions_and_roots() {
    same("\\frac{1}{2}", "\\dfrac{1}{2}");
    same("\\tfrac12", "1/2");
    same("\\frac12", "0.5");
    same("6\\sqrt{2}", "\\sqrt{72}");
    same("\\sqrt[3]{8}", "2");
    same("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}");
    differ("2\\sqrt{5}", "\\sqrt{21}");
    differ("4", "4\\sqrt{2}");
    same("1\\frac{4}{5}", "\\frac{9}{5}");
    same("-2\\frac{1}{2}", "-2.5");
    same("2\\frac{\\pi}{3}", "\\frac{2\\pi}{3}");
    same("3\\frac{5}{4}", "\\frac{15}{4}");
}

#[test]
fn markup_spacing_text_units() {
    same("\\left( \\frac{1}{3} \\right)", "1/3");
    same("1\\,000", "1000");
    same("\\text{5 }", "5");
    same("5\\text{ cm}", "5");
    same("15\\mbox{ cm}^2", "15");
    same("\\textbf{7}", "7");
    same("90^\\circ", "90");
    same("90^{\\circ}", "90");
    same("28\\%", "28");
    same("\\$5.50", "5.5");
    same("x = 5", "5");
}

#[test]
fn thousands_and_decimal_commas() {
    same("7425000", "7,425,000");
    same("8747862", "8{,}747{,}862");
    same("1000", "1 000");
    same("1.22", "1,22");
    differ("32349", "32, 349");
    same("(3, 100)", "(3,100)");
}

#[test]
fn constants_operators_implicit_multiplication() {
    same("2\\pi", "\\pi \\cdot 2");
    same("3 \\times 4", "12");
    same("2x+3x", "5x");
    same("\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}");
    same("\\tan^2(y)+1", "\\sec^2(y)");
    same("e^{i\\pi}", "-1");
    same("3+4i", "4i+3");
    differ("3+4i", "3-4i");
    same("1.5e3", "1500");
    same("1011_2", "11");
    same("204_5", "54");
    differ("x+2n+1", "x+1");
    differ("f(x)", "f(y)");
}

#[test]
fn tuples_intervals_sets() {
    same("(1, 2)", "(1,2)");
    differ("(1, 2)", "(2, 1)");
    same("[0, 1)", "[0,1)");
    differ("[0, 1)", "(0, 1)");
    differ("[0, 1)", "[0, 1]");
    same("(1, +\\infty)", "(1, \\infty)");
    differ("(1, \\infty)", "(1, -\\infty)");
    same("\\{1, 2, 3\\}", "\\{3, 2, 1\\}");
    same("1, 2, 3", "3, 1, 2");
    differ("\\{1, 2\\}", "\\{1, 2, 3\\}");
    same(
        "(-\\infty, 2) \\cup (3, \\infty)",
        "(-\\infty,2)\\cup(3,\\infty)",
    );
    same("(\\frac{3}{5},\\frac{8}{3}]", "(0.6,\\frac{16}{6}]");
}

#[test]
fn plus_minus() {
    same("\\pm 2", "\\{-2, 2\\}");
    same("1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}");
    differ("\\pm 2021", "2021");
}

#[test]
fn equations_and_inequalities() {
    same("x = 5", "5");
    same("y = -\\frac{1}{2}x + \\frac{3}{4}", "2x+4y-3=0");
    same("34x+45y-20z+100=0", "-34x-45y+20z-100=0");
    differ("x + y = 1", "x - y = 1");
    same("x \\le 5", "5 \\ge x");
    same("x < 1", "-x > -1");
    differ("x < 1", "x > -1");
    differ("x > 5", "x < 5");
    same("x > 2", "(2, \\infty)");
    same("-2 \\le x \\le 7", "[-2, 7]");
    differ("-2 < x \\le 7", "[-2, 7]");
    // a reference equation whose left side is not a label does not accept its right side
    assert!(!equivalent("7 = 11a+c", "11a+c"));
    assert!(!equivalent("a^2 + b = 0", "0"));
}

#[test]
fn matrices() {
    same(
        "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
        "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}",
    );
    differ(
        "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
        "\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}",
    );
    differ(
        "\\begin{pmatrix}1 & 2\\end{pmatrix}",
        "\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}",
    );
}

#[test]
fn multiple_choice_letters() {
    same("B", "(B)");
    same("\\text{(B)}", "B");
    same("\\text{C}", "C");
    differ("B", "C");
    differ("d", "\\text{E}");
}

#[test]
fn rounding_rule() {
    same("12.8", "12.80");
    accepts("\\frac{1}{3}", "0.333");
    accepts("\\frac{1}{3}", "0.3333");
    assert!(
        !equivalent("\\frac{1}{3}", "0.33"),
        "2 places are below the default minimum of 3"
    );
    assert!(
        !equivalent("0.33", "\\frac{1}{3}"),
        "a 2-place reference does not accept the exact value"
    );
    differ("\\frac{1}{3}", "0.3");
    differ("\\frac{1}{3}", "0.334");
    differ("\\frac{1}{8}", "0.13");
    accepts("\\frac{14}{3}", "4.666667");
    differ("\\frac{27}{11}", "2.554545");
    accepts("\\sqrt{17}", "4.1231");
    accepts("4.1231056256", "\\sqrt{17}");
    differ("12.85", "12.9");
    differ("13", "12.8");
    let two = AnswerChecker::new(CheckerConfig {
        rounding_min_places: Some(2),
        ..Default::default()
    });
    assert!(two.compare_answers("\\frac{1}{3}", "0.33").0);
    // disabled rounding: exact only
    let c = AnswerChecker::new(CheckerConfig {
        rounding_min_places: None,
        reference_rounding_min_places: None,
        ..Default::default()
    });
    assert!(!c.compare_answers("\\frac{1}{3}", "0.3333").0);
}

#[test]
fn huge_values_are_refused_not_computed() {
    same("10^{10^{10}}", "10^{10^{10}}");
    differ("10^{10^{10}}", "10^{10^{10}}+1");
    differ("10^{10^{10}}", "10^{10^{9}}");
    differ("(10^{20}+1)^{1/2}", "10^{10}");
    differ("\\sqrt{10^{20}+1}", "10^{10}");
    differ("\\sqrt{2}+\\sqrt{3}", "\\sqrt{2}+\\sqrt{3}+10^{-30}");
    same("\\frac{\\sqrt{72}}{\\sqrt{2}}", "6");
    same("\\frac{1}{1+\\sqrt{2}}", "\\sqrt{2}-1");
    differ("99999!", "100000!");
}

#[test]
fn strict_mode_needs_a_box_lenient_falls_back() {
    let strict = AnswerChecker::default();
    assert_eq!(strict.config().mode, ExtractMode::Strict);
    let v = strict.check("5", "The answer is 5.");
    assert!(!v.correct && v.extracted.is_none());
    assert!(strict.check("5", "so $\\boxed{5}$").correct);
    assert!(strict.check("\\boxed{5}", "so $\\boxed{5}$").correct);
    assert!(
        !strict.check("5", "\\boxed{5} or \\boxed{6}").correct,
        "hedging with two boxes is a list, not 5"
    );
    let lenient = AnswerChecker::new(CheckerConfig::lenient());
    assert!(lenient.check("5", "The answer is 5.").correct);
    assert!(lenient.check("\\frac{2}{21}", "\\dfrac{8}{84}").correct);
    assert!(lenient.check("6\\sqrt{2}", "\\sqrt{72}").correct);
    assert!(lenient.check("81", "k=81").correct);
    assert!(!lenient.check("81", "k=80").correct);
}

#[test]
fn checker_is_send_sync_and_verdict_serializes() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AnswerChecker>();
    let v = AnswerChecker::default().check("1", "\\boxed{1}");
    let s = serde_json::to_string(&v).unwrap();
    assert!(s.contains("\"correct\":true"));
}

#[test]
fn reward_hacks_are_rejected() {
    let c = AnswerChecker::default();
    for hack in [
        "\\boxed{}",
        "\\boxed{5} \\boxed{6}",
        "\\boxed{5} or \\boxed{6}",
        "\\boxed{5 \\text{ or } 6}",
        "\\boxed{5, 6}",
        "\\boxed{x}",
        "\\boxed{\\infty}",
        "\\boxed{0/0}",
        "\\boxed{1/0}",
        "\\boxed{[0, 10]}",
        "\\boxed{\\{5, 6\\}}",
        "\\boxed{5 \\pm 1}",
        "\\boxed{the answer is 5 or 6}",
        "\\boxed{4.99999999999}",
        "\\boxed{5 + 10^{-30}}",
        "\\boxed{x \\in \\{4, 5, 6\\}}",
        "\\boxed{\\ge 5}",
        "5",
    ] {
        let v = c.check("5", hack);
        assert!(
            !v.correct,
            "{hack:?} must not be accepted for 5 ({})",
            v.reason
        );
    }
    for ok in [
        "\\boxed{5}",
        "\\boxed{\\text{5}}",
        "\\boxed{x = 5}",
        "\\boxed{5.0}",
        "\\boxed{\\frac{10}{2}}",
    ] {
        let v = c.check("5", ok);
        assert!(v.correct, "{ok:?} should be accepted for 5 ({})", v.reason);
    }
}
