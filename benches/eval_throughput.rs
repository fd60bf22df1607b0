//! Evaluation throughput of `prover eval math` on CPU (problems/minute), through the same code
//! the command runs: the SmolLM2 policy, the qwen25-math-cot chat prompt, greedy decoding and
//! the answer checker, over the committed held-out arithmetic problems
//! (`datasets/arithmetic/heldout.jsonl`, so no shared data is needed). Rows vary how many
//! problems share one generation batch and the response budget.
//!
//! usage: cargo bench --bench eval_throughput [-- MODEL] [--problems N]
//! (default model models/smollm2-135m-instruct/, N = 32)
use std::time::Instant;

use prover::data::benchmarks::{read_informal, AnswerField};
use prover::eval::math::{run_math_eval, Graded, MathEvalSettings};
use prover::eval::prompts::{MathPrompt, MathPromptStyle};
use prover::rl::completion_source::PolicySource;
use prover::rl::traits::SamplingParams;
use prover::rl::transformer_policy::TransformerPolicy;
use prover::verify::answer::AnswerChecker;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut problems = 32usize;
    let mut model = "models/smollm2-135m-instruct/".to_string();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--problems" => {
                problems = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(problems);
                i += 1;
            }
            "--bench" => {}
            a if !a.starts_with("--") => model = a.to_string(),
            _ => {}
        }
        i += 1;
    }
    if !std::path::Path::new(&model).exists() {
        println!("skipping: {model} not found (run scripts/fetch-model.sh)");
        return Ok(());
    }
    let mut tasks = read_informal(
        std::path::Path::new("datasets/arithmetic/heldout.jsonl"),
        &AnswerField::parse("answer"),
    )?;
    tasks.truncate(problems);
    let t_load = Instant::now();
    let mut policy = TransformerPolicy::load(&model, true, 0, 16.0, false)?;
    eprintln!("model loaded in {:.1} s", t_load.elapsed().as_secs_f64());
    let checker = AnswerChecker::new(prover::verify::answer::CheckerConfig::lenient());
    let grade = |r: &str, s: &str| {
        let v = checker.check(r, s);
        Graded {
            correct: v.correct,
            extracted: v.extracted,
        }
    };
    println!(
        "eval throughput, {} problems, greedy, f32 CPU ({} threads)",
        tasks.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:>14} {:>10} {:>10} {:>12} {:>10} {:>9}",
        "batch problems", "max tokens", "seconds", "problems/min", "tokens/s", "accuracy"
    );
    for (batch, max_new) in [(1usize, 48usize), (8, 48), (32, 48), (8, 128)] {
        let mut source = PolicySource::new(
            &mut policy,
            SamplingParams {
                temperature: 0.0,
                top_p: 1.0,
                max_new_tokens: max_new,
                stop_strings: Vec::new(),
            },
            0,
        );
        let settings = MathEvalSettings {
            prompt: MathPrompt::new(MathPromptStyle::Chat),
            samples: 1,
            batch_problems: batch,
            out: None,
            progress: false,
        };
        let t0 = Instant::now();
        let (s, _) = run_math_eval(&tasks, &mut source, &grade, &settings)?;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{:>14} {:>10} {:>10.1} {:>12.1} {:>10.1} {:>8.1}%",
            batch,
            max_new,
            secs,
            s.problems as f64 / (secs / 60.0),
            s.generated_tokens as f64 / secs,
            100.0 * s.accuracy
        );
    }
    Ok(())
}
