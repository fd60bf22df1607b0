//! Soundness: what makes a `true` from Lean mean "this proof proves that statement".
//!
//! 1. **Assembly** (RL mode): prover builds the file itself from the trusted header, the
//!    reference statement (its trailing `sorry` removed, ending in `:= by`) and the policy's
//!    proof body, re-indented under the `by`. The policy never writes anything above its proof.
//! 2. **Static guard** (cheap filter, before Lean): rejects bodies that could end the tactic
//!    block and start commands, and tokens that hide a gap (`sorry`, `admit`, `axiom`), change
//!    what Lean checks (`set_option debug.*`, `#exit`, `#guard_msgs`, `unsafe`,
//!    `implemented_by`, `extern`), or reprogram Lean (`macro`, `syntax`, `notation`, `elab`,
//!    `#eval`, `run_cmd`, `local`, `attribute`, environment-editing meta code). Tokens are found
//!    by a lexer that skips comments exactly as Lean does; string contents are checked too.
//! 3. **Post-checks** (after Lean): no error-severity message; no sorry (the `sorries` list,
//!    or the warning in either spelling "declaration uses 'sorry'" / "declaration uses
//!    `sorry`"); every theorem exists in the final environment and `#print axioms NAME` (sent
//!    as its own command in that environment) lists only `propext`, `Classical.choice`,
//!    `Quot.sound` (plus `Lean.ofReduceBool` / `Lean.trustCompiler`, or from v4.29 the
//!    per-proof `D._native.native_decide.ax_I`, when native_decide is allowed). No axiom report
//!    is a rejection.
//! 4. **Whole files `--against` a reference**: every reference theorem must appear (once,
//!    at top level) with the same statement up to whitespace and comments; above and between
//!    them the file may only repeat the reference's imports / `open`s, set resource options,
//!    and declare helper `theorem`/`lemma`/`def`s whose names do not occur in any reference
//!    statement (so they cannot shadow what the statement means).
use super::lexer::{lex, TokKind, Token};
use super::verdict::{LeanMessage, Severity, Status, TheoremReport};

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

/// A proof prover assembled from trusted parts: send `header` once, then `body` on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// The trusted header (imports, options, opens).
    pub header: String,
    /// Statement (ending in `:= by`) followed by the re-indented proof.
    pub body: String,
    /// The theorem that must end up in the environment.
    pub theorems: Vec<String>,
    /// Lines of the original file above `body` (0 for assembled proofs); add it to a
    /// message's line to point into the user's file.
    pub body_line_offset: u64,
}

impl Assembled {
    /// The whole file as Lean sees it.
    pub fn file_text(&self) -> String {
        format!("{}{}", self.header, self.body)
    }
}

/// Whole words that never appear in an accepted proof or file.
const BANNED_WORDS: &[&str] = &[
    "sorry",
    "admit",
    "axiom",
    "macro",
    "macro_rules",
    "syntax",
    "notation",
    "infix",
    "infixl",
    "infixr",
    "prefix",
    "postfix",
    "elab",
    "elab_rules",
    "run_cmd",
    "run_tac",
    "run_elab",
    "run_meta",
    "implemented_by",
    "extern",
    "unsafe",
    "local",
    "scoped",
    "attribute",
    "declare_syntax_cat",
    "initialize",
    "builtin_initialize",
    "binder_predicate",
    "simproc",
    "dsimproc",
    "simproc_decl",
    "command_elab",
    "term_elab",
    "tactic_elab",
    "csimp",
    "export",
    "import",
];
/// Name components that only meta-programs use (to edit the environment or fake output).
const BANNED_COMPONENTS: &[&str] = &[
    "sorryAx",
    "CommandElab",
    "CommandElabM",
    "TermElab",
    "TermElabM",
    "TacticM",
    "MetaM",
    "CoreM",
    "modifyEnv",
    "setEnv",
    "addDecl",
    "addAndCompile",
    "addDeclWithoutChecking",
    "Elab",
    "ofReduceBool",
    "trustCompiler",
    "logInfo",
    "logError",
    "Environment",
];
/// `#` commands (the `#s` card notation stays allowed).
const BANNED_HASH: &[&str] = &[
    "#exit",
    "#eval",
    "#eval!",
    "#exec",
    "#print",
    "#check",
    "#check_failure",
    "#reduce",
    "#synth",
    "#guard_msgs",
    "#guard",
    "#guard_expr",
    "#guard_target",
    "#help",
    "#where",
    "#time",
    "#lint",
    "#find",
    "#simp",
    "#norm_num",
    "#conv",
    "#explode",
    "#html",
    "#widget",
    "#import_path",
    "#minimize_imports",
    "#find_home",
    "#count_heartbeats",
    "#kerneltest",
];
/// Option prefixes that change what is checked or printed.
const BANNED_OPTION_PREFIXES: &[&str] =
    &["debug", "pp", "compiler", "interpreter", "trace.profiler"];
