//! Extraction rules (src/verify/answer/extract.rs): negated, hedged, questioned, retracted
//! and multiply-boxed answers are not credited; near-identical honest responses still are;
//! the whole response is scanned in linear work (asserted on a step counter, not on time).
use prover::verify::answer::extract::{extract_counted, extract_detailed, Extraction};
use prover::verify::answer::{AnswerChecker, CheckerConfig, ExtractOptions, Limits};

fn strict(reference: &str, response: &str) -> bool {
    AnswerChecker::default().check(reference, response).correct
}

fn lenient(reference: &str, response: &str) -> bool {
    AnswerChecker::new(CheckerConfig::lenient())
        .check(reference, response)
        .correct
}

#[test]
fn negated_boxes_are_not_credited() {
    for (r, resp) in [
        ("5", "\\boxed{5} is not the answer; it is 7."),
        ("5", "Clearly \\boxed{5} isn't right."),
        ("5", "The answer is never $\\boxed{5}$."),
        ("5", "It can't be \\boxed{5}."),
        ("5", "We might think \\(\\boxed{5}\\), which is wrong"),
        ("5", "$\\boxed{5}$ would be incorrect here."),
        ("5", "\\boxed{5} — NOT the answer."),
        ("5", "Answer: \\boxed{\\text{not } 5}"),
        ("5", "The value is neither \\boxed{5} nor 6."),
        ("5", "It is false that the answer is \\boxed{5}."),
        ("5", "I don’t believe it is \\boxed{5}."),
    ] {
        assert!(!strict(r, resp), "credited: {resp:?}");
    }
}

#[test]
fn negations_of_other_values_keep_the_box() {
    for (r, resp) in [
        ("5", "The answer is \\boxed{5}, not 6."),
        ("5", "It is not 6. So the answer is \\boxed{5}."),
        ("5", "Since $x$ is not negative, $x = \\boxed{5}$."),
        ("5", "x cannot be 0; hence \\boxed{5}."),
        ("5", "The answer is $\\boxed{5}$, and no other value works."),
        ("5", "The answer is $\\boxed{5}$ (not $6$)."),
        ("-3", "Since $x \\notin [0,1]$, we get $\\boxed{-3}$."),
    ] {
        assert!(strict(r, resp), "not credited: {resp:?}");
    }
}

#[test]
fn hedges_questions_and_retractions() {
    for (r, resp) in [
        ("3", "Either \\boxed{3} or \\boxed{4}."),
        ("3", "It is \\boxed{3} or maybe 4."),
        ("3", "Perhaps \\boxed{3}."),
        ("3", "Could the answer be $\\boxed{3}$?"),
        ("3", "Is it \\boxed{3} ?"),
        ("3", "\\boxed{3}\n\nWait, let me recheck: it is 4."),
        ("3", "\\boxed{3}. Oops, I made an error; 4."),
        ("3", "\\boxed{3}\n\nActually the correct value is 4."),
        ("3", "\\boxed{3}\n\nHmm, that was a mistake."),
    ] {
        assert!(!strict(r, resp), "credited: {resp:?}");
    }
    for (r, resp) in [
        ("3", "\\boxed{3}\n\nI hope it is correct."),
        ("3", "So $\\boxed{3}$. This is the least value."),
        (
            "3",
            "\\boxed{3}\n\nFinal Answer: The final answer is $3$. I hope it is correct.",
        ),
    ] {
        assert!(strict(r, resp), "not credited: {resp:?}");
    }
}

#[test]
fn several_boxes_must_all_be_right() {
    // different boxes: never credited
    for (r, resp) in [
        (
            "2",
            "First $a = \\boxed{1}$. Then the answer is $\\boxed{2}$.",
        ),
        (
            "2",
            "The answer is \\boxed{2}. Writing \"\\boxed{3}\" would be wrong.",
        ),
        ("7", "The answer is \\boxed{7}.\n\n(Some write \\boxed{5}.)"),
        ("B", "\\boxed{A} \\boxed{B} \\boxed{C} \\boxed{D}"),
        (
            "1",
            "\\boxed{1}\\boxed{2}\\boxed{3}\\boxed{4}\\boxed{5}\\boxed{6}",
        ),
        ("(1,2)", "The point is \\boxed{1}, \\boxed{2}."),
        ("(2,1)", "The point is \\boxed{1}, \\boxed{2}."),
        ("12", "\\boxed{1}\\boxed{2}"),
        ("5", "So the answer is $\\boxed{5}$.\n\nThe answer is 7."),
    ] {
        assert!(!strict(r, resp), "credited: {resp:?}");
    }
    // repeated or equivalent boxes, and one box per solution of a list
    for (r, resp) in [
        ("5", "We get \\boxed{5}. Indeed, \\boxed{5}."),
        (
            "\\frac{1}{2}",
            "So $p = \\boxed{\\frac12}$, i.e. $\\boxed{0.5}$.",
        ),
        ("1, 2", "The solutions are $\\boxed{1}$ and $\\boxed{2}$."),
        (
            "1, -2",
            "\\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1} \\]",
        ),
        (
            "x=5",
            "We find $\\boxed{x=5}$, so the answer is $\\boxed{5}$.",
        ),
        (
            "5",
            "So the answer is $\\boxed{5}$.\n\nThe final answer is $5$.",
        ),
    ] {
        assert!(strict(r, resp), "not credited: {resp:?}");
    }
}

