//! Adversarial pairs for the parser / comparison / arithmetic half of the answer checker
//! (issue 11, classes 1–6, the false negatives, and hostile inputs). Every class has wrong
//! answers that must be rejected next to near-identical right answers that must still be
//! accepted, so a fix that only refuses more cannot pass.
use prover::verify::answer::{equivalent, AnswerChecker, CheckerConfig, Limits};

fn accepts(gold: &str, pred: &str) {
    let (ok, why) = AnswerChecker::default().compare_answers(gold, pred);
    assert!(ok, "reference {gold:?} should accept {pred:?} ({why})");
}
fn rejects(gold: &str, pred: &str) {
    let (ok, why) = AnswerChecker::default().compare_answers(gold, pred);
    assert!(!ok, "reference {gold:?} must reject {pred:?} ({why})");
}
fn same(a: &str, b: &str) {
    accepts(a, b);
    accepts(b, a);
}
fn differ(a: &str, b: &str) {
    rejects(a, b);
    rejects(b, a);
}

#[test]
fn class1_normalisation_never_deletes_structure() {
    differ("2^{n+1}", "2^n+1");
    differ("\\sqrt{x+1}", "\\sqrt{x}+1");
    differ("\\frac{11}{2}", "\\frac{1}{12}");
    differ("e^{2x}", "e^{2}x");
    differ("\\sqrt{2}x", "\\sqrt{2x}");
    differ("3^{k-1}", "3^k-1");
    differ("\\frac{a+b}{c}", "\\frac{a}{b+c}");
    differ("\\log_{2}{x}+1", "\\log_{2}{(x+1)}");
    differ("10^{12}", "10^12");
    differ("\\sqrt[3]{x}+1", "\\sqrt[3]{x+1}");
    differ("\\frac{1}{2}x", "\\frac{1}{2x}");
    // the same trees written differently still agree
    same("2^{n+1}", "2^{(n+1)}");
    same("\\sqrt{x+1}", "\\sqrt {x + 1}");
    same("\\frac{11}{2}", "\\dfrac{11}{2}");
    same("e^{2x}", "e^{2 x}");
    same("\\sqrt{2}x", "x\\sqrt{2}");
    same("2^n+1", "1+2^{n}");
    same("\\frac12", "\\frac{1}{2}");
}

#[test]
fn class1_unparsed_text_needs_the_same_structure() {
    // neither side parses: only the tree-preserving key may equate them
    differ("\\foo{ab}{c}", "\\foo{a}{bc}");
    same("\\foo{ab}{c}", "\\foo{ab} {c}");
    differ("\\pi r\\foo", "\\pir\\foo");
}

#[test]
fn class2_points_cover_the_real_line() {
    differ("|x|", "x");
    differ("x", "\\sqrt{x^2}");
    differ("|x-3|", "3-x");
    differ("x", "\\arccos(\\cos x)");
    differ("\\ln|x|+C", "\\ln x + C");
    differ("x", "\\arcsin(\\sin x)");
    differ("|x|+|y|", "x+y");
    differ("\\sqrt{x^2+2x+1}", "x+1");
    differ("x^{2/2}", "|x|");
    differ("\\frac{|x|}{x}", "1");
    differ("x^3", "x^2|x|");
    same("x^3", "x|x|^2");
    same("\\sqrt[3]{x}^2", "x^{2/3}");
    same("\\sqrt[3]{x}", "x^{1/3}");
    differ("\\sqrt[3]{x}", "|x|^{1/3}");
    // true identities and equal domains still agree
    same("\\sqrt{x^2}", "|x|");
    same("|x-3|", "|3-x|");
    same("\\ln(x^2)", "2\\ln|x|");
    same("\\frac{x^2-1}{x-1}", "x+1");
    same("\\sin^2 x + \\cos^2 x", "1");
    same("e^{\\ln x}", "x^{1}\\cdot\\frac{e^{\\ln x}}{x}");
    same("\\arccos(\\cos x)", "\\arccos(\\cos(-x))");
}

