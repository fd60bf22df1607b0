//! The arithmetic dataset: committed files equal a fresh generation, splits are disjoint,
//! answers are right, bad lines are reported with their line number.
use prover::data::arithmetic::to_tasks;
use prover::data::arithmetic::{
    default_splits, generate_splits, load_jsonl, parse_jsonl, to_jsonl, ArithmeticParams,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/arithmetic");

#[test]
fn committed_files_match_regeneration() {
    let (train, heldout) = default_splits();
    if std::env::var("PROVER_REGEN_DATASETS").is_ok() {
        prover::data::arithmetic::write_splits(std::path::Path::new(DIR), &train, &heldout)
            .unwrap();
    }
    let t = std::fs::read_to_string(format!("{DIR}/train.jsonl")).unwrap();
    let h = std::fs::read_to_string(format!("{DIR}/heldout.jsonl")).unwrap();
    assert_eq!(
        t,
        to_jsonl(&train),
        "train.jsonl differs from a fresh generation"
    );
    assert_eq!(
        h,
        to_jsonl(&heldout),
        "heldout.jsonl differs from a fresh generation"
    );
    assert_eq!(train.len(), 300);
    assert_eq!(heldout.len(), 200);
    let loaded = load_jsonl(std::path::Path::new(&format!("{DIR}/train.jsonl"))).unwrap();
    assert_eq!(loaded, train);
    let tasks = to_tasks(&loaded, "arithmetic/train");
    assert_eq!(tasks[3].id(), "arithmetic/train/3");
    assert_eq!(tasks[3].answer(), Some(train[3].answer.as_str()));
}

#[test]
fn splits_are_disjoint_and_deterministic() {
    let p = ArithmeticParams::default();
    let (a, b) = generate_splits(7, 100, 50, &p);
    let (a2, b2) = generate_splits(7, 100, 50, &p);
    assert_eq!((a.clone(), b.clone()), (a2, b2));
    let train: std::collections::HashSet<_> = a.iter().map(|q| q.problem.clone()).collect();
    assert!(b.iter().all(|q| !train.contains(&q.problem)));
    let (c, _) = generate_splits(8, 100, 50, &p);
    assert_ne!(a, c);
}

/// Re-solves each problem from its text (a tiny independent interpreter of the templates).
fn solve(text: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    let num = |w: &str| w.trim_end_matches('.').parse::<u64>().ok();
    let mut total = num(words[2]).unwrap();
    for (i, w) in words.iter().enumerate() {
        match *w {
            "finds" => total += num(words[i + 1]).unwrap(),
            "buys" => total += num(words[i + 1]).unwrap() * num(words[i + 4]).unwrap(),
            "away" => total -= num(words[i + 1]).unwrap(),
            "doubles" => total *= 2,
            "triples" => total *= 3,
            "among" => total /= num(words[i + 1]).unwrap(),
            _ => {}
        }
    }
    total
}

#[test]
fn answers_are_correct_and_difficulty_is_adjustable() {
    let (train, heldout) = default_splits();
    for q in train.iter().chain(&heldout) {
        assert_eq!(solve(&q.problem).to_string(), q.answer, "{}", q.problem);
    }
    let easy = ArithmeticParams {
        min_ops: 1,
        max_ops: 1,
        max_operand: 5,
    };
    let hard = ArithmeticParams {
        min_ops: 3,
        max_ops: 3,
        max_operand: 20,
    };
    let (e, _) = generate_splits(1, 50, 0, &easy);
    let (h, _) = generate_splits(1, 50, 0, &hard);
    assert!(e.iter().all(|q| !q.problem.contains(" Then ")));
    assert!(h.iter().all(|q| q.problem.matches(" Then ").count() == 2));
    for q in e.iter().chain(&h) {
        assert_eq!(solve(&q.problem).to_string(), q.answer, "{}", q.problem);
    }
}

#[test]
fn bad_line_is_named() {
    let text = "{\"problem\": \"a\", \"answer\": \"1\"}\n\n{\"problem\": \"b\"}\n";
    let msg = format!("{:#}", parse_jsonl(text, "data.jsonl").unwrap_err());
    assert!(msg.contains("data.jsonl:3"), "{msg}");
    assert!(msg.contains("answer"), "{msg}");
    let msg = format!("{:#}", parse_jsonl("not json\n", "d.jsonl").unwrap_err());
    assert!(msg.contains("d.jsonl:1"), "{msg}");
}
