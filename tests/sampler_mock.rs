//! The batched sampler against tiny deterministic mock decoders.
use candle_core::{Device, Tensor};
use prover::policy::decoder::Decoder;
use prover::policy::sampler::{generate, FinishReason, SampleError, SamplingParams};
use prover::policy::stop::Detokenize;
use prover::policy::token_choice::{log_softmax_at, sampling_distribution, Truncation};

/// A bigram model: the logits of the next token are `table[last token]`.
struct TableModel {
    table: Vec<Vec<f32>>,
    last: Vec<u32>,
    batch_sizes: Vec<usize>,
    steps: usize,
    /// Return logits of a wrong shape (to test the check).
    bad_shape: bool,
}

impl TableModel {
    fn new(table: Vec<Vec<f32>>) -> Self {
        Self {
            table,
            last: vec![],
            batch_sizes: vec![],
            steps: 0,
            bad_shape: false,
        }
    }
    fn logits(&self) -> candle_core::Result<Tensor> {
        let v = self.table.len() + usize::from(self.bad_shape);
        let data: Vec<f32> = self
            .last
            .iter()
            .flat_map(|&t| {
                let mut row = self.table[t as usize].clone();
                row.resize(v, 0.0);
                row
            })
            .collect();
        Tensor::from_vec(data, (self.last.len(), v), &Device::Cpu)
    }
}

impl Decoder for TableModel {
    fn vocab_size(&self) -> usize {
        self.table.len()
    }
    fn prefill(&mut self, prompts: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        self.batch_sizes.push(prompts.len());
        self.last = prompts.iter().map(|p| *p.last().unwrap()).collect();
        self.logits()
    }
    fn step(&mut self, tokens: &[u32]) -> candle_core::Result<Tensor> {
        assert_eq!(tokens.len(), self.last.len(), "one token per row");
        self.steps += 1;
        self.last = tokens.to_vec();
        self.logits()
    }
}

/// Id 0 is the special EOS (decodes to nothing); id i ≥ 1 decodes to the letter `'a' + i - 1`.
struct Letters;
impl Detokenize for Letters {
    fn detokenize(&self, ids: &[u32]) -> Result<String, String> {
        Ok(ids
            .iter()
            .filter(|&&i| i != 0)
            .map(|&i| char::from(b'a' + (i - 1) as u8))
            .collect())
    }
}

/// Greedy chain model over `v` tokens: after token t the argmax is `next(t)`, with a margin.
fn chain(v: usize, next: impl Fn(usize) -> usize) -> Vec<Vec<f32>> {
    (0..v)
        .map(|t| {
            (0..v)
                .map(|j| if j == next(t) { 3.0 } else { (j as f32) * 0.1 })
                .collect()
        })
        .collect()
}

/// A fixed distribution whatever the context.
fn constant(logits: &[f32]) -> Vec<Vec<f32>> {
    vec![logits.to_vec(); logits.len()]
}

fn softmax(z: &[f32], t: f32) -> Vec<f64> {
    let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let w: Vec<f64> = z
        .iter()
        .map(|&x| (f64::from(x - m) / f64::from(t)).exp())
        .collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|x| x / s).collect()
}

fn params() -> SamplingParams {
    SamplingParams {
        max_new_tokens: 8,
        max_context: 1000,
        ..Default::default()
    }
}

#[test]
fn greedy_picks_argmax_and_reports_raw_log_softmax() {
    let table = chain(6, |t| (t % 5) + 1); // 1→2→3→4→5→1…, never EOS (0)
    let mut m = TableModel::new(table.clone());
    let p = SamplingParams {
        temperature: 0.0,
        eos_ids: vec![0],
        ..params()
    };
    let out = generate(&mut m, &Letters, &[vec![3]], &p).unwrap();
    assert_eq!(out.len(), 1);
    let s = &out[0];
    assert_eq!(s.token_ids, [4, 5, 1, 2, 3, 4, 5, 1]);
    assert_eq!(s.text, "deabcdea");
    assert_eq!(s.finish, FinishReason::Length);
    assert!(
        s.logprobs.iter().all(|&l| l == 0.0),
        "greedy samples a point mass"
    );
    let mut prev = 3usize;
    for (k, &tok) in s.token_ids.iter().enumerate() {
        let want = log_softmax_at(&table[prev], tok as usize).unwrap();
        assert!((s.policy_logprobs[k] - want).abs() < 1e-6);
        prev = tok as usize;
    }
}

