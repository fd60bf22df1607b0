//! Whole files (`prover verify FILE.lean [--against REF.lean]`): split into the header that
//! prover sends once and the body, find the theorems to check, and hold every command to an
//! allow-list.
//!
//! Rules (the text is the one Lean reads: a leading byte-order mark stripped, CRLF as LF):
//! - The token checks of [`super::guard`] apply to the whole file (no gap, no
//!   elaboration-time code, no metaprogramming names, allowed options only).
//! - A command starts at every column-0 token; a doc comment joins the command after it and a
//!   `set_option NAME V in` prefix the command it prefixes. Inside a command, no command
//!   keyword may appear at any column (it would start a new command).
//! - Preamble: `import`s, `open`s and `set_option`s (allowed options) only, before anything
//!   else. With `--against`, the imports must be the reference's (or Mathlib / Aesop) and the
//!   `open`s exactly the reference's.
//! - After the preamble, with `--against`: only `theorem`/`lemma`/`example` (optionally with a
//!   doc comment and allowed `set_option … in` prefixes). Every reference theorem must appear
//!   once, with the same statement tokens; other lemmas may not be named like an identifier of
//!   a reference statement. No `def`: none of the published miniF2F proofs needs one, and a
//!   definition can shadow what a statement means.
//! - Plain mode (no reference) checks that each theorem is proved without sorry and foreign
//!   axioms, not what it states. It additionally allows `namespace`/`section`/`end` and helper
//!   `def`/`abbrev`s, and refuses everything that changes what a written statement means or
//!   assumes (`variable`, `include`, `omit`, `instance`, `attribute`, notation, `open` after
//!   the preamble, …).
use super::assemble::Assembled;
use super::guard::{
    check_tokens, lex_counted, normalise, Place, COMMAND_WORDS, FORBIDDEN_KEYWORDS,
};
use super::lexer::{TokKind, Token};

/// Largest file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Deepest nesting of `namespace`/`section` in plain mode (keeps the work linear).
const MAX_SCOPES: usize = 64;

fn at(t: &Token) -> String {
    format!("line {}, column {}", t.line + 1, t.col)
}

/// A top-level command: the tokens from one column-0 token to the next.
struct Segment<'a> {
    toks: &'a [Token],
}

fn segments(tokens: &[Token]) -> Vec<Segment<'_>> {
    let mut starts: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.col == 0)
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) && !tokens.is_empty() {
        starts.insert(0, 0);
    }
    let mut out: Vec<Segment> = Vec::new();
    let mut joined_from: Option<usize> = None;
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(tokens.len());
        let from = joined_from.take().unwrap_or(s);
        let Some(seg) = tokens.get(from..e) else {
            continue;
        };
        let last = seg.last();
        let joins = e < tokens.len()
            && (last.is_some_and(|t| t.text == "in")
                || (seg.len() == 1 && last.is_some_and(|t| t.kind == TokKind::DocComment)));
        if joins {
            joined_from = Some(from);
            continue;
        }
        out.push(Segment { toks: seg });
    }
    out
}

fn word<'a>(seg: &Segment<'a>, i: usize) -> &'a str {
    seg.toks.get(i).map(|t| t.text.as_str()).unwrap_or("")
}

fn is_preamble(seg: &Segment) -> bool {
    // a module doc `/-! … -/` may stand before a preamble command
    let k = usize::from(
        seg.toks
            .first()
            .is_some_and(|t| t.kind == TokKind::DocComment && t.text.starts_with("/-!")),
    );
    matches!(word(seg, k), "import" | "open")
        || (word(seg, k) == "set_option" && !seg.toks.iter().any(|t| t.text == "in"))
}

/// Skip a leading doc comment and allowed `set_option NAME VALUE in` prefixes (the guard has
/// checked the option names already).
fn strip_prefixes<'a>(s: &Segment<'a>) -> Result<Segment<'a>, String> {
    let mut i = 0;
    if s.toks
        .first()
        .is_some_and(|t| t.kind == TokKind::DocComment)
    {
        i = 1;
    }
    while word(s, i) == "set_option" {
        if word(s, i + 3) != "in" {
            let loc = s.toks.get(i).map(at).unwrap_or_default();
            return Err(format!("`set_option` at {loc} must end in `in` here"));
        }
        i += 4;
    }
    Ok(Segment {
        toks: s.toks.get(i..).unwrap_or(&[]),
    })
}

