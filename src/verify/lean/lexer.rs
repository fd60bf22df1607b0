//! A small Lean 4 lexer for the static guard: it finds identifiers, `#commands`, symbols and
//! literals, skips comments exactly as Lean does (`--` to end of line, nested `/- ... -/`), and
//! records where each token starts. Never used to decide that a proof is *correct*; only to
//! reject text that must not reach Lean.

/// Kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// Identifier or keyword (may be dotted: `Nat.succ`); `«...»` names included.
    Ident,
    /// `#word` (a `#` command such as `#eval`, or notation such as `#s`).
    Hash,
    /// A string literal (text includes the quotes).
    Str,
    /// A character literal.
    Char,
    /// A number.
    Num,
    /// Any other symbol (one or more punctuation characters, split greedily on `:=`, `@[`).
    Sym,
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub text: String,
    /// 0-based line.
    pub line: usize,
    /// 0-based column in characters.
    pub col: usize,
    /// Byte offset of the token's first character.
    pub start: usize,
    /// Byte offset just past the token.
    pub end: usize,
}

/// The tokens of a text, or why it cannot be lexed (an unterminated comment or string).
#[derive(Debug, Clone)]
pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    pub error: Option<String>,
}

fn ident_start(c: char) -> bool {
    (c.is_alphabetic() && !matches!(c, 'λ' | 'Π' | 'Σ')) || c == '_'
}

fn ident_continue(c: char) -> bool {
    (c.is_alphanumeric() && !matches!(c, 'λ' | 'Π' | 'Σ'))
        || matches!(c, '_' | '\'' | '!' | '?')
        || ('\u{2080}'..='\u{209c}').contains(&c)
        || ('\u{1d62}'..='\u{1d6a}').contains(&c)
}

