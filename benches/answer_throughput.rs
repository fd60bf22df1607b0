//! Throughput of the answer checker on `../shared/fixtures/answers/synthetic_pairs.jsonl`:
//! pairs/s single-threaded and with all cores (std::thread::scope), and how many verdicts
//! agree with the labels; then the slowest single pair among those, the adversarial fixture
//! (`tests/fixtures/answer_adversarial.jsonl`) and a few hostile responses (each timed alone).
//! Run: `cargo bench --bench answer_throughput`.
//! Peer: `python3 benches/math_verify_peer.py` (Math-Verify on the same file).
use std::path::PathBuf;
use std::time::Instant;

use prover::verify::answer::{AnswerChecker, CheckerConfig};
use serde_json::Value;

struct Pair {
    gold: String,
    pred: String,
    expected: bool,
}

fn run(checker: &AnswerChecker, pairs: &[Pair]) -> usize {
    pairs
        .iter()
        .filter(|p| checker.check(&p.gold, &p.pred).correct == p.expected)
        .count()
}

fn main() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/answers/synthetic_pairs.jsonl"
    ));
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} not found", path.display());
        return;
    };
    let pairs: Vec<Pair> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Pair {
            gold: v["gold"].as_str().unwrap_or_default().to_string(),
            pred: v["pred"].as_str().unwrap_or_default().to_string(),
            expected: v["expected"].as_bool().unwrap_or(false),
        })
        .collect();
    let checker = AnswerChecker::new(CheckerConfig::lenient());
    let rounds = 3;
    // warm-up
    let _ = run(&checker, &pairs[..pairs.len().min(500)]);

    let mut best_single = f64::MAX;
    let mut agree = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        agree = run(&checker, &pairs);
        best_single = best_single.min(t.elapsed().as_secs_f64());
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut best_multi = f64::MAX;
    let mut agree_multi = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let chunk = pairs.len().div_ceil(threads);
        agree_multi = std::thread::scope(|s| {
            let handles: Vec<_> = pairs
                .chunks(chunk)
                .map(|c| s.spawn(|| run(&checker, c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .sum::<usize>()
        });
        best_multi = best_multi.min(t.elapsed().as_secs_f64());
    }
    let n = pairs.len();
    println!(
        "answer checker throughput on {} ({} pairs, best of {rounds})",
        path.display(),
        n
    );
    println!("| checker | threads | pairs | pairs/s | agree with label |");
    println!("|---|---|---|---|---|");
    println!(
        "| prover (lenient) | 1 | {n} | {:.0} | {agree}/{n} |",
        n as f64 / best_single
    );
    println!(
        "| prover (lenient) | {threads} | {n} | {:.0} | {agree_multi}/{n} |",
        n as f64 / best_multi
    );
    println!("| Math-Verify 0.9.0 (reference note) | 1 | 10000 | ~190 | 9200/10000 |");

    // the slowest single pair: each timed alone (best of 2), strict and lenient
    let mut all: Vec<(String, String, String)> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("synthetic line {}", i + 1),
                p.gold.clone(),
                p.pred.clone(),
            )
        })
        .collect();
    let adv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/answer_adversarial.jsonl"
    );
    if let Ok(t) = std::fs::read_to_string(adv) {
        for v in t
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        {
            all.push((
                format!("adversarial {}", v["id"].as_str().unwrap_or("?")),
                v["reference"].as_str().unwrap_or_default().to_string(),
                v["response"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    for (name, gold, pred) in hostile() {
        all.push((name.to_string(), gold, pred));
    }
    let strict = AnswerChecker::default();
    let mut slowest = (0.0f64, String::new(), String::new(), String::new());
    for (name, gold, pred) in &all {
        for (mode, c) in [("lenient", &checker), ("strict", &strict)] {
            let mut best = f64::MAX;
            for _ in 0..2 {
                let t = Instant::now();
                std::hint::black_box(c.check(gold, pred));
                best = best.min(t.elapsed().as_secs_f64());
            }
            if best > slowest.0 {
                slowest = (best, name.clone(), mode.to_string(), gold.clone());
            }
        }
    }
    let g: String = slowest.3.chars().take(60).collect();
    println!(
        "slowest single pair of {} (synthetic + adversarial + hostile): {} ({} mode, reference {:?}): {:.2} ms",
        all.len(),
        slowest.1,
        slowest.2,
        g,
        slowest.0 * 1e3
    );
}

/// Hostile responses: (name, reference, response).
fn hostile() -> Vec<(&'static str, String, String)> {
    let mut v = vec![
        (
            "80k adjacent boxes",
            "1".into(),
            "\\boxed{1}".repeat(80_000),
        ),
        (
            "80k different boxes",
            "1".into(),
            (0..80_000).map(|i| format!("\\boxed{{{i}}} ")).collect(),
        ),
        (
            "20k nested boxes",
            "1".into(),
            format!("{}1{}", "\\boxed{".repeat(20_000), "}".repeat(20_000)),
        ),
        (
            "2 MB before an early box",
            "7".into(),
            format!("\\boxed{{7}}{}", " x".repeat(1 << 20)),
        ),
        ("1 MB of dollars", "7".into(), "$".repeat(1 << 20)),
        ("1 MB of backticks", "7".into(), "`".repeat(1 << 20)),
    ];
    // hostile arithmetic (issue 11 and worse): each charged to the checker's step budget
    let forty = vec!["3^{100000}"; 40].join("\\cdot ");
    let sines = vec!["\\sin(\\sin(\\sin(\\sin(x+1))))"; 30].join("+");
    let math: Vec<(&'static str, String, String)> = vec![
        (
            "binom(10^50, 5000)",
            "\\binom{10^{50}}{5000}".into(),
            "\\binom{10^{50}}{4999}".into(),
        ),
        (
            "40 factors of 3^100000",
            forty.clone(),
            format!("{forty}+1"),
        ),
        (
            "binom(10^20, 2000)",
            "\\binom{10^{20}}{2000}".into(),
            "\\binom{10^{20}}{2001}".into(),
        ),
        ("5000!", "5000!".into(), "4999!\\cdot 5001".into()),
        (
            "sqrt(10^60000+1)",
            "\\sqrt{10^{60000}+1}".into(),
            "10^{30000}".into(),
        ),
        (
            "sin(10^300)",
            "\\sin(10^{300})".into(),
            "\\sin(10^{300}+1)".into(),
        ),
        (
            "nested sines + 10^-600",
            sines.clone(),
            format!("{sines}+10^{{-600}}"),
        ),
        ("x + 10^-600", "x+10^{-600}".into(), "x".into()),
    ];
    v.extend(
        math.into_iter()
            .map(|(n, g, p)| (n, g, format!("\\boxed{{{p}}}"))),
    );
    v
}