#[test]
fn seeded_sampling_is_reproducible_and_seeds_differ() {
    let z: Vec<f32> = (0..20).map(|i| (i as f32 * 0.37).sin()).collect();
    let run = |seed: u64, max_rows: usize| {
        let mut m = TableModel::new(constant(&z));
        let p = SamplingParams {
            seed,
            samples: 4,
            max_rows,
            max_new_tokens: 16,
            ..params()
        };
        generate(&mut m, &Letters, &[vec![1], vec![2, 3]], &p).unwrap()
    };
    let a = run(7, 0);
    assert_eq!(a.len(), 8);
    assert_eq!(a, run(7, 0), "same seed, same samples");
    assert_eq!(a, run(7, 3), "the samples do not depend on the batch size");
    let b = run(8, 0);
    assert_ne!(a, b, "different seeds differ");
    // Rows of the same run differ from each other (independent streams).
    assert_ne!(a[0].token_ids, a[1].token_ids);
    // Order: prompt-major.
    let order: Vec<(usize, usize)> = a.iter().map(|s| (s.prompt_index, s.sample_index)).collect();
    assert_eq!(
        order,
        [
            (0, 0),
            (0, 1),
            (0, 2),
            (0, 3),
            (1, 0),
            (1, 1),
            (1, 2),
            (1, 3)
        ]
    );
}

#[test]
fn chunked_batches_respect_max_rows() {
    let z: Vec<f32> = (0..10).map(|i| i as f32 * 0.1).collect();
    let mut m = TableModel::new(constant(&z));
    let p = SamplingParams {
        samples: 3,
        max_rows: 4,
        ..params()
    };
    let out = generate(&mut m, &Letters, &[vec![1], vec![2], vec![3]], &p).unwrap();
    assert_eq!(out.len(), 9);
    assert_eq!(m.batch_sizes, [4, 4, 1]);
}

#[test]
fn top_k_one_equals_greedy() {
    let z: Vec<f32> = (0..30).map(|i| ((i * 7919) % 31) as f32 * 0.2).collect();
    let table = (0..30)
        .map(|t| {
            z.iter()
                .map(|x| x + ((t * 3) % 7) as f32 * (x / 6.0).sin())
                .collect()
        })
        .collect::<Vec<_>>();
    let greedy = generate(
        &mut TableModel::new(table.clone()),
        &Letters,
        &[vec![5]],
        &SamplingParams {
            temperature: 0.0,
            max_new_tokens: 12,
            ..params()
        },
    )
    .unwrap();
    for seed in 0..5 {
        let k1 = generate(
            &mut TableModel::new(table.clone()),
            &Letters,
            &[vec![5]],
            &SamplingParams {
                temperature: 1.3,
                top_k: 1,
                seed,
                max_new_tokens: 12,
                ..params()
            },
        )
        .unwrap();
        assert_eq!(k1[0].token_ids, greedy[0].token_ids);
        assert_eq!(k1[0].policy_logprobs, greedy[0].policy_logprobs);
        assert!(
            k1[0].logprobs.iter().all(|&l| l.abs() < 1e-7),
            "one kept token has probability 1"
        );
    }
}

#[test]
fn top_p_keeps_the_smallest_set_reaching_p() {
    let probs = [0.5f32, 0.3, 0.15, 0.05];
    let z: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
    let kept = |p: f32| {
        let mut ids: Vec<u32> = sampling_distribution(
            &z,
            &Truncation {
                temperature: 1.0,
                top_k: 0,
                top_p: p,
            },
        )
        .unwrap()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
        ids.sort();
        ids
    };
    assert_eq!(kept(0.2), [0]);
    assert_eq!(kept(0.5), [0]);
    assert_eq!(kept(0.51), [0, 1]);
    assert_eq!(kept(0.79), [0, 1]);
    assert_eq!(kept(0.81), [0, 1, 2]);
    assert_eq!(kept(0.96), [0, 1, 2, 3]);
    assert_eq!(kept(1.0), [0, 1, 2, 3]);
    // Renormalised over the kept set.
    let d = sampling_distribution(
        &z,
        &Truncation {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.7,
        },
    )
    .unwrap();
    let p0 = d.iter().find(|(i, _)| *i == 0).unwrap().1;
    assert!((p0 - 0.5 / 0.8).abs() < 1e-6);
}

