//! Static guard: token-level allow-lists on text the policy wrote, before anything reaches Lean.
//!
//! The guard lexes exactly the text that Lean will read (the re-indented body, every line of
//! it, with the lexer of [`super::lexer`], which reads comments, strings and identifiers as
//! Lean does) and refuses, naming the construct and its line and column in the user's text:
//! - **gaps**: `sorry`, `admit`, `sorryAx` (also as `«sorry»` or a dotted component);
//! - **elaboration-time code**: `by_elab`, `run_tac`, `run_elab`, `run_meta`, `run_cmd`,
//!   `#eval` and every other `#command` (any `#` glued to a name: Lean reads the longest
//!   `#…` token, so `#evalx` is `#eval x`), `name%` elaborators (`eval%`), name literals and
//!   syntax quotations (`` ` ``), `macro`/`syntax`/`elab`/`notation…`, `initialize`,
//!   `unsafe`, `implemented_by`, `extern`, `include_str`, attributes `@[`;
//! - **metaprogramming names**: an identifier whose resolved first component (after
//!   `_root_`) is in [`META_NAMESPACES`], or any of whose components is in
//!   [`FORBIDDEN_COMPONENTS`] (so `Lean.Elab.…`, `IO.…`, `«Lean».Meta.…` all fail);
//! - **options**: `set_option NAME VALUE` only for NAME (resolved) in [`ALLOWED_OPTIONS`]
//!   with a numeric VALUE;
//! - **commands** (bodies): every command keyword of core Lean and Mathlib we know
//!   ([`COMMAND_WORDS`]): a body must not end its tactic block and start a command;
//! - **layout** (bodies): a line whose first token sits left of the first token's column
//!   would end the tactic block.
//!
//! Limits: bodies over [`GuardConfig::max_proof_bytes`] (default 64 KiB) are refused before
//! lexing; all work is linear in the input (counted in steps, see [`guard_steps`]).
use super::lexer::{lex, Lexed, TokKind, Token};
use std::cell::Cell;

/// Default cap on a proof body's size.
pub const DEFAULT_MAX_PROOF_BYTES: usize = 64 * 1024;

/// Tunable limits of the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// Largest proof body accepted, in bytes (UTF-8).
    pub max_proof_bytes: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_proof_bytes: DEFAULT_MAX_PROOF_BYTES,
        }
    }
}

/// Options a proof or file may set, all resource limits that cannot change what is proved:
/// - `maxHeartbeats`, `synthInstance.maxHeartbeats`: elaboration / instance-search time limits;
/// - `maxRecDepth`: recursion limit of the elaborator;
/// - `synthInstance.maxSize`: size limit of instance-search solutions;
/// - `exponentiation.threshold`: the largest exponent `whnf`/`decide` will unfold.
///
/// Anything else (`debug.*` skips kernel checks, `pp.*` changes what messages print, `trace.*`
/// prints, `autoImplicit` changes what statements mean, …) is refused.
pub const ALLOWED_OPTIONS: &[&str] = &[
    "maxHeartbeats",
    "maxRecDepth",
    "synthInstance.maxHeartbeats",
    "synthInstance.maxSize",
    "exponentiation.threshold",
];

/// First name components that belong to metaprogramming or I/O: `Lean` (the elaborator, the
/// environment, `Lean.ofReduceBool`), `Elab`/`Meta`/`Parser`/`PrettyPrinter`/`Macro` (the
/// same, after an `open Lean`), `IO`/`EIO`/`BaseIO`/`System`/`ST`/`EST`/`Task` (effects),
/// `Qq` (typed quotation of meta code), `Unsafe`. No miniF2F proof names any of them.
pub const META_NAMESPACES: &[&str] = &[
    "Lean",
    "Elab",
    "Meta",
    "Parser",
    "PrettyPrinter",
    "Macro",
    "IO",
    "EIO",
    "BaseIO",
    "System",
    "ST",
    "EST",
    "Task",
    "Qq",
    "Unsafe",
];

