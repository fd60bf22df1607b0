//! Per-token cost of the sampler on real SmolLM2 logit rows (49152 entries) from
//! `../shared/fixtures/reference-logits` (synthetic rows when absent), against a naive
//! full-sort top-k/top-p, and of incremental stop-string scanning with the real tokenizer.
//! Run: `cargo bench --bench sampler`.
use std::path::PathBuf;
use std::time::Instant;

use candle_core::Device;
use prover::policy::stop::StopScanner;
use prover::policy::token_choice::{choose, Scratch, Truncation};
use prover::policy::tokenizer::PolicyTokenizer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn rows() -> (Vec<Vec<f32>>, &'static str) {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/reference-logits/reference_logits_full.safetensors"
    ));
    if let Ok(map) = candle_core::safetensors::load(&p, &Device::Cpu) {
        if let Some(t) = map.get("a_add.logits") {
            return (
                t.to_vec2::<f32>().unwrap(),
                "SmolLM2 a_add.logits (49 rows)",
            );
        }
    }
    eprintln!("note: {} missing; using synthetic rows", p.display());
    let mut rng = StdRng::seed_from_u64(0);
    let rows = (0..49)
        .map(|_| (0..49152).map(|_| rng.gen::<f32>() * 20.0 - 10.0).collect())
        .collect();
    (rows, "synthetic uniform(-10,10) rows")
}

/// Naive reference: scale, sort the whole vocabulary, cut top-k / top-p, sample.
fn naive(z: &[f32], t: &Truncation, rng: &mut StdRng) -> u32 {
    let s: Vec<f32> = z.iter().map(|x| x / t.temperature).collect();
    let mut idx: Vec<u32> = (0..z.len() as u32).collect();
    idx.sort_by(|&a, &b| s[b as usize].total_cmp(&s[a as usize]));
    if t.top_k > 0 {
        idx.truncate(t.top_k);
    }
    let m = s[idx[0] as usize];
    let w: Vec<f64> = idx
        .iter()
        .map(|&i| f64::from(s[i as usize] - m).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let mut n = w.len();
    let mut cum = 0.0;
    for (j, wj) in w.iter().enumerate() {
        cum += wj / total;
        if cum >= f64::from(t.top_p) {
            n = j + 1;
            break;
        }
    }
    let kept: f64 = w[..n].iter().sum();
    let u = rng.gen::<f64>() * kept;
    let mut c = 0.0;
    for j in 0..n {
        c += w[j];
        if c > u {
            return idx[j];
        }
    }
    idx[n - 1]
}

fn main() {
    let (rows, what) = rows();
    let reps = 20;
    println!(
        "sampler per-row cost, vocab {}, {what}, {reps} passes",
        rows[0].len()
    );
    println!(
        "{:<28} {:>14} {:>18}",
        "settings", "choose µs/row", "full-sort µs/row"
    );
    let settings = [
        (
            "greedy",
            Truncation {
                temperature: 0.0,
                top_k: 0,
                top_p: 1.0,
            },
        ),
        (
            "T=1",
            Truncation {
                temperature: 1.0,
                top_k: 0,
                top_p: 1.0,
            },
        ),
        (
            "T=0.7 top-k 50",
            Truncation {
                temperature: 0.7,
                top_k: 50,
                top_p: 1.0,
            },
        ),
        (
            "T=1 top-p 0.95",
            Truncation {
                temperature: 1.0,
                top_k: 0,
                top_p: 0.95,
            },
        ),
        (
            "T=0.6 top-p 0.9 top-k 20",
            Truncation {
                temperature: 0.6,
                top_k: 20,
                top_p: 0.9,
            },
        ),
    ];
    let mut scratch = Scratch::default();
    for (name, t) in settings {
        let mut rng = StdRng::seed_from_u64(1);
        let start = Instant::now();
        let mut sink = 0u64;
        for _ in 0..reps {
            for z in &rows {
                sink += u64::from(choose(z, &t, &mut rng, &mut scratch).unwrap().token);
            }
        }
        let ours = start.elapsed().as_secs_f64() * 1e6 / (reps * rows.len()) as f64;
        let naive_us = if t.temperature > 0.0 {
            let start = Instant::now();
            for _ in 0..reps {
                for z in &rows {
                    sink += u64::from(naive(z, &t, &mut rng));
                }
            }
            format!(
                "{:.1}",
                start.elapsed().as_secs_f64() * 1e6 / (reps * rows.len()) as f64
            )
        } else {
            "-".into()
        };
        std::hint::black_box(sink);
        println!("{name:<28} {ours:>14.1} {naive_us:>18}");
    }
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/tiny-models/tiny-llama"
    ));
    if let Ok(tk) = PolicyTokenizer::from_hf_dir(&dir) {
        let text = "Let me compute: 12 + 7 = 19, so the answer is $\\boxed{19}$. ".repeat(40);
        let ids = tk.encode(&text, false).unwrap();
        let stops = vec!["</answer>".to_string(), "\n\nQuestion:".to_string()];
        let start = Instant::now();
        let mut sc = StopScanner::new();
        for n in 1..=ids.len() {
            assert!(sc.update(&ids[..n], &tk, &stops).unwrap().is_none());
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / ids.len() as f64;
        println!(
            "stop-string scan: {us:.2} µs/token over a {}-token row",
            ids.len()
        );
    }
}
