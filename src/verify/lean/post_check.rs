//! Post-checks: what Lean's own output must show before a proof is accepted.
//!
//! Rules (all must hold; the first failure is the reason):
//! - no error-severity message;
//! - no sorry (the REPL's `sorries` list, or the warning in either spelling "declaration uses
//!   'sorry'" / "declaration uses `sorry`");
//! - every expected theorem exists in the final environment: `#print axioms NAME`, sent as its
//!   own command in that environment, must answer (no answer is a rejection);
//! - the axioms it lists are within [`AxiomPolicy`]: `propext`, `Classical.choice`,
//!   `Quot.sound`, plus `Lean.ofReduceBool` / `Lean.trustCompiler` (or from v4.29 the per-proof
//!   `D._native.native_decide.ax_I`) when native_decide is allowed.
pub(crate) use super::protocol::LeanOutput;
use super::verdict::{Severity, Status, TheoremReport};

/// Axioms every Mathlib proof may use.
pub const STANDARD_AXIOMS: [&str; 3] = ["propext", "Classical.choice", "Quot.sound"];
/// Extra axioms of `native_decide` (trusting the compiler), allowed only on request; from
/// Lean v4.29 also per-proof axioms, see [`is_native_decide_axiom`].
pub use super::native_axioms::{is_native_decide_axiom, NATIVE_DECIDE_AXIOMS};

/// Which axioms a proof may depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AxiomPolicy {
    /// Also allow [`NATIVE_DECIDE_AXIOMS`].
    pub allow_native_decide: bool,
}

impl AxiomPolicy {
    /// True when `axiom` may appear in an accepted proof.
    pub fn allows(&self, axiom: &str) -> bool {
        STANDARD_AXIOMS.contains(&axiom)
            || (self.allow_native_decide && is_native_decide_axiom(axiom))
    }
}

/// Parse a `#print axioms` message about `name`: `Some(axioms)` for "'X' depends on axioms:
/// [a, b]" and `Some([])` for "'X' does not depend on any axioms".
pub fn parse_axioms_message(text: &str, name: &str) -> Option<Vec<String>> {
    let text = text.trim();
    let quote = text.chars().next()?;
    if quote != '\'' && quote != '`' {
        return None;
    }
    let rest = &text[1..];
    for (marker, deps) in [
        (" depends on axioms:", true),
        (" does not depend on any axioms", false),
    ] {
        let with_quote = format!("{quote}{marker}");
        if let Some(p) = rest.find(&with_quote) {
            let printed = &rest[..p];
            if !same_name(printed, name) {
                return None;
            }
            if !deps {
                return (rest[p + with_quote.len()..].trim().is_empty()).then(Vec::new);
            }
            let list = rest[p + with_quote.len()..].trim();
            let inner = list.strip_prefix('[')?.strip_suffix(']')?;
            return Some(
                inner
                    .split(',')
                    .map(|a| a.trim().replace(['«', '»'], ""))
                    .filter(|a| !a.is_empty())
                    .collect(),
            );
        }
    }
    None
}

fn same_name(printed: &str, name: &str) -> bool {
    let clean = |s: &str| {
        let s = s.replace(['«', '»'], "");
        s.strip_prefix("_root_.").map(str::to_string).unwrap_or(s)
    };
    clean(printed) == clean(name)
}

/// True for Lean's sorry warning, in either spelling.
pub fn is_sorry_warning(text: &str) -> bool {
    text.contains("declaration uses 'sorry'") || text.contains("declaration uses `sorry`")
}