/// Name components that never occur in an accepted proof, wherever they stand in a name.
pub const FORBIDDEN_COMPONENTS: &[&str] = &[
    "sorry",
    "admit",
    "sorryAx",
    "ofReduceBool",
    "trustCompiler",
    "Elab",
    "Meta",
    "MetaM",
    "TermElabM",
    "TacticM",
    "CommandElabM",
    "CoreM",
    "MacroM",
    "Environment",
    "modifyEnv",
    "setEnv",
    "addDecl",
    "addAndCompile",
    "addDeclWithoutChecking",
    "evalExpr",
    "evalConst",
    "unsafeCast",
    "unsafeIO",
    "unsafeEIO",
    "unsafeBaseIO",
    "implemented_by",
    "extern",
];

/// Keywords that run code during elaboration, declare syntax, or hide a gap; refused in
/// bodies and files alike.
pub const FORBIDDEN_KEYWORDS: &[&str] = &[
    "sorry",
    "admit",
    "axiom",
    "by_elab",
    "run_tac",
    "run_elab",
    "run_meta",
    "run_cmd",
    "macro",
    "macro_rules",
    "syntax",
    "declare_syntax_cat",
    "notation",
    "notation3",
    "infix",
    "infixl",
    "infixr",
    "prefix",
    "postfix",
    "binder_predicate",
    "elab",
    "elab_rules",
    "initialize",
    "builtin_initialize",
    "unsafe",
    "implemented_by",
    "extern",
    "local",
    "scoped",
    "attribute",
    "simproc",
    "dsimproc",
    "simproc_decl",
    "dsimproc_decl",
    "builtin_simproc",
    "csimp",
    "export",
    "include_str",
    "dbg_trace",
    "unif_hint",
    "grind_pattern",
    "register_option",
    "register_builtin_option",
    "register_simp_attr",
    "register_label_attr",
    "declare_config_elab",
    "declare_simp_like_tactic",
    "declare_aesop_rule_sets",
    "add_aesop_rules",
    "unseal",
    "seal",
    "variable",
    "variable?",
    "include",
    "omit",
    "universe",
    "instance",
    "deriving",
    "class",
    "structure",
    "inductive",
    "coinductive",
    "mutual",
    "opaque",
    "alias",
    "irreducible_def",
    "suppress_compilation",
    "unsuppress_compilation",
    "compile_inductive",
    "compile_def",
    "add_decl_doc",
    "initialize_simps_projections",
    "mk_iff_of_inductive_prop",
    "library_note",
    "proof_wanted",
    "recall",
    "import",
];

/// Term elaborators spelled `name%` in core Lean and Mathlib that run or inspect code.
pub const PERCENT_ELABORATORS: &[&str] = &[
    "eval",
    "type_of",
    "ensure_type_of",
    "ensure_expected_type",
    "decl_name",
    "with_decl_name",
    "clear",
    "unfold_let",
    "by_elab",
];

/// Command keywords allowed in a file (at a command start only, checked by `file_plan`) but
/// never inside a proof body, where they would end the tactic block.
pub const COMMAND_WORDS: &[&str] = &[
    "theorem",
    "lemma",
    "def",
    "abbrev",
    "example",
    "namespace",
    "section",
    "end",
    "open",
    "noncomputable",
    "private",
    "protected",
    "partial",
    "nonrec",
];

/// A refusal at a position of the checked text (0-based line, 0-based column in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub line: usize,
    pub col: usize,
    pub what: String,
}

impl Refusal {
    fn at(t: &Token, what: String) -> Self {
        Refusal {
            line: t.line,
            col: t.col,
            what,
        }
    }

    /// "WHAT at line L, column C" (lines from 1, columns from 0, as Lean counts them).
    pub fn render(&self, col_of: impl Fn(usize, usize) -> usize) -> String {
        format!(
            "{} at line {}, column {}",
            self.what,
            self.line + 1,
            col_of(self.line, self.col)
        )
    }
}

thread_local! {
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

fn add_steps(n: u64) {
    STEPS.with(|s| s.set(s.get().saturating_add(n)));
}

/// Units of work the lexer and guard did on this thread since it started (characters and
/// tokens visited). Tests assert it grows linearly with the input.
pub fn guard_steps() -> u64 {
    STEPS.with(|s| s.get())
}

/// Lex `text`, counting the work.
pub(super) fn lex_counted(text: &str) -> Lexed {
    let l = lex(text);
    add_steps(l.steps);
    l
}

/// Where a token check runs: some constructs are fine at a file's command level only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// A proof body under `:= by`.
    Body,
    /// A whole file (commands are checked by `file_plan`).
    File,
}

