//! Reinforcement learning: rewards, advantages, losses, optimizer, trainer loop, checkpoints.
//!
//! The trainer talks to the model and the verifiers only through the traits of [`policy`], so
//! tests run it with a tiny model ([`toy`]) and stand-in verifiers.
pub mod advantage;
pub mod aggregate;
pub mod kl;
pub mod logprob;
pub mod loss;
pub mod ops;
pub mod config;
pub mod optimizer;
pub mod schedule;
pub mod policy;
pub mod reward;
pub mod task;
pub mod checkpoint;
pub mod metrics;
pub mod plot;
pub mod toy;
pub mod trainer;