#[test]
fn class3_near_misses_are_told_apart() {
    differ("\\pi", "\\frac{103993}{33102}");
    differ("50", "\\log_2(2^{50}+1)");
    differ("x", "x+10^{-10}");
    differ("x", "x+10^{-100}");
    differ("10^{10}", "\\sqrt[3]{10^{30}+1}");
    differ("e^{-30}", "0");
    differ("e^{-1000}", "0");
    differ("\\pi^{-40}", "0");
    differ("e", "\\left(1+10^{-20}\\right)^{10^{20}}");
    differ("\\sqrt{2}", "\\frac{665857}{470832}");
    rejects("\\ln 2", "0.6931471805599454");
    accepts("\\ln 2", "0.6931471805599453"); // correctly rounded (policy)
    differ("e^{\\pi\\sqrt{163}}", "640320^3+744");
    differ("2x", "2.0000000001x");
    // and the exact equalities they imitate are accepted
    same("50", "\\log_2(2^{50})");
    same("10^{10}", "\\sqrt[3]{10^{30}}");
    same("\\sin\\pi", "0");
    same("e^{i\\pi}+1", "0");
    same("e^{40}", "(e^{20})^2");
    same("e^{100}", "e^{50}\\cdot e^{50}");
    same("\\ln 8", "3\\ln 2");
    same("\\pi", "4\\arctan 1");
    same("x", "x + 10^{-100} - 10^{-100}");
    same("\\frac{3\\pi}{6}", "\\pi/2");
    differ("2\\pi", "\\frac{11\\pi}{6}");
    same("\\pi^2 + \\pi", "\\pi(\\pi+1)");
    differ("\\pi^2", "9.8696045");
    accepts("\\pi^2", "9.8696044");
    same("e^2", "e\\cdot e");
}

#[test]
fn class3_rounding_rule_runs_before_closeness() {
    rejects("\\pi", "3.141592652");
    rejects("\\pi", "3.1415926535"); // pi = 3.14159265358979…: truncated, not rounded
    accepts("\\pi", "3.1415926536");
    rejects("\\pi", "3.14"); // 2 places are below the default minimum of 3
    accepts("\\pi", "3.142");
    rejects("\\pi", "3.141");
    rejects("\\sqrt{2}", "1.4143");
    accepts("\\sqrt{2}", "1.4142");
    accepts("\\sqrt{2}", "1.4142136");
    rejects("\\sqrt{2}", "1.4142135");
    rejects("e", "2.71829");
    accepts("e", "2.71828");
    rejects("\\frac{1}{3}", "0.33333333333334");
    accepts("\\frac{1}{3}", "0.33333333333333");
    rejects("\\frac{2}{3}", "0.666");
    accepts("\\frac{2}{3}", "0.667");
    // a decimal never matches a symbolic expression with variables
    rejects("\\pi x", "3.14159x");
}

#[test]
fn class4_floor_ceil_products_units() {
    same("\\lfloor 3.7 \\rfloor", "3");
    same("\\left\\lceil 3.2 \\right\\rceil", "4");
    differ("\\lfloor x \\rfloor", "x");
    differ("\\lfloor x \\rfloor", "\\lceil x \\rceil");
    same(
        "\\lfloor x \\rfloor + 1",
        "\\lceil x \\rceil + 0 + \\lfloor x \\rfloor - \\lceil x \\rceil + 1",
    );
    differ("xy^2", "x^2y^2");
    same("xy^2", "x \\cdot y^2");
    same("abc", "cba");
    differ("3m", "3");
    same("3m", "3 m");
    same("3\\text{ m}", "3");
    differ("2m+1", "3");
    same("5\\text{ cm}", "5");
}

#[test]
fn class4_function_arguments() {
    same("\\sin 2x", "2\\sin x\\cos x");
    same("\\cos 2x", "\\cos^2 x - \\sin^2 x");
    differ("\\cos 2x", "x\\cos 2");
    same("\\sin^2 x", "(\\sin x)^2");
    differ("\\sin^2 x", "\\sin(x^2)");
    same("\\sin x \\cos x", "\\frac{1}{2}\\sin 2x");
    same("\\ln 2x", "\\ln 2 + \\ln x");
    same("\\cos \\pi x", "\\cos(\\pi x)");
    same("\\cos 60^\\circ", "\\frac{1}{2}");
    differ("\\cos 60^\\circ", "\\cos 60");
    same("\\sin 30^{\\circ}", "0.5");
}