/// Decide from Lean's output: errors, sorries, theorem presence, axioms.
pub(crate) fn post_check(
    out: &LeanOutput,
    theorems: &[String],
    policy: AxiomPolicy,
) -> (Status, Vec<TheoremReport>) {
    let mut reports: Vec<TheoremReport> = Vec::new();
    let mut failure: Option<String> = None;
    let mut fail = |r: String| {
        if failure.is_none() {
            failure = Some(r);
        }
    };
    if let Some(m) = out.messages.iter().find(|m| m.severity == Severity::Error) {
        fail(if m.line == 0 {
            format!(
                "Lean error (on the statement, or with no position): {}",
                m.text
            )
        } else {
            format!(
                "Lean error at line {}, column {}: {}",
                m.line, m.column, m.text
            )
        });
    }
    if out.sorries > 0 {
        fail(format!("the proof contains {} sorry", out.sorries));
    }
    if let Some(m) = out.messages.iter().find(|m| is_sorry_warning(&m.text)) {
        fail(format!("Lean: {} (line {})", m.text, m.line));
    }
    if theorems.is_empty() {
        fail("no theorem to check".into());
    }
    for name in theorems {
        let msgs = out
            .axiom_messages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_slice())
            .unwrap_or(&[]);
        let axioms = msgs
            .iter()
            .filter(|m| m.severity == Severity::Info)
            .find_map(|m| parse_axioms_message(&m.text, name));
        match axioms {
            None => {
                let why = msgs
                    .iter()
                    .find(|m| m.severity == Severity::Error)
                    .map(|m| format!(": {}", m.text))
                    .unwrap_or_default();
                fail(format!(
                    "no axiom report for `{name}` (is it in the final environment?){why}"
                ));
                reports.push(TheoremReport {
                    name: name.clone(),
                    axioms: Vec::new(),
                    ok: false,
                });
            }
            Some(axioms) => {
                let bad: Vec<&String> = axioms.iter().filter(|a| !policy.allows(a)).collect();
                let ok = bad.is_empty();
                if !ok {
                    let hint = if bad.iter().any(|a| is_native_decide_axiom(a)) {
                        " (native_decide: allowed only with --allow-native-decide)"
                    } else {
                        ""
                    };
                    fail(format!(
                        "`{name}` depends on disallowed axioms {bad:?}{hint}"
                    ));
                }
                reports.push(TheoremReport {
                    name: name.clone(),
                    axioms,
                    ok,
                });
            }
        }
    }
    let status = match failure {
        Some(reason) => Status::Rejected { reason },
        None => Status::Accepted,
    };
    (status, reports)
}

/// Decide from raw REPL replies (as printed by the REPL): `body_reply` to the proof command
/// and, per theorem, the reply to `#print axioms NAME` in the resulting environment. Useful
/// for replaying logged REPL sessions; the pool uses the same checks.
pub fn decide_from_repl_replies(
    body_reply: &str,
    axiom_replies: &[(String, String)],
    theorems: &[String],
    policy: AxiomPolicy,
) -> Result<super::verdict::Verdict, String> {
    use super::protocol::ReplResponse;
    let body = match ReplResponse::parse(body_reply)? {
        ReplResponse::Command(c) => c,
        ReplResponse::Error(e) => {
            return Ok(super::verdict::Verdict::rejected(format!(
                "Lean could not run the proof: {}",
                e.message
            )))
        }
        ReplResponse::ProofStep(_) => {
            return Err("a proof-step reply is not a command reply".into())
        }
    };
    let replies = axiom_replies
        .iter()
        .map(|(name, reply)| Ok((name.clone(), ReplResponse::parse(reply)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let out = LeanOutput::from_replies(&body, replies)?;
    let (status, reports) = post_check(&out, theorems, policy);
    Ok(super::verdict::Verdict {
        status,
        messages: out.messages,
        theorems: reports,
        seconds: 0.0,
        cached: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axiom_messages_parse() {
        assert_eq!(
            parse_axioms_message(
                "'t' depends on axioms: [propext, Classical.choice, Quot.sound]",
                "t"
            ),
            Some(vec![
                "propext".to_string(),
                "Classical.choice".into(),
                "Quot.sound".into()
            ])
        );
        assert_eq!(
            parse_axioms_message("'t' does not depend on any axioms", "t"),
            Some(vec![])
        );
        assert_eq!(
            parse_axioms_message("'u' does not depend on any axioms", "t"),
            None
        );
        assert_eq!(
            parse_axioms_message("`t` depends on axioms: [propext,\n sorryAx]", "t"),
            Some(vec!["propext".to_string(), "sorryAx".into()])
        );
        assert_eq!(parse_axioms_message("unknown constant 't'", "t"), None);
        assert_eq!(
            parse_axioms_message("'t' does not depend on any axioms, honest", "t"),
            None
        );
    }
}