#[test]
fn top_p_on_a_large_vocabulary_matches_a_full_sort() {
    // 5000 tokens with a slowly decaying distribution: the nucleus needs several growth rounds.
    let v = 5000;
    let z: Vec<f32> = (0..v)
        .map(|i| -(((i * 2654435761usize) % 1000) as f32) * 0.004)
        .collect();
    for (t, k, p) in [
        (1.0f32, 0usize, 0.9f32),
        (0.7, 0, 0.5),
        (1.5, 3000, 0.95),
        (1.0, 100, 0.3),
        (1.0, 777, 1.0),
        (0.8, 0, 0.999),
        (2.0, 0, 0.2),
    ] {
        let got = sampling_distribution(
            &z,
            &Truncation {
                temperature: t,
                top_k: k,
                top_p: p,
            },
        )
        .unwrap();
        // Brute force: sort everything by (score desc, id asc), top-k, then the nucleus.
        let mut ids: Vec<usize> = (0..v).collect();
        ids.sort_by(|&a, &b| z[b].total_cmp(&z[a]).then(a.cmp(&b)));
        if k > 0 {
            ids.truncate(k);
        }
        let sub: Vec<f32> = ids.iter().map(|&i| z[i]).collect();
        let q = softmax(&sub, t);
        let mut cum = 0.0;
        let mut n = ids.len();
        for (j, qj) in q.iter().enumerate() {
            cum += qj;
            if cum >= f64::from(p) {
                n = j + 1;
                break;
            }
        }
        let mut want: Vec<usize> = ids[..n].to_vec();
        want.sort();
        let mut got_ids: Vec<usize> = got.iter().map(|(i, _)| *i as usize).collect();
        got_ids.sort();
        assert_eq!(got_ids, want, "T={t} k={k} p={p}");
        let total: f64 = got.iter().map(|(_, q)| q).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }
}

#[test]
fn empirical_frequencies_match_the_softmax() {
    let z = [2.0f32, 1.0, 0.5, 0.0, -1.0, -3.0];
    let n = 20_000;
    // (temperature, top-k, top-p, number of kept tokens). At T=1 the probabilities are
    // 0.531, 0.195, 0.118, 0.072, ...: top-p 0.8 keeps the first three (cum 0.844).
    for (t, k, top_p, kk) in [
        (1.0f32, 0usize, 1.0f32, 6usize),
        (0.7, 3, 1.0, 3),
        (1.0, 0, 0.8, 3),
    ] {
        let mut m = TableModel::new(constant(&z));
        let p = SamplingParams {
            temperature: t,
            top_k: k,
            top_p,
            samples: n,
            max_new_tokens: 1,
            seed: 42,
            ..params()
        };
        let out = generate(&mut m, &Letters, &[vec![1]], &p).unwrap();
        let mut counts = [0usize; 6];
        for s in &out {
            counts[s.token_ids[0] as usize] += 1;
        }
        let expect = softmax(&z[..kk], t); // z is sorted descending: the kept set is a prefix
        for i in 0..6 {
            let f = counts[i] as f64 / n as f64;
            let e = if i < kk { expect[i] } else { 0.0 };
            assert!(
                (f - e).abs() < 0.012,
                "T={t} k={k} token {i}: frequency {f} vs softmax {e}"
            );
        }
        // The reported sampling log-prob is log of that same distribution.
        for s in out.iter().take(50) {
            let i = s.token_ids[0] as usize;
            assert!((f64::from(s.logprobs[0]) - expect[i].ln()).abs() < 1e-5);
        }
    }
}

