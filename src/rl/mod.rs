//! Reinforcement learning: rewards, advantages, losses, optimizer, trainer loop, checkpoints.
//!
//! The trainer talks to the model and the verifiers only through the traits of [`policy`], so
//! tests run it with a tiny model ([`toy`]) and stand-in verifiers.
pub mod advantage;
pub mod aggregate;
pub mod checkpoint;
pub mod config;
pub mod kl;
pub mod logprob;
pub mod loss;
pub mod metrics;
pub mod ops;
pub mod optimizer;
pub mod plot;
pub mod policy;
pub mod reward;
pub mod schedule;
pub mod task;
pub mod toy;
pub mod trainer;