/// A whole file split into what prover sends: the preamble as the (reusable) header and the
/// rest as the body, plus the theorems whose axioms must be checked.
pub fn plan_file(text: &str, reference: Option<&str>) -> Result<Assembled, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} bytes, over the limit of {MAX_FILE_BYTES} bytes",
            text.len()
        ));
    }
    let text = normalise(text);
    let lexed = lex_counted(&text);
    if let Some(e) = &lexed.error {
        return Err(format!("file: {e}"));
    }
    check_tokens(&lexed, Place::File).map_err(|r| format!("file: {}", r.render(|_, c| c)))?;
    let tokens = &lexed.tokens;
    let segs = segments(tokens);
    let n_pre = segs.iter().take_while(|s| is_preamble(s)).count();
    for s in &segs {
        check_no_inner_command(s)?;
    }
    for s in segs.iter().skip(n_pre) {
        if matches!(word(s, 0), "import") {
            return Err(format!(
                "`import` at {} is not at the top of the file",
                s.toks.first().map(at).unwrap_or_default()
            ));
        }
    }
    let split_byte = match n_pre.checked_sub(1).and_then(|k| segs[k].toks.last()) {
        None => 0,
        Some(last) => text
            .get(last.end..)
            .and_then(|r| r.find('\n'))
            .map(|i| last.end + i + 1)
            .unwrap_or(text.len()),
    };
    let (header, body) = text.split_at(split_byte);
    let body_line_offset = header.matches('\n').count() as i64;
    let rest = segs.get(n_pre..).unwrap_or(&[]);
    let theorems = match reference {
        None => plain_theorems(rest)?,
        Some(r) => against(&segs[..n_pre], rest, r)?,
    };
    if theorems.is_empty() {
        return Err("the file declares no theorem to check".into());
    }
    Ok(Assembled {
        header: header.to_string(),
        body: body.to_string(),
        theorems,
        body_line_offset,
    })
}

/// No command keyword after a command's own head words.
fn check_no_inner_command(s: &Segment) -> Result<(), String> {
    if word(s, 0) == "open" && s.toks.iter().any(|t| t.text == "in") {
        return Err(format!(
            "`open … in` at {} is not allowed (only the imports' and reference's own `open`s, at the top)",
            s.toks.first().map(at).unwrap_or_default()
        ));
    }
    let mut skip = 0;
    while let Some(t) = s.toks.get(skip) {
        let head = t.kind == TokKind::DocComment
            || matches!(
                t.text.as_str(),
                "noncomputable" | "private" | "protected" | "nonrec" | "partial"
            );
        if !head {
            break;
        }
        skip += 1;
    }
    if word(s, skip) == "set_option" {
        // `set_option N V in CMD`: the command after `in` is the head
        let mut i = skip;
        while word(s, i) == "set_option" && word(s, i + 3) == "in" {
            i += 4;
        }
        skip = i;
    }
    for t in s.toks.iter().skip(skip + 1) {
        let single = t.kind == TokKind::Ident && t.name.len() == 1 && !t.text.contains('«');
        if single
            && (COMMAND_WORDS.contains(&t.text.as_str())
                || FORBIDDEN_KEYWORDS.contains(&t.text.as_str()))
        {
            return Err(format!(
                "command keyword `{}` at {} inside a command (it would start a new command)",
                t.text,
                at(t)
            ));
        }
    }
    Ok(())
}

/// Theorems of a file checked on its own: every top-level `theorem`/`lemma`, qualified by the
/// enclosing `namespace`s. Commands that change what a written statement means are refused.
fn plain_theorems(segs: &[Segment]) -> Result<Vec<String>, String> {
    let mut scopes: Vec<Option<String>> = Vec::new();
    let mut out = Vec::new();
    for seg in segs {
        let s = strip_prefixes(seg)?;
        let loc = s.toks.first().map(at).unwrap_or_default();
        let (head, k) = if word(&s, 0) == "noncomputable" && word(&s, 1) != "section" {
            (word(&s, 1), 1)
        } else {
            (word(&s, 0), 0)
        };
        match head {
            "namespace" | "section" | "noncomputable" if scopes.len() >= MAX_SCOPES => {
                return Err(format!(
                    "more than {MAX_SCOPES} nested namespaces or sections at {loc}"
                ))
            }
            "namespace" => scopes.push(Some(word(&s, k + 1).to_string())),
            "section" => scopes.push(None),
            "noncomputable" => scopes.push(None),
            "end" => {
                scopes.pop();
            }
            "theorem" | "lemma" => {
                let name = s
                    .toks
                    .get(k + 1)
                    .filter(|t| t.kind == TokKind::Ident)
                    .ok_or_else(|| format!("`{head}` at {loc} has no name"))?
                    .text
                    .as_str();
                let mut parts: Vec<&str> = scopes.iter().flatten().map(|s| s.as_str()).collect();
                parts.push(name);
                out.push(parts.join("."));
            }
            "example" | "def" | "abbrev" => {}
            other => {
                return Err(format!(
                    "command `{other}` at {loc} is not allowed: without --against, prover checks only that each theorem is proved without sorry or foreign axioms, so commands that change what a statement means or assumes (variable, include, instance, attribute, notation, open after the imports, …) are refused; check against the reference statement with --against REF.lean"
                ))
            }
        }
    }
    Ok(out)
}

/// A reference theorem: its name and statement tokens (between the name and the final `:=`).
struct RefTheorem {
    name: String,
    statement: Vec<String>,
}