#[test]
fn code_and_thinking_are_not_answers() {
    assert!(!strict("5", "```python\nprint('\\\\boxed{5}')\n```"));
    assert!(!strict("5", "Use `\\boxed{5}` as the format."));
    assert!(strict(
        "7",
        "```\n\\boxed{5}\n```\nSo the answer is $\\boxed{7}$."
    ));
    assert!(strict(
        "7",
        "<think>is it \\boxed{5}? no.</think> The answer is \\boxed{7}."
    ));
    assert!(!strict(
        "5",
        "<think>is it \\boxed{5}? no.</think> The answer is \\boxed{7}."
    ));
}

#[test]
fn lenient_fallbacks_respect_negation_and_lists() {
    for (r, resp) in [
        ("5", "The answer is not 5."),
        ("5", "The options are 2, 3, or 5."),
        ("5", "It is one of 1, 3 and 5."),
        ("5", "Values range from 3 to 5."),
        ("5", "The answer is 4 or 5."),
        ("5", "Maybe 5."),
        ("5", "I doubt it's $5$; it isn't $5$."),
        ("5", "**not 5**"),
        ("5", "$5$ is wrong."),
        ("5", "Answer: perhaps 5"),
        ("5", "The answer is between 4 and 5."),
    ] {
        assert!(!lenient(r, resp), "credited: {resp:?}");
    }
    for (r, resp) in [
        ("5", "The answer is 5."),
        ("5", "Answer: 5"),
        ("5", "So we get 5 apples."),
        ("7", "It is not 6; the answer is 7."),
        (
            "\\frac{3}{4}",
            "The answer is $\\frac{3}{4}$, not $\\frac{4}{3}$.",
        ),
        ("7", "3 + 4 = 7"),
        ("5", "**5**"),
    ] {
        assert!(lenient(r, resp), "not credited: {resp:?}");
    }
}

#[test]
fn word_answers_ignore_case_only() {
    assert!(strict("\\text{yes}", "\\boxed{Yes}"));
    assert!(strict("Yes", "\\boxed{\\textbf{YES}}"));
    assert!(strict("\\text{False}", "\\boxed{false}"));
    assert!(!strict("\\text{No}", "\\boxed{on}"));
    assert!(!strict("\\text{yes}", "\\boxed{\\text{yes or no}}"));
    assert!(!strict("\\text{even}", "\\boxed{\\text{odd}}"));
}

#[test]
fn an_early_box_in_a_long_response_is_found() {
    let resp = format!("\\boxed{{7}}{}", " filler".repeat(400_000)); // 2.8 MB
    assert!(strict("7", &resp));
}

fn steps(resp: &str, opts: &ExtractOptions) -> u64 {
    extract_counted(resp, opts, &Limits::default()).1
}

