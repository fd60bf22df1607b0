//! Reinforcement learning: rewards, advantages, losses, optimizer, trainer loop, checkpoints.
//!
//! The trainer talks to the model and the verifiers only through the traits of [`traits`], so
//! tests run it with a tiny model ([`toy`]) and stand-in verifiers.
//!
//! Entry point: [`trainer::Trainer::new`]`(config, policy, rewarder, train_tasks, eval_tasks,
//! out_dir)` → `train(resume)` (or `resume()` → `run()` step by step); [`plot::plot_run`] redraws a
//! run's curves. Files: [`config`] (TOML run config), [`reward`] (verdict → reward + shaping),
//! [`answer_reward`] / [`lean_reward`] (the verifiers as rewarders), [`report`] (progress lines
//! and the end-of-run summary), [`completion_source`] (a policy as the evaluation loops'
//! completion source),
//! [`advantage`] (log-probs and entropies come from [`crate::policy::logprob`]), [`loss`] ([`kl`],
//! [`aggregate`], [`rollout_correction`]), [`optimizer`] (AdamW), [`schedule`], [`checkpoint`], [`metrics`], [`plot`],
//! [`run_data`] (the run's tasks, as [`crate::data::Task`], and their prompts), [`traits`]
//! (policy and rewarder traits), [`trainer`], [`transformer_policy`], [`toy`] (bigram test
//! policy), [`torch_grad`].
pub mod advantage;
pub mod aggregate;
pub mod answer_reward;
pub mod checkpoint;
pub mod completion_source;
pub mod config;
pub mod kl;
pub mod lean_reward;
pub mod loss;
pub mod metrics;
pub mod optimizer;
pub mod plot;
pub mod report;
pub mod reward;
pub mod rollout_correction;
pub mod run_data;
pub mod schedule;
pub mod torch_grad;
pub mod toy;
pub mod trainer;
pub mod traits;
pub mod transformer_policy;
