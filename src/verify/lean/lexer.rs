//! A lexer that reads Lean 4 source the way Lean v4.24's parser does, for the static guard.
//!
//! Written from the rules of `Lean.Parser.Basic` (`whitespace`, `finishCommentBlock`,
//! `tokenFnAux`, `identFnAux`, `strLitFnAux`, `rawStrLitFnAux`, `charLitFnAux`, `numberFnAux`),
//! `Lean.Parser.StrInterpolation` and `Init.Meta.Defs` (`isIdFirst`, `isIdRest`,
//! `isLetterLike`, `isSubScriptAlnum`); read from the leanprover/lean4 sources, not run.
//!
//! Rules:
//! - Whitespace is only `' '` and `'\n'`; a tab or a lone `'\r'` is an error (as in Lean).
//! - Comments start only where Lean skips whitespace: after a token. `--` runs to the end of
//!   the line; `/-` opens a block comment that nests, and the character right after `/-` is
//!   skipped before nesting is counted (so `/-/- x -/` is one closed comment, as in Lean).
//!   `/--` and `/-!` are doc comments: tokens whose body nests the same way.
//! - At a token start, in Lean's order: `"` string; `'` not followed by `'` a character
//!   literal (one character or escape, then `'`); a digit a number (`0b`/`0o`/`0x`, `_`
//!   separators, `.` and `e±` scientific parts); `` ` `` before an identifier start a name
//!   literal; `r` before `#*"` a raw string ending at `"` plus as many `#`; otherwise an
//!   identifier or a symbol token, the longer of the two (maximal munch).
//! - Identifiers: `isIdFirst` (ASCII letters, `_`, letter-like Unicode) then `isIdRest` (also
//!   ASCII digits, `'`, `!`, `?`, subscripts), or `«…»` escapes; dotted parts continue when a
//!   `.` is followed by an identifier start or `«`. [`Token::name`] holds the resolved
//!   components (`«debug».skipKernelTC` is `["debug", "skipKernelTC"]`).
//! - Symbols: the longest entry of [`SYMBOLS`] (multi-character tokens of core Lean, such as
//!   `//`, `\/`, `<-`, `:=`, `<;>`, and Mathlib's `''`, `⁻¹'`, `∑'`, `∏'`), else one character. Lean's real token table also holds
//!   Mathlib's notation, which we cannot know; so a comment opener glued to a symbol token
//!   (`<--x`, `(/-`) could be a longer token in Lean: that is an ambiguity error, except
//!   after a closing bracket or comma, which start no token.
//! - Strings: whether `"…{…}…"` is interpolated (the `{…}` parts code) depends on the
//!   syntax before it (`s!`, `m!`, `f!`, `throwError`, and any notation Mathlib defines). After
//!   a known interpolation keyword the string is read as interpolated. Otherwise it is read as
//!   a plain string, and if its text holds a `{`, it must also read as an interpolated string
//!   ending at the same quote: then the code of every `{…}` part is returned in
//!   [`Lexed::embedded`] for the guard; if not, that is an ambiguity error.
//! - Work is linear in the input: every character is visited a bounded number of times, and
//!   each visit is counted in [`Lexed::steps`].

/// Kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// Identifier or keyword (may be dotted: `Nat.succ`); `«...»` names included.
    Ident,
    /// A string literal, plain, raw or interpolated (text includes the quotes).
    Str,
    /// A character literal.
    Char,
    /// A number (natural or scientific).
    Num,
    /// A name literal: `` `foo `` (the backtick included).
    NameLit,
    /// A doc comment `/-- … -/` or `/-! … -/`.
    DocComment,
    /// Any other token (a symbol of [`SYMBOLS`] or one character).
    Sym,
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub text: String,
    /// For identifiers and name literals: the resolved name components.
    pub name: Vec<String>,
    /// 0-based line.
    pub line: usize,
    /// 0-based column in characters (Unicode scalar values, as Lean counts).
    pub col: usize,
    /// Byte offset of the token's first character.
    pub start: usize,
    /// Byte offset just past the token.
    pub end: usize,
    /// True when no whitespace or comment separates this token from the previous one.
    pub glued: bool,
}