fn quote_name(t: &Token) -> String {
    if t.text.contains('«') {
        format!("`{}` (that is, `{}`)", t.text, t.resolved())
    } else {
        format!("`{}`", t.text)
    }
}

/// The checks shared by bodies and files, on the tokens Lean will read (and the code inside
/// interpolated strings).
pub(super) fn check_tokens(lexed: &Lexed, place: Place) -> Result<(), Refusal> {
    add_steps((lexed.tokens.len() + lexed.embedded.len()) as u64);
    check_list(&lexed.tokens, place)?;
    check_list(&lexed.embedded, place)
}

fn check_list(tokens: &[Token], place: Place) -> Result<(), Refusal> {
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1);
        let glued_next = next.filter(|n| n.glued);
        match t.kind {
            TokKind::Ident => {
                let name: Vec<&str> = t.name.iter().map(String::as_str).collect();
                let single = name.len() == 1 && !t.text.contains('«');
                if single && FORBIDDEN_KEYWORDS.contains(&name[0]) {
                    // In a file, a command word at column 0 heads a command: `file_plan` holds
                    // command heads to its allow-list and gives the reason.
                    let command_head =
                        place == Place::File && t.col == 0 && !matches!(name[0], "sorry" | "admit");
                    if !command_head {
                        return Err(Refusal::at(t, format!("`{}` is not allowed", t.text)));
                    }
                }
                if single && place == Place::Body && COMMAND_WORDS.contains(&name[0]) {
                    return Err(Refusal::at(
                        t,
                        format!(
                            "command keyword `{}` in a proof (it would end the tactic block)",
                            t.text
                        ),
                    ));
                }
                if let Some(c) = name.iter().find(|c| FORBIDDEN_COMPONENTS.contains(c)) {
                    return Err(Refusal::at(
                        t,
                        format!("name {} uses `{c}`, which is not allowed", quote_name(t)),
                    ));
                }
                let first = if name.first() == Some(&"_root_") {
                    name.get(1)
                } else {
                    name.first()
                };
                if let Some(ns) = first.filter(|f| META_NAMESPACES.contains(f)) {
                    return Err(Refusal::at(
                        t,
                        format!(
                            "name {} is in the metaprogramming namespace `{ns}`",
                            quote_name(t)
                        ),
                    ));
                }
                // `name%` is one token in Lean when it is a keyword (`eval%`, `type_of%`):
                // refused for the known ones and whenever a space follows the `%`; `n%2`
                // (modulo, glued on both sides) stays allowed.
                let percent = glued_next.filter(|n| n.kind == TokKind::Sym && n.text == "%");
                let after = tokens.get(i + 2);
                if percent.is_some()
                    && (PERCENT_ELABORATORS.contains(&t.text.as_str())
                        || !after.is_some_and(|a| a.glued))
                {
                    return Err(Refusal::at(
                        t,
                        format!("elaborator `{}%` is not allowed", t.text),
                    ));
                }
                if single && name[0] == "set_option" {
                    check_option(t, next, tokens.get(i + 2))?;
                }
            }
            TokKind::Sym => {
                if t.text == "#" {
                    if let Some(n) = glued_next.filter(|n| n.kind == TokKind::Ident) {
                        return Err(Refusal::at(
                            t,
                            format!("command `#{}` is not allowed", n.text),
                        ));
                    }
                }
                if t.text == "@[" {
                    return Err(Refusal::at(t, "attribute `@[` is not allowed".into()));
                }
                if t.text.starts_with('`') {
                    return Err(Refusal::at(
                        t,
                        format!("syntax quotation `{}` is not allowed", t.text),
                    ));
                }
            }
            TokKind::NameLit => {
                return Err(Refusal::at(
                    t,
                    format!("name literal `{}` is not allowed", t.text),
                ));
            }
            TokKind::Str | TokKind::Char | TokKind::Num | TokKind::DocComment => {}
        }
    }
    Ok(())
}

fn check_option(t: &Token, name: Option<&Token>, value: Option<&Token>) -> Result<(), Refusal> {
    let Some(name) = name.filter(|n| n.kind == TokKind::Ident) else {
        return Err(Refusal::at(t, "`set_option` without an option name".into()));
    };
    let resolved = name.resolved();
    if !ALLOWED_OPTIONS.contains(&resolved.as_str()) {
        return Err(Refusal::at(
            name,
            format!(
                "option {} is not allowed (allowed: {})",
                quote_name(name),
                ALLOWED_OPTIONS.join(", ")
            ),
        ));
    }
    if !value.is_some_and(|v| v.kind == TokKind::Num) {
        return Err(Refusal::at(
            name,
            format!("option `{resolved}` must be set to a number"),
        ));
    }
    Ok(())
}

