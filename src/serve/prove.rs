//! The sound endpoint, `POST /prove`: each item is checked exactly as the RL path and `prover
//! verify --against` check it (assembly or file plan, guard, sealed channel, post-checks), and
//! its answer carries what Lean said so a client can re-apply the post-checks itself (JSON in
//! [`crate::verify::lean::wire`]).
//!
//! The pool runs with native_decide's axioms allowed; each item's own policy
//! (`allow_native_decide`, default false) is applied here to the axioms Lean reported.
use crate::verify::lean::soundness::is_native_decide_axiom;
use crate::verify::lean::wire::{ProveItem, ProveResult};
use crate::verify::lean::{AxiomPolicy, Status, Verdict};

use super::app::Outcome;

/// `v` under `policy`: an accepted verdict whose theorems use an axiom `policy` does not allow
/// becomes a rejection (the pool itself allows native_decide's).
pub fn apply_policy(mut v: Verdict, policy: AxiomPolicy) -> Verdict {
    if v.status != Status::Accepted {
        return v;
    }
    for t in &mut v.theorems {
        let bad: Vec<&String> = t.axioms.iter().filter(|a| !policy.allows(a)).collect();
        if !bad.is_empty() {
            let hint = if bad.iter().any(|a| is_native_decide_axiom(a)) {
                " (native_decide: allowed only with \"allow_native_decide\": true)"
            } else {
                ""
            };
            let reason = format!("`{}` depends on disallowed axioms {bad:?}{hint}", t.name);
            t.ok = false;
            v.status = Status::Rejected { reason };
            break;
        }
    }
    v
}

/// The `/prove` answer of one item.
pub fn prove_result(item: &ProveItem, o: Outcome, seconds: f64) -> ProveResult {
    let policy = AxiomPolicy {
        allow_native_decide: item.allow_native_decide.unwrap_or(false),
    };
    let (v, retryable) = match o {
        Outcome::Done(v) => (apply_policy(v, policy), false),
        Outcome::TimedOut(t) => (Verdict::error(format!("no verdict within {t:.0} s")), false),
        Outcome::ShuttingDown => (Verdict::error("the server is shutting down"), true),
    };
    let mut r = ProveResult::from_verdict(item.id.clone(), &v);
    r.seconds = seconds;
    r.retryable = retryable;
    r
}
