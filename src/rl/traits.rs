//! The traits the trainer drives: a [`Policy`] that samples and scores, and a [`Rewarder`]
//! that judges completions. The real transformer and the verifiers implement them; tests use
//! the tiny model of [`crate::rl::toy`].
use anyhow::Result;
use candle_core::{Tensor, Var};

use crate::data::Task;
pub use crate::prompt::source::Prompt;
use crate::verify::Status;

/// Sampling settings for one call to [`Policy::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Temperature (0 = greedy).
    pub temperature: f64,
    /// Nucleus threshold (1 = off).
    pub top_p: f64,
    /// Max new tokens per completion.
    pub max_new_tokens: usize,
    /// Stop strings (an evaluation protocol's, see [`crate::policy::stop`]): a completion ends
    /// at the first one, its text cut before it. Empty: EOS and `max_new_tokens` only (what
    /// the trainer uses). A policy that cannot stop at text says so in its docs.
    pub stop_strings: Vec<String>,
}

/// One sampled completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// The prompt as the policy tokenized it (template applied).
    pub prompt_ids: Vec<u32>,
    /// Generated token ids (EOS included if generated; nothing after it).
    pub completion_ids: Vec<u32>,
    /// Decoded completion text (what the verifier sees).
    pub text: String,
    /// Per-token log-probs of the chosen tokens under `softmax(logits / temperature)` (no
    /// top-p renormalization, so they match [`Policy::score`]), if the sampler records them;
    /// used as `logπ_old` when a batch is reused for several updates (otherwise a scoring
    /// pass computes them).
    pub sampling_logp: Option<Vec<f32>>,
    /// True when generation stopped at `max_new_tokens` without EOS.
    pub truncated: bool,
}

/// A (prompt, completion) pair to score.
#[derive(Debug, Clone, Copy)]
pub struct ScoreItem<'a> {
    /// Prompt ids.
    pub prompt_ids: &'a [u32],
    /// Completion ids (may be empty).
    pub completion_ids: &'a [u32],
}

/// Per-token scores of a batch, padded to the longest completion `T` of the batch.
#[derive(Debug, Clone)]
pub struct ScoreOut {
    /// `logπ(y_t | prompt, y_<t)` `[B, T]` f32 with logits / temperature; differentiable
    /// w.r.t. [`Policy::trainable`].
    pub logp: Tensor,
    /// Entropy of each next-token distribution `[B, T]` f32, differentiable.
    pub entropy: Tensor,
    /// `[B, T]` f32: 1 for completion tokens, 0 for padding.
    pub mask: Tensor,
}

/// A trainable language-model policy.
pub trait Policy {
    /// Samples `group_size` completions for each prompt (a [`Prompt::Chat`] goes through the
    /// policy's chat template, a [`Prompt::Raw`] is tokenized as it is). Returns one `Vec` of `group_size` rollouts per prompt, in order. Must
    /// be deterministic given `seed`. `params.temperature == 0` means greedy.
    fn generate(
        &mut self,
        prompts: &[Prompt],
        group_size: usize,
        params: &SamplingParams,
        seed: u64,
    ) -> Result<Vec<Vec<Rollout>>>;

    /// Teacher-forced per-token log-probs and entropies of the completions (see
    /// [`crate::policy::logprob::token_logp_entropy`] for a differentiable implementation from
    /// logits).
    fn score(&mut self, items: &[ScoreItem], temperature: f64) -> Result<ScoreOut>;

    /// Per-token log-probs `[B, T]` (same padding as [`Policy::score`]) under the frozen
    /// reference policy (the initial weights), or `None` when the policy keeps none. Only
    /// called when `loss.kl_coef ≠ 0`.
    fn reference_logp(
        &mut self,
        _items: &[ScoreItem],
        _temperature: f64,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// The trainable parameters (f32 masters; full weights or LoRA adapters), by unique name.
    /// They are what checkpoints save and what the optimizer updates.
    fn trainable(&self) -> Vec<(String, Var)>;

    /// The number of tokens `prompt` is given to the model as (after any chat template);
    /// `None` when the policy cannot tell (then no prompt-length limit is enforced).
    fn prompt_tokens(&self, _prompt: &Prompt) -> Result<Option<usize>> {
        Ok(None)
    }

    /// Called after every optimizer step (e.g. to copy f32 masters into bf16 weights or to
    /// drop caches).
    fn after_update(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What the rewarder says about one completion.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardOutcome {
    /// The verdict: accepted, rejected, or error (the verifier could not decide — crash,
    /// timeout of the checker itself, …: not a rejection; the sample is dropped from the
    /// batch and logged).
    pub verdict: Status,
    /// Whether an answer / proof could be extracted (drives the format reward).
    pub well_formed: bool,
    /// What the verifier judged: the answer extracted from the completion, or the proof body
    /// (None: nothing was found). Evaluation records keep it so a reader sees why a response
    /// counted.
    pub graded: Option<String>,
}

/// Judges completions of one task (answer checker, Lean pool, or a stand-in).
pub trait Rewarder {
    /// One outcome per completion, in order. An `Err` aborts the step (infrastructure
    /// failure); per-sample verifier faults are [`Status::Error`].
    fn judge(&mut self, task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>>;

    /// Judges the groups of a whole step at once (one `Vec` of outcomes per group, in order).
    /// The default calls [`Rewarder::judge`] group by group; a parallel verifier (the Lean
    /// pool) overrides it to keep all its workers busy.
    fn judge_batch(&mut self, groups: &[(&Task, Vec<String>)]) -> Result<Vec<Vec<RewardOutcome>>> {
        groups.iter().map(|(t, c)| self.judge(t, c)).collect()
    }

    /// Starts judging `groups` and returns without waiting where the verifier runs elsewhere
    /// (the Lean pool's processes), so the trainer can generate the next prompts meanwhile;
    /// [`Judging::wait`] gives the outcomes. The default judges right away.
    fn submit(&mut self, groups: &[(&Task, Vec<String>)]) -> Result<Judging> {
        Ok(Judging::Done(self.judge_batch(groups)?))
    }

    /// True when this rewarder's [`Status::Error`] already comes after its own retry (the
    /// Lean pool re-runs a failed or timed-out job once on a fresh worker). The trainer then
    /// takes the error as final instead of re-checking, so a hanging proof costs one timeout
    /// plus one retry end to end, not four timeouts. Default: false (the trainer re-checks).
    fn retries_errors_itself(&self) -> bool {
        false
    }
}

/// Outcomes of [`Rewarder::submit`]: ready, or being computed in the background.
pub enum Judging {
    Done(Vec<Vec<RewardOutcome>>),
    Running(Box<dyn FnOnce() -> Result<Vec<Vec<RewardOutcome>>> + Send>),
}

impl Judging {
    /// Blocks until the outcomes are there.
    pub fn wait(self) -> Result<Vec<Vec<RewardOutcome>>> {
        match self {
            Judging::Done(v) => Ok(v),
            Judging::Running(f) => f(),
        }
    }
}

/// A [`Rewarder`] from a closure judging one completion, e.g. the answer checker:
/// `FnRewarder(|task: &Task, text: &str| RewardOutcome { .. })`.
pub struct FnRewarder<F>(pub F);

impl<F> Rewarder for FnRewarder<F>
where
    F: FnMut(&Task, &str) -> RewardOutcome,
{
    fn judge(&mut self, task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        Ok(completions.iter().map(|c| (self.0)(task, c)).collect())
    }
}
