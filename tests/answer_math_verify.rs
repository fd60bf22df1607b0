//! Agreement with the labelled pairs of Math-Verify's test-suite
//! (`../shared/fixtures/answers/math_verify_cases.jsonl`).
//!
//! Config mapping: each pair runs with lenient extraction on both sides; `match_types`
//! without "expr" disables the bare-number fallback (Math-Verify's LaTeX-only extraction),
//! without "latex" disables the `$…$` segment and whole-response stages;
//! `allow_set_relation_comp` maps to `allow_inequality_for_interval`; `precision` p lowers
//! the rounding rule's minimum to min(p, 3) digits (Math-Verify compares at p digits).
//! `strict` is not mapped (variables are always compared strictly).
mod common;

use common::shared;

use prover::verify::answer::{AnswerChecker, CheckerConfig, ExtractOptions};
use serde_json::Value;

fn checker_for(cfg: &Value) -> AnswerChecker {
    let mut c = CheckerConfig::lenient();
    let mut opts = ExtractOptions::lenient();
    if let Some(mt) = cfg.get("match_types").and_then(|m| m.as_array()) {
        let has = |s: &str| mt.iter().any(|x| x.as_str() == Some(s));
        opts.last_number = has("expr");
        opts.math_segments = has("latex");
        opts.whole = true;
    }
    c.extract = Some(opts);
    if let Some(p) = cfg.get("precision").and_then(|v| v.as_u64()) {
        c.rounding_min_places = Some(p.min(3) as u32);
    }
    c.allow_inequality_for_interval = cfg
        .get("allow_set_relation_comp")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    AnswerChecker::new(c)
}

#[test]
fn math_verify_cases_agreement() {
    let Some(path) = shared("fixtures/answers/math_verify_cases.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read fixture");
    let mut agree = 0;
    let mut total = 0;
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).expect("json");
        let gold = v["gold"].as_str().unwrap_or_default();
        let pred = v["pred"].as_str().unwrap_or_default();
        let expected = v["expected"].as_bool().unwrap_or(false);
        let checker = checker_for(&v["config"]);
        let verdict = checker.check(gold, pred);
        total += 1;
        if verdict.correct == expected {
            agree += 1;
        } else {
            let g: String = gold.chars().take(80).collect();
            let p: String = verdict
                .extracted
                .clone()
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect();
            eprintln!(
                "MISMATCH line {} ({}): expected {expected}, got {} — gold {:?} | extracted {:?} | ref {:?} | {}",
                i + 1,
                v["source"].as_str().unwrap_or(""),
                verdict.correct,
                g,
                p,
                checker.reference_answer(gold).chars().take(60).collect::<String>(),
                verdict.reason
            );
        }
    }
    eprintln!("math_verify_cases: {agree}/{total} agree with the labels");
    assert_eq!(total, 270);
    assert!(
        agree >= 263,
        "only {agree}/{total} agree (Math-Verify defaults: 263)"
    );
}

#[test]
fn math_verify_string_extraction_cases() {
    use prover::verify::answer::extract::extract_choice;
    let Some(path) = shared("fixtures/answers/math_verify_string_extraction_cases.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read fixture");
    let mut n = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("json");
        let pred = v["pred"].as_str().unwrap_or_default();
        let letters = match v["config"]["StringExtractionConfig"]["strings"].as_array() {
            Some(a) => a.iter().filter_map(|x| x.as_str()).collect::<String>(),
            None => "ABCD".to_string(),
        };
        let expected = v["expected_parse"]
            .as_array()
            .and_then(|a| a.get(1))
            .and_then(|x| x.as_str())
            .and_then(|s| s.chars().next());
        assert_eq!(extract_choice(pred, &letters), expected, "{pred:?}");
        n += 1;
    }
    assert_eq!(n, 7);
}
