//! The axioms by which `native_decide` (trusting the compiler) shows up in `#print axioms`,
//! allowed only when the caller allows native_decide.
//!
//! - Up to Lean v4.28: the global axioms `Lean.ofReduceBool` and `Lean.trustCompiler`.
//! - From v4.29 (lean4 PR #12217, "one axiom per native computation"): one auxiliary axiom per
//!   computation, `D._native.native_decide.ax_I` where `D` is the declaration being elaborated
//!   and `I` the index Lean appends to auxiliary names (seen as `ax_1_1` in published
//!   `#print axioms` output). This rests on reading Lean's `nativeEqTrue`
//!   (`Lean/Meta/Native.lean`: `mkAuxDeclName (`_native ++ tacticName ++ `ax)`), not on running
//!   it; the first-real-run checklist in lean/README.md says how to confirm it when the pin
//!   moves.
//!
//! Allow-list, exact: `D` must be a non-empty name, the tactic component must be
//! `native_decide` (`bv_decide` and any other tactic stay rejected), and `I` must be one or more
//! `_digits` groups. A user cannot declare such an axiom by hand: the guard bans `axiom` and
//! environment-editing meta code.

/// Up to v4.28, native_decide's axioms.
pub const NATIVE_DECIDE_AXIOMS: [&str; 2] = ["Lean.ofReduceBool", "Lean.trustCompiler"];

/// True for an axiom that only `native_decide` introduces (either form above).
pub fn is_native_decide_axiom(axiom: &str) -> bool {
    NATIVE_DECIDE_AXIOMS.contains(&axiom) || is_per_proof_native_axiom(axiom)
}

/// `D._native.native_decide.ax_I`, the v4.29 form.
fn is_per_proof_native_axiom(axiom: &str) -> bool {
    let Some((decl, index)) = axiom.rsplit_once("._native.native_decide.ax") else {
        return false;
    };
    let decl_ok = !decl.is_empty() && decl.split('.').all(|c| !c.is_empty());
    let index_ok = !index.is_empty()
        && index.strip_prefix('_').is_some_and(|rest| {
            rest.split('_')
                .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
        });
    decl_ok && index_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_native_decide_axioms_match() {
        for yes in [
            "Lean.ofReduceBool",
            "Lean.trustCompiler",
            "t._native.native_decide.ax_1",
            "mathd_numbertheory_127._native.native_decide.ax_1_1",
            "Foo.Bar.baz._native.native_decide.ax_12_3_4",
        ] {
            assert!(is_native_decide_axiom(yes), "{yes}");
        }
        for no in [
            "sorryAx",
            "propext",
            "Lean.ofReduceNat",
            "ofReduceBool",
            "Lean.ofReduceBool.x",
            "_native.native_decide.ax_1",
            "._native.native_decide.ax_1",
            "a.._native.native_decide.ax_1",
            "t._native.bv_decide.ax_1",
            "t._native.native_decide.decl_1",
            "t._native.native_decide.ax",
            "t._native.native_decide.ax_",
            "t._native.native_decide.ax_1_",
            "t._native.native_decide.ax__1",
            "t._native.native_decide.ax_1x",
            "t._native.native_decide.ax_1.evil",
            "t._native.native_decide.ax_1 ",
            "t.native_decide.ax_1",
            "t._native_native_decide.ax_1",
            "t._native.native_decide.axiom_1",
            "t._native.native_decide.ax_١",
        ] {
            assert!(!is_native_decide_axiom(no), "{no}");
        }
    }

    #[test]
    fn the_policy_allows_them_only_when_native_decide_is_allowed() {
        use super::super::soundness::AxiomPolicy;
        let strict = AxiomPolicy::default();
        let native = AxiomPolicy {
            allow_native_decide: true,
        };
        for a in ["Lean.ofReduceBool", "t._native.native_decide.ax_1_1"] {
            assert!(!strict.allows(a) && native.allows(a), "{a}");
        }
        for a in [
            "sorryAx",
            "t._native.bv_decide.ax_1",
            "t._native.native_decide.ax",
        ] {
            assert!(!strict.allows(a) && !native.allows(a), "{a}");
        }
        assert!(strict.allows("propext") && native.allows("Quot.sound"));
    }
}