fn ref_theorems(segs: &[Segment]) -> Result<Vec<RefTheorem>, String> {
    let mut out = Vec::new();
    for seg in segs {
        let s = strip_prefixes(seg)?;
        if !matches!(word(&s, 0), "theorem" | "lemma") {
            continue;
        }
        let loc = s.toks.first().map(at).unwrap_or_default();
        let name = s
            .toks
            .get(1)
            .filter(|t| t.kind == TokKind::Ident)
            .ok_or_else(|| format!("reference theorem at {loc} has no name"))?;
        let assign = s
            .toks
            .iter()
            .rposition(|t| t.text == ":=")
            .filter(|&a| a >= 2)
            .ok_or_else(|| format!("reference theorem `{}` ({loc}) has no `:=`", name.text))?;
        out.push(RefTheorem {
            name: name.text.clone(),
            statement: s
                .toks
                .get(2..assign)
                .unwrap_or(&[])
                .iter()
                .map(|t| t.text.clone())
                .collect(),
        });
    }
    Ok(out)
}

fn against(pre: &[Segment], rest: &[Segment], reference: &str) -> Result<Vec<String>, String> {
    let reference = normalise(reference);
    let rlexed = lex_counted(&reference);
    if let Some(e) = &rlexed.error {
        return Err(format!("reference: {e}"));
    }
    let rsegs = segments(&rlexed.tokens);
    let rn_pre = rsegs.iter().take_while(|s| is_preamble(s)).count();
    let refs = ref_theorems(rsegs.get(rn_pre..).unwrap_or(&[]))?;
    if refs.is_empty() {
        return Err("the reference declares no theorem".into());
    }
    // Preamble: imports ⊆ reference imports ∪ {Mathlib, Aesop}; `open`s equal as a set.
    let words_of = |segs: &[Segment], head: &str| -> Vec<String> {
        let mut v: Vec<String> = segs
            .iter()
            .filter(|s| word(s, 0) == head)
            .flat_map(|s| s.toks.iter().skip(1).map(|t| t.text.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let ref_imports = words_of(&rsegs[..rn_pre], "import");
    for imp in words_of(pre, "import") {
        if !(ref_imports.contains(&imp) || imp == "Mathlib" || imp == "Aesop") {
            return Err(format!("import `{imp}` is not in the reference"));
        }
    }
    let (ro, uo) = (words_of(&rsegs[..rn_pre], "open"), words_of(pre, "open"));
    if ro != uo {
        return Err(format!(
            "the file's `open`s {uo:?} differ from the reference's {ro:?}"
        ));
    }
    // Identifiers of the reference statements: lemmas must not shadow them.
    let mut stmt_idents: Vec<&str> = Vec::new();
    for r in &refs {
        for w in &r.statement {
            stmt_idents.extend(w.split('.'));
        }
    }
    let mut found: Vec<bool> = vec![false; refs.len()];
    for seg in rest {
        let s = strip_prefixes(seg)?;
        let head = word(&s, 0);
        let loc = s.toks.first().map(at).unwrap_or_default();
        let name = match head {
            "theorem" | "lemma" => s
                .toks
                .get(1)
                .filter(|t| t.kind == TokKind::Ident)
                .ok_or_else(|| format!("`{head}` at {loc} has no name"))?
                .text
                .as_str(),
            "example" => continue,
            other => {
                return Err(format!(
                    "command `{other}` at {loc} is not allowed in a file checked against a reference (only theorem, lemma and example after the imports and the reference's opens)"
                ))
            }
        };
        if let Some(k) = refs.iter().position(|r| r.name == name) {
            if found[k] {
                return Err(format!("theorem `{name}` is declared twice ({loc})"));
            }
            let r = &refs[k];
            let got: Vec<&str> = s
                .toks
                .get(2..)
                .unwrap_or(&[])
                .iter()
                .map(|t| t.text.as_str())
                .collect();
            let n = r.statement.len();
            let same = got.len() > n
                && got.iter().zip(&r.statement).all(|(a, b)| *a == b)
                && got.get(n) == Some(&":=");
            if !same {
                let mine = got
                    .iter()
                    .position(|t| *t == ":=")
                    .map(|p| got[..p].join(" "))
                    .unwrap_or_else(|| got.join(" "));
                return Err(format!(
                    "statement of `{name}` ({loc}) differs from the reference:\n  reference: {}\n  file:      {mine}",
                    r.statement.join(" ")
                ));
            }
            found[k] = true;
        } else {
            let last = name.rsplit('.').next().unwrap_or(name);
            if stmt_idents.contains(&last) {
                return Err(format!(
                    "lemma `{name}` ({loc}) has a name used in a reference statement"
                ));
            }
        }
    }
    if let Some(k) = found.iter().position(|f| !f) {
        return Err(format!(
            "theorem `{}` of the reference is missing",
            refs[k].name
        ));
    }
    Ok(refs.into_iter().map(|r| r.name).collect())
}
