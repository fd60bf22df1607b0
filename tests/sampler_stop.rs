//! Stop-string detection through the real SmolLM2 tokenizer: multi-byte characters split across
//! byte-level tokens, and stop strings spanning token boundaries.
mod common;

use prover::policy::stop::{find_stop, Detokenize, StopScanner};
use prover::policy::tokenizer::PolicyTokenizer;

fn tokenizer() -> Option<PolicyTokenizer> {
    let dir = common::tiny_model("tiny-llama")?;
    Some(PolicyTokenizer::from_hf_dir(&dir).unwrap())
}

#[test]
fn incremental_text_equals_full_decode() {
    let Some(tk) = tokenizer() else { return };
    let text = "Ünïcödé 🤖🚀 日本語 and math ∀x∈ℝ: x² ≥ 0.\n\nThe answer is \\boxed{42}.";
    let ids = tk.encode(text, false).unwrap();
    let mut sc = StopScanner::new();
    let mut partial_seen = false;
    for n in 1..=ids.len() {
        assert_eq!(sc.update(&ids[..n], &tk, &[]).unwrap(), None);
        assert!(
            !sc.text().contains('\u{FFFD}'),
            "no broken characters in the incremental text"
        );
        assert!(text.starts_with(sc.text()));
        partial_seen |= sc.text().len() < tk.detokenize(&ids[..n]).unwrap().len();
    }
    assert_eq!(sc.text(), text);
    assert!(
        partial_seen,
        "some character spans several tokens (the scanner waited for it)"
    );
}

#[test]
fn stop_string_found_at_the_token_that_completes_it() {
    let Some(tk) = tokenizer() else { return };
    let stops = vec!["</answer>".to_string(), "🚀".to_string()];
    for (text, stop_at, want_before) in [
        (
            "Let me think. <answer>12</answer> trailing",
            "</answer>",
            "Let me think. <answer>12",
        ),
        ("emoji 🤖🚀 after", "🚀", "emoji 🤖"),
    ] {
        let ids = tk.encode(text, false).unwrap();
        let mut sc = StopScanner::new();
        let mut hit = None;
        for n in 1..=ids.len() {
            if let Some(h) = sc.update(&ids[..n], &tk, &stops).unwrap() {
                hit = Some((n, h));
                break;
            }
        }
        let (n, (pos, k)) = hit.expect("stop string detected");
        assert_eq!(stops[k], stop_at);
        assert_eq!(&sc.text()[..pos], want_before);
        // It is detected exactly when the decoded prefix first contains it.
        let decoded = tk.detokenize(&ids[..n]).unwrap();
        assert!(decoded.contains(stop_at));
        assert!(!tk.detokenize(&ids[..n - 1]).unwrap().contains(stop_at));
        assert_eq!(find_stop(&decoded, &stops, 0).map(|(p, _)| p), Some(pos));
    }
}

/// A detokenizer that is not prefix-stable: "x" followed by "y" decodes to "Z" (a ligature),
/// so decoding one more token can rewrite earlier text.
struct Ligature;
impl Detokenize for Ligature {
    fn detokenize(&self, ids: &[u32]) -> Result<String, String> {
        let s: String = ids.iter().map(|&i| char::from(b'a' + i as u8)).collect();
        Ok(s.replace("xy", "Z"))
    }
}

#[test]
fn non_prefix_stable_decoders_still_stop() {
    // a b x y c d → "abZcd"
    let ids = [0u32, 1, 23, 24, 2, 3];
    let stops = vec!["Zc".to_string()];
    let mut sc = StopScanner::new();
    let mut hit = None;
    for n in 1..=ids.len() {
        if let Some(h) = sc.update(&ids[..n], &Ligature, &stops).unwrap() {
            hit = Some((n, h));
            break;
        }
    }
    let (n, (pos, _)) = hit.expect("found");
    assert_eq!(n, 5);
    assert_eq!(&sc.text()[..pos], "ab");
    assert_eq!(sc.text(), "abZc");
}

/// `rl::traits::SamplingParams::stop_strings` reach the transformer policy's sampler: with a
/// stop string taken from the middle of a greedy completion, the same greedy completion ends
/// just before its first occurrence.
#[test]
fn the_policy_stops_at_the_stop_strings_of_its_sampling_params() {
    use prover::rl::traits::{Policy, Prompt, SamplingParams};
    use prover::rl::transformer_policy::TransformerPolicy;
    let Some(dir) = common::tiny_model("tiny-llama") else {
        return;
    };
    let mut policy = TransformerPolicy::load(dir.to_str().unwrap(), false, 0, 16.0, false).unwrap();
    let prompts = [Prompt::Raw("The answer is".into())];
    let mut params = SamplingParams {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: 16,
        stop_strings: Vec::new(),
    };
    let free = policy.generate(&prompts, 1, &params, 0).unwrap()[0][0].clone();
    let chars: Vec<char> = free.text.chars().collect();
    assert!(
        chars.len() >= 8,
        "a long enough completion: {:?}",
        free.text
    );
    let stop: String = chars[chars.len() / 2..chars.len() / 2 + 3].iter().collect();
    params.stop_strings = vec![stop.clone()];
    let stopped = policy.generate(&prompts, 1, &params, 0).unwrap()[0][0].clone();
    let cut = free.text.find(&stop).unwrap();
    assert_eq!(stopped.text, free.text[..cut], "stop string {stop:?}");
    assert!(
        !stopped.truncated,
        "it ended at the stop string, not at the length limit"
    );
    assert!(stopped.completion_ids.len() <= free.completion_ids.len());
    assert_eq!(
        stopped.completion_ids[..],
        free.completion_ids[..stopped.completion_ids.len()],
        "the same greedy tokens up to the stop"
    );
}