impl Token {
    /// The resolved name, components joined by `.` (for identifiers).
    pub fn resolved(&self) -> String {
        self.name.join(".")
    }
}

/// Where and why a text cannot be lexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    /// 0-based line.
    pub line: usize,
    /// 0-based column in characters.
    pub col: usize,
    pub what: String,
}

impl std::fmt::Display for LexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.what,
            self.line + 1,
            self.col
        )
    }
}

/// The tokens of a text, or why it cannot be lexed.
#[derive(Debug, Clone)]
pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    /// Code found inside the `{…}` parts of strings (interpolation), in text order.
    pub embedded: Vec<Token>,
    pub error: Option<LexError>,
    /// Units of work done (characters visited); linear in the input.
    pub steps: u64,
}

/// Multi-character symbol tokens of core Lean that decide where a symbol ends (longest first
/// is not required: the longest match wins).
pub(crate) const SYMBOLS: &[&str] = &[
    ":=", "::", "@[", "#[", "%[", "//", "\\/", "/\\", "<-", "->", "<->", "<;>", "=>", "..", "...",
    "-[", "<|>", "<|", "|>", "|>.", "<=", ">=", "!=", "==", "&&", "||", "++", "^^", "<<<", ">>>",
    ">>=", ">>", "<*>", "<*", "*>", "<$>", "⁻¹", "`(", "``", ".(", "@&", "''", "⁻¹'", "∑'", "∏'",
];

/// Tokens before which a string is always interpolated.
const INTERPOLATION_KEYWORDS: &[&str] = &["s!", "m!", "f!", "throwError", "dbg_trace"];

/// Nesting limit for strings inside interpolated strings.
const MAX_NESTING: usize = 32;

/// `Lean.isLetterLike`.
pub(crate) fn is_letter_like(c: char) -> bool {
    let v = c as u32;
    ((0x3b1..=0x3c9).contains(&v) && v != 0x3bb)
        || ((0x391..=0x3a9).contains(&v) && v != 0x3a0 && v != 0x3a3)
        || (0x3ca..=0x3fb).contains(&v)
        || (0x1f00..=0x1ffe).contains(&v)
        || (0x2100..=0x214f).contains(&v)
        || (0x1d49c..=0x1d59f).contains(&v)
        || ((0xc0..=0xff).contains(&v) && v != 0xd7 && v != 0xf7)
        || (0x100..=0x17f).contains(&v)
}

/// `Lean.isSubScriptAlnum`.
pub(crate) fn is_subscript_alnum(c: char) -> bool {
    let v = c as u32;
    (0x2080..=0x2089).contains(&v)
        || (0x2090..=0x209c).contains(&v)
        || (0x1d62..=0x1d6a).contains(&v)
        || v == 0x2c7c
}

/// `Lean.isIdFirst` (`Char.isAlpha` is ASCII-only in Lean).
pub(crate) fn is_id_first(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || is_letter_like(c)
}

/// `Lean.isIdRest`.
pub(crate) fn is_id_rest(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '\'' | '!' | '?')
        || is_letter_like(c)
        || is_subscript_alnum(c)
}

/// Lex `src`.
pub(crate) fn lex(src: &str) -> Lexed {
    let mut lx = Lexer::new(src);
    let mut tokens = Vec::new();
    let mut embedded = Vec::new();
    let res = lx.run(0, false, 0, &mut tokens, &mut embedded);
    Lexed {
        tokens,
        embedded,
        error: res.err(),
        steps: lx.steps,
    }
}

