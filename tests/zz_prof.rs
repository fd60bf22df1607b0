use std::time::Instant;
use candle_core::{DType, D};
use prover::policy::decode::PolicyDecoder;
use prover::policy::decoder::Decoder;
use prover::policy::model::Transformer;
fn cpu() -> f64 { let mut r: libc::rusage = unsafe { std::mem::zeroed() }; unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) }; r.ru_utime.tv_sec as f64 + r.ru_utime.tv_usec as f64 * 1e-6 + r.ru_stime.tv_sec as f64 + r.ru_stime.tv_usec as f64*1e-6 }
#[test]
fn prof() {
    let (cfg, params) = prover::policy::weights::load_params(std::path::Path::new("models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let m = Transformer::new_inference(&cfg, &params, DType::F32).unwrap();
    let prompts: Vec<Vec<u32>> = (0..16).map(|r| (0..40+r).map(|i| (i*7+r*3+100) as u32).collect()).collect();
    let mut dec = PolicyDecoder::new(m);
    let (w0, c0) = (Instant::now(), cpu());
    let mut l = dec.prefill(&prompts).unwrap();
    eprintln!("prefill wall {:.3} cpu {:.3}", w0.elapsed().as_secs_f64(), cpu()-c0);
    let (w0, c0) = (Instant::now(), cpu());
    for _ in 0..16 { let n: Vec<u32> = l.argmax(D::Minus1).unwrap().to_vec1().unwrap(); l = dec.step(&n).unwrap(); }
    eprintln!("16 steps wall {:.3} cpu {:.3}", w0.elapsed().as_secs_f64(), cpu()-c0);
}
