//! Accuracy on `../shared/fixtures/answers/synthetic_pairs.jsonl` (10,000 labelled pairs;
//! Math-Verify 0.9.0 gets 9,200 right). Lenient extraction, since a tenth of the predictions
//! are bare LaTeX without `$` or `\boxed`.
mod common;

use prover::verify::answer::{AnswerChecker, CheckerConfig};
use serde_json::Value;

#[test]
fn synthetic_pairs_accuracy() {
    let Some(path) = common::shared("fixtures/answers/synthetic_pairs.jsonl") else {
        return;
    };
    let checker = AnswerChecker::new(CheckerConfig::lenient());
    let text = std::fs::read_to_string(&path).expect("read");
    let (mut n, mut ok) = (0, 0);
    let mut shown = 0;
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).expect("json");
        let verdict = checker.check(
            v["gold"].as_str().unwrap_or(""),
            v["pred"].as_str().unwrap_or(""),
        );
        n += 1;
        if verdict.correct == v["expected"].as_bool().unwrap_or(false) {
            ok += 1;
        } else if shown < 30 {
            shown += 1;
            eprintln!(
                "MISS line {} [{}]: gold {} pred {:?} -> {:?} ({})",
                i + 1,
                v["kind"],
                v["gold"],
                verdict.extracted,
                verdict.correct,
                verdict.reason
            );
        }
    }
    eprintln!("synthetic: {ok}/{n} agree with labels (Math-Verify: 9200/10000)");
    assert_eq!(n, 10_000);
    assert!(ok >= 9_900, "only {ok}/{n}");
}