#[test]
fn logprobs_equal_log_softmax_of_the_mock_logits() {
    let table: Vec<Vec<f32>> = (0..12)
        .map(|t| {
            (0..12)
                .map(|j| (((t * 5 + j * 3) % 11) as f32) * 0.45 - 2.0)
                .collect()
        })
        .collect();
    let mut m = TableModel::new(table.clone());
    let p = SamplingParams {
        samples: 3,
        max_new_tokens: 20,
        seed: 3,
        ..params()
    };
    let out = generate(&mut m, &Letters, &[vec![4], vec![9, 2]], &p).unwrap();
    for s in &out {
        let mut prev = if s.prompt_index == 0 { 4 } else { 2 };
        for (k, &tok) in s.token_ids.iter().enumerate() {
            let want = log_softmax_at(&table[prev], tok as usize).unwrap();
            assert!(
                (s.logprobs[k] - want).abs() < 1e-5,
                "sampling log-prob at T=1 without truncation"
            );
            assert!(
                (s.policy_logprobs[k] - want).abs() < 1e-5,
                "policy log-prob"
            );
            prev = tok as usize;
        }
    }
    // With a temperature, `logprobs` is the tempered distribution, `policy_logprobs` the raw one.
    let mut m = TableModel::new(table.clone());
    let p = SamplingParams {
        temperature: 0.5,
        max_new_tokens: 10,
        ..params()
    };
    let out = generate(&mut m, &Letters, &[vec![4]], &p).unwrap();
    let mut prev = 4;
    for (k, &tok) in out[0].token_ids.iter().enumerate() {
        let scaled: Vec<f32> = table[prev].iter().map(|z| z / 0.5).collect();
        assert!((out[0].logprobs[k] - log_softmax_at(&scaled, tok as usize).unwrap()).abs() < 1e-5);
        assert!(
            (out[0].policy_logprobs[k] - log_softmax_at(&table[prev], tok as usize).unwrap()).abs()
                < 1e-5
        );
        assert!(
            (out[0].tempered_logprobs[k] - log_softmax_at(&scaled, tok as usize).unwrap()).abs()
                < 1e-5
        );
        prev = tok as usize;
    }
    // With top-p truncation, `logprobs` is renormalised over the kept tokens; the tempered
    // log-prob (what the trainer scores at this temperature) is not.
    let mut m = TableModel::new(table.clone());
    let p = SamplingParams {
        temperature: 0.5,
        top_p: 0.5,
        max_new_tokens: 10,
        ..params()
    };
    let out = generate(&mut m, &Letters, &[vec![4]], &p).unwrap();
    let mut prev = 4;
    let mut renormalised = 0;
    for (k, &tok) in out[0].token_ids.iter().enumerate() {
        let scaled: Vec<f32> = table[prev].iter().map(|z| z / 0.5).collect();
        let want = log_softmax_at(&scaled, tok as usize).unwrap();
        assert!((out[0].tempered_logprobs[k] - want).abs() < 1e-5);
        if out[0].logprobs[k] > want + 1e-4 {
            renormalised += 1;
        }
        prev = tok as usize;
    }
    assert!(renormalised > 0, "top-p 0.5 should renormalise some step");
}

#[test]
fn eos_and_stop_strings_finish_rows_independently() {
    // Chain over 8 tokens: 1→2→3→4→5→6→7→0(EOS)→1.
    let table = chain(8, |t| (t + 1) % 8);
    let mut m = TableModel::new(table);
    let p = SamplingParams {
        temperature: 0.0,
        eos_ids: vec![0],
        stop_strings: vec!["zz".into(), "cd".into()],
        max_new_tokens: 20,
        ..params()
    };
    // Row 0 starts after 5: 6 7 EOS → EOS after 3 tokens.
    // Row 1 starts after 1: 2 3 4 → "bcd" contains "cd" after 3 tokens.
    // Row 2 starts after 3: 4 5 6 7 EOS → EOS after 5 tokens (later than the others).
    let out = generate(&mut m, &Letters, &[vec![5], vec![1], vec![3]], &p).unwrap();
    assert_eq!(out[0].token_ids, [6, 7, 0]);
    assert_eq!(out[0].finish, FinishReason::Eos);
    assert_eq!(out[0].text, "fg");
    assert_eq!(out[1].token_ids, [2, 3, 4]);
    assert_eq!(out[1].finish, FinishReason::Stop);
    assert_eq!(out[1].stop_string.as_deref(), Some("cd"));
    assert_eq!(out[1].text, "b", "text is cut before the stop string");
    assert_eq!(out[2].token_ids, [4, 5, 6, 7, 0]);
    assert_eq!(out[2].finish, FinishReason::Eos);
    assert_eq!(out[2].text, "defg");
    assert_eq!(m.steps, 4, "the batch runs until its last row finishes");
}

