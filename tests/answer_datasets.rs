//! Every gold answer of `../shared/datasets/math/*.jsonl` must verify against itself (boxed,
//! strict mode) and against the last `\boxed{}` of its own reference solution where the set
//! has one. Prints every mismatch; asserts a high agreement count per set.
mod common;

use common::shared;

use prover::verify::answer::latex::parse_expr;
use prover::verify::answer::limits::Budget;
use prover::verify::answer::normalize::prepare;
use prover::verify::answer::{extract::last_boxed_group, AnswerChecker, Limits};
use serde_json::Value;

/// (gold answer, reference solution that may hold a box)
fn rows(set: &str, v: &Value) -> Option<(String, Option<String>)> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let n = |k: &str| v.get(k).and_then(|x| x.as_f64()).map(|f| format!("{f}"));
    match set {
        "math500" | "aime24" | "aime25" | "amc23" => {
            Some((s("answer").or(n("answer"))?, s("solution")))
        }
        "minerva_math" => Some((last_boxed_group(&s("solution")?)?, None)),
        "olympiadbench" => {
            let fa = v
                .get("final_answer")?
                .as_array()?
                .first()?
                .as_str()?
                .to_string();
            let sol = v.get("solution").and_then(|x| match x {
                Value::Array(a) => a.first().and_then(|y| y.as_str()).map(str::to_string),
                Value::String(t) => Some(t.clone()),
                _ => None,
            });
            Some((fa, sol))
        }
        "gsm8k" => {
            let a = s("answer")?;
            Some((a.rsplit("####").next()?.trim().to_string(), None))
        }
        _ => None,
    }
}

/// (set, minimum self-agreement fraction, minimum solution-agreement fraction)
const SETS: &[(&str, f64, f64)] = &[
    ("math500", 1.0, 0.97),
    ("aime24", 1.0, 0.9),
    ("aime25", 1.0, 0.0),
    ("amc23", 1.0, 0.0),
    ("minerva_math", 1.0, 0.0),
    ("olympiadbench", 0.99, 0.5),
    ("gsm8k", 1.0, 0.0),
];

#[test]
fn dataset_gold_answers_verify() {
    if shared("datasets/math").is_none() {
        return;
    }
    let checker = AnswerChecker::default(); // strict: boxed only
    for (set, min_self, min_sol) in SETS {
        let Some(path) = shared(&format!("datasets/math/{set}.jsonl")) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("read dataset");
        let (mut n, mut self_ok, mut sol_n, mut sol_ok, mut parsed) = (0, 0, 0, 0, 0);
        let lim = Limits::default();
        for (i, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line).expect("json");
            let Some((gold, solution)) = rows(set, &v) else {
                eprintln!("{set} line {}: no gold answer", i + 1);
                continue;
            };
            n += 1;
            match parse_expr(&prepare(&gold), &lim, &Budget::new(lim.max_steps), false) {
                Ok(_) => parsed += 1,
                Err(e) => eprintln!("UNPARSED {set} line {}: {gold:?} — {e}", i + 1),
            }
            let verdict = checker.check(&gold, &format!("The answer is $\\boxed{{{gold}}}$."));
            if verdict.correct {
                self_ok += 1;
            } else {
                eprintln!("SELF {set} line {}: {gold:?} — {}", i + 1, verdict.reason);
            }
            if let Some(sol) = solution.filter(|s| s.contains("\\boxed")) {
                sol_n += 1;
                let verdict = checker.check(&gold, &sol);
                if verdict.correct {
                    sol_ok += 1;
                } else {
                    eprintln!(
                        "SOLUTION {set} line {}: gold {gold:?} vs boxed {:?} — {}",
                        i + 1,
                        verdict.extracted.unwrap_or_default(),
                        verdict.reason
                    );
                }
            }
        }
        eprintln!("{set}: parsed {parsed}/{n}, self {self_ok}/{n}, against own solution's box {sol_ok}/{sol_n}");
        assert!(
            parsed as f64 >= 0.9 * n as f64,
            "{set}: parsed only {parsed}/{n}"
        );
        assert!(n > 0, "{set}: no rows");
        assert!(
            self_ok as f64 >= min_self * n as f64,
            "{set}: self {self_ok}/{n}"
        );
        assert!(
            sol_ok as f64 >= min_sol * sol_n as f64,
            "{set}: solution {sol_ok}/{sol_n}"
        );
    }
}