/// Commands that must not appear inside a proof body (they would start a new command).
const BODY_COMMAND_WORDS: &[&str] = &[
    "theorem",
    "lemma",
    "def",
    "abbrev",
    "example",
    "instance",
    "structure",
    "class",
    "inductive",
    "opaque",
    "namespace",
    "section",
    "end",
    "variable",
    "universe",
    "mutual",
    "noncomputable",
    "private",
    "protected",
    "partial",
    "nonrec",
    "deriving",
    "omit",
    "include",
    "open",
];
/// Options a file may set (resource limits only).
const ALLOWED_FILE_OPTIONS: &[&str] = &[
    "maxHeartbeats",
    "maxRecDepth",
    "synthInstance.maxHeartbeats",
    "synthInstance.maxSize",
];

fn at(t: &Token) -> String {
    format!("line {}, column {}", t.line + 1, t.col)
}

/// Apply the token bans shared by proof bodies and files.
fn check_banned_tokens(tokens: &[Token], what: &str) -> Result<(), String> {
    for (i, t) in tokens.iter().enumerate() {
        match t.kind {
            TokKind::Ident => {
                let name = t.text.trim_matches(|c| c == '«' || c == '»');
                if BANNED_WORDS.contains(&name) {
                    return Err(format!("{what} uses `{}` at {}", t.text, at(t)));
                }
                if let Some(c) = t
                    .text
                    .split('.')
                    .map(|c| c.trim_matches(|c| c == '«' || c == '»'))
                    .find(|c| BANNED_COMPONENTS.contains(c) || *c == "sorry" || *c == "admit")
                {
                    return Err(format!("{what} uses `{c}` (in `{}`) at {}", t.text, at(t)));
                }
                if name == "set_option" {
                    if let Some(opt) = tokens.get(i + 1) {
                        if BANNED_OPTION_PREFIXES
                            .iter()
                            .any(|p| opt.text == *p || opt.text.starts_with(&format!("{p}.")))
                        {
                            return Err(format!(
                                "{what} sets option `{}` at {}",
                                opt.text,
                                at(opt)
                            ));
                        }
                    }
                }
            }
            TokKind::Hash if BANNED_HASH.contains(&t.text.as_str()) => {
                return Err(format!("{what} uses `{}` at {}", t.text, at(t)));
            }
            TokKind::Str => {
                // String contents are checked as code too: interpolated strings run code, and a
                // mis-lexed quote must not hide anything.
                let inner = &t.text[1..t.text.len() - 1];
                let lexed = lex(inner);
                check_banned_tokens(&lexed.tokens, &format!("a string in {what}"))
                    .map_err(|e| format!("{e} (string at {})", at(t)))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Check a policy's proof body and return it re-indented to sit under `:= by` (every line
/// indented by two more spaces than the shallowest code line, relative structure kept).
pub fn guard_proof_body(proof: &str) -> Result<String, String> {
    if proof.contains('\t') {
        return Err("proof contains a tab character (Lean rejects tabs)".into());
    }
    let proof = proof.replace("\r\n", "\n");
    let lexed = lex(&proof);
    if let Some(e) = lexed.error {
        return Err(format!("proof has an {e}"));
    }
    let tokens = lexed.tokens;
    let Some(first) = tokens.first() else {
        return Err("proof is empty".into());
    };
    check_banned_tokens(&tokens, "proof")?;
    for t in &tokens {
        if t.kind == TokKind::Ident && BODY_COMMAND_WORDS.contains(&t.text.as_str()) {
            return Err(format!(
                "proof contains the command keyword `{}` at {} (it would end the tactic block)",
                t.text,
                at(t)
            ));
        }
        if t.kind == TokKind::Sym && t.text == "@[" {
            return Err(format!("proof contains an attribute `@[` at {}", at(t)));
        }
    }
    // Indentation: the first code line sets the block's column; a code line starting left of
    // it would end the tactic block.
    let base = first.col;
    let mut seen_line = usize::MAX;
    for t in &tokens {
        if t.line != seen_line {
            seen_line = t.line;
            if t.col < base {
                return Err(format!(
                    "line {} of the proof starts at column {} left of the block's column {base}: it would end the tactic block",
                    t.line + 1,
                    t.col
                ));
            }
        }
    }
    let mut out = String::with_capacity(proof.len() + 64);
    for (k, line) in proof.lines().enumerate() {
        if k < first.line {
            continue; // blank or comment-only lines above the first tactic
        }
        let lead = line.chars().take_while(|c| *c == ' ').count();
        let strip = lead.min(base);
        let rest = &line[strip..];
        if rest.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str("  ");
            out.push_str(rest);
            out.push('\n');
        }
    }
    Ok(out)
}

/// The reference statement without its trailing `sorry`, ending in `:= by`, and its theorem
/// name.
pub fn statement_without_sorry(formal_statement: &str) -> Result<(String, String), String> {
    let lexed = lex(formal_statement);
    if let Some(e) = lexed.error {
        return Err(format!("reference statement has an {e}"));
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
    let mut end = toks.len();
    if end > 0 && toks[end - 1].text == "sorry" {
        end -= 1;
    }
    if end > 0 && toks[end - 1].text == "by" {
        end -= 1;
    }
    if end == 0 || toks[end - 1].text != ":=" {
        return Err("reference statement must end in `:= by sorry` or `:= sorry`".into());
    }
    let cut = toks[end - 1].end;
    Ok((format!("{} by", &formal_statement[..cut]), name))
}

/// RL mode: build the checked text from the trusted header, the reference statement and the
/// policy's proof body (which goes through [`guard_proof_body`]).
pub fn assemble(header: &str, formal_statement: &str, proof: &str) -> Result<Assembled, String> {
    let (statement, name) = statement_without_sorry(formal_statement)?;
    let body = guard_proof_body(proof)?;
    Ok(Assembled {
        header: header.to_string(),
        body: format!("{statement}\n{body}"),
        theorems: vec![name],
        body_line_offset: 0,
    })
}

/// A top-level command: the tokens from one column-0 token to the next (a command that ends in
/// `in`, like `set_option maxHeartbeats 0 in`, is joined with the next one).
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
        if tokens[e - 1].text == "in" && e < tokens.len() {
            joined_from = Some(from);
            continue;
        }
        out.push(Segment {
            toks: &tokens[from..e],
        });
    }
    out
}

fn word<'a>(seg: &Segment<'a>, i: usize) -> &'a str {
    seg.toks.get(i).map(|t| t.text.as_str()).unwrap_or("")
}

