//! A [`Policy`] as the [`CompletionSource`] of the evaluation loops: `prover eval` and the
//! trainer's held-out evaluation both sample through it. Call `k` (from 0) of
//! [`CompletionSource::complete`] samples with seed `seed + k` (wrapping), so a resumed or
//! repeated evaluation draws the same completions batch by batch.
use anyhow::Result;

use crate::prompt::source::{Completion, CompletionSource, Prompt};
use crate::rl::traits::{Policy, SamplingParams};

/// The policy `P` sampling with fixed settings (stop strings included) for an evaluation.
pub struct PolicySource<'a, P: Policy> {
    policy: &'a mut P,
    params: SamplingParams,
    seed: u64,
    calls: u64,
}

impl<'a, P: Policy> PolicySource<'a, P> {
    /// Samples from `policy` with `params`; the first call uses `seed`.
    pub fn new(policy: &'a mut P, params: SamplingParams, seed: u64) -> Self {
        PolicySource {
            policy,
            params,
            seed,
            calls: 0,
        }
    }
}

impl<P: Policy> CompletionSource for PolicySource<'_, P> {
    fn complete(&mut self, prompts: &[Prompt], n: usize) -> Result<Vec<Vec<Completion>>> {
        let seed = self.seed.wrapping_add(self.calls);
        self.calls += 1;
        let rolls = self.policy.generate(prompts, n, &self.params, seed)?;
        Ok(rolls
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|r| Completion {
                        tokens: r.completion_ids.len(),
                        text: r.text,
                    })
                    .collect()
            })
            .collect())
    }
}