/// Normalise text as it will be sent: strip one leading byte-order mark, turn CRLF into LF.
pub(super) fn normalise(text: &str) -> String {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n")
}

/// Check a policy's proof body and return it re-indented to sit under `:= by`.
///
/// Re-indentation keeps every line (blank and comment lines above the first tactic too), so
/// the guard lexes exactly what Lean reads: when every code line is indented at least as far
/// as the first token, that common indentation is replaced by two spaces; otherwise every
/// line just gets two more spaces. Errors name the line and column in `proof`.
pub fn guard_proof_body(proof: &str) -> Result<String, String> {
    guard_proof_body_with(proof, &GuardConfig::default())
}

/// [`guard_proof_body`] with explicit limits.
pub fn guard_proof_body_with(proof: &str, cfg: &GuardConfig) -> Result<String, String> {
    if proof.len() > cfg.max_proof_bytes {
        return Err(format!(
            "proof is {} bytes, over the limit of {} bytes (max_proof_bytes)",
            proof.len(),
            cfg.max_proof_bytes
        ));
    }
    let text = normalise(proof);
    add_steps(text.len() as u64);
    let user = lex_counted(&text);
    if let Some(e) = &user.error {
        return Err(format!("proof: {e}"));
    }
    let Some(first) = user.tokens.first() else {
        return Err("proof is empty (no tactic outside comments)".into());
    };
    let base = first.col;
    // A block comment opened above the first tactic's line and closed on it: the text before
    // the tactic is comment to us and to Lean alike (every line is sent), but nothing honest
    // needs it, and it is how a shifted view would hide code; refuse it.
    if first.line > 0 {
        let line_start = text
            .match_indices('\n')
            .nth(first.line - 1)
            .map(|(i, _)| i + 1)
            .unwrap_or(0);
        if lex_counted(text.get(..line_start).unwrap_or(""))
            .error
            .is_some()
        {
            return Err(format!(
                "proof: a block comment opened above the first tactic ends on its line at line {}, column {}; start the proof on a line of its own",
                first.line + 1,
                first.col
            ));
        }
    }
    // Layout, in the user's text: no line may start left of the block's column.
    let mut seen_line = usize::MAX;
    for t in &user.tokens {
        if t.line != seen_line {
            seen_line = t.line;
            if t.col < base {
                return Err(format!(
                    "proof: line {} starts at column {} left of the block's column {base} (it would end the tactic block)",
                    t.line + 1,
                    t.col
                ));
            }
        }
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let n_lines = if text.ends_with('\n') {
        lines.len() - 1
    } else {
        lines.len()
    };
    let lead = |l: &str| l.chars().take_while(|c| *c == ' ').count();
    let uniform = lines[..n_lines]
        .iter()
        .all(|l| l.trim_matches(' ').is_empty() || lead(l) >= base);
    let strip = if uniform { base } else { 0 };
    let mut out = String::with_capacity(text.len() + 2 * n_lines + 2);
    for l in &lines[..n_lines] {
        add_steps(l.len() as u64 + 1);
        if l.trim_matches(' ').is_empty() {
            out.push('\n');
        } else {
            out.push_str("  ");
            // `strip` leading characters are spaces when `uniform`
            out.push_str(l.get(strip..).unwrap_or(""));
            out.push('\n');
        }
    }
    // The guard proper runs on the re-indented text: exactly what Lean reads.
    let sent = lex_counted(&out);
    let col_of = |_line: usize, col: usize| (col + strip).saturating_sub(2);
    if let Some(e) = &sent.error {
        let r = Refusal {
            line: e.line,
            col: e.col,
            what: e.what.clone(),
        };
        return Err(format!("proof: {}", r.render(col_of)));
    }
    check_tokens(&sent, Place::Body).map_err(|r| format!("proof: {}", r.render(col_of)))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn lines_above_the_first_tactic_are_kept() {
        assert_eq!(
            guard_proof_body("-- hint\n\n  simp").unwrap(),
            "  -- hint\n\n    simp\n"
        );
    }
}
