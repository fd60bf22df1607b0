//! A small arithmetic word-problem task, generated deterministically from a seed, for quick
//! RL runs with small models ("Tom has 7 apples. He buys 5 bags with 3 apples in each bag. …").
//!
//! Difficulty is set by [`ArithmeticParams`]: the number of operations per problem
//! (`min_ops..=max_ops`) and the largest operand. The default files
//! `datasets/arithmetic/{train,heldout}.jsonl` are [`default_splits`] (seed 2026, 300 train,
//! 200 held-out, disjoint by problem text), one `{"problem", "answer"}` object per line. The
//! generator uses its own SplitMix64 stream so the files do not depend on a `rand` version.
use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::Task;

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// The question text.
    pub problem: String,
    /// The integer answer, as text.
    pub answer: String,
}

/// Difficulty knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArithmeticParams {
    /// Fewest operations after the starting amount (≥ 1).
    pub min_ops: usize,
    /// Most operations (≥ `min_ops`).
    pub max_ops: usize,
    /// Largest operand of any operation and of the starting amount (≥ 2).
    pub max_operand: u64,
}

impl Default for ArithmeticParams {
    fn default() -> Self {
        ArithmeticParams {
            min_ops: 1,
            max_ops: 1,
            max_operand: 10,
        }
    }
}

/// Seed of the committed files.
pub const DEFAULT_SEED: u64 = 2026;
/// Train problems in the committed files.
pub const DEFAULT_TRAIN: usize = 300;
/// Held-out problems in the committed files.
pub const DEFAULT_HELDOUT: usize = 200;

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        let z = crate::util::splitmix64(self.0);
        self.0 = self.0.wrapping_add(crate::util::SPLITMIX64_GAMMA);
        z
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "Tom", "Mia", "Sam", "Ava", "Leo", "Zoe", "Ben", "Ivy", "Max", "Lily", "Noah", "Emma", "Omar",
    "Sara", "Raj", "Nina",
];
/// (item, container, containers)
const ITEMS: &[(&str, &str, &str)] = &[
    ("apples", "bag", "bags"),
    ("marbles", "jar", "jars"),
    ("stickers", "pack", "packs"),
    ("pencils", "box", "boxes"),
    ("cookies", "tray", "trays"),
    ("cards", "deck", "decks"),
    ("eggs", "carton", "cartons"),
    ("stamps", "sheet", "sheets"),
];

/// Generates one problem.
fn one(rng: &mut SplitMix, p: &ArithmeticParams) -> Problem {
    let name = rng.pick(NAMES);
    let (item, container, containers) = ITEMS[(rng.next() % ITEMS.len() as u64) as usize];
    let m = p.max_operand.max(2);
    let mut total = rng.range(2, m);
    let mut text = format!("{name} has {total} {item}.");
    let n_ops = rng.range(
        p.min_ops.max(1) as u64,
        p.max_ops.max(p.min_ops.max(1)) as u64,
    ) as usize;
    for k in 0..n_ops {
        let then = if k == 0 { "" } else { "Then " };
        let he = name;
        loop {
            match rng.next() % 5 {
                0 => {
                    let a = rng.range(1, m);
                    total += a;
                    text += &format!(" {then}{he} finds {a} more {item}.");
                }
                1 => {
                    let (a, b) = (rng.range(2, m), rng.range(2, m));
                    total += a * b;
                    text += &format!(
                        " {then}{he} buys {a} {containers} with {b} {item} in each {container}."
                    );
                }
                2 => {
                    if total < 2 {
                        continue;
                    }
                    let a = rng.range(1, (total - 1).min(m));
                    total -= a;
                    text += &format!(" {then}{he} gives away {a} {item}.");
                }
                3 => {
                    if total > 200 {
                        continue;
                    }
                    let f = rng.range(2, 3);
                    total *= f;
                    let w = if f == 2 { "doubles" } else { "triples" };
                    text += &format!(" {then}{he} {w} the number of {item}.");
                }
                _ => {
                    let divisors: Vec<u64> = (2..=m.min(10))
                        .filter(|&d| total.is_multiple_of(d))
                        .collect();
                    if divisors.is_empty() {
                        continue;
                    }
                    let d = divisors[(rng.next() % divisors.len() as u64) as usize];
                    total /= d;
                    text += &format!(
                        " {then}{he} shares the {item} equally among {d} people (counting {he}) and keeps one share."
                    );
                }
            }
            break;
        }
    }
    text += &format!(" How many {item} does {name} have now?");
    Problem {
        problem: text,
        answer: total.to_string(),
    }
}

/// `n_train` and `n_heldout` problems from `seed`, disjoint by problem text.
pub fn generate_splits(
    seed: u64,
    n_train: usize,
    n_heldout: usize,
    p: &ArithmeticParams,
) -> (Vec<Problem>, Vec<Problem>) {
    let mut rng = SplitMix(seed);
    let mut seen = HashSet::new();
    let mut take = |n: usize, rng: &mut SplitMix| {
        let mut out = Vec::with_capacity(n);
        let mut attempts = 0usize;
        while out.len() < n && attempts < n * 1000 + 1000 {
            attempts += 1;
            let q = one(rng, p);
            if seen.insert(q.problem.clone()) {
                out.push(q);
            }
        }
        out
    };
    let train = take(n_train, &mut rng);
    let heldout = take(n_heldout, &mut rng);
    (train, heldout)
}

/// The committed default splits.
pub fn default_splits() -> (Vec<Problem>, Vec<Problem>) {
    generate_splits(
        DEFAULT_SEED,
        DEFAULT_TRAIN,
        DEFAULT_HELDOUT,
        &ArithmeticParams::default(),
    )
}

/// Tasks with ids `PREFIX/INDEX` from arithmetic problems.
pub fn to_tasks(problems: &[Problem], prefix: &str) -> Vec<Task> {
    problems
        .iter()
        .enumerate()
        .map(|(i, q)| Task::informal(format!("{prefix}/{i}"), q.problem.clone(), q.answer.clone()))
        .collect()
}

/// JSONL text of problems (one object per line).
pub fn to_jsonl(problems: &[Problem]) -> String {
    let mut s = String::new();
    for q in problems {
        s += &serde_json::to_string(q).expect("problem serializes");
        s.push('\n');
    }
    s
}

/// Writes `train.jsonl` and `heldout.jsonl` into `dir`.
pub fn write_splits(dir: &Path, train: &[Problem], heldout: &[Problem]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, ps) in [("train.jsonl", train), ("heldout.jsonl", heldout)] {
        let p = dir.join(name);
        std::fs::write(&p, to_jsonl(ps))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

/// Parses `{problem, answer}` JSONL text; `origin` names the source in errors, which give the
/// 1-based line.
pub fn parse_jsonl(text: &str, origin: &str) -> Result<Vec<Problem>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: Problem = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "{origin}:{}: expected {{\"problem\": string, \"answer\": string}}: {e}",
                i + 1
            )
        })?;
        out.push(q);
    }
    if out.is_empty() {
        bail!("{origin}: no problems");
    }
    Ok(out)
}

/// Reads a `{problem, answer}` JSONL file.
pub fn load_jsonl(path: &Path) -> Result<Vec<Problem>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_jsonl(&text, &path.display().to_string())
}