struct Lexer<'a> {
    src: &'a str,
    chars: Vec<char>,
    /// Byte offset of each char (plus one past the end).
    bytes: Vec<usize>,
    /// Char index where each line starts.
    line_starts: Vec<usize>,
    steps: u64,
    /// Characters at or past this index read as the end of input (a string's extent while its
    /// interpolated reading is tried).
    limit: usize,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        let mut chars = Vec::with_capacity(src.len());
        let mut bytes = Vec::with_capacity(src.len() + 1);
        let mut line_starts = vec![0];
        for (k, (b, c)) in src.char_indices().enumerate() {
            chars.push(c);
            bytes.push(b);
            if c == '\n' {
                line_starts.push(k + 1);
            }
        }
        bytes.push(src.len());
        let steps = chars.len() as u64;
        let limit = chars.len();
        Lexer {
            limit,
            src,
            chars,
            bytes,
            line_starts,
            steps,
        }
    }

    fn at(&self, i: usize) -> Option<char> {
        if i >= self.limit {
            return None;
        }
        self.chars.get(i).copied()
    }

    fn pos(&self, i: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= i) - 1;
        (line, i - self.line_starts[line])
    }

    fn err(&self, i: usize, what: impl Into<String>) -> LexError {
        let (line, col) = self.pos(i.min(self.chars.len()));
        LexError {
            line,
            col,
            what: what.into(),
        }
    }

    fn token(&self, kind: TokKind, i: usize, j: usize, glued: bool) -> Token {
        let (line, col) = self.pos(i);
        let (s, e) = (self.bytes[i], self.bytes[j]);
        Token {
            kind,
            text: self.src[s..e].to_string(),
            name: Vec::new(),
            line,
            col,
            start: s,
            end: e,
            glued,
        }
    }

    /// Skip whitespace and comments from `i`; returns the next token start. `after_sym`: the
    /// previous token was a symbol ending at `i` (a comment opener right here is ambiguous).
    fn whitespace(&mut self, mut i: usize, after_sym: Option<&str>) -> Result<usize, LexError> {
        let start = i;
        loop {
            self.steps += 1;
            let Some(c) = self.at(i) else { return Ok(i) };
            match c {
                ' ' | '\n' => i += 1,
                '\t' => return Err(self.err(i, "a tab character (Lean rejects tabs)")),
                '\r' => return Err(self.err(i, "a carriage return (Lean rejects them)")),
                '-' | '/' if self.at(i + 1) == Some('-') => {
                    if c == '/' && matches!(self.at(i + 2), Some('-' | '!')) {
                        return Ok(i); // doc comment: a token
                    }
                    let glued_to = after_sym
                        .filter(|p| i == start && !matches!(*p, ")" | "]" | "}" | "⟩" | ","));
                    if let Some(prev) = glued_to {
                        return Err(self.err(
                            i,
                            format!(
                                "ambiguous `{prev}` directly followed by a comment opener (Lean may read a longer symbol here); put a space before the comment"
                            ),
                        ));
                    }
                    if c == '-' {
                        while self.at(i).is_some_and(|c| c != '\n') {
                            self.steps += 1;
                            i += 1;
                        }
                    } else {
                        // Lean skips the character after `/-` before counting nesting.
                        i = self.block_comment_end(i, i + 3)?;
                    }
                }
                _ => return Ok(i),
            }
        }
    }

    /// End (exclusive) of a nested block comment whose body starts at `j`; opened at `open`.
    fn block_comment_end(&mut self, open: usize, mut j: usize) -> Result<usize, LexError> {
        let mut depth = 1usize;
        loop {
            self.steps += 1;
            let Some(a) = self.at(j) else {
                return Err(self.err(open, "unterminated comment"));
            };
            match (a, self.at(j + 1)) {
                ('-', Some('/')) => {
                    j += 2;
                    depth -= 1;
                    if depth == 0 {
                        return Ok(j);
                    }
                }
                ('/', Some('-')) => {
                    j += 2;
                    depth += 1;
                }
                _ => j += 1,
            }
        }
    }

    /// Lex tokens from `i`. With `until_close`, stop at a `}` at brace depth 0 (the end of an
    /// interpolated `{…}` part) and return the index just past it; otherwise lex to the end.
    fn run(
        &mut self,
        mut i: usize,
        until_close: bool,
        nesting: usize,
        out: &mut Vec<Token>,
        embedded: &mut Vec<Token>,
    ) -> Result<usize, LexError> {
        let mut depth = 0usize;
        let mut prev_sym: Option<String> = None;
        let mut prev_end: Option<usize> = None;
        loop {
            i = self.whitespace(i, prev_sym.as_deref())?;
            let Some(c) = self.at(i) else {
                if until_close {
                    return Err(self.err(i, "unterminated interpolated string part (missing `}`)"));
                }
                return Ok(i);
            };
            let glued = prev_end == Some(i);
            let next = self.at(i + 1);
            // the resolved components of an identifier or a name literal
            let mut name = Vec::new();
            let (kind, j) = if c == '"' {
                let prev = out.last().filter(|t| t.end == self.bytes[i]);
                let forced =
                    prev.is_some_and(|t| INTERPOLATION_KEYWORDS.contains(&t.text.as_str()));
                let (j, code) = self.string(i, forced, nesting)?;
                embedded.extend(code);
                (TokKind::Str, j)
            } else if c == '\'' && next != Some('\'') {
                // Mathlib has symbol tokens ending in `'` (`⁻¹'`, `∑'`); after an unknown
                // symbol, a `'` may belong to it rather than open a character literal.
                let glued_to = prev_sym.as_deref().filter(|p| {
                    glued && !matches!(*p, "(" | "[" | "{" | "⟨" | ")" | "]" | "}" | "⟩" | ",")
                });
                if let Some(p) = glued_to {
                    return Err(self.err(
                        i,
                        format!("ambiguous `{p}'`: Lean may read a longer symbol ending in `'` here; put a space before the character literal"),
                    ));
                }
                (TokKind::Char, self.char_lit(i)?)
            } else if c.is_ascii_digit() {
                let field = glued && out.last().is_some_and(|t| t.text == ".");
                (TokKind::Num, self.number(i, field)?)
            } else if c == '`' && next.is_some_and(|n| is_id_first(n) || n == '«') {
                let (j, parts) = self.ident(i + 1)?;
                name = parts;
                (TokKind::NameLit, j)
            } else if c == 'r' && self.raw_start(i + 1) {
                (TokKind::Str, self.raw_string(i)?)
            } else if c == '/' && next == Some('-') {
                // `/--` or `/-!` (whitespace() returns here only for those)
                (TokKind::DocComment, self.block_comment_end(i, i + 3)?)
            } else if is_id_first(c) || c == '«' {
                let (j, parts) = self.ident(i)?;
                let sym_end = self.symbol_end(i);
                if sym_end > j {
                    (TokKind::Sym, sym_end)
                } else {
                    name = parts;
                    (TokKind::Ident, j)
                }
            } else {
                if until_close {
                    if c == '{' {
                        depth += 1;
                    } else if c == '}' {
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                        depth -= 1;
                    }
                }
                (TokKind::Sym, self.symbol_end(i))
            };
            let mut t = self.token(kind, i, j, glued);
            t.name = name;
            prev_sym = (kind == TokKind::Sym).then(|| t.text.clone());
            prev_end = Some(j);
            out.push(t);
            i = j;
        }
    }

    /// End of the longest [`SYMBOLS`] entry at `i` (at least one character).
    fn symbol_end(&mut self, i: usize) -> usize {
        let mut best = i + 1;
        for s in SYMBOLS {
            self.steps += 1;
            let mut k = i;
            let mut ok = true;
            for sc in s.chars() {
                if self.at(k) != Some(sc) {
                    ok = false;
                    break;
                }
                k += 1;
            }
            if ok && k > best {
                best = k;
            }
        }
        best
    }

    /// An identifier from `i`: its end and resolved components.
    fn ident(&mut self, mut i: usize) -> Result<(usize, Vec<String>), LexError> {
        let mut parts = Vec::new();
        loop {
            self.steps += 1;
            match self.at(i) {
                Some('«') => {
                    let s = i + 1;
                    let mut j = s;
                    while self.at(j).is_some_and(|c| c != '»') {
                        self.steps += 1;
                        j += 1;
                    }
                    if self.at(j).is_none() {
                        return Err(self.err(i, "unterminated identifier escape `«`"));
                    }
                    parts.push(self.src[self.bytes[s]..self.bytes[j]].to_string());
                    i = j + 1;
                }
                Some(c) if is_id_first(c) => {
                    let s = i;
                    i += 1;
                    while self.at(i).is_some_and(is_id_rest) {
                        self.steps += 1;
                        i += 1;
                    }
                    parts.push(self.src[self.bytes[s]..self.bytes[i]].to_string());
                }
                _ => return Err(self.err(i, "expected an identifier")),
            }
            if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|c| is_id_first(c) || c == '«')
            {
                i += 1;
            } else {
                return Ok((i, parts));
            }
        }
    }

    fn raw_start(&mut self, mut i: usize) -> bool {
        while self.at(i) == Some('#') {
            self.steps += 1;
            i += 1;
        }
        self.at(i) == Some('"')
    }

    /// `r#…#"…"#…#`: ends at the first `"` followed by as many `#` as opened it.
    fn raw_string(&mut self, i: usize) -> Result<usize, LexError> {
        let mut j = i + 1;
        let mut hashes = 0;
        while self.at(j) == Some('#') {
            hashes += 1;
            j += 1;
        }
        j += 1; // the opening quote
        loop {
            self.steps += 1;
            match self.at(j) {
                None => return Err(self.err(i, "unterminated raw string")),
                Some('"') => {
                    let mut k = j + 1;
                    let mut n = 0;
                    while n < hashes && self.at(k) == Some('#') {
                        n += 1;
                        k += 1;
                    }
                    if n == hashes {
                        return Ok(k);
                    }
                    j += 1;
                }
                _ => j += 1,
            }
        }
    }

    /// An escape after `\` at `j` (`j` is the char after the backslash); returns its end.
    fn escape(&mut self, j: usize, in_string: bool, interp: bool) -> Option<usize> {
        let hex = |c: Option<char>| c.is_some_and(|c| c.is_ascii_hexdigit());
        match self.at(j)? {
            '\\' | '"' | '\'' | 'r' | 'n' | 't' => Some(j + 1),
            '{' if interp => Some(j + 1),
            'x' if hex(self.at(j + 1)) && hex(self.at(j + 2)) => Some(j + 3),
            'u' if (1..=4).all(|k| hex(self.at(j + k))) => Some(j + 5),
            '\n' if in_string => {
                // string gap: whitespace with exactly one newline
                let mut k = j + 1;
                while self
                    .at(k)
                    .is_some_and(|c| c == ' ' || c == '\t' || c == '\r')
                {
                    self.steps += 1;
                    k += 1;
                }
                (self.at(k) != Some('\n')).then_some(k)
            }
            _ => None,
        }
    }

    fn char_lit(&mut self, i: usize) -> Result<usize, LexError> {
        let j = match self.at(i + 1) {
            None => return Err(self.err(i, "unterminated character literal")),
            Some('\\') => self
                .escape(i + 2, false, false)
                .ok_or_else(|| self.err(i, "invalid escape in a character literal"))?,
            Some(_) => i + 2,
        };
        if self.at(j) == Some('\'') {
            Ok(j + 1)
        } else {
            Err(self.err(i, "missing end of character literal"))
        }
    }

    /// A number at `i`; `field`: right after a glued `.`, where Lean reads a field index
    /// (digits only: `h.1.le`).
    fn number(&mut self, i: usize, field: bool) -> Result<usize, LexError> {
        if field {
            let mut j = i;
            while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                self.steps += 1;
                j += 1;
            }
            return Ok(j);
        }
        let digits = |lx: &mut Self, mut j: usize, ok: &dyn Fn(char) -> bool, need: bool| {
            let mut need = need;
            loop {
                lx.steps += 1;
                match lx.at(j) {
                    Some('_') => {
                        need = true;
                        j += 1;
                    }
                    Some(c) if ok(c) => {
                        need = false;
                        j += 1;
                    }
                    _ if need => return Err(lx.err(j, "expected a digit in a number")),
                    _ => return Ok(j),
                }
            }
        };
        let dec = |c: char| c.is_ascii_digit();
        if self.at(i) == Some('0') {
            match self.at(i + 1) {
                Some('b' | 'B') => return digits(self, i + 2, &|c| c == '0' || c == '1', true),
                Some('o' | 'O') => return digits(self, i + 2, &|c| ('0'..='7').contains(&c), true),
                Some('x' | 'X') => return digits(self, i + 2, &|c| c.is_ascii_hexdigit(), true),
                _ => {}
            }
        }
        let mut j = digits(self, i + 1, &dec, false)?;
        if !matches!(self.at(j), Some('.' | 'e' | 'E')) {
            return Ok(j);
        }
        if self.at(j) == Some('.') {
            j += 1;
            if self.at(j).is_some_and(dec) {
                j = digits(self, j, &dec, false)?;
            }
        }
        if matches!(self.at(j), Some('e' | 'E')) {
            j += 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            if !self.at(j).is_some_and(dec) {
                return Err(self.err(j, "missing exponent digits in a scientific literal"));
            }
            j = digits(self, j, &dec, false)?;
        }
        Ok(j)
    }

    /// A `"` string at `i` (see the module doc): its end and the code tokens of its `{…}`
    /// parts. After a known interpolation keyword it is read as interpolated; otherwise as a
    /// plain string, and if its text holds a `{`, the interpolated reading must end at the same
    /// quote (its code is then returned for the guard) or the string is refused as ambiguous.
    fn string(
        &mut self,
        i: usize,
        forced_interp: bool,
        nesting: usize,
    ) -> Result<(usize, Vec<Token>), LexError> {
        if nesting >= MAX_NESTING {
            return Err(self.err(i, "strings nested too deeply in interpolations"));
        }
        if forced_interp {
            return self.read_interp(i, nesting);
        }
        let end = self.read_plain(i)?;
        let content = self.chars.get(i + 1..end.saturating_sub(1)).unwrap_or(&[]);
        if !content.contains(&'{') {
            return Ok((end, Vec::new()));
        }
        let saved = self.limit;
        self.limit = end;
        let interp = self.read_interp(i, nesting);
        self.limit = saved;
        match interp {
            Ok((e, code)) if e == end => Ok((end, code)),
            _ => Err(self.err(
                i,
                "ambiguous string literal: read as an interpolated string (after `s!`, `m!`, `throwError`, or Mathlib notation) its `{…}` part is not the same code; write the proof without it",
            )),
        }
    }

    /// A plain string: `\` escapes (and gaps), ends at the first other `"`.
    fn read_plain(&mut self, i: usize) -> Result<usize, LexError> {
        let mut j = i + 1;
        loop {
            self.steps += 1;
            match self.at(j) {
                None => return Err(self.err(i, "unterminated string")),
                Some('"') => return Ok(j + 1),
                Some('\\') => {
                    j = self
                        .escape(j + 1, true, false)
                        .ok_or_else(|| self.err(j, "invalid escape in a string"))?
                }
                Some(_) => j += 1,
            }
        }
    }

    /// An interpolated string: like a plain one, but `\{` is an escape and `{…}` is code.
    fn read_interp(&mut self, i: usize, nesting: usize) -> Result<(usize, Vec<Token>), LexError> {
        let mut j = i + 1;
        let mut code = Vec::new();
        loop {
            self.steps += 1;
            match self.at(j) {
                None => return Err(self.err(i, "unterminated string")),
                Some('"') => return Ok((j + 1, code)),
                Some('\\') => {
                    j = self
                        .escape(j + 1, true, true)
                        .ok_or_else(|| self.err(j, "invalid escape in a string"))?
                }
                Some('{') => {
                    let mut nested = Vec::new();
                    let mut inner = Vec::new();
                    j = self.run(j + 1, true, nesting + 1, &mut inner, &mut nested)?;
                    code.extend(inner);
                    code.extend(nested);
                }
                Some(_) => j += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<String> {
        let l = lex(src);
        assert!(l.error.is_none(), "{src:?}: {:?}", l.error);
        l.tokens.into_iter().map(|t| t.text).collect()
    }

    fn err(src: &str) -> String {
        lex(src)
            .error
            .unwrap_or_else(|| panic!("{src:?} must not lex: {:?}", texts(src)))
            .to_string()
    }

    fn names(src: &str) -> Vec<String> {
        lex(src)
            .tokens
            .into_iter()
            .filter(|t| t.kind == TokKind::Ident)
            .map(|t| t.resolved())
            .collect()
    }

    // Expected token streams below are written from Lean's rules (see the module doc), not
    // from running Lean.

    #[test]
    fn comments_nest_and_skip_the_char_after_the_opener() {
        assert_eq!(texts("a -- sorry\nb"), ["a", "b"]);
        assert_eq!(texts("a /- x /- sorry -/ y -/ b"), ["a", "b"]);
        assert!(lex("a /- x /- y -/ b").error.is_some());
        // Lean skips the char after `/-`: `/-/-` opens ONE level, closed by the first `-/`
        assert_eq!(texts("a /-/- x -/ b"), ["a", "b"]);
        assert_eq!(texts("a /-/-/ b"), ["a", "b"]);
        // doc comments are tokens
        assert_eq!(
            texts("/-- doc /- n -/ -/ theorem"),
            ["/-- doc /- n -/ -/", "theorem"]
        );
        assert_eq!(lex("/-! m -/").tokens[0].kind, TokKind::DocComment);
        assert!(err("x /-").contains("unterminated comment"));
        assert!(err("x /-- a").contains("unterminated comment"));
    }

    #[test]
    fn maximal_munch_decides_where_comments_start() {
        // `//` is the subtype token: `-x` after it is code
        assert_eq!(
            texts("{ x : ℤ //-x = x }"),
            ["{", "x", ":", "ℤ", "//", "-", "x", "=", "x", "}"]
        );
        // `\/` is ASCII `∨`: `-b` after it is code
        assert_eq!(texts("a \\/-b"), ["a", "\\/", "-", "b"]);
        assert_eq!(texts("a /\\-b"), ["a", "/\\", "-", "b"]);
        // `<-` swallows one `-`
        assert_eq!(texts("x <-- y"), ["x", "<-", "-", "y"]);
        // after an identifier, number or closing bracket a comment starts
        assert_eq!(texts("a--b\nc"), ["a", "c"]);
        assert_eq!(texts("x/-1 -/y"), ["x", "y"]);
        assert_eq!(texts("2/- c -/3"), ["2", "3"]);
        assert_eq!(texts("f (x)-- c\ny"), ["f", "(", "x", ")", "y"]);
        // a comment opener glued to another symbol may be a longer Mathlib token: refused
        assert!(err("(/- c -/ x)").contains("ambiguous"));
        assert!(err("x <--- y").contains("ambiguous"));
        assert!(err("a \\/-- b").contains("ambiguous"));
        assert_eq!(texts("a := b <;> c"), ["a", ":=", "b", "<;>", "c"]);
    }

    #[test]
    fn strings_raw_and_interpolated() {
        assert_eq!(
            texts(r#"trace "-- \" x" h' '"' c"#),
            ["trace", r#""-- \" x""#, "h'", "'\"'", "c"]
        );
        assert!(err("\"abc").contains("unterminated string"));
        // raw strings: no escapes, end at `"` plus as many `#`
        assert_eq!(texts(r#"r"a\" b"#), [r#"r"a\""#, "b"]);
        assert_eq!(texts(r##"r#"a "-/ b"# c"##), [r##"r#"a "-/ b"#"##, "c"]);
        assert_eq!(
            texts(r###"r##"x "# y"## z"###),
            [r###"r##"x "# y"##"###, "z"]
        );
        assert!(err(r##"r#"never closed" "##).contains("raw string"));
        // an identifier `r` directly before a quote starts a raw string; `fr` does not
        assert_eq!(texts(r#"fr"a""#), ["fr", r#""a""#]);
        // interpolated: `{…}` is code, and its code is returned
        let l = lex(r#"s!"a {x + "}"} b" c"#);
        assert!(l.error.is_none(), "{:?}", l.error);
        let t: Vec<&str> = l.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(t, ["s!", r#""a {x + "}"} b""#, "c"]);
        let e: Vec<&str> = l.embedded.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(e, ["x", "+", r#""}""#]);
        // without a known keyword, both readings agree here: one string, `sorry` is code
        let l = lex(r#"foo "{sorry}""#);
        assert_eq!(l.embedded[0].text, "sorry");
        // readings disagree (a quote inside `{}`): refused
        assert!(err(r#"foo "{ "}" }" x"#).contains("ambiguous string"));
        // `\{` is an escape only in interpolated strings
        assert_eq!(texts(r#"m!"\{ x""#), ["m!", r#""\{ x""#]);
        // nested interpolation, comments inside the code part
        let l = lex(r#"s!"{s!"{y /- } -/}"}""#);
        assert!(l.error.is_none(), "{:?}", l.error);
        assert!(l.embedded.iter().any(|t| t.text == "y"));
    }

    #[test]
    fn char_literals_versus_primes() {
        assert_eq!(
            texts("h' 'a' '\\n' '\\x41' '\\u03B1' f ''"),
            ["h'", "'a'", "'\\n'", "'\\x41'", "'\\u03B1'", "f", "''"]
        );
        assert!(err("'ab'").contains("character literal"));
        assert!(err("'\\q'").contains("escape"));
        assert_eq!(texts("x' '-' y"), ["x'", "'-'", "y"]);
        // Mathlib symbols ending in `'` are munched; an unknown one is ambiguous
        assert_eq!(texts("f ⁻¹' {7}"), ["f", "⁻¹'", "{", "7", "}"]);
        assert_eq!(texts("∑' i, f i"), ["∑'", "i", ",", "f", "i"]);
        assert!(err("a ≃'\"' b").contains("ambiguous"));
    }

    #[test]
    fn identifiers_follow_lean_character_classes() {
        assert_eq!(names("«debug».skipKernelTC"), ["debug.skipKernelTC"]);
        assert_eq!(lex("«a.b».c").tokens[0].name, ["a.b", "c"]);
        assert_eq!(
            names("h₀ x₁' α ℝ hx! p? _x"),
            ["h₀", "x₁'", "α", "ℝ", "hx!", "p?", "_x"]
        );
        // λ, Π, Σ are not letters; Cyrillic is not (Char.isAlpha is ASCII in Lean)
        assert_eq!(texts("λx"), ["λ", "x"]);
        assert_eq!(texts("Σx"), ["Σ", "x"]);
        assert_eq!(texts("жx").len(), 2);
        // Latin-1 letters are
        assert_eq!(names("café"), ["café"]);
        // dotted names continue only before an identifier start
        assert_eq!(texts("h.1.le h.symm"), ["h", ".", "1", ".", "le", "h.symm"]);
        assert_eq!(texts("Nat.«succ»"), ["Nat.«succ»"]);
        assert!(err("«oops").contains("identifier escape"));
        // `#eval` is `#` then an identifier, glued
        let t = lex("#eval x").tokens;
        assert_eq!(
            (t[0].text.as_str(), t[1].text.as_str(), t[1].glued),
            ("#", "eval", true)
        );
        // name literals
        assert_eq!(lex("`Lean.Elab").tokens[0].kind, TokKind::NameLit);
        assert_eq!(lex("`Lean.Elab").tokens[0].name, ["Lean", "Elab"]);
    }

    #[test]
    fn numbers() {
        assert_eq!(
            texts("0x1F 0b101 1_000 2.5 3e-2 7."),
            ["0x1F", "0b101", "1_000", "2.5", "3e-2", "7."]
        );
        assert!(err("2e").contains("exponent"));
        assert!(err("0x").contains("digit"));
    }

    #[test]
    fn whitespace_is_space_and_newline_only() {
        assert!(err("a\tb").contains("tab"));
        assert!(err("a\rb").contains("carriage return"));
        let t = lex("x\n  y").tokens;
        assert_eq!((t[1].line, t[1].col), (1, 2));
        // a no-break space is not whitespace to Lean: it is a (one-char) token
        assert_eq!(texts("a\u{a0}b").len(), 3);
    }
}