#[test]
fn ignore_eos_generates_exactly_max_new_tokens() {
    let table = chain(4, |_| 0); // EOS is always the argmax
    for ignore_eos in [false, true] {
        let mut m = TableModel::new(table.clone());
        let p = SamplingParams {
            eos_ids: vec![0],
            ignore_eos,
            max_new_tokens: 17,
            samples: 3,
            ..params()
        };
        let out = generate(&mut m, &Letters, &[vec![1]], &p).unwrap();
        for s in &out {
            if ignore_eos {
                assert_eq!(s.token_ids.len(), 17);
                assert_eq!(s.finish, FinishReason::Length);
            } else {
                assert_eq!(s.finish, FinishReason::Eos);
                assert_eq!(*s.token_ids.last().unwrap(), 0);
            }
        }
    }
}

#[test]
fn context_limit_ends_rows_and_long_prompts_are_rejected() {
    let table = chain(5, |t| (t % 4) + 1);
    let mut m = TableModel::new(table.clone());
    let p = SamplingParams {
        temperature: 0.0,
        max_new_tokens: 50,
        max_context: 10,
        ..params()
    };
    let out = generate(&mut m, &Letters, &[vec![1, 2, 3, 4, 1, 2], vec![3]], &p).unwrap();
    assert_eq!(out[0].token_ids.len(), 4);
    assert_eq!(out[0].finish, FinishReason::Context);
    assert_eq!(out[1].token_ids.len(), 9);
    assert_eq!(out[1].finish, FinishReason::Context);
    let e = generate(&mut m, &Letters, &[vec![1], vec![1; 10]], &p).unwrap_err();
    assert!(matches!(e, SampleError::Prompt { index: 1, .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("prompt 1") && msg.contains("10 tokens") && msg.contains("context of 10"),
        "{msg}"
    );
}

#[test]
fn bad_input_errors_clearly() {
    let table = chain(5, |t| (t % 4) + 1);
    let mut m = TableModel::new(table.clone());
    let e = generate(&mut m, &Letters, &[vec![]], &params())
        .unwrap_err()
        .to_string();
    assert!(e.contains("prompt 0") && e.contains("empty"), "{e}");
    let e = generate(&mut m, &Letters, &[vec![1, 7]], &params())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("token id 7") && e.contains("vocabulary of 5"),
        "{e}"
    );
    for (p, what) in [
        (
            SamplingParams {
                top_p: 0.0,
                ..params()
            },
            "top_p",
        ),
        (
            SamplingParams {
                temperature: -1.0,
                ..params()
            },
            "temperature",
        ),
        (
            SamplingParams {
                temperature: f32::NAN,
                ..params()
            },
            "temperature",
        ),
        (
            SamplingParams {
                samples: 0,
                ..params()
            },
            "samples",
        ),
    ] {
        let e = generate(&mut m, &Letters, &[vec![1]], &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains(what), "{e}");
    }
    let mut bad = TableModel::new(table.clone());
    bad.bad_shape = true;
    let e = generate(&mut bad, &Letters, &[vec![1]], &params())
        .unwrap_err()
        .to_string();
    assert!(e.contains("shape") && e.contains("[1, 5]"), "{e}");
    let mut nan = table;
    nan[1][2] = f32::NAN;
    let e = generate(&mut TableModel::new(nan), &Letters, &[vec![1]], &params())
        .unwrap_err()
        .to_string();
    assert!(e.contains("NaN"), "{e}");
    // max_new_tokens = 0: nothing generated, the model is not called.
    let mut m = TableModel::new(chain(5, |t| (t % 4) + 1));
    let out = generate(
        &mut m,
        &Letters,
        &[vec![1]],
        &SamplingParams {
            max_new_tokens: 0,
            ..params()
        },
    )
    .unwrap();
    assert!(out[0].token_ids.is_empty() && m.batch_sizes.is_empty());
}
