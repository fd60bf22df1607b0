//! Throughput of the answer checker on `../shared/fixtures/answers/synthetic_pairs.jsonl`:
//! pairs/s single-threaded and with all cores (std::thread::scope), and how many verdicts
//! agree with the labels. Run: `cargo bench --bench answer_throughput`.
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
    hostile();
}

/// The slowest of the hostile pairs (issue 11 and worse ones), best of 3 each.
fn hostile() {
    let forty = vec!["3^{100000}"; 40].join("\\cdot ");
    let sines = vec!["\\sin(\\sin(\\sin(\\sin(x+1))))"; 30].join("+");
    let pairs: Vec<(String, String)> = vec![
        (
            "\\binom{10^{50}}{5000}".into(),
            "\\binom{10^{50}}{4999}".into(),
        ),
        (forty.clone(), format!("{forty}+1")),
        (
            "\\binom{10^{20}}{2000}".into(),
            "\\binom{10^{20}}{2001}".into(),
        ),
        ("5000!".into(), "4999!\\cdot 5001".into()),
        ("\\sqrt{10^{60000}+1}".into(), "10^{30000}".into()),
        ("\\sin(10^{300})".into(), "\\sin(10^{300}+1)".into()),
        (sines.clone(), format!("{sines}+10^{{-600}}")),
        ("x+10^{-600}".into(), "x".into()),
    ];
    let c = AnswerChecker::default();
    let mut worst = (0.0f64, String::new());
    for (g, p) in &pairs {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let _ = c.compare_answers(g, p);
            best = best.min(t.elapsed().as_secs_f64());
        }
        if best > worst.0 {
            worst = (best, g.chars().take(40).collect());
        }
    }
    println!(
        "slowest hostile pair ({} pairs): {:.2} ms ({}…)",
        pairs.len(),
        worst.0 * 1e3,
        worst.1
    );
}
