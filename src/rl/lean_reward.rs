//! The Lean reward: each completion's proof body is extracted (the same extraction as `prover
//! eval minif2f`), the file is assembled from the task's trusted header and statement, and the
//! verifier pool checks it with all its soundness checks. Reward 1 only for
//! [`Status::Accepted`]; a completion with no proof is malformed (reward 0, format penalty);
//! a verifier error is [`Status::Error`], final: the pool already retried the job once on a
//! fresh worker, so the trainer does not re-check it (a hang costs one timeout plus one retry
//! end to end) and drops the sample.
//! A whole step's proofs go to the pool at once, so its workers check them in parallel, and
//! [`Rewarder::submit`] returns before they finish, so the trainer generates the next prompts
//! while Lean checks.
use anyhow::Result;

use crate::data::Task;
use crate::prompt::style::{extract_proof_body, ProofPromptStyle};
use crate::rl::traits::{Judging, RewardOutcome, Rewarder};
use crate::verify::lean::{Job, Pool};
use crate::verify::Status;

/// Rewards proofs through a Lean verifier [`Pool`].
pub struct LeanRewarder {
    rt: tokio::runtime::Runtime,
    pool: Pool,
    style: ProofPromptStyle,
}

impl LeanRewarder {
    /// `pool` must have been created inside `rt` (`let _g = rt.enter(); Pool::new(cfg)`).
    pub fn new(rt: tokio::runtime::Runtime, pool: Pool, style: ProofPromptStyle) -> Self {
        Self { rt, pool, style }
    }

    /// The pool (for its metrics).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

impl Rewarder for LeanRewarder {
    fn judge(&mut self, task: &Task, completions: &[String]) -> Result<Vec<RewardOutcome>> {
        Ok(self
            .judge_batch(&[(task, completions.to_vec())])?
            .pop()
            .unwrap_or_default())
    }

    fn judge_batch(&mut self, groups: &[(&Task, Vec<String>)]) -> Result<Vec<Vec<RewardOutcome>>> {
        self.submit(groups)?.wait()
    }

    /// The pool retries a crashed or timed-out job once itself.
    fn retries_errors_itself(&self) -> bool {
        true
    }

    /// Extracts the bodies now, hands the proofs to the pool's workers and returns at once.
    fn submit(&mut self, groups: &[(&Task, Vec<String>)]) -> Result<Judging> {
        let mut out: Vec<Vec<Option<RewardOutcome>>> = Vec::with_capacity(groups.len());
        let mut jobs = Vec::new();
        let mut at = Vec::new();
        for (gi, (task, completions)) in groups.iter().enumerate() {
            let Some(formal) = task.formal() else {
                anyhow::bail!(
                    "task {} carries no formal statement (the Lean reward needs data.kind = \"minif2f\")",
                    task.id()
                );
            };
            let mut row = Vec::with_capacity(completions.len());
            for (ci, c) in completions.iter().enumerate() {
                match extract_proof_body(c, formal, self.style) {
                    Some(body) => {
                        jobs.push(Job::Proof {
                            header: formal.header.clone(),
                            formal_statement: formal.formal_statement.clone(),
                            proof: body.clone(),
                        });
                        at.push((gi, ci, body));
                        row.push(None);
                    }
                    None => row.push(Some(RewardOutcome {
                        verdict: Status::rejected("no proof found in the completion"),
                        well_formed: false,
                        graded: None,
                    })),
                }
            }
            out.push(row);
        }
        let pool = self.pool.clone();
        let running = self.rt.spawn(async move { pool.verify_batch(jobs).await });
        let handle = self.rt.handle().clone();
        Ok(Judging::Running(Box::new(move || {
            let verdicts = handle
                .block_on(running)
                .map_err(|e| anyhow::anyhow!("the verification task failed: {e}"))?;
            for ((gi, ci, body), v) in at.into_iter().zip(verdicts) {
                out[gi][ci] = Some(RewardOutcome {
                    verdict: v.status,
                    well_formed: true,
                    graded: Some(body),
                });
            }
            Ok(out
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|o| {
                            o.unwrap_or(RewardOutcome {
                                verdict: Status::error("the pool returned no verdict"),
                                well_formed: true,
                                graded: None,
                            })
                        })
                        .collect()
                })
                .collect())
        })))
    }
}