fn is_preamble(seg: &Segment) -> bool {
    matches!(word(seg, 0), "import" | "open")
        || (word(seg, 0) == "set_option" && !seg.toks.iter().any(|t| t.text == "in"))
}

/// A whole file split into what prover sends: the preamble as the (reusable) header and the
/// rest as the body, plus the theorems whose axioms must be checked.
pub fn plan_file(text: &str, reference: Option<&str>) -> Result<Assembled, String> {
    if text.contains('\t') {
        return Err("file contains a tab character (Lean rejects tabs)".into());
    }
    let lexed = lex(text);
    if let Some(e) = lexed.error {
        return Err(format!("file has an {e}"));
    }
    let tokens = lexed.tokens;
    // imports are checked below (against mode) or allowed (plain mode); ban everything else
    let non_import: Vec<Token> = tokens
        .iter()
        .filter(|t| t.text != "import")
        .cloned()
        .collect();
    check_banned_tokens(&non_import, "file")?;
    let segs = segments(&tokens);
    let n_pre = segs.iter().take_while(|s| is_preamble(s)).count();
    for s in &segs[n_pre..] {
        if word(s, 0) == "import" {
            return Err(format!(
                "`import` at {} is not at the top of the file",
                at(&s.toks[0])
            ));
        }
    }
    let split_byte = if n_pre == 0 {
        0
    } else {
        let last = segs[n_pre - 1].toks.last().unwrap();
        text[last.end..]
            .find('\n')
            .map(|i| last.end + i + 1)
            .unwrap_or(text.len())
    };
    let header = text[..split_byte].to_string();
    let body = text[split_byte..].to_string();
    let body_line_offset = header.matches('\n').count() as u64;
    let theorems = match reference {
        None => plain_theorems(&segs[n_pre..])?,
        Some(r) => against(&segs[..n_pre], &segs[n_pre..], r)?,
    };
    if theorems.is_empty() {
        return Err("the file declares no theorem to check".into());
    }
    Ok(Assembled {
        header,
        body,
        theorems,
        body_line_offset,
    })
}