#[test]
fn class4_repeating_decimals() {
    same("1.\\overline{3}", "\\frac{4}{3}");
    same("0.\\overline{3}", "\\frac{1}{3}");
    same("0.1\\overline{6}", "\\frac{1}{6}");
    same("0.\\overline{142857}", "\\frac{1}{7}");
    differ("1.\\overline{3}", "3");
    differ("0.\\overline{3}", "0.3");
    differ("0.\\overline{3}", "0.33");
}

#[test]
fn class4_names_do_not_commute() {
    differ("\\angle ABC", "\\angle BAC");
    same("\\angle ABC", "\\angle CBA");
    same("\\angle ABC", "\\angle{ABC}");
    differ("\\overrightarrow{AB}", "\\overrightarrow{BA}");
    same("\\overrightarrow{AB}", "\\vec{AB}");
    differ("Evelyn", "Evenly");
    same("Evelyn", "\\text{Evelyn}");
    differ("\\text{Evelyn}", "\\text{Evenly}");
    differ("ABC", "BAC");
    same("ABC", "ABC");
    differ("\\triangle ABC", "\\triangle ACB");
    same("\\text{yes}", "Yes");
    differ("\\text{yes}", "\\text{no}");
    differ("odd", "dod");
}

#[test]
fn class4_vmatrix_is_a_determinant() {
    same("\\begin{vmatrix}1&2\\\\3&4\\end{vmatrix}", "-2");
    differ(
        "\\begin{vmatrix}1&2\\\\3&4\\end{vmatrix}",
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    );
    same("\\begin{vmatrix}a&b\\\\c&d\\end{vmatrix}", "ad-bc");
    differ("\\begin{vmatrix}a&b\\\\c&d\\end{vmatrix}", "ad+bc");
    same(
        "\\begin{vmatrix}2&0&0\\\\0&3&0\\\\0&0&4\\end{vmatrix}",
        "24",
    );
}

#[test]
fn class5_inequalities_only_with_the_variable_alone() {
    differ("x>2", "-x>2");
    rejects("(4,\\infty)", "2x>4");
    accepts("(2,\\infty)", "2x>4");
    differ("x>0", "x^2>0");
    rejects("(0,\\infty)", "x^2>0");
    accepts("(-\\infty, 1)", "-x > -1");
    rejects("(1, \\infty)", "-x > -1");
    accepts(
        "[-1, 3)",
        "-2 \\le 2x \\le 6".replace("\\le 6", "< 6").as_str(),
    );
    rejects("[-1, 3]", "-2 \\le 2x < 6");
    accepts("(-3, 1]", "-1 \\le -x < 3");
    same("x > 2", "2x > 4");
    same("x<2", "4 > 2x");
    differ("x<2", "x^3<8".replace("8", "9").as_str());
    rejects("(2,\\infty)", "\\frac{1}{x} < \\frac{1}{2}");
}

#[test]
fn class6_named_values_compare_by_name() {
    rejects("x=1, y=2", "2, 1");
    accepts("x=1, y=2", "1, 2");
    accepts("x=1, y=2", "y=2, x=1");
    rejects("x=1, y=2", "x=2, y=1");
    rejects("x=1, y=2", "y=1, x=2");
    accepts("a=3, b=-1", "a = 3, b = -1");
    rejects("a=3, b=-1", "-1, 3");
    rejects("x=1, y=2", "x=1, z=2");
}