/// Hostile shapes at two sizes: the work grows linearly (4x the input, at most 4.5x the
/// steps) and stays under 64 steps per byte.
#[test]
fn extraction_work_is_linear() {
    type Gen = fn(usize) -> String;
    let shapes: Vec<(&str, Gen)> = vec![
        ("adjacent boxes", |n| "\\boxed{1}".repeat(n / 9)),
        ("different boxes", |n| {
            (0..n / 12).map(|i| format!("\\boxed{{{i}}} ")).collect()
        }),
        ("nested boxes", |n| {
            format!("{}1{}", "\\boxed{".repeat(n / 8), "}".repeat(n / 8))
        }),
        ("bare boxes", |n| "\\boxed".repeat(n / 6)),
        ("unclosed boxes", |n| "\\boxed{".repeat(n / 7)),
        ("dollars", |n| "$".repeat(n)),
        ("backticks", |n| "`".repeat(n)),
        ("fences", |n| "```\n".repeat(n / 4)),
        ("answer phrases", |n| "the answer is ".repeat(n / 14)),
        ("newlines after a phrase", |n| {
            format!("the answer is {}", "\n".repeat(n))
        }),
        ("bold", |n| "**".repeat(n / 2)),
        ("numbers", |n| "1, ".repeat(n / 3)),
        ("negations after a box", |n| {
            format!("\\boxed{{1}}{}", " not".repeat(n / 4))
        }),
        ("words", |n| " x".repeat(n / 2)),
        ("think tags", |n| "</think>".repeat(n / 8)),
    ];
    for opts in [ExtractOptions::strict(), ExtractOptions::lenient()] {
        for (name, g) in &shapes {
            let small = g(50_000);
            let big = g(200_000);
            let (s1, s2) = (steps(&small, &opts), steps(&big, &opts));
            assert!(
                s2 as f64 <= 4.5 * s1.max(1) as f64,
                "{name}: {s1} steps for {} bytes, {s2} for {} bytes",
                small.len(),
                big.len()
            );
            assert!(
                s2 <= 64 * big.len() as u64,
                "{name}: {s2} steps for {} bytes",
                big.len()
            );
        }
    }
}

#[test]
fn many_boxes_are_refused_without_comparing_each() {
    // different boxes far apart: separate answers
    let resp: String = (0..80_000)
        .map(|i| format!("\\boxed{{{i}}}. Next. "))
        .collect();
    match extract_detailed(&resp, &ExtractOptions::strict(), &Limits::default()) {
        Extraction::Refused { why, .. } => assert!(why.contains("different"), "{why}"),
        other => panic!("{other:?}"),
    }
    // a list of boxes longer than the cap is refused, not cut short
    let list: String = (0..65).map(|i| format!("\\boxed{{{i}}}, ")).collect();
    let all: Vec<String> = (0..65).map(|i| i.to_string()).collect();
    assert!(!strict(&all.join(", "), &list));
    let list: String = (0..20).map(|i| format!("\\boxed{{{i}}}, ")).collect();
    let all: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert!(strict(&all.join(", "), &list));
    // adjacent different boxes: one list, over the cap
    let resp: String = (0..80_000).map(|i| format!("\\boxed{{{i}}} ")).collect();
    match extract_detailed(&resp, &ExtractOptions::strict(), &Limits::default()) {
        Extraction::Refused { why, .. } => assert!(why.contains("more than"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn prose_around_the_box_is_not_a_hedge() {
    // "between" in ordinary prose; a negation about an earlier value
    assert!(strict(
        "90",
        "Hence, the angle between the lines is $\\boxed{90^\\circ}.$"
    ));
    assert!(strict("1000", "It is not 10, it is \\boxed{1000}."));
    assert!(lenient("1000.99", "not it's not 10 it's 1,000.99m²"));
    assert!(!lenient("5", "The answer is between 4 and 5."));
    assert!(!lenient("5", "The answer is about 5."));
    assert!(!lenient("5", "**5**?"));
    assert!(!strict(
        "5",
        "\\text{either } \\boxed{5} \\text{ or } \\boxed{6}"
    ));
    assert!(!strict("5", "Not (\\boxed{5})."));
}

#[test]
fn answers_stated_apart_count_together_only_as_one_unordered_list() {
    // the parts of a list answer, boxed apart with words between them
    for (r, resp) in [
        (
            "(3, 3), (1, 1)",
            "For part (a) \\boxed{(3,3)} and for part (b) \\boxed{(1,1)}.",
        ),
        (
            "2, 5",
            "The first root is \\boxed{2}. The second root is \\boxed{5}.",
        ),
        (
            "\\{-1, 4\\}",
            "One solution is \\boxed{4}; the other is \\boxed{-1}.",
        ),
    ] {
        assert!(strict(r, resp), "{r} | {resp}");
    }
    // never an ordered tuple, never a superset, never a subset
    for (r, resp) in [
        ("(1, 2)", "We get \\boxed{2} first and then \\boxed{1}."),
        ("(1, 2)", "We get \\boxed{1} first and then \\boxed{2}."),
        ("1", "Case one gives \\boxed{1}; case two gives \\boxed{2}."),
        (
            "1, 2, 3",
            "Case one gives \\boxed{1}; case two gives \\boxed{2}.",
        ),
        (
            "2, 5",
            "The first root is \\boxed{2}. The second root is \\boxed{6}.",
        ),
    ] {
        assert!(!strict(r, resp), "{r} | {resp}");
    }
}