/// Theorems of a file checked on its own: every top-level `theorem`/`lemma`, qualified by the
/// enclosing `namespace`s.
fn plain_theorems(segs: &[Segment]) -> Result<Vec<String>, String> {
    let mut scopes: Vec<Option<String>> = Vec::new();
    let mut out = Vec::new();
    for s in segs {
        match word(s, 0) {
            "namespace" => scopes.push(Some(word(s, 1).to_string())),
            "section" | "noncomputable" if word(s, 0) == "section" || word(s, 1) == "section" => {
                scopes.push(None)
            }
            "end" => {
                scopes.pop();
            }
            _ => {}
        }
        let mut i = 0;
        while matches!(word(s, i), "set_option" | "open") {
            // skip `set_option a b in` / `open X in` prefixes
            while i < s.toks.len() && word(s, i) != "in" {
                i += 1;
            }
            i += 1;
        }
        if matches!(word(s, i), "theorem" | "lemma") {
            let name = word(s, i + 1);
            let mut parts: Vec<&str> = scopes.iter().flatten().map(|s| s.as_str()).collect();
            parts.push(name);
            out.push(parts.join("."));
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
    for s in segs {
        if !matches!(word(s, 0), "theorem" | "lemma") {
            continue;
        }
        let assign = s
            .toks
            .iter()
            .rposition(|t| t.text == ":=")
            .ok_or_else(|| format!("reference theorem `{}` has no `:=`", word(s, 1)))?;
        out.push(RefTheorem {
            name: word(s, 1).to_string(),
            statement: s.toks[2..assign].iter().map(|t| t.text.clone()).collect(),
        });
    }
    Ok(out)
}

/// Strip an allowed `set_option NAME VALUE in` prefix; error for any other option.
fn strip_option_prefix<'a>(s: &Segment<'a>) -> Result<Segment<'a>, String> {
    let mut i = 0;
    while word(s, i) == "set_option" {
        let opt = word(s, i + 1);
        if !ALLOWED_FILE_OPTIONS.contains(&opt) {
            return Err(format!(
                "option `{opt}` at {} is not allowed",
                at(&s.toks[i])
            ));
        }
        if word(s, i + 3) != "in" {
            return Err(format!(
                "`set_option` at {} must end in `in`",
                at(&s.toks[i])
            ));
        }
        i += 4;
    }
    Ok(Segment { toks: &s.toks[i..] })
}

