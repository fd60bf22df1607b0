//! Assembly (RL mode): prover builds the checked file itself from the trusted header, the
//! reference statement (its trailing `sorry` removed, ending in `:= by`) and the policy's proof
//! body, re-indented under the `by`. The policy never writes anything above its proof.
use super::guard::{guard_proof_body_with, lex_counted, normalise, GuardConfig};
use super::lexer::TokKind;

/// A proof prover assembled from trusted parts: send `header` once, then `body` on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// The trusted header (imports, options, opens).
    pub header: String,
    /// Statement (ending in `:= by`) followed by the re-indented proof.
    pub body: String,
    /// The theorem that must end up in the environment.
    pub theorems: Vec<String>,
    /// Add it to the line of a message about `body` to point into the user's text: the lines
    /// of the original file above `body` (file mode), or minus the statement's lines
    /// (assembled proofs: line 1 is then the first line of the policy's proof body; a message
    /// at line ≤ 0 is about the trusted statement).
    pub body_line_offset: i64,
}

impl Assembled {
    /// The whole file as Lean sees it.
    pub fn file_text(&self) -> String {
        format!("{}{}", self.header, self.body)
    }
}

/// The reference statement without its trailing `sorry`, ending in `:= by`, and its theorem
/// name.
pub fn statement_without_sorry(formal_statement: &str) -> Result<(String, String), String> {
    let text = normalise(formal_statement);
    let formal_statement = text.as_str();
    let lexed = lex_counted(formal_statement);
    if let Some(e) = lexed.error {
        return Err(format!("reference statement: {e}"));
    }
    let toks = &lexed.tokens;
    let k = toks
        .iter()
        .position(|t| t.kind == TokKind::Ident && (t.text == "theorem" || t.text == "lemma"))
        .ok_or("reference statement has no `theorem`")?;
    let name = toks
        .get(k + 1)
        .filter(|t| t.kind == TokKind::Ident)
        .ok_or("reference statement has no theorem name")?
        .text
        .clone();
    let mut rest = toks.get(k + 2..).unwrap_or(&[]);
    for last in ["sorry", "by"] {
        if let Some((_, before)) = rest.split_last().filter(|(t, _)| t.text == last) {
            rest = before;
        }
    }
    let Some(assign) = rest.last().filter(|t| t.text == ":=") else {
        return Err("reference statement must end in `:= by sorry` or `:= sorry`".into());
    };
    let statement = formal_statement
        .get(..assign.end)
        .ok_or("reference statement: internal offset error")?;
    Ok((format!("{statement} by"), name))
}

/// RL mode: build the checked text from the trusted header, the reference statement and the
/// policy's proof body (which goes through [`super::guard::guard_proof_body`]).
pub fn assemble(header: &str, formal_statement: &str, proof: &str) -> Result<Assembled, String> {
    assemble_with(header, formal_statement, proof, &GuardConfig::default())
}

/// [`assemble`] with explicit guard limits.
pub fn assemble_with(
    header: &str,
    formal_statement: &str,
    proof: &str,
    cfg: &GuardConfig,
) -> Result<Assembled, String> {
    let (statement, name) = statement_without_sorry(formal_statement)?;
    let body = guard_proof_body_with(proof, cfg)?;
    // the body sent to Lean is the statement's lines, then the proof's, line for line
    let statement_lines = statement.matches('\n').count() as i64 + 1;
    Ok(Assembled {
        header: header.to_string(),
        body: format!("{statement}\n{body}"),
        theorems: vec![name],
        body_line_offset: -statement_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_strip() {
        let (s, n) = statement_without_sorry("theorem foo (x : ℕ) :\n  x = x := by sorry").unwrap();
        assert_eq!(s, "theorem foo (x : ℕ) :\n  x = x := by");
        assert_eq!(n, "foo");
        assert!(statement_without_sorry("theorem foo : True").is_err());
        for bad in [
            "theorem := sorry",
            "theorem",
            ":= sorry",
            "sorry",
            "",
            "theorem foo",
        ] {
            assert!(statement_without_sorry(bad).is_err(), "{bad:?}");
        }
    }
}
