//! The checker on the hand-labelled adversarial pairs of `tests/fixtures/answer_adversarial.jsonl`
//! (source: `tests/fixtures/make_answer_adversarial.py`; Math-Verify's counts on the same file:
//! `python3 benches/math_verify_adversarial.py`).
//!
//! Prints false positives / false negatives per class and asserts no false positive outside the
//! documented policy cases (pairs with a `policy` field: rounding to the shown digits, percent),
//! which are listed. Run: `cargo test --test answer_adversarial -- --nocapture`.
use std::collections::BTreeMap;

use prover::verify::answer::{AnswerChecker, CheckerConfig};
use serde_json::Value;

struct Row {
    id: String,
    class: String,
    reference: String,
    response: String,
    label: bool,
    lenient: bool,
    policy: Option<String>,
}

fn rows() -> Vec<Row> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/answer_adversarial.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("read tests/fixtures/answer_adversarial.jsonl");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{path}:{}: invalid JSON: {e}", i + 1));
            let s = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{path}:{}: field `{k}` must be a string", i + 1))
                    .to_string()
            };
            Row {
                id: s("id"),
                class: s("class"),
                reference: s("reference"),
                response: s("response"),
                label: v["label"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("{path}:{}: field `label` must be a bool", i + 1)),
                lenient: match s("mode").as_str() {
                    "strict" => false,
                    "lenient" => true,
                    m => panic!("{path}:{}: mode {m:?}, expected strict or lenient", i + 1),
                },
                policy: v["policy"].as_str().map(String::from),
            }
        })
        .collect()
}

#[test]
fn adversarial_pairs_no_false_positives() {
    let rows = rows();
    assert!(rows.len() >= 300, "only {} pairs", rows.len());
    let strict = AnswerChecker::default();
    let lenient = AnswerChecker::new(CheckerConfig::lenient());
    // class -> (pairs, false positives, false negatives)
    let mut by: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut fps = Vec::new();
    let mut fns = Vec::new();
    let mut policy = Vec::new();
    for r in &rows {
        let checker = if r.lenient { &lenient } else { &strict };
        let v = checker.check(&r.reference, &r.response);
        let e = by.entry(r.class.clone()).or_default();
        e.0 += 1;
        if v.correct == r.label {
            continue;
        }
        let line = format!(
            "{} ({}): reference {:?}, extracted {:?}: {}",
            r.id, r.class, r.reference, v.extracted, v.reason
        );
        if let Some(p) = &r.policy {
            policy.push(format!("[{p}] credited={} {line}", v.correct));
        } else if v.correct {
            e.1 += 1;
            fps.push(line);
        } else {
            e.2 += 1;
            fns.push(line);
        }
    }
    println!(
        "prover on tests/fixtures/answer_adversarial.jsonl ({} pairs)",
        rows.len()
    );
    println!("| class | pairs | false positives | false negatives |");
    println!("|---|---|---|---|");
    for (k, (n, fp, fne)) in &by {
        println!("| {k} | {n} | {fp} | {fne} |");
    }
    println!("| all | {} | {} | {} |", rows.len(), fps.len(), fns.len());
    println!(
        "policy pairs decided against the competition label: {}",
        policy.len()
    );
    for l in &policy {
        println!("POLICY {l}");
    }
    for l in &fns {
        println!("FN {l}");
    }
    for l in &fps {
        println!("FP {l}");
    }
    assert!(
        fps.is_empty(),
        "{} false positives outside the policy cases:\n{}",
        fps.len(),
        fps.join("\n")
    );
}

/// The extraction class alone must be free of false positives (extraction is this module's
/// own rule set; the other classes depend on the parser and comparison).
#[test]
fn adversarial_extraction_class_no_false_positives() {
    let strict = AnswerChecker::default();
    let lenient = AnswerChecker::new(CheckerConfig::lenient());
    let mut fps = Vec::new();
    let mut n = 0;
    for r in rows().iter().filter(|r| r.class == "extraction") {
        n += 1;
        let checker = if r.lenient { &lenient } else { &strict };
        let v = checker.check(&r.reference, &r.response);
        if v.correct && !r.label {
            fps.push(format!(
                "{}: {:?} vs {:?} -> {:?}",
                r.id, r.reference, r.response, v
            ));
        }
    }
    assert!(n >= 60, "only {n} extraction pairs");
    assert!(
        fps.is_empty(),
        "extraction false positives:\n{}",
        fps.join("\n")
    );
}