fn against(pre: &[Segment], rest: &[Segment], reference: &str) -> Result<Vec<String>, String> {
    let rlexed = lex(reference);
    if let Some(e) = rlexed.error {
        return Err(format!("reference has an {e}"));
    }
    let rsegs = segments(&rlexed.tokens);
    let rn_pre = rsegs.iter().take_while(|s| is_preamble(s)).count();
    let refs = ref_theorems(&rsegs[rn_pre..])?;
    if refs.is_empty() {
        return Err("the reference declares no theorem".into());
    }
    // Preamble: imports ⊆ reference imports ∪ {Mathlib, Aesop}; `open`s equal as a set;
    // options limited to resource limits.
    let words_of = |segs: &[Segment], head: &str| -> Vec<String> {
        let mut v: Vec<String> = segs
            .iter()
            .filter(|s| word(s, 0) == head)
            .flat_map(|s| s.toks[1..].iter().map(|t| t.text.clone()))
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
    for s in pre.iter().filter(|s| word(s, 0) == "set_option") {
        if !ALLOWED_FILE_OPTIONS.contains(&word(s, 1)) {
            return Err(format!(
                "option `{}` at {} is not allowed",
                word(s, 1),
                at(&s.toks[0])
            ));
        }
    }
    // Identifiers of the reference statements: helpers must not shadow them.
    let mut stmt_idents: Vec<&str> = Vec::new();
    for r in &refs {
        for w in &r.statement {
            stmt_idents.extend(w.split('.'));
        }
    }
    let mut found: Vec<bool> = vec![false; refs.len()];
    for s in rest {
        let s = strip_option_prefix(s)?;
        let head = word(&s, 0);
        // A command keyword inside a segment (at any indentation) would start a new command
        // before the next theorem and could change what its statement means.
        let skip = if head == "noncomputable" { 2 } else { 1 };
        if let Some(t) = s
            .toks
            .iter()
            .skip(skip)
            .find(|t| t.kind == TokKind::Ident && BODY_COMMAND_WORDS.contains(&t.text.as_str()))
        {
            return Err(format!(
                "command keyword `{}` at {} inside a declaration (it would start a new command)",
                t.text,
                at(t)
            ));
        }
        let first = s.toks.first();
        let loc = first.map(at).unwrap_or_default();
        if s.toks
            .iter()
            .any(|t| t.kind == TokKind::Sym && t.text == "@[")
        {
            return Err(format!("attributes (`@[`) are not allowed ({loc})"));
        }
        let (kind_at, name) = match head {
            "theorem" | "lemma" | "def" | "abbrev" => (0, word(&s, 1)),
            "noncomputable" if matches!(word(&s, 1), "def" | "abbrev" | "theorem") => (1, word(&s, 2)),
            "example" => continue,
            other => {
                return Err(format!(
                    "command `{other}` at {loc} is not allowed in a file checked against a reference (only theorems, lemmas and helper defs)"
                ))
            }
        };
        if let Some(k) = refs.iter().position(|r| r.name == name) {
            if kind_at != 0 || !matches!(head, "theorem" | "lemma") {
                return Err(format!("`{name}` must be declared as a theorem ({loc})"));
            }
            if found[k] {
                return Err(format!("theorem `{name}` is declared twice ({loc})"));
            }
            let r = &refs[k];
            let got: Vec<&str> = s.toks[2..].iter().map(|t| t.text.as_str()).collect();
            let n = r.statement.len();
            let same = got.len() > n
                && got[..n].iter().zip(&r.statement).all(|(a, b)| *a == b)
                && got[n] == ":=";
            if !same {
                let mine = got
                    .iter()
                    .position(|t| *t == ":=")
                    .map(|p| got[..p].join(" "))
                    .unwrap_or_else(|| got.join(" "));
                return Err(format!(
                    "statement of `{name}` differs from the reference:\n  reference: {}\n  file:      {mine}",
                    r.statement.join(" ")
                ));
            }
            found[k] = true;
        } else {
            let last = name.rsplit('.').next().unwrap_or(name);
            if stmt_idents.contains(&last) {
                return Err(format!(
                    "helper `{name}` ({loc}) has a name used in a reference statement"
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

/// What Lean said about one job, in driver-independent form.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeanOutput {
    /// Messages about the checked text (lines relative to the body).
    pub messages: Vec<LeanMessage>,
    /// Number of `sorry`s the REPL reported.
    pub sorries: usize,
    /// For each theorem, the messages of its `#print axioms` command.
    pub axiom_messages: Vec<(String, Vec<LeanMessage>)>,
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
        fail(format!(
            "Lean error at line {}, column {}: {}",
            m.line, m.column, m.text
        ));
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
    use super::worker::to_message;
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
    let mut out = LeanOutput {
        messages: body.messages.iter().map(to_message).collect(),
        sorries: body.sorries.len(),
        axiom_messages: Vec::new(),
    };
    for (name, reply) in axiom_replies {
        let msgs = match ReplResponse::parse(reply)? {
            ReplResponse::Command(c) => c.messages.iter().map(to_message).collect(),
            ReplResponse::Error(e) => vec![LeanMessage {
                severity: Severity::Error,
                line: 0,
                column: 0,
                text: e.message,
            }],
            ReplResponse::ProofStep(_) => Vec::new(),
        };
        out.axiom_messages.push((name.clone(), msgs));
    }
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

    #[test]
    fn body_guard_reindents_and_rejects() {
        assert_eq!(
            guard_proof_body("norm_num\nlinarith").unwrap(),
            "  norm_num\n  linarith\n"
        );
        assert_eq!(
            guard_proof_body("    have h : x := by\n      simp\n    exact h").unwrap(),
            "  have h : x := by\n    simp\n  exact h\n"
        );
        assert!(guard_proof_body("  simp\nlinarith").is_err());
        assert!(guard_proof_body("simp -- sorry is fine in a comment").is_ok());
        assert!(guard_proof_body("exact sorryAx _").is_err());
        assert!(guard_proof_body("simp\n  theorem x : True := trivial").is_err());
        assert!(guard_proof_body("trace \"{sorry}\"").is_err());
        assert!(guard_proof_body("/- unterminated").is_err());
        assert!(guard_proof_body("set_option debug.skipKernelTC true in\nsimp").is_err());
        assert!(guard_proof_body("set_option maxRecDepth 10000 in\nsimp").is_ok());
    }

    #[test]
    fn statement_strip() {
        let (s, n) = statement_without_sorry("theorem foo (x : ℕ) :\n  x = x := by sorry").unwrap();
        assert_eq!(s, "theorem foo (x : ℕ) :\n  x = x := by");
        assert_eq!(n, "foo");
        assert!(statement_without_sorry("theorem foo : True").is_err());
    }
}