/// Lex `src`.
pub(crate) fn lex(src: &str) -> Lexed {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let n = chars.len();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 0usize;
    let mut col = 0usize;
    let byte_at = |k: usize| if k < n { chars[k].0 } else { src.len() };
    // advance over chars[i..j], updating line/col
    macro_rules! advance {
        ($j:expr) => {{
            let j = $j;
            while i < j {
                if chars[i].1 == '\n' {
                    line += 1;
                    col = 0;
                } else {
                    col += 1;
                }
                i += 1;
            }
        }};
    }
    while i < n {
        let c = chars[i].1;
        let next = if i + 1 < n {
            Some(chars[i + 1].1)
        } else {
            None
        };
        if c.is_whitespace() {
            advance!(i + 1);
            continue;
        }
        if c == '-' && next == Some('-') {
            let mut j = i;
            while j < n && chars[j].1 != '\n' {
                j += 1;
            }
            advance!(j);
            continue;
        }
        if c == '/' && next == Some('-') {
            let (sl, sc) = (line, col);
            let mut depth = 0usize;
            let mut j = i;
            let mut closed = false;
            while j < n {
                let a = chars[j].1;
                let b = if j + 1 < n {
                    Some(chars[j + 1].1)
                } else {
                    None
                };
                if a == '/' && b == Some('-') {
                    depth += 1;
                    j += 2;
                } else if a == '-' && b == Some('/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        closed = true;
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            if !closed {
                return Lexed {
                    tokens,
                    error: Some(format!(
                        "unterminated comment starting at line {}, column {sc}",
                        sl + 1
                    )),
                };
            }
            advance!(j);
            continue;
        }
        let (tl, tc, ts) = (line, col, byte_at(i));
        let kind;
        let mut j;
        if c == '"' {
            j = i + 1;
            let mut closed = false;
            while j < n {
                match chars[j].1 {
                    '\\' => j += 2,
                    '"' => {
                        closed = true;
                        j += 1;
                        break;
                    }
                    _ => j += 1,
                }
            }
            if !closed {
                return Lexed {
                    tokens,
                    error: Some(format!(
                        "unterminated string starting at line {}, column {tc}",
                        tl + 1
                    )),
                };
            }
            kind = TokKind::Str;
        } else if c == '\'' && char_literal_len(&chars[i..]).is_some() {
            j = i + char_literal_len(&chars[i..]).unwrap();
            kind = TokKind::Char;
        } else if c == '«' {
            j = i + 1;
            while j < n && chars[j].1 != '»' {
                j += 1;
            }
            j = (j + 1).min(n);
            j = extend_dotted(&chars, j);
            kind = TokKind::Ident;
        } else if ident_start(c) {
            j = i + 1;
            while j < n && ident_continue(chars[j].1) {
                j += 1;
            }
            j = extend_dotted(&chars, j);
            kind = TokKind::Ident;
        } else if c.is_ascii_digit() {
            j = i + 1;
            while j < n
                && (chars[j].1.is_ascii_alphanumeric()
                    || chars[j].1 == '.' && j + 1 < n && chars[j + 1].1.is_ascii_digit())
            {
                j += 1;
            }
            kind = TokKind::Num;
        } else if c == '#' && next.is_some_and(ident_start) {
            j = i + 1;
            while j < n && ident_continue(chars[j].1) {
                j += 1;
            }
            kind = TokKind::Hash;
        } else {
            j = i + 1;
            // a few multi-character symbols matter to the guard
            if (c == ':' && next == Some('=')) || (c == '@' && next == Some('[')) {
                j = i + 2;
            }
            kind = TokKind::Sym;
        }
        let te = byte_at(j);
        tokens.push(Token {
            kind,
            text: src[ts..te].to_string(),
            line: tl,
            col: tc,
            start: ts,
            end: te,
        });
        advance!(j);
    }
    Lexed {
        tokens,
        error: None,
    }
}

/// `a.b.c`: continue an identifier over `.` followed by an identifier start.
fn extend_dotted(chars: &[(usize, char)], mut j: usize) -> usize {
    let n = chars.len();
    while j + 1 < n && chars[j].1 == '.' && (ident_start(chars[j + 1].1) || chars[j + 1].1 == '«')
    {
        if chars[j + 1].1 == '«' {
            j += 2;
            while j < n && chars[j].1 != '»' {
                j += 1;
            }
            j = (j + 1).min(n);
        } else {
            j += 2;
            while j < n && ident_continue(chars[j].1) {
                j += 1;
            }
        }
    }
    j
}

/// Length in chars of a character literal starting at `s[0] == '\''`, if it is one.
fn char_literal_len(s: &[(usize, char)]) -> Option<usize> {
    if s.len() >= 3 && s[1].1 != '\\' && s[1].1 != '\'' && s[2].1 == '\'' {
        return Some(3);
    }
    if s.len() >= 4 && s[1].1 == '\\' {
        // '\n', '\'', '\\', '\x41', '\u1234'
        let mut k = 3;
        while k < s.len() && k < 10 {
            if s[k].1 == '\'' {
                return Some(k + 1);
            }
            k += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<String> {
        lex(src).tokens.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn comments_are_skipped_and_nest() {
        assert_eq!(texts("a -- sorry\nb"), ["a", "b"]);
        assert_eq!(texts("a /- x /- sorry -/ y -/ b"), ["a", "b"]);
        assert!(lex("a /- x /- y -/ b").error.is_some());
    }

    #[test]
    fn strings_chars_and_idents() {
        assert_eq!(
            texts(r#"trace "-- \" x" h' '"' c"#),
            ["trace", r#""-- \" x""#, "h'", "'\"'", "c"]
        );
        assert_eq!(
            texts("Nat.succ_le.mp h₀ := @[simp] #eval #s"),
            [
                "Nat.succ_le.mp",
                "h₀",
                ":=",
                "@[",
                "simp",
                "]",
                "#eval",
                "#s"
            ]
        );
        assert!(lex("\"abc").error.is_some());
        let t = lex("x\n  y").tokens;
        assert_eq!((t[1].line, t[1].col), (1, 2));
    }
}