#[test]
fn false_negatives_now_accepted() {
    same("\\varnothing", "\\emptyset");
    same("\\varnothing", "\\{\\}");
    same("\\mathbb{R}", "(-\\infty, \\infty)");
    differ("\\mathbb{R}", "(0, \\infty)");
    same("{5\\choose 2}", "10");
    same("\\binom{n}{2}", "\\frac{n(n-1)}{2}");
    differ("{5\\choose 2}", "\\binom{5}{3}".replace('3', "1").as_str());
    accepts("\\frac12", "50\\%");
    accepts("50", "50\\%");
    rejects("\\frac12", "5\\%");
    rejects("0.5", "0.5\\%".replace("0.5", "5").as_str());
    same("\\max(3, 7)", "7");
    same("\\min(3, 7)", "3");
    differ("\\max(3, 7)", "3");
    same("\\gcd(12, 18)", "6");
    same("\\sum_{k=1}^{10} k", "55");
    differ("\\sum_{k=1}^{10} k", "\\sum_{k=1}^{11} k");
    same("\\prod_{j=1}^{5} j", "5!");
    same("\\sum_{k=1}^{n} k", "\\sum_{k=1}^{n} k");
    same("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)");
    differ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(2,1)");
    accepts("(p,q)=(3,2)", "q=2, p=3");
    rejects("(p,q)=(3,2)", "q=3, p=2");
    differ("|x+y|", "|x|+|y|");
    differ("\\sqrt{x^2y^2}", "xy");
    same("\\sqrt{x^2y^2}", "|xy|");
    differ("12", "1\\quad 2");
    same("(n+1)!", "(n+1)\\cdot n!");
    differ("(n+1)!", "n!");
    same("\\lfloor \\frac{7}{2} \\rfloor", "3");
    same("(-\\infty, 2) \\cup (3, \\infty)", "x<2 \\text{ or } x>3");
    rejects("(-\\infty, 2) \\cup (3, \\infty)", "x<2 \\text{ or } x>4");
    let ten = format!("{}1{}", "(".repeat(10), ")".repeat(10));
    same(&ten, "1");
    let deep = format!("{}x{}", "(".repeat(30), "+1)".repeat(30));
    same(&deep, "x+30");
}

#[test]
fn hostile_inputs_finish_within_the_step_budget() {
    let c = AnswerChecker::default();
    let max = Limits::default().max_steps;
    let forty = vec!["3^{100000}"; 40].join("\\cdot ");
    let worse_product = vec!["7^{99999}"; 400].join("\\cdot ");
    let many_binoms = vec!["\\binom{10^{20}}{2000}"; 60].join("+");
    let tower = format!("{}2{}", "2^{".repeat(30), "}".repeat(30));
    let cases: Vec<(String, String)> = vec![
        (
            "\\binom{10^{50}}{5000}".into(),
            "\\binom{10^{50}}{4999}".into(),
        ),
        (forty.clone(), format!("{forty}+1")),
        (
            "\\binom{10^{20}}{2000}".into(),
            "\\binom{10^{20}}{2001}".into(),
        ),
        (worse_product.clone(), format!("{worse_product}\\cdot 7")),
        (many_binoms.clone(), format!("{many_binoms}+1")),
        ("5000!".into(), "4999!\\cdot 5001".into()),
        ("\\frac{1}{5000!}".into(), "0.0001".into()),
        ("2^{-500000}".into(), "0.0000000000000001".into()),
        (tower.clone(), format!("{tower}+1")),
        ("\\binom{-10^{40}}{3000}".into(), "1".into()),
        ("(10^{1000}+1)^{1000}".into(), "10^{1000000}".into()),
        ("\\sqrt{10^{60000}+1}".into(), "10^{30000}".into()),
        ("e^{10^{9}}".into(), "e^{10^{9}}+1".into()),
        ("\\sin(10^{300})".into(), "\\sin(10^{300}+1)".into()),
    ];
    for (g, p) in &cases {
        let (ok, why, used) = c.compare_answers_metered(g, p);
        let short: String = g.chars().take(40).collect();
        assert!(!ok, "{short}… must not equal its neighbour ({why})");
        assert!(used <= max, "{short}… used {used} > {max} steps");
    }
    // the work is charged: a small budget refuses what the default budget can decide
    let small = AnswerChecker::new(CheckerConfig {
        limits: Limits {
            max_steps: 2_000,
            ..Limits::default()
        },
        ..CheckerConfig::default()
    });
    let (ok, why, used) = small.compare_answers_metered("1000!", "999!\\cdot 1000");
    assert!(
        !ok && used == 2_000,
        "1000! must exhaust 2000 steps ({why}, {used})"
    );
    let (ok, _, used) = c.compare_answers_metered("1000!", "999!\\cdot 1000");
    assert!(ok && used > 2_000, "1000! = 999!·1000 costs {used} steps");
}

#[test]
fn equivalent_is_symmetric_on_a_sample() {
    for (a, b) in [
        ("x=1, y=2", "x = 1, y = 2"),
        ("\\sqrt{x^2}", "|x|"),
        ("\\sin 2x", "2\\sin x\\cos x"),
    ] {
        assert_eq!(equivalent(a, b), equivalent(b, a), "{a} vs {b}");
    }
}
